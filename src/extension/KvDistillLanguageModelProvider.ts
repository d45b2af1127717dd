// Offers the local model, answering with the workspace cache loaded, to VS Code's chat as a
// language model, so that chat (and the @kvdistill participant) works without any other AI
// extension.
import * as vscode from "vscode";
import {splitConversationTurns} from "../common/splitConversationTurns";
import type {ChatTurn} from "../engine/engineApi";
import type {ExtensionLog} from "./ExtensionLog";
import type {WorkspaceCacheService} from "./WorkspaceCacheService";

export const languageModelVendor = "kvdistill";
export const languageModelId = "workspace-cache";

export class KvDistillLanguageModelProvider implements vscode.LanguageModelChatProvider, vscode.Disposable {
    private readonly changeEmitter = new vscode.EventEmitter<void>();
    public readonly onDidChangeLanguageModelChatInformation = this.changeEmitter.event;

    public constructor(
        private readonly service: WorkspaceCacheService,
        private readonly log: ExtensionLog,
        private readonly version: string,
        private readonly maxAnswerTokens: () => number
    ) {}

    /** The model's description changed (another model file was selected). */
    public modelChanged(): void {
        this.changeEmitter.fire();
    }

    public provideLanguageModelChatInformation(): vscode.LanguageModelChatInformation[] {
        const model = this.service.status.model;
        return [{
            id: languageModelId,
            name: vscode.l10n.t("KV-Distill (local, whole workspace)"),
            family: "kv-distill",
            version: this.version,
            detail: model.configured ? model.label : vscode.l10n.t("no model selected"),
            tooltip: vscode.l10n.t("A local llama.cpp model that answers with this workspace's compressed KV cache loaded. Nothing leaves this machine."),
            maxInputTokens: 32_768,
            maxOutputTokens: this.maxAnswerTokens(),
            capabilities: {}
        }];
    }

    public async provideLanguageModelChatResponse(
        _model: vscode.LanguageModelChatInformation,
        messages: readonly vscode.LanguageModelChatRequestMessage[],
        _options: vscode.ProvideLanguageModelChatResponseOptions,
        progress: vscode.Progress<vscode.LanguageModelResponsePart>,
        token: vscode.CancellationToken
    ): Promise<void> {
        const turns: ChatTurn[] = messages.map((message) => ({
            role: message.role === vscode.LanguageModelChatMessageRole.Assistant ? "assistant" : "user",
            text: message.content.filter((part): part is vscode.LanguageModelTextPart => part instanceof vscode.LanguageModelTextPart).map((part) => part.value).join("")
        }));
        const conversation = splitConversationTurns(turns);
        if (conversation === undefined)
            throw new Error(vscode.l10n.t("The request holds no question"));
        const controller = new AbortController();
        const cancellation = token.onCancellationRequested(() => controller.abort());
        this.log.info(`Language model request: ${conversation.question.length} characters, ${conversation.history.length} earlier turns`);
        try {
            await this.service.ask(conversation.question, conversation.history, {
                signal: controller.signal,
                onToken: (text) => progress.report(new vscode.LanguageModelTextPart(text))
            });
        } finally {
            cancellation.dispose();
        }
    }

    /** An estimate (about four characters a token): the tokenizer lives in the engine process. */
    public async provideTokenCount(_model: vscode.LanguageModelChatInformation, text: string | vscode.LanguageModelChatRequestMessage): Promise<number> {
        const content = typeof text === "string"
            ? text
            : text.content.filter((part): part is vscode.LanguageModelTextPart => part instanceof vscode.LanguageModelTextPart).map((part) => part.value).join("");
        return Math.ceil(content.length / 4);
    }

    public dispose(): void {
        this.changeEmitter.dispose();
    }
}

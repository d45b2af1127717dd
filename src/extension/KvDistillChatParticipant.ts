// The @kvdistill participant in VS Code's chat: /ask (the default) and /explain (the editor's
// selection), answered from the workspace cache, with the files the answer names as references
// and anchors.
import * as vscode from "vscode";
import {adviseOnError} from "../common/adviseOnError";
import {buildExplainSelectionQuestion} from "../common/buildExplainSelectionQuestion";
import type {FoundFileReference} from "../common/findWorkspaceFileReferences";
import {formatPercent} from "../common/describeStatusBar";
import {suggestFollowUps} from "../common/suggestFollowUps";
import type {ChatTurn} from "../engine/engineApi";
import type {ExtensionLog} from "./ExtensionLog";
import type {WorkspaceCacheService} from "./WorkspaceCacheService";

export const chatParticipantId = "kvDistill.participant";

export type ChatParticipantDependencies = {
    service: WorkspaceCacheService;
    log: ExtensionLog;
    extensionUri: vscode.Uri;
    findFileReferences(answer: string): Promise<FoundFileReference[]>;
    describeSelection(editor: vscode.TextEditor): {displayPath: string; startLine: number; endLine: number; languageId: string; text: string};
};

function historyFromContext(context: vscode.ChatContext): ChatTurn[] {
    const turns: ChatTurn[] = [];
    for (const turn of context.history) {
        if (turn instanceof vscode.ChatRequestTurn) {
            turns.push({role: "user", text: turn.prompt});
        } else if (turn instanceof vscode.ChatResponseTurn) {
            const text = turn.response
                .filter((part): part is vscode.ChatResponseMarkdownPart => part instanceof vscode.ChatResponseMarkdownPart)
                .map((part) => part.value.value)
                .join("");
            if (text.trim() !== "")
                turns.push({role: "assistant", text});
        }
    }
    return turns.slice(-12);
}

export function registerChatParticipant(dependencies: ChatParticipantDependencies): vscode.Disposable {
    const {service, log} = dependencies;
    const handler: vscode.ChatRequestHandler = async (request, context, response, token) => {
        let question = request.prompt.trim();
        if (request.command === "explain") {
            const editor = vscode.window.activeTextEditor;
            if (editor !== undefined && !editor.selection.isEmpty) {
                question = buildExplainSelectionQuestion(dependencies.describeSelection(editor), request.prompt, vscode.l10n.t);
            } else if (question === "") {
                response.markdown(vscode.l10n.t("Select some code in an editor first, or write what to explain after /explain."));
                return {};
            }
        }
        if (question === "") {
            response.markdown(vscode.l10n.t("Ask a question about this workspace, for example: where is the configuration loaded?"));
            return {};
        }
        log.info(`Chat participant: /${request.command ?? "ask"} (${question.length} characters)`);
        const controller = new AbortController();
        const cancellation = token.onCancellationRequested(() => controller.abort());
        response.progress(vscode.l10n.t("Answering from the workspace cache…"));
        try {
            const outcome = await service.ask(question, historyFromContext(context), {
                signal: controller.signal,
                onToken: (text) => response.markdown(text)
            });
            const references = await dependencies.findFileReferences(outcome.result.answer);
            const seen = new Set<string>();
            const anchors: FoundFileReference[] = [];
            for (const reference of references) {
                const key = `${reference.file.absolutePath}:${reference.file.line ?? 0}`;
                if (seen.has(key))
                    continue;
                seen.add(key);
                anchors.push(reference);
                const uri = vscode.Uri.file(reference.file.absolutePath);
                response.reference(reference.file.line === undefined ? uri : new vscode.Location(uri, new vscode.Position(reference.file.line - 1, 0)));
            }
            if (anchors.length > 0) {
                response.markdown(`\n\n${vscode.l10n.t("Files:")} `);
                for (const reference of anchors.slice(0, 20)) {
                    const uri = vscode.Uri.file(reference.file.absolutePath);
                    const title = reference.file.line === undefined ? reference.file.displayPath : `${reference.file.displayPath}:${reference.file.line}`;
                    response.anchor(reference.file.line === undefined ? uri : new vscode.Location(uri, new vscode.Position(reference.file.line - 1, 0)), title);
                    response.markdown(" ");
                }
            }
            const contextLine = vscode.l10n.t(
                "Context: {0} files in cache, {1} of tokens kept, {2} files excluded",
                outcome.context.filesInCache, formatPercent(outcome.context.effectiveKeepRatio), outcome.context.filesExcluded
            );
            const staleLine = outcome.context.staleCount > 0 ? ` — ${vscode.l10n.t("{0} stale files", outcome.context.staleCount)}` : "";
            response.markdown(`\n\n*${contextLine}${staleLine}*`);
            log.info(`Chat participant: answer finished (${anchors.length} file references)`);
            return {metadata: {links: anchors.map((reference) => reference.text)}};
        } catch (error) {
            const advice = adviseOnError(error, vscode.l10n.t);
            if (advice.kind === "cancelled") {
                log.info("Chat participant: answer stopped");
                return {};
            }
            log.error(`Chat participant: answer failed (${advice.kind})`, error);
            if (advice.actions.includes("selectModel"))
                response.button({command: "kvDistill.selectModel", title: vscode.l10n.t("Select Model")});
            return {errorDetails: {message: advice.message}};
        } finally {
            cancellation.dispose();
        }
    };

    const participant = vscode.chat.createChatParticipant(chatParticipantId, handler);
    participant.iconPath = vscode.Uri.joinPath(dependencies.extensionUri, "media", "icon.svg");
    participant.followupProvider = {
        provideFollowups: (result) => {
            const links = Array.isArray(result.metadata?.links) ? (result.metadata.links as unknown[]).filter((link): link is string => typeof link === "string") : [];
            if (result.errorDetails !== undefined)
                return [];
            return suggestFollowUps(links, vscode.l10n.t).map((prompt) => ({prompt, label: prompt}));
        }
    };
    return participant;
}

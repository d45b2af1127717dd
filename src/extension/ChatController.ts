// The chat panel's logic: owns the conversation (through ChatHistoryStore), streams answers
// from the cache service into every open chat webview, and acts on the webviews' messages.
// No `vscode` import: the editor actions are injected, so it is unit-tested in plain Node.
import {adviseOnError, type ErrorAction} from "../common/adviseOnError";
import type {ChatHistoryStore} from "../common/ChatHistoryStore";
import {
    isChatCommand,
    type ChatAssistantEntry,
    type ChatCommand,
    type ChatNotification,
    type ChatWebviewRunnableCommand
} from "../common/chatProtocol";
import type {ChatStrings} from "../common/chatStrings";
import type {Translate} from "../common/formatMessage";
import {suggestFollowUps} from "../common/suggestFollowUps";
import type {ChatTurn} from "../engine/engineApi";
import type {LogSink, WorkspaceCacheService} from "./WorkspaceCacheService";

export type ChatSink = {post(message: ChatNotification): void};

export type ChatControllerDependencies = {
    service: Pick<WorkspaceCacheService, "status" | "onDidChangeStatus" | "ask" | "cancelOperation">;
    history: ChatHistoryStore;
    strings: ChatStrings;
    createId(): string;
    now(): Date;
    /** The references in an answer that resolve to files inside the workspace, as written. */
    resolveLinks(answer: string): Promise<string[]>;
    openFileReference(reference: string): Promise<void>;
    openExternalLink(url: string): Promise<void>;
    copyText(text: string): Promise<void>;
    runCommand(command: ChatWebviewRunnableCommand): Promise<void>;
    log: LogSink;
    t: Translate;
    /** Earlier turns passed to the engine with a question. */
    maxHistoryTurns?: number;
};

export class ChatController {
    private readonly sinks = new Set<ChatSink>();
    private answerController: AbortController | undefined;
    private readonly statusSubscription: {dispose(): void};

    public constructor(private readonly dependencies: ChatControllerDependencies) {
        this.statusSubscription = dependencies.service.onDidChangeStatus((status) => this.broadcast({type: "status", status}));
    }

    public get isAnswering(): boolean {
        return this.answerController !== undefined;
    }

    /** Connects a webview; returns what disconnects it. */
    public attach(sink: ChatSink): {dispose(): void} {
        this.sinks.add(sink);
        return {dispose: () => this.sinks.delete(sink)};
    }

    public focusInput(): void {
        this.broadcast({type: "focusInput"});
    }

    /** Handles one message from a webview; anything that is not a valid ChatCommand is dropped. */
    public async handleMessage(sink: ChatSink, message: unknown): Promise<void> {
        if (!isChatCommand(message)) {
            this.dependencies.log.warn("Chat: ignored a malformed message from the webview");
            return;
        }
        try {
            await this.handleCommand(sink, message);
        } catch (error) {
            this.dependencies.log.error(`Chat: ${message.type} failed`, error);
        }
    }

    /** Asks a question in the current conversation; resolves when the answer is complete. */
    public async ask(question: string): Promise<void> {
        const text = question.trim();
        if (text === "")
            return;
        if (this.answerController !== undefined) {
            this.dependencies.log.warn("Chat: a question was sent while an answer is streaming; ignored");
            return;
        }
        const {history} = this.dependencies;
        const conversation = history.current;
        const turns = this.historyTurns();
        const now = this.dependencies.now().toISOString();
        conversation.entries.push({id: this.dependencies.createId(), role: "user", text, createdAt: now});
        const answer: ChatAssistantEntry = {
            id: this.dependencies.createId(), role: "assistant", text: "", status: "streaming", links: [], followUps: [], createdAt: now
        };
        conversation.entries.push(answer);
        await history.save();
        this.broadcastConversation();
        this.dependencies.log.info(`Chat: question sent (${text.length} characters)`);

        const controller = new AbortController();
        this.answerController = controller;
        try {
            const outcome = await this.dependencies.service.ask(text, turns, {
                signal: controller.signal,
                onToken: (token) => {
                    answer.text += token;
                    this.broadcast({type: "answerDelta", entryId: answer.id, text: token});
                }
            });
            answer.text = outcome.result.answer === "" ? answer.text : outcome.result.answer;
            answer.status = "done";
            answer.context = outcome.context;
            answer.links = await this.dependencies.resolveLinks(answer.text).catch((error: unknown) => {
                this.dependencies.log.error("Chat: resolving file links failed", error);
                return [];
            });
            answer.followUps = suggestFollowUps(answer.links, this.dependencies.t);
            this.dependencies.log.info(`Chat: answer shown (${answer.text.length} characters, ${answer.links.length} file links)`);
        } catch (error) {
            const advice = adviseOnError(error, this.dependencies.t);
            if (advice.kind === "cancelled") {
                answer.status = "stopped";
                this.dependencies.log.info("Chat: answer stopped");
            } else {
                answer.status = "error";
                answer.errorMessage = advice.message;
                answer.errorActions = advice.actions.map(toRunnableCommand).filter((action): action is ChatWebviewRunnableCommand => action !== undefined);
                this.dependencies.log.info(`Chat: answer failed (${advice.kind})`);
            }
        } finally {
            this.answerController = undefined;
        }
        await history.save();
        this.broadcast({type: "entry", entry: answer});
    }

    public stop(): void {
        if (this.answerController !== undefined) {
            this.dependencies.log.info("Chat: stop requested");
            this.answerController.abort();
        }
    }

    public async newChat(): Promise<void> {
        this.stop();
        this.dependencies.history.startNewConversation();
        await this.dependencies.history.save();
        this.dependencies.log.info("Chat: new chat");
        this.broadcastConversation();
    }

    public dispose(): void {
        this.stop();
        this.statusSubscription.dispose();
        this.sinks.clear();
    }

    private async handleCommand(sink: ChatSink, message: ChatCommand): Promise<void> {
        switch (message.type) {
            case "ready":
                sink.post({
                    type: "init",
                    strings: this.dependencies.strings,
                    status: this.dependencies.service.status,
                    conversation: this.dependencies.history.current,
                    history: this.dependencies.history.summaries
                });
                this.dependencies.log.info("Chat view ready");
                return;
            case "ask":
                await this.ask(message.text);
                return;
            case "stop":
                this.stop();
                return;
            case "newChat":
                await this.newChat();
                return;
            case "openConversation":
                if (this.answerController !== undefined)
                    return;
                if (this.dependencies.history.switchTo(message.conversationId) !== undefined) {
                    await this.dependencies.history.save();
                    this.dependencies.log.info("Chat: earlier conversation opened");
                    this.broadcastConversation();
                }
                return;
            case "openFileReference":
                await this.dependencies.openFileReference(message.reference);
                return;
            case "openExternalLink":
                await this.dependencies.openExternalLink(message.url);
                return;
            case "copyText":
                await this.dependencies.copyText(message.text);
                this.dependencies.log.info(`Chat: copied ${message.text.length} characters`);
                return;
            case "cancelOperation":
                this.dependencies.service.cancelOperation();
                return;
            case "runCommand":
                await this.dependencies.runCommand(message.command);
                return;
        }
    }

    private historyTurns(): ChatTurn[] {
        const turns: ChatTurn[] = [];
        for (const entry of this.dependencies.history.current.entries) {
            if (entry.role === "user")
                turns.push({role: "user", text: entry.text});
            else if ((entry.status === "done" || entry.status === "stopped") && entry.text !== "")
                turns.push({role: "assistant", text: entry.text});
            else
                turns.pop(); // A question without an answer is not a turn the model should see.
        }
        const limit = this.dependencies.maxHistoryTurns ?? 12;
        return turns.slice(Math.max(0, turns.length - limit));
    }

    private broadcastConversation(): void {
        this.broadcast({type: "conversation", conversation: this.dependencies.history.current, history: this.dependencies.history.summaries});
    }

    private broadcast(message: ChatNotification): void {
        for (const sink of [...this.sinks])
            sink.post(message);
    }
}

function toRunnableCommand(action: ErrorAction): ChatWebviewRunnableCommand | undefined {
    if (action === "selectModel")
        return "selectModel";
    if (action === "showLog")
        return "showLog";
    return undefined;
}

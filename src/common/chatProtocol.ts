// Messages between the chat webview and the extension, with type guards used by both sides.
// The extension owns all state (conversation, cache status); the webview only renders it.
import type {CacheStatus} from "./cacheStatus";
import type {ChatStrings} from "./chatStrings";

export type AnswerContext = {
    filesInCache: number;
    filesExcluded: number;
    effectiveKeepRatio: number;
    /** Display paths of files changed since the cache was made, the first few only. */
    staleFiles: string[];
    staleCount: number;
    cacheOutcome: "reused" | "refreshed" | "built";
};

export type ChatUserEntry = {
    id: string;
    role: "user";
    text: string;
    createdAt: string;
};

export type ChatAssistantEntry = {
    id: string;
    role: "assistant";
    text: string;
    status: "streaming" | "done" | "stopped" | "error";
    errorMessage?: string;
    /** Buttons offered with an error (e.g. Select Model when no model is set). */
    errorActions?: ChatWebviewRunnableCommand[];
    context?: AnswerContext;
    /** File references in `text` that resolve to files inside the workspace, as written in the answer. */
    links: string[];
    followUps: string[];
    createdAt: string;
};

export type ChatEntry = ChatUserEntry | ChatAssistantEntry;

export type ChatConversation = {
    id: string;
    title: string;
    createdAt: string;
    entries: ChatEntry[];
};

export type ConversationSummary = {id: string; title: string; createdAt: string};

/** Commands the webview may ask the extension to run; nothing else can be run from the webview. */
export const chatWebviewRunnableCommands = ["distillWorkspace", "selectModel", "showCacheReport", "showLog"] as const;
export type ChatWebviewRunnableCommand = (typeof chatWebviewRunnableCommands)[number];

/** From the extension to the webview. */
export type ChatNotification =
    | {type: "init"; strings: ChatStrings; status: CacheStatus; conversation: ChatConversation; history: ConversationSummary[]}
    | {type: "status"; status: CacheStatus}
    | {type: "conversation"; conversation: ChatConversation; history: ConversationSummary[]}
    | {type: "answerDelta"; entryId: string; text: string}
    | {type: "entry"; entry: ChatEntry}
    | {type: "focusInput"};

/** From the webview to the extension. */
export type ChatCommand =
    | {type: "ready"}
    | {type: "ask"; text: string}
    | {type: "stop"}
    | {type: "newChat"}
    | {type: "openConversation"; conversationId: string}
    | {type: "openFileReference"; reference: string}
    | {type: "openExternalLink"; url: string}
    | {type: "copyText"; text: string}
    | {type: "cancelOperation"}
    | {type: "runCommand"; command: ChatWebviewRunnableCommand};

/** Longest question or copied text accepted from the webview (characters). */
export const maxChatTextLength = 100_000;
const maxReferenceLength = 4096;

function isRecord(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isBoundedString(value: unknown, maxLength: number): value is string {
    return typeof value === "string" && value.length <= maxLength;
}

export function isChatCommand(value: unknown): value is ChatCommand {
    if (!isRecord(value))
        return false;
    switch (value.type) {
        case "ready":
        case "stop":
        case "newChat":
        case "cancelOperation":
            return true;
        case "ask":
            return isBoundedString(value.text, maxChatTextLength) && value.text.trim() !== "";
        case "copyText":
            return isBoundedString(value.text, maxChatTextLength);
        case "openConversation":
            return isBoundedString(value.conversationId, 200) && value.conversationId !== "";
        case "openFileReference":
            return isBoundedString(value.reference, maxReferenceLength) && value.reference !== "";
        case "openExternalLink":
            return isBoundedString(value.url, maxReferenceLength) && /^https?:\/\//i.test(value.url);
        case "runCommand":
            return typeof value.command === "string" && (chatWebviewRunnableCommands as readonly string[]).includes(value.command);
        default:
            return false;
    }
}

function isChatEntry(value: unknown): value is ChatEntry {
    if (!isRecord(value) || typeof value.id !== "string" || typeof value.text !== "string" || typeof value.createdAt !== "string")
        return false;
    if (value.role === "user")
        return true;
    return value.role === "assistant" &&
        (value.status === "streaming" || value.status === "done" || value.status === "stopped" || value.status === "error") &&
        Array.isArray(value.links) && value.links.every((link) => typeof link === "string") &&
        Array.isArray(value.followUps) && value.followUps.every((followUp) => typeof followUp === "string") &&
        (value.errorActions === undefined || (Array.isArray(value.errorActions) &&
            value.errorActions.every((action) => (chatWebviewRunnableCommands as readonly unknown[]).includes(action))));
}

export function isChatConversation(value: unknown): value is ChatConversation {
    return isRecord(value) && typeof value.id === "string" && typeof value.title === "string" &&
        typeof value.createdAt === "string" && Array.isArray(value.entries) && value.entries.every(isChatEntry);
}

function isCacheStatus(value: unknown): value is CacheStatus {
    return isRecord(value) && isRecord(value.model) && isRecord(value.cache) && isRecord(value.stale) && isRecord(value.engine) &&
        typeof value.workspaceOpen === "boolean" && typeof value.engineAvailable === "boolean";
}

function isHistory(value: unknown): value is ConversationSummary[] {
    return Array.isArray(value) && value.every((item) => isRecord(item) && typeof item.id === "string" && typeof item.title === "string");
}

export function isChatNotification(value: unknown): value is ChatNotification {
    if (!isRecord(value))
        return false;
    switch (value.type) {
        case "init":
            return isRecord(value.strings) && isCacheStatus(value.status) && isChatConversation(value.conversation) && isHistory(value.history);
        case "status":
            return isCacheStatus(value.status);
        case "conversation":
            return isChatConversation(value.conversation) && isHistory(value.history);
        case "answerDelta":
            return typeof value.entryId === "string" && typeof value.text === "string";
        case "entry":
            return isChatEntry(value.entry);
        case "focusInput":
            return true;
        default:
            return false;
    }
}

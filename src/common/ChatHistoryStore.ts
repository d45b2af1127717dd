// The chat panel's conversations for one workspace, kept by the extension in workspaceState
// (a Memento), never in the webview. Bad stored data is dropped, never fatal.
import {isChatConversation, type ChatConversation, type ConversationSummary} from "./chatProtocol";

/** The subset of vscode.Memento the store needs. */
export type KeyValueStore = {
    get(key: string): unknown;
    update(key: string, value: unknown): PromiseLike<void>;
};

type StoredHistory = {version: 1; currentId: string; conversations: ChatConversation[]};

export const chatHistoryStorageKey = "kvDistill.chatHistory";

export type ChatHistoryLimits = {maxConversations: number; maxEntriesPerConversation: number; maxEntryCharacters: number};

const defaultLimits: ChatHistoryLimits = {maxConversations: 20, maxEntriesPerConversation: 200, maxEntryCharacters: 200_000};

export class ChatHistoryStore {
    private conversations: ChatConversation[];
    private currentId: string;

    public constructor(
        private readonly storage: KeyValueStore,
        private readonly createId: () => string,
        private readonly now: () => Date = () => new Date(),
        private readonly limits: ChatHistoryLimits = defaultLimits
    ) {
        const stored = storage.get(chatHistoryStorageKey);
        const loaded = ChatHistoryStore.parse(stored);
        this.conversations = loaded?.conversations ?? [];
        this.currentId = loaded?.currentId ?? "";
        if (!this.conversations.some((conversation) => conversation.id === this.currentId))
            this.startNewConversation();
    }

    private static parse(value: unknown): StoredHistory | undefined {
        if (typeof value !== "object" || value === null)
            return undefined;
        const record = value as Partial<StoredHistory>;
        if (record.version !== 1 || typeof record.currentId !== "string" || !Array.isArray(record.conversations))
            return undefined;
        // Keep the valid conversations; a damaged one is dropped alone.
        return {version: 1, currentId: record.currentId, conversations: record.conversations.filter(isChatConversation)};
    }

    public get current(): ChatConversation {
        return this.conversations.find((conversation) => conversation.id === this.currentId)!;
    }

    /** Earlier conversations that have at least one question, newest first, the current one included. */
    public get summaries(): ConversationSummary[] {
        return this.conversations
            .filter((conversation) => conversation.entries.length > 0)
            .map(({id, title, createdAt}) => ({id, title, createdAt}))
            .reverse();
    }

    /** Starts an empty conversation, unless the current one is already empty. */
    public startNewConversation(): ChatConversation {
        const existing = this.conversations.find((conversation) => conversation.id === this.currentId);
        if (existing !== undefined && existing.entries.length === 0)
            return existing;
        const conversation: ChatConversation = {id: this.createId(), title: "", createdAt: this.now().toISOString(), entries: []};
        this.conversations.push(conversation);
        this.currentId = conversation.id;
        this.trim();
        return conversation;
    }

    public switchTo(conversationId: string): ChatConversation | undefined {
        const conversation = this.conversations.find((candidate) => candidate.id === conversationId);
        if (conversation === undefined)
            return undefined;
        // Drop the empty conversation being left.
        this.conversations = this.conversations.filter((candidate) => candidate.entries.length > 0 || candidate.id === conversationId);
        this.currentId = conversationId;
        return conversation;
    }

    /** Call after changing the current conversation's entries. */
    public async save(): Promise<void> {
        const conversation = this.current;
        if (conversation.title === "") {
            const firstQuestion = conversation.entries.find((entry) => entry.role === "user");
            if (firstQuestion !== undefined)
                conversation.title = firstQuestion.text.replace(/\s+/g, " ").trim().slice(0, 80);
        }
        if (conversation.entries.length > this.limits.maxEntriesPerConversation)
            conversation.entries.splice(0, conversation.entries.length - this.limits.maxEntriesPerConversation);
        this.trim();
        const stored: StoredHistory = {
            version: 1,
            currentId: this.currentId,
            conversations: this.conversations.map((item) => ({
                ...item,
                entries: item.entries.map((entry) => entry.text.length > this.limits.maxEntryCharacters
                    ? {...entry, text: entry.text.slice(0, this.limits.maxEntryCharacters)}
                    : entry)
            }))
        };
        await this.storage.update(chatHistoryStorageKey, stored);
    }

    private trim(): void {
        while (this.conversations.length > this.limits.maxConversations) {
            const index = this.conversations.findIndex((conversation) => conversation.id !== this.currentId);
            if (index < 0)
                break;
            this.conversations.splice(index, 1);
        }
    }
}

import {strict as assert} from "node:assert";
import {describe, it} from "node:test";
import {chatHistoryStorageKey, ChatHistoryStore} from "../../../src/common/ChatHistoryStore";

class MemoryStore {
    public readonly values = new Map<string, unknown>();
    public get(key: string): unknown { return this.values.get(key); }
    public async update(key: string, value: unknown): Promise<void> { this.values.set(key, JSON.parse(JSON.stringify(value)) as unknown); }
}

function ids(): () => string {
    let next = 0;
    return () => `c${++next}`;
}

describe("ChatHistoryStore", () => {
    it("keeps conversations across restarts, per workspace store", async () => {
        const storage = new MemoryStore();
        const first = new ChatHistoryStore(storage, ids());
        first.current.entries.push({id: "u", role: "user", text: "  Where   is\nmain? ", createdAt: "t"});
        await first.save();
        const reopened = new ChatHistoryStore(storage, ids());
        assert.equal(reopened.current.entries.length, 1);
        assert.equal(reopened.current.title, "Where is main?");
        assert.deepEqual(reopened.summaries.map((summary) => summary.title), ["Where is main?"]);
    });

    it("drops damaged stored data instead of failing", () => {
        for (const stored of ["garbage", 42, {version: 2}, {version: 1, currentId: 5, conversations: []}]) {
            const storage = new MemoryStore();
            storage.values.set(chatHistoryStorageKey, stored);
            const store = new ChatHistoryStore(storage, ids());
            assert.equal(store.current.entries.length, 0);
        }
        const storage = new MemoryStore();
        storage.values.set(chatHistoryStorageKey, {version: 1, currentId: "good", conversations: [
            {id: "bad", title: 1, createdAt: "t", entries: []},
            {id: "good", title: "kept", createdAt: "t", entries: [{id: "u", role: "user", text: "q", createdAt: "t"}]}
        ]});
        const store = new ChatHistoryStore(storage, ids());
        assert.equal(store.current.id, "good");
        assert.deepEqual(store.summaries.map((summary) => summary.id), ["good"]);
    });

    it("does not pile up empty conversations and caps their number", async () => {
        const storage = new MemoryStore();
        const store = new ChatHistoryStore(storage, ids(), () => new Date(0), {maxConversations: 3, maxEntriesPerConversation: 2, maxEntryCharacters: 5});
        const emptyId = store.current.id;
        assert.equal(store.startNewConversation().id, emptyId, "an empty current conversation is reused");
        for (let index = 0; index < 5; index++) {
            store.current.entries.push({id: `u${index}`, role: "user", text: `question ${index}`, createdAt: "t"});
            await store.save();
            store.startNewConversation();
        }
        const saved = storage.values.get(chatHistoryStorageKey) as {conversations: Array<{entries: Array<{text: string}>}>};
        assert.ok(saved.conversations.length <= 3);
        assert.ok(saved.conversations.every((conversation) => conversation.entries.every((entry) => entry.text.length <= 5)));
        store.current.entries.push(
            {id: "a", role: "user", text: "1", createdAt: "t"}, {id: "b", role: "user", text: "2", createdAt: "t"}, {id: "c", role: "user", text: "3", createdAt: "t"}
        );
        await store.save();
        assert.deepEqual(store.current.entries.map((entry) => entry.id), ["b", "c"]);
        assert.equal(store.switchTo("missing"), undefined);
    });
});

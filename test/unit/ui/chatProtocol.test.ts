import {strict as assert} from "node:assert";
import {describe, it} from "node:test";
import {freshStaleSummary, type CacheStatus} from "../../../src/common/cacheStatus";
import {isChatCommand, isChatConversation, isChatNotification, maxChatTextLength} from "../../../src/common/chatProtocol";
import {chatStringsEnglish} from "../../../src/common/chatStrings";

const status: CacheStatus = {
    workspaceOpen: true,
    engineAvailable: true,
    model: {configured: false},
    cache: {kind: "none"},
    stale: freshStaleSummary(),
    busy: undefined,
    engine: {kind: "stopped"}
};

describe("chat protocol: commands from the webview", () => {
    it("accepts every well-formed command", () => {
        for (const command of [
            {type: "ready"}, {type: "stop"}, {type: "newChat"}, {type: "cancelOperation"},
            {type: "ask", text: "where is main?"},
            {type: "copyText", text: ""},
            {type: "openConversation", conversationId: "c1"},
            {type: "openFileReference", reference: "src/a.ts:3"},
            {type: "openExternalLink", url: "https://example.com/x"},
            {type: "runCommand", command: "distillWorkspace"},
            {type: "runCommand", command: "selectModel"}
        ])
            assert.ok(isChatCommand(command), JSON.stringify(command));
    });

    it("rejects malformed, unknown and dangerous commands", () => {
        for (const command of [
            null, undefined, 42, "ask", [], {}, {type: "unknown"},
            {type: "ask"}, {type: "ask", text: 5}, {type: "ask", text: "   "}, {type: "ask", text: "x".repeat(maxChatTextLength + 1)},
            {type: "openFileReference", reference: ""}, {type: "openFileReference", reference: 7},
            {type: "openExternalLink", url: "javascript:alert(1)"}, {type: "openExternalLink", url: "command:workbench.action.quit"},
            {type: "openExternalLink", url: "file:///etc/passwd"},
            {type: "runCommand", command: "workbench.action.quit"}, {type: "runCommand", command: "clearCache"}, {type: "runCommand"},
            {type: "openConversation", conversationId: ""}
        ])
            assert.equal(isChatCommand(command), false, JSON.stringify(command));
    });
});

describe("chat protocol: notifications from the extension", () => {
    const conversation = {
        id: "c1", title: "t", createdAt: "2026-01-01T00:00:00Z",
        entries: [
            {id: "u1", role: "user", text: "q", createdAt: "x"},
            {id: "a1", role: "assistant", text: "a", status: "done", links: ["src/a.ts"], followUps: [], createdAt: "x", errorActions: ["selectModel"]}
        ]
    };

    it("accepts well-formed notifications", () => {
        assert.ok(isChatNotification({type: "init", strings: chatStringsEnglish, status, conversation, history: [{id: "c1", title: "t", createdAt: "x"}]}));
        assert.ok(isChatNotification({type: "status", status}));
        assert.ok(isChatNotification({type: "conversation", conversation, history: []}));
        assert.ok(isChatNotification({type: "answerDelta", entryId: "a1", text: "tok"}));
        assert.ok(isChatNotification({type: "entry", entry: conversation.entries[1]}));
        assert.ok(isChatNotification({type: "focusInput"}));
    });

    it("rejects notifications with missing or wrong fields", () => {
        assert.equal(isChatNotification({type: "status"}), false);
        assert.equal(isChatNotification({type: "answerDelta", entryId: "a1"}), false);
        assert.equal(isChatNotification({type: "entry", entry: {id: "a1", role: "assistant", text: "a", status: "weird", links: [], followUps: [], createdAt: "x"}}), false);
        assert.equal(isChatNotification({type: "entry", entry: {id: "a1", role: "assistant", text: "a", status: "done", links: [3], followUps: [], createdAt: "x"}}), false);
        assert.equal(isChatNotification({type: "entry", entry: {...conversation.entries[1], errorActions: ["workbench.action.quit"]}}), false);
        assert.equal(isChatNotification({type: "conversation", conversation: {...conversation, entries: "no"}, history: []}), false);
        assert.equal(isChatNotification({type: "init", strings: chatStringsEnglish, status: {}, conversation, history: []}), false);
        assert.equal(isChatConversation({id: "c", title: "t", createdAt: "x", entries: [{id: "u", role: "system", text: "", createdAt: "x"}]}), false);
    });
});

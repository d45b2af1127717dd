import {strict as assert} from "node:assert";
import * as path from "node:path";
import {describe, it} from "node:test";
import {ChatHistoryStore} from "../../../src/common/ChatHistoryStore";
import type {ChatAssistantEntry, ChatNotification} from "../../../src/common/chatProtocol";
import {chatStringsEnglish} from "../../../src/common/chatStrings";
import {ModelNotConfiguredError} from "../../../src/common/editorErrors";
import {extractFileReferenceCandidates} from "../../../src/common/fileReferences";
import {formatMessage} from "../../../src/common/formatMessage";
import {StaleTracker} from "../../../src/common/StaleTracker";
import {ChatController} from "../../../src/extension/ChatController";
import {WorkspaceCacheService} from "../../../src/extension/WorkspaceCacheService";
import {FakeEngineClient, makeReport, MemoryLog} from "./FakeEngineClient";

class MemoryStore {
    public readonly values = new Map<string, unknown>();
    public get(key: string): unknown { return this.values.get(key); }
    public async update(key: string, value: unknown): Promise<void> { this.values.set(key, JSON.parse(JSON.stringify(value)) as unknown); }
}

function setup(options: {modelConfigured?: boolean} = {}) {
    const root = path.resolve("/work/project");
    const engine = new FakeEngineClient(makeReport(["src/greeting.ts"]));
    const log = new MemoryLog();
    const service = new WorkspaceCacheService({
        getEngine: () => engine,
        engineAvailable: true,
        getFolders: () => [{name: "project", path: root}],
        cacheDir: () => "/storage",
        buildDistillOptions: async () => {
            if (options.modelConfigured === false)
                throw new ModelNotConfiguredError(false);
            return {modelPath: "/m.gguf", folders: [root], keepRatio: 0.2, scorer: "surprisal", segmentTokens: 0, cacheDir: "/storage"};
        },
        describeModel: () => ({configured: true, label: "m.gguf", source: "path"}),
        idleUnloadMinutes: () => 0,
        maxAnswerTokens: () => 100,
        staleTracker: new StaleTracker({folders: [{name: "project", path: root}], isExcluded: () => false}),
        log
    });
    const store = new MemoryStore();
    let ids = 0;
    const history = new ChatHistoryStore(store, () => `id${++ids}`);
    const opened: string[] = [];
    const commands: string[] = [];
    const copied: string[] = [];
    const controller = new ChatController({
        service,
        history,
        strings: chatStringsEnglish,
        createId: () => `id${++ids}`,
        now: () => new Date("2026-02-03T04:05:06Z"),
        // Stands in for the file system check: only src/greeting.ts exists.
        resolveLinks: async (answer) => extractFileReferenceCandidates(answer).filter((candidate) => candidate.startsWith("src/greeting.ts")),
        openFileReference: async (reference) => { opened.push(reference); },
        openExternalLink: async () => undefined,
        copyText: async (text) => { copied.push(text); },
        runCommand: async (command) => { commands.push(command); },
        log,
        t: formatMessage
    });
    const received: ChatNotification[] = [];
    const sink = {post: (message: ChatNotification) => received.push(message)};
    controller.attach(sink);
    return {engine, service, controller, sink, received, store, history, opened, commands, copied, log};
}

describe("ChatController", () => {
    it("sends the state to a webview that says it is ready", async () => {
        const {controller, sink, received} = setup();
        await controller.handleMessage(sink, {type: "ready"});
        const init = received.find((message) => message.type === "init");
        assert.ok(init !== undefined && init.type === "init");
        assert.equal(init.strings.send, "Send");
        assert.equal(init.conversation.entries.length, 0);
        assert.equal(init.status.model.configured, true);
    });

    it("streams an answer, then finishes it with links, follow-ups and its context", async () => {
        const {controller, sink, received, engine, store, log} = setup();
        await controller.handleMessage(sink, {type: "ask", text: "Where is the greeting?"});
        const deltas = received.filter((message) => message.type === "answerDelta").map((message) => message.type === "answerDelta" ? message.text : "");
        assert.deepEqual(deltas, engine.answerTokens);
        const final = received.filter((message) => message.type === "entry").pop();
        assert.ok(final !== undefined && final.type === "entry" && final.entry.role === "assistant");
        const entry = final.entry as ChatAssistantEntry;
        assert.equal(entry.status, "done");
        assert.equal(entry.text, "The greeting is in src/greeting.ts:3.");
        assert.deepEqual(entry.links, ["src/greeting.ts:3"]);
        assert.deepEqual(entry.followUps, ["What does src/greeting.ts do, and which other files use it?"]);
        assert.equal(entry.context?.filesInCache, 1);
        assert.ok(received.some((message) => message.type === "status" && message.status.busy?.phase === "answering"), "the header shows the answer phase");
        const saved = store.values.get("kvDistill.chatHistory") as {conversations: Array<{title: string; entries: unknown[]}>};
        assert.equal(saved.conversations[0]?.title, "Where is the greeting?");
        assert.equal(saved.conversations[0]?.entries.length, 2, "the history is kept by the extension");
        assert.ok(log.has(/Chat: question sent/) && log.has(/Answer finished/) && log.has(/Chat: answer shown .* 1 file links/));
    });

    it("passes earlier turns of the conversation with a follow-up question", async () => {
        const {controller, sink, engine} = setup();
        await controller.handleMessage(sink, {type: "ask", text: "first"});
        await controller.handleMessage(sink, {type: "ask", text: "second"});
        const asks = engine.calls.filter((call) => call.method === "ask").map((call) => call.options as {question: string; history: Array<{role: string; text: string}>});
        assert.deepEqual(asks[0]?.history, []);
        assert.deepEqual(asks[1]?.history, [{role: "user", text: "first"}, {role: "assistant", text: "The greeting is in src/greeting.ts:3."}]);
        assert.equal(asks[1]?.question, "second");
    });

    it("stops a streaming answer and keeps what arrived", async () => {
        const {controller, sink, received, engine} = setup();
        engine.hang = true;
        const asking = controller.handleMessage(sink, {type: "ask", text: "q"});
        await new Promise((resolve) => setImmediate(resolve));
        await new Promise((resolve) => setImmediate(resolve));
        assert.ok(controller.isAnswering);
        await controller.handleMessage(sink, {type: "stop"});
        await asking;
        const final = received.filter((message) => message.type === "entry").pop();
        assert.ok(final?.type === "entry" && final.entry.role === "assistant");
        assert.equal((final.entry as ChatAssistantEntry).status, "stopped");
        assert.equal(final.entry.text, engine.answerTokens[0]);
        assert.equal(controller.isAnswering, false);
    });

    it("shows a missing model as an error with a Select Model button", async () => {
        const {controller, sink, received} = setup({modelConfigured: false});
        await controller.handleMessage(sink, {type: "ask", text: "q"});
        const final = received.filter((message) => message.type === "entry").pop();
        assert.ok(final?.type === "entry");
        const entry = final.entry as ChatAssistantEntry;
        assert.equal(entry.status, "error");
        assert.match(entry.errorMessage ?? "", /No model selected/);
        assert.deepEqual(entry.errorActions, ["selectModel"]);
    });

    it("forwards links, copies and the allowed commands, and drops malformed messages", async () => {
        const {controller, sink, opened, commands, copied, log} = setup();
        await controller.handleMessage(sink, {type: "openFileReference", reference: "src/greeting.ts:3"});
        await controller.handleMessage(sink, {type: "copyText", text: "code"});
        await controller.handleMessage(sink, {type: "runCommand", command: "showCacheReport"});
        await controller.handleMessage(sink, {type: "runCommand", command: "workbench.action.quit"});
        await controller.handleMessage(sink, {type: "openFileReference"});
        await controller.handleMessage(sink, "ask");
        assert.deepEqual(opened, ["src/greeting.ts:3"]);
        assert.deepEqual(copied, ["code"]);
        assert.deepEqual(commands, ["showCacheReport"]);
        assert.equal(log.lines.filter((line) => /malformed message/.test(line)).length, 3);
    });

    it("starts a new chat and reopens an earlier one", async () => {
        const {controller, sink, received, history} = setup();
        await controller.handleMessage(sink, {type: "ask", text: "first question"});
        const firstId = history.current.id;
        await controller.handleMessage(sink, {type: "newChat"});
        assert.notEqual(history.current.id, firstId);
        assert.equal(history.current.entries.length, 0);
        const afterNew = received.filter((message) => message.type === "conversation").pop();
        assert.ok(afterNew?.type === "conversation" && afterNew.history.some((summary) => summary.id === firstId && summary.title === "first question"));
        await controller.handleMessage(sink, {type: "openConversation", conversationId: firstId});
        assert.equal(history.current.id, firstId);
        assert.equal(history.current.entries.length, 2);
    });
});

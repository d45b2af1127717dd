import {strict as assert} from "node:assert";
import {describe, it} from "node:test";
import type {AskOptions, DistillOptions} from "../../src/engine/engineApi";
import {DownloadConsentRequiredError, EngineOperationError, EngineProtocolError, OperationCancelledError} from "../../src/engine/engineProcessErrors";
import {ModelFileTruncatedError} from "../../src/engine/modelFileErrors";
import {
    ENGINE_PROTOCOL_VERSION,
    EngineMessageDecoder,
    encodeEngineMessage,
    engineMethods,
    engineParamsGuards,
    engineResultGuards,
    isEngineClientMessage,
    isEngineRequestMessage,
    isEngineServerMessage,
    reviveEngineError,
    serializeEngineError,
    type EngineClientMessage,
    type EngineServerMessage
} from "../../src/engine/protocol";

const distillOptions: DistillOptions = {modelPath: "/m/model.gguf", folders: ["/w/a", "/w/b"], keepRatio: 0.2, scorer: "surprisal", segmentTokens: 4096, cacheDir: "/c", seed: 3};
const askOptions: AskOptions = {...distillOptions, question: "Where is main()?", history: [{role: "user", text: "hi"}, {role: "assistant", text: "hello"}], maxAnswerTokens: 200};

const validRequests: EngineClientMessage[] = [
    {type: "request", id: 1, method: "hello", params: {protocolVersion: ENGINE_PROTOCOL_VERSION, clientName: "cli", clientPid: 42, modelIdleUnloadMs: 1000}},
    {type: "request", id: 2, method: "ping", params: {}},
    {type: "request", id: 3, method: "distill", params: distillOptions},
    {type: "request", id: 4, method: "ask", params: askOptions},
    {type: "request", id: 5, method: "getCacheReport", params: distillOptions},
    {type: "request", id: 6, method: "clearCache", params: {folders: ["/w"], cacheDir: "/c"}},
    {type: "request", id: 7, method: "unloadModel", params: {}},
    {type: "request", id: 8, method: "downloadModel", params: {uri: "hf:a/b:Q4_K_M", directory: "/s", consent: false}},
    {type: "request", id: 9, method: "shutdown", params: {reason: "test"}},
    {type: "cancel", id: 3}
];

const validServerMessages: EngineServerMessage[] = [
    {type: "response", id: 1, ok: true, result: {pid: 1, uptimeMs: 2}},
    {type: "response", id: 2, ok: false, error: {name: "X", message: "y", file: "/f", data: {a: 1}, cause: {name: "Z", message: "w"}}},
    {type: "progress", id: 3, progress: {phase: "prefilling", doneTokens: 10, totalTokens: 100, tokensPerSecond: 5, etaSeconds: 18}},
    {type: "downloadProgress", id: 8, progress: {downloadedBytes: 5, totalBytes: 10}},
    {type: "token", id: 4, text: "Hel"},
    {type: "state", state: {kind: "busy", operation: "distill", queued: 1, modelPath: "/m"}},
    {type: "state", state: {kind: "ready", modelLoaded: false}},
    {type: "log", level: "warn", message: "careful"},
    {type: "goodbye", reason: "idle-exit", message: "bye"}
];

describe("engine protocol framing", () => {
    it("round-trips every message through encode and a byte-at-a-time decoder", () => {
        const all = [...validRequests, ...validServerMessages];
        const bytes = Buffer.from(all.map(encodeEngineMessage).join(""), "utf8");
        const decoder = new EngineMessageDecoder();
        const decoded: unknown[] = [];
        for (let index = 0; index < bytes.length; index++)
            decoded.push(...decoder.push(bytes.subarray(index, index + 1)));
        assert.deepEqual(decoded, all);
        assert.equal(decoder.hasPartialMessage, false);
    });

    it("keeps multi-byte characters split across chunks and newlines inside strings", () => {
        const message: EngineServerMessage = {type: "token", id: 1, text: "naïve → 東京\nline two"};
        const bytes = Buffer.from(encodeEngineMessage(message), "utf8");
        assert.equal(bytes.subarray(0, -1).includes(0x0a), false, "only the terminator is a raw newline");
        const split = bytes.indexOf(Buffer.from("東", "utf8")) + 1;
        const decoder = new EngineMessageDecoder();
        assert.deepEqual(decoder.push(bytes.subarray(0, split)), []);
        assert.equal(decoder.hasPartialMessage, true);
        assert.deepEqual(decoder.push(bytes.subarray(split)), [message]);
    });

    it("decodes several messages in one chunk and skips blank lines", () => {
        const decoder = new EngineMessageDecoder();
        assert.deepEqual(decoder.push('{"a":1}\n\n{"b":2}\n{"c"'), [{a: 1}, {b: 2}]);
        assert.deepEqual(decoder.push(":3}\n"), [{c: 3}]);
    });

    it("throws a protocol error on a line that is not JSON", () => {
        const decoder = new EngineMessageDecoder();
        assert.throws(() => decoder.push("{not json}\n"), EngineProtocolError);
    });
});

describe("engine protocol guards", () => {
    it("accepts every valid client message and every method has a parameter guard", () => {
        for (const message of validRequests)
            assert.equal(isEngineClientMessage(message), true, JSON.stringify(message));
        assert.deepEqual(Object.keys(engineParamsGuards).sort(), [...engineMethods].sort());
        assert.deepEqual(Object.keys(engineResultGuards).sort(), [...engineMethods].sort());
        const covered = new Set(validRequests.filter((message) => message.type === "request").map((message) => (message as {method: string}).method));
        assert.equal(covered.size, engineMethods.length, "the valid list covers all methods");
    });

    it("carries the compaction mode, the adapter, the cache size cap, the outline switch and the outline detail of a distill", () => {
        const params = {...distillOptions, compaction: "renumber", adapterPath: "/a/scorer.gguf", cacheSizeCapBytes: 3 * 1024 * 1024, workspaceOutline: false,
            outlineDetail: "definitions"};
        assert.equal(isEngineClientMessage({type: "request", id: 1, method: "distill", params}), true);
        assert.equal(isEngineClientMessage({type: "request", id: 2, method: "ask", params: {...params, question: "q"}}), true);
    });

    it("rejects malformed client messages", () => {
        const bad: unknown[] = [
            null,
            "request",
            {type: "request", id: -1, method: "ping", params: {}},
            {type: "request", id: 1.5, method: "ping", params: {}},
            {type: "request", id: 1, method: "format-disk", params: {}},
            {type: "request", id: 1, method: "ping"},
            {type: "request", id: 1, method: "distill", params: {...distillOptions, keepRatio: 0}},
            {type: "request", id: 1, method: "distill", params: {...distillOptions, keepRatio: 1.5}},
            {type: "request", id: 1, method: "distill", params: {...distillOptions, scorer: "magic"}},
            {type: "request", id: 1, method: "distill", params: {...distillOptions, folders: "/w"}},
            {type: "request", id: 1, method: "distill", params: {...distillOptions, cacheDir: undefined}},
            {type: "request", id: 1, method: "distill", params: {...distillOptions, compaction: "erase"}},
            {type: "request", id: 1, method: "distill", params: {...distillOptions, cacheSizeCapBytes: -1}},
            {type: "request", id: 1, method: "distill", params: {...distillOptions, adapterPath: 7}},
            {type: "request", id: 1, method: "distill", params: {...distillOptions, workspaceOutline: "no"}},
            {type: "request", id: 1, method: "distill", params: {...distillOptions, outlineDetail: "full"}},
            {type: "request", id: 1, method: "ask", params: distillOptions},
            {type: "request", id: 1, method: "ask", params: {...askOptions, history: [{role: "system", text: "x"}]}},
            {type: "request", id: 1, method: "downloadModel", params: {uri: "hf:a/b", directory: "/s"}},
            {type: "request", id: 1, method: "hello", params: {protocolVersion: 1, clientName: "x", clientPid: 1, modelIdleUnloadMs: -5}},
            {type: "cancel", id: "3"}
        ];
        for (const message of bad)
            assert.equal(isEngineClientMessage(message), false, JSON.stringify(message));
        assert.equal(isEngineRequestMessage({type: "cancel", id: 1}), false);
    });

    it("accepts every valid server message and rejects malformed ones", () => {
        for (const message of validServerMessages)
            assert.equal(isEngineServerMessage(message), true, JSON.stringify(message));
        const bad: unknown[] = [
            {type: "response", id: 1, ok: true},
            {type: "response", id: 1, ok: false, error: {name: "X"}},
            {type: "response", id: 1, ok: false, error: {name: "X", message: "m", data: {nested: {}}}},
            {type: "progress", id: 1, progress: {phase: "dreaming", doneTokens: 1, totalTokens: 2}},
            {type: "downloadProgress", id: 1, progress: {downloadedBytes: "5", totalBytes: 10}},
            {type: "token", id: 1},
            {type: "state", state: {kind: "busy", operation: "nap", queued: 0}},
            {type: "state", state: {kind: "ready"}},
            {type: "log", level: "debug", message: "x"},
            {type: "goodbye", reason: "bored", message: "x"},
            {type: "surprise"}
        ];
        for (const message of bad)
            assert.equal(isEngineServerMessage(message), false, JSON.stringify(message));
    });

    it("checks result shapes per method", () => {
        assert.equal(engineResultGuards.getCacheReport(null), true);
        assert.equal(engineResultGuards.getCacheReport({files: []}), true);
        assert.equal(engineResultGuards.getCacheReport({}), false);
        assert.equal(engineResultGuards.clearCache(null), true);
        assert.equal(engineResultGuards.clearCache({}), false);
        assert.equal(engineResultGuards.ask({answer: "a", distill: {}}), true);
        assert.equal(engineResultGuards.ask({answer: 3, distill: {}}), false);
    });
});

describe("engine errors across the boundary", () => {
    it("keeps the class, the fields, the offending file and the cause chain", () => {
        const root = new Error("disk on fire");
        const middle = new ModelFileTruncatedError("The model /m/x.gguf is truncated", "/m/x.gguf", 2000, 1000);
        Object.defineProperty(middle, "cause", {value: root});
        const top = new OperationCancelledError("distill", {cause: middle});
        const wire = JSON.parse(JSON.stringify(serializeEngineError(top))) as unknown;
        assert.equal(isEngineServerMessage({type: "response", id: 1, ok: false, error: wire}), true);

        const revived = reviveEngineError(wire as never, [OperationCancelledError, ModelFileTruncatedError]);
        assert.ok(revived instanceof OperationCancelledError);
        assert.equal(revived.message, "distill was cancelled");
        assert.equal(revived.operation, "distill");
        assert.match(revived.stack ?? "", /in the engine process/);
        const revivedMiddle = revived.cause;
        assert.ok(revivedMiddle instanceof ModelFileTruncatedError);
        assert.equal(revivedMiddle.file, "/m/x.gguf");
        assert.equal(revivedMiddle.expectedBytes, 2000);
        assert.equal(revivedMiddle.actualBytes, 1000);
        const revivedRoot = revivedMiddle.cause;
        assert.ok(revivedRoot instanceof EngineOperationError, "a plain Error comes back as EngineOperationError");
        assert.equal(revivedRoot.remoteName, "Error");
        assert.equal(revivedRoot.message, "disk on fire");
    });

    it("carries the download size of a consent error", () => {
        const wire = serializeEngineError(new DownloadConsentRequiredError("hf:a/b:Q4_K_M", 123456789, "/storage"));
        const revived = reviveEngineError(wire, [DownloadConsentRequiredError]);
        assert.ok(revived instanceof DownloadConsentRequiredError);
        assert.equal(revived.sizeBytes, 123456789);
        assert.equal(revived.uri, "hf:a/b:Q4_K_M");
        assert.match(revived.message, /117\.7 MiB/);
    });

    it("names the file of a Node fs error and keeps its code", () => {
        const fsError = Object.assign(new Error("ENOENT: no such file"), {code: "ENOENT", errno: -2, path: "/w/missing.ts", syscall: "open"});
        const wire = serializeEngineError(fsError);
        assert.equal(wire.file, "/w/missing.ts");
        assert.equal(wire.data?.code, "ENOENT");
        const revived = reviveEngineError(wire, []);
        assert.ok(revived instanceof EngineOperationError);
        assert.equal(revived.file, "/w/missing.ts");
    });

    it("serializes thrown non-errors and stops a cyclic cause chain", () => {
        assert.deepEqual(serializeEngineError("just a string"), {name: "Error", message: "just a string"});
        assert.equal(serializeEngineError({weird: true}).message, '{"weird":true}');
        const cyclic = new Error("loop");
        Object.defineProperty(cyclic, "cause", {value: cyclic});
        let depth = 0;
        for (let current = serializeEngineError(cyclic); current.cause !== undefined; current = current.cause)
            depth++;
        assert.equal(depth, 8);
    });
});

import {strict as assert} from "node:assert";
import * as path from "node:path";
import {describe, it} from "node:test";
import type {CacheStatus, ModelDescription} from "../../../src/common/cacheStatus";
import {ModelNotConfiguredError, OperationCancelledError} from "../../../src/common/editorErrors";
import {StaleTracker} from "../../../src/common/StaleTracker";
import type {DistillOptions} from "../../../src/engine/engineApi";
import {WorkspaceCacheService} from "../../../src/extension/WorkspaceCacheService";
import {FakeEngineClient, makeReport, ManualTimers, MemoryLog} from "./FakeEngineClient";

const root = path.resolve("/work/project");

function setup(options: {model?: ModelDescription; idleMinutes?: number} = {}) {
    const engine = new FakeEngineClient(makeReport(["src/greeting.ts", "src/main.ts"]));
    const folders = [{name: "project", path: root}];
    const tracker = new StaleTracker({folders, isExcluded: () => false});
    const log = new MemoryLog();
    const timers = new ManualTimers();
    let model: ModelDescription = options.model ?? {configured: true, label: "test.gguf", source: "path"};
    let engineCreated = 0;
    const distillOptions: DistillOptions = {modelPath: "/models/test.gguf", folders: [root], keepRatio: 0.2, scorer: "surprisal", segmentTokens: 4096, cacheDir: "/storage/caches"};
    const service = new WorkspaceCacheService({
        getEngine: () => {
            engineCreated++;
            return engine;
        },
        engineAvailable: true,
        getFolders: () => folders,
        cacheDir: () => "/storage/caches",
        buildDistillOptions: async () => {
            if (!model.configured)
                throw new ModelNotConfiguredError(false);
            return distillOptions;
        },
        describeModel: () => model,
        idleUnloadMinutes: () => options.idleMinutes ?? 0,
        maxAnswerTokens: () => 256,
        staleTracker: tracker,
        log,
        timers
    });
    const statuses: CacheStatus[] = [];
    service.onDidChangeStatus((status) => statuses.push(status));
    return {engine, tracker, log, timers, service, statuses, setModel: (next: ModelDescription) => { model = next; }, engineCreations: () => engineCreated};
}

describe("WorkspaceCacheService", () => {
    it("distills with progress, then shows the cache as ready and starts stale tracking", async () => {
        const {engine, service, statuses, tracker, log} = setup();
        assert.equal(service.status.cache.kind, "unknown");
        const result = await service.distill("command");
        assert.equal(result.files, 2);
        const prefilling = statuses.find((status) => status.busy?.phase === "prefilling");
        assert.ok(prefilling !== undefined, "the prefill phase is reported");
        assert.equal(prefilling.busy?.fraction, 0.25);
        assert.match(prefilling.busy?.message ?? "", /250 \/ 1000 tokens, 500 tokens\/s/);
        const status = service.status;
        assert.equal(status.busy, undefined);
        assert.deepEqual(status.cache.kind === "ready" ? [status.cache.summary.files, status.cache.summary.skippedFiles, status.cache.summary.effectiveKeepRatio] : undefined, [2, 1, 0.25]);
        assert.equal(engine.calls.filter((call) => call.method === "distill").length, 1);
        tracker.fileChanged(path.join(root, "src", "main.ts"));
        assert.equal(service.status.stale.stale, true);
        assert.deepEqual(service.status.stale.changedFiles, ["src/main.ts"]);
        assert.ok(log.has(/Distill started \(command\)/) && log.has(/Distill finished: built, 2 files/) && log.has(/Cache marked stale: files-changed/));
    });

    it("answers with the context it used, including stale files when the cache was reused", async () => {
        const {engine, service, tracker} = setup();
        await service.distill("command");
        tracker.fileChanged(path.join(root, "src", "greeting.ts"));
        const tokens: string[] = [];
        const outcome = await service.ask("Where is the greeting?", [{role: "user", text: "hi"}, {role: "assistant", text: "hello"}], {onToken: (text) => tokens.push(text)});
        assert.deepEqual(tokens, engine.answerTokens);
        assert.deepEqual(outcome.context, {filesInCache: 2, filesExcluded: 1, effectiveKeepRatio: 0.25, staleFiles: ["src/greeting.ts"], staleCount: 1, cacheOutcome: "reused"});
        const askCall = engine.calls.find((call) => call.method === "ask")?.options as {question: string; history: unknown[]; maxAnswerTokens: number};
        assert.equal(askCall.question, "Where is the greeting?");
        assert.equal(askCall.history.length, 2);
        assert.equal(askCall.maxAnswerTokens, 256);
    });

    it("takes a refreshed cache from an answer as fresh", async () => {
        const {engine, service, tracker} = setup();
        await service.distill("command");
        tracker.fileChanged(path.join(root, "src", "greeting.ts"));
        engine.askOutcome = "refreshed";
        const outcome = await service.ask("q", []);
        assert.equal(outcome.context.staleCount, 0);
        assert.equal(service.status.stale.stale, false);
    });

    it("cancels a running distill from the header's cancel and keeps no busy state", async () => {
        const {engine, service, log} = setup();
        engine.hang = true;
        const running = service.distill("panel");
        await new Promise((resolve) => setImmediate(resolve));
        assert.equal(service.status.busy?.operation, "distill");
        service.cancelOperation();
        await assert.rejects(running, OperationCancelledError);
        assert.equal(service.status.busy, undefined);
        assert.equal(service.status.cache.kind, "unknown", "a cancelled distill leaves no cache behind");
        assert.ok(log.has(/Distill cancelled/));
    });

    it("stops an answer through the caller's signal", async () => {
        const {engine, service} = setup();
        engine.hang = true;
        const controller = new AbortController();
        const tokens: string[] = [];
        const running = service.ask("q", [], {signal: controller.signal, onToken: (text) => tokens.push(text)});
        await new Promise((resolve) => setImmediate(resolve));
        controller.abort();
        await assert.rejects(running, OperationCancelledError);
        assert.deepEqual(tokens, [engine.answerTokens[0]]);
    });

    it("runs operations one at a time", async () => {
        const {engine, service} = setup();
        const order: string[] = [];
        const first = service.distill("command").then(() => order.push("distill"));
        const second = service.ask("q", []).then(() => order.push("ask"));
        await Promise.all([first, second]);
        assert.deepEqual(order, ["distill", "ask"]);
        assert.deepEqual(engine.calls.map((call) => call.method).filter((method) => method !== "getCacheReport"), ["distill", "ask"]);
    });

    it("reports a missing model without starting the engine", async () => {
        const {service, setModel, engineCreations} = setup();
        setModel({configured: false});
        await assert.rejects(service.distill("command"), ModelNotConfiguredError);
        assert.equal(engineCreations(), 0);
        assert.equal(await service.loadSavedReport(), undefined);
        assert.equal(engineCreations(), 0);
    });

    it("keeps a ready cache when a refresh fails, and shows an error when there was none", async () => {
        const {engine, service} = setup();
        engine.failWith = new Error("CUDA error: out of memory");
        await assert.rejects(service.distill("command"), /out of memory/);
        assert.equal(service.status.cache.kind, "error");
        engine.failWith = undefined;
        await service.distill("command");
        engine.failWith = new Error("boom");
        await assert.rejects(service.distill("command"), /boom/);
        assert.equal(service.status.cache.kind, "ready");
    });

    it("loads the saved report at start and clears the cache on request", async () => {
        const {engine, service, tracker} = setup();
        engine.report = makeReport(["src/main.ts"]);
        const report = await service.loadSavedReport();
        assert.equal(report?.files.length, 1);
        assert.equal(service.status.cache.kind, "ready");
        tracker.fileChanged(path.join(root, "src", "main.ts"));
        assert.equal(service.status.stale.stale, true);
        await service.clearCache();
        assert.equal(service.status.cache.kind, "none");
        assert.equal(service.status.stale.stale, false);
        assert.deepEqual(engine.calls.find((call) => call.method === "clearCache")?.options, {folders: [root], cacheDir: "/storage/caches"});
    });

    it("restores a remembered report only while nothing else is known", async () => {
        const {service} = setup();
        service.restoreReport(makeReport(["a.ts", "b.ts", "c.ts"]));
        assert.equal(service.status.cache.kind === "ready" && service.status.cache.summary.files, 3);
        service.restoreReport(makeReport(["a.ts"]));
        assert.equal(service.status.cache.kind === "ready" && service.status.cache.summary.files, 3);
    });

    it("unloads the model after the idle time, and not while working", async () => {
        const {engine, service, timers, log} = setup({idleMinutes: 2});
        await service.distill("command");
        assert.equal(timers.pending.size, 1);
        assert.equal([...timers.pending.values()][0]!.delayMs, 120_000);
        await service.ask("q", []);
        assert.equal(timers.pending.size, 1, "each operation restarts the idle wait");
        timers.fireAll();
        await new Promise((resolve) => setImmediate(resolve));
        await new Promise((resolve) => setImmediate(resolve));
        assert.equal(engine.unloads, 1);
        assert.ok(log.has(/Model unloaded after 2 idle minutes/));
        assert.equal(timers.pending.size, 0, "an idle unload does not schedule another");
    });

    it("shows the engine's process state", async () => {
        const {engine, service, log} = setup();
        await service.distill("command");
        engine.emitState({kind: "crashed", message: "killed by signal SIGKILL"});
        assert.deepEqual(service.status.engine, {kind: "crashed", message: "killed by signal SIGKILL"});
        assert.ok(log.has(/Engine stopped: killed by signal SIGKILL/));
    });
});

describe("WorkspaceCacheService without a model", () => {
    it("shows 'not distilled' instead of 'checking' when there is nothing to look up", async () => {
        const {service, setModel} = setup();
        setModel({configured: false});
        assert.equal(service.status.cache.kind, "unknown");
        await service.loadSavedReport();
        assert.equal(service.status.cache.kind, "none");
    });
});

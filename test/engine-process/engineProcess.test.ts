// The engine process end to end: a real detached child process on a real Unix socket, started by
// EngineClient, running the real server with the fake backend.
import {strict as assert} from "node:assert";
import {spawn} from "node:child_process";
import {copyFileSync, existsSync, readFileSync, rmSync, utimesSync} from "node:fs";
import * as path from "node:path";
import {afterEach, describe, it} from "node:test";
import type {DistillOptions, DistillProgress, EngineProcessState} from "../../src/engine/engineApi";
import {EngineCrashedError, OperationCancelledError} from "../../src/engine/engineProcessErrors";
import {isProcessAlive} from "../fixtures/processLiveness";
import {createEngineHarness, fakeEngineEntryPath, waitFor, type EngineHarness} from "./engineHarness";

function distillOptions(folder: string, steps: number): DistillOptions {
    return {modelPath: "/models/fake.gguf", folders: [folder], keepRatio: 0.25, scorer: "recent", segmentTokens: steps, cacheDir: `/caches/${folder}`};
}

describe("engine process", {skip: process.platform === "win32" ? "Unix sockets" : false, timeout: 120_000}, () => {
    let harness: EngineHarness | undefined;

    afterEach(async () => {
        await harness?.cleanup();
        harness = undefined;
    });

    it("starts on first use, and a second client shares the same engine process", async () => {
        harness = await createEngineHarness();
        const first = harness.newClient();
        const second = harness.newClient();
        const firstPing = await first.ping();
        const secondPing = await second.ping();
        assert.equal(secondPing.pid, firstPing.pid, "the second client reached the running engine");
        assert.notEqual(firstPing.pid, process.pid);
        assert.equal(harness.logLines.filter((line) => line.includes("Started the engine process")).length, 1, "only one engine was started");
        assert.equal(readFileSync(harness.location.logPath, "utf8").includes(`Engine ${firstPing.pid} listening`), true, "the engine logs to engine.log");
    });

    it("serializes model work from two clients and routes each its own progress and result", async () => {
        harness = await createEngineHarness({stepMs: 30});
        const first = harness.newClient();
        const second = harness.newClient();
        const firstProgress: DistillProgress[] = [];
        const secondProgress: DistillProgress[] = [];
        const [firstResult, secondResult] = await Promise.all([
            first.distill(distillOptions("alpha", 5), {onProgress: (progress) => firstProgress.push(progress)}),
            second.distill(distillOptions("beta", 3), {onProgress: (progress) => secondProgress.push(progress)})
        ]);
        assert.equal(firstResult.cacheId, "fake-alpha");
        assert.equal(firstResult.promptTokens, 500);
        assert.equal(firstResult.keptTokens, 125);
        assert.equal(firstResult.report.files[0]?.displayPath, "alpha");
        assert.equal(secondResult.cacheId, "fake-beta");
        assert.deepEqual(firstProgress.map((progress) => progress.doneTokens), [100, 200, 300, 400, 500]);
        assert.deepEqual(secondProgress.map((progress) => progress.doneTokens), [100, 200, 300]);
        const sequence = harness.events().filter((event) => event.event.startsWith("distill")).map((event) => `${event.event}:${event.detail}`);
        assert.ok(
            JSON.stringify(sequence) === JSON.stringify(["distill-start:alpha", "distill-end:alpha", "distill-start:beta", "distill-end:beta"])
                || JSON.stringify(sequence) === JSON.stringify(["distill-start:beta", "distill-end:beta", "distill-start:alpha", "distill-end:alpha"]),
            `one job at a time: ${sequence.join(", ")}`
        );
        const report = await second.getCacheReport(distillOptions("alpha", 5));
        assert.equal(report?.keptTokens, 125, "the report of a cache built through another client");
        assert.equal(await second.getCacheReport(distillOptions("gamma", 1)), undefined);
    });

    it("streams answer tokens and reports busy, then ready with the model loaded", async () => {
        harness = await createEngineHarness({stepMs: 20});
        const client = harness.newClient();
        const states: EngineProcessState[] = [];
        client.onDidChangeState((state) => states.push(state));
        const tokens: string[] = [];
        const result = await client.ask({...distillOptions("q", 1), question: "engine the is where"}, {onToken: (text) => tokens.push(text)});
        assert.equal(result.answer, "where is the engine");
        assert.deepEqual(tokens, ["where", " is", " the", " engine"]);
        assert.ok(states.some((state) => state.kind === "busy" && state.operation === "ask"), JSON.stringify(states));
        await waitFor("the ready state after the answer", () => client.state.kind === "ready");
        assert.deepEqual(client.state, {kind: "ready", modelLoaded: true, modelPath: "/models/fake.gguf"});
    });

    it("forwards cancellation into the backend's AbortSignal, and the engine goes on serving", async () => {
        harness = await createEngineHarness({stepMs: 50});
        const client = harness.newClient();
        const controller = new AbortController();
        const started = Date.now();
        await assert.rejects(
            client.distill(distillOptions("long", 200), {signal: controller.signal, onProgress: () => controller.abort()}),
            (error: unknown) => error instanceof OperationCancelledError
        );
        assert.ok(Date.now() - started < 5000, "cancelled long before its 10 s of work");
        assert.ok(harness.events().some((event) => event.event === "distill-aborted" && event.detail === "long"), "the backend saw the abort");
        assert.ok(!harness.events().some((event) => event.event === "distill-end" && event.detail === "long"));
        const pid = client.enginePid;
        const result = await client.distill(distillOptions("after", 1));
        assert.equal(result.cacheId, "fake-after");
        assert.equal(client.enginePid, pid, "same engine");
    });

    it("answers a cancelled queued request at once without running it", async () => {
        harness = await createEngineHarness({stepMs: 50});
        const first = harness.newClient();
        const second = harness.newClient();
        await first.ping();
        const running = first.distill(distillOptions("running", 20));
        await waitFor("the first distill to start", () => harness!.events().some((event) => event.event === "distill-start"));
        const controller = new AbortController();
        const queued = second.distill(distillOptions("queued", 1), {signal: controller.signal});
        await new Promise((resolve) => setTimeout(resolve, 100));
        controller.abort();
        await assert.rejects(queued, OperationCancelledError);
        assert.ok(!harness.events().some((event) => event.detail === "queued"), "the queued job never reached the backend");
        assert.equal((await running).cacheId, "fake-running");
    });

    it("gives the in-flight caller EngineCrashedError when the engine is killed, and the next request starts a new engine", async () => {
        harness = await createEngineHarness({stepMs: 50});
        const client = harness.newClient();
        const states: EngineProcessState[] = [];
        client.onDidChangeState((state) => states.push(state));
        const firstPid = (await client.ping()).pid;
        let killed = false;
        const inFlight = client.distill(distillOptions("doomed", 200), {
            onProgress: () => {
                if (!killed)
                    process.kill(firstPid, "SIGKILL");
                killed = true;
            }
        });
        await assert.rejects(inFlight, (error: unknown) => {
            assert.ok(error instanceof EngineCrashedError, String(error));
            assert.equal(error.enginePid, firstPid);
            assert.match(error.message, /next request restarts it/);
            return true;
        });
        assert.ok(states.some((state) => state.kind === "crashed"), JSON.stringify(states));
        assert.equal(existsSync(harness.location.socketPath), true, "the killed engine left its socket behind");
        const result = await client.distill(distillOptions("revived", 2));
        assert.equal(result.cacheId, "fake-revived");
        const secondPid = (await client.ping()).pid;
        assert.notEqual(secondPid, firstPid);
        assert.equal(isProcessAlive(firstPid), false);
        assert.match(readFileSync(harness.location.logPath, "utf8"), /Replacing the stale socket/);
    });

    it("unloads the model after the idle time", async () => {
        harness = await createEngineHarness({stepMs: 10, modelIdleUnloadMs: 300});
        const client = harness.newClient();
        const states: EngineProcessState[] = [];
        client.onDidChangeState((state) => states.push(state));
        await client.distill(distillOptions("idle", 2));
        await waitFor("the idle unload", () => harness!.events().some((event) => event.event === "unload"), 5000);
        const events = harness.events();
        const finished = events.find((event) => event.event === "distill-end")!.at;
        const unloaded = events.find((event) => event.event === "unload")!.at;
        assert.ok(unloaded - finished >= 250, `unloaded ${unloaded - finished} ms after the work, expected about 300`);
        await waitFor("the state to say the model is unloaded", () => client.state.kind === "ready" && !client.state.modelLoaded);
        assert.ok(states.some((state) => state.kind === "ready" && state.modelLoaded));
    });

    it("takes a new idle unload time from a connected client at once", async () => {
        harness = await createEngineHarness({stepMs: 10});
        const client = harness.newClient();
        await client.distill(distillOptions("setting", 1));
        await new Promise((resolve) => setTimeout(resolve, 300));
        assert.ok(!harness.events().some((event) => event.event === "unload"), "the default is 10 minutes");
        await client.setModelIdleUnloadMs(200);
        await waitFor("the unload after the new idle time", () => harness!.events().some((event) => event.event === "unload"), 5000);
        assert.match(readFileSync(harness.location.logPath, "utf8"), /idle unload time set to 200 ms/);
    });

    it("exits after the idle time without clients and removes its socket", async () => {
        harness = await createEngineHarness({stepMs: 10, engineExitIdleMs: 400});
        const client = harness.newClient();
        await client.distill(distillOptions("bye", 1));
        const pid = client.enginePid!;
        await client.dispose();
        await waitFor("the engine to exit", () => !isProcessAlive(pid), 10_000);
        assert.equal(existsSync(harness.location.socketPath), false);
        assert.ok(harness.events().some((event) => event.event === "dispose" && event.pid === pid), "the backend was disposed");
        assert.match(readFileSync(harness.location.logPath, "utf8"), /exits \(idle-exit\)/);
    });

    it("replaces a stale socket left by a dead process", async () => {
        harness = await createEngineHarness();
        const socketPath = harness.location.socketPath;
        // A process that binds the socket and dies without closing it.
        await new Promise<void>((resolve, reject) => {
            const child = spawn(process.execPath, ["-e", `require("node:net").createServer().listen(${JSON.stringify(socketPath)}, () => process.kill(process.pid, "SIGKILL"))`], {stdio: "ignore"});
            child.once("exit", () => resolve());
            child.once("error", reject);
        });
        assert.equal(existsSync(socketPath), true);
        const client = harness.newClient();
        const ping = await client.ping();
        assert.ok(ping.pid > 0);
        assert.match(readFileSync(harness.location.logPath, "utf8"), /Replacing the stale socket/);
    });

    it("lets a client with a newer engine build retire the older engine; older clients then use the newer one", async () => {
        harness = await createEngineHarness();
        const newerEntry = path.join(path.dirname(fakeEngineEntryPath), "fakeEngineEntryNewer.js");
        copyFileSync(fakeEngineEntryPath, newerEntry);
        const future = new Date(Date.now() + 60_000);
        utimesSync(newerEntry, future, future);
        try {
            const older = harness.newClient();
            const newer = harness.newClient({enginePath: newerEntry});
            const olderPid = (await older.ping()).pid;
            const newerPid = (await newer.ping()).pid;
            assert.notEqual(newerPid, olderPid, "the newer client started its own engine");
            await waitFor("the older engine to retire", () => !isProcessAlive(olderPid), 10_000);
            await waitFor("the older client to see the engine stop", () => older.state.kind === "stopped");
            assert.equal((await older.ping()).pid, newerPid, "the older client joined the newer engine instead of retiring it");
        } finally {
            rmSync(newerEntry, {force: true});
        }
    });
});

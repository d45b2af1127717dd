// The shipped engine entry, dist/engine.js (built by `npm run build`): it starts, serves, shares,
// shuts down, and two copies started at once end with exactly one owner of the socket.
import {strict as assert} from "node:assert";
import {spawn, type ChildProcess} from "node:child_process";
import {existsSync, readFileSync} from "node:fs";
import {afterEach, describe, it} from "node:test";
import {isProcessAlive} from "../fixtures/processLiveness";
import {builtEnginePath, createEngineHarness, waitFor, type EngineHarness} from "./engineHarness";

function exitOf(child: ChildProcess): Promise<{code: number | null; stderr: string}> {
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    return new Promise((resolve) => child.once("exit", (code) => resolve({code, stderr})));
}

describe("dist/engine.js", {skip: process.platform === "win32" ? "Unix sockets" : false, timeout: 60_000}, () => {
    let harness: EngineHarness | undefined;
    const spawned: ChildProcess[] = [];

    afterEach(async () => {
        for (const child of spawned.splice(0))
            if (child.exitCode === null && child.signalCode === null)
                child.kill("SIGKILL");
        await harness?.cleanup();
        harness = undefined;
    });

    it("exists (run npm run build first)", () => {
        assert.equal(existsSync(builtEnginePath), true, builtEnginePath);
    });

    it("is started by a client, shared by a second one, and exits on shutdown, removing its socket", async () => {
        harness = await createEngineHarness({enginePath: builtEnginePath});
        const first = harness.newClient();
        const second = harness.newClient();
        const pid = (await first.ping()).pid;
        assert.equal((await second.ping()).pid, pid);
        await first.shutdownEngine("test finished");
        await waitFor("the engine to exit", () => !isProcessAlive(pid));
        assert.equal(existsSync(harness.location.socketPath), false);
        await waitFor("the second client to see the engine stop", () => second.state.kind === "stopped");
        assert.match(readFileSync(harness.location.logPath, "utf8"), /exits \(shutdown-requested\)/);
    });

    it("exits cleanly on SIGTERM, telling its clients", async () => {
        harness = await createEngineHarness({enginePath: builtEnginePath});
        const client = harness.newClient();
        const pid = (await client.ping()).pid;
        process.kill(pid, "SIGTERM");
        await waitFor("the engine to exit", () => !isProcessAlive(pid));
        await waitFor("the client to see an orderly stop", () => client.state.kind === "stopped");
        assert.equal(existsSync(harness.location.socketPath), false);
        assert.match(readFileSync(harness.location.logPath, "utf8"), /exits \(signal\)/);
    });

    it("refuses unknown arguments", async () => {
        const child = spawn(process.execPath, [builtEnginePath, "--socket", "/nonexistent/x.sock", "--test-hook"], {stdio: ["ignore", "ignore", "pipe"]});
        spawned.push(child);
        const {code, stderr} = await exitOf(child);
        assert.equal(code, 2);
        assert.match(stderr, /Unknown arguments: --test-hook/);
        const badGpu = spawn(process.execPath, [builtEnginePath, "--socket", "/nonexistent/x.sock", "--gpu", "metal"], {stdio: ["ignore", "ignore", "pipe"]});
        spawned.push(badGpu);
        const refused = await exitOf(badGpu);
        assert.equal(refused.code, 2);
        assert.match(refused.stderr, /--gpu must be auto, cpu, cuda or vulkan, not "metal"/);
    });

    it("leaves exactly one owner when two engines start at once", async () => {
        harness = await createEngineHarness({enginePath: builtEnginePath});
        const socketPath = harness.location.socketPath;
        const start = (): ChildProcess => {
            const child = spawn(process.execPath, [builtEnginePath, "--socket", socketPath, "--exit-idle-ms", "60000"], {stdio: ["ignore", "ignore", "pipe"]});
            spawned.push(child);
            return child;
        };
        const engines = [start(), start(), start()];
        const exits = engines.map(exitOf);
        // Two of three find the socket taken and leave with code 0.
        await waitFor("two engines to give way", () => engines.filter((child) => child.exitCode !== null).length === 2, 20_000);
        const results = await Promise.all(exits.filter((_, index) => engines[index]!.exitCode !== null));
        assert.deepEqual(results.map((result) => result.code), [0, 0]);
        const winner = engines.find((child) => child.exitCode === null)!;
        const client = harness.newClient();
        assert.equal((await client.ping()).pid, winner.pid, "the client reaches the one engine still running");
        await client.shutdownEngine("test finished");
        await waitFor("the winner to exit", () => winner.exitCode !== null);
    });
});

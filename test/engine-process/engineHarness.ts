// Shared set-up of the transport tests: a private socket folder per test, clients that start the
// test entry (or dist/engine.js), the fake backend's events, and a cleanup that leaves no process.
import {existsSync, readFileSync} from "node:fs";
import {mkdtemp, rm} from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import {EngineClient, type EngineClientOptions} from "../../src/engine/EngineClient";
import type {EngineSocketLocation} from "../../src/engine/engineSocketLocation";
import type {FakeBackendEvent} from "./FakeEngineBackend";

export const fakeEngineEntryPath = path.join(__dirname, "fakeEngineEntry.js");
export const builtEnginePath = path.resolve(__dirname, "..", "..", "..", "dist", "engine.js");

export type EngineHarness = {
    location: EngineSocketLocation;
    eventsFile: string;
    logLines: string[];
    newClient(overrides?: Partial<EngineClientOptions>): EngineClient;
    events(): FakeBackendEvent[];
    cleanup(): Promise<void>;
};

export async function createEngineHarness(options: {stepMs?: number; modelIdleUnloadMs?: number; engineExitIdleMs?: number; enginePath?: string} = {}): Promise<EngineHarness> {
    // A short folder: the socket path must fit in sun_path.
    const directory = await mkdtemp(path.join(os.tmpdir(), "kvd-proc-"));
    const location: EngineSocketLocation = {directory, socketPath: path.join(directory, "engine-p1.sock"), logPath: path.join(directory, "engine.log")};
    const eventsFile = path.join(directory, "events.jsonl");
    const logLines: string[] = [];
    const clients: EngineClient[] = [];
    const enginePath = options.enginePath ?? fakeEngineEntryPath;
    const logger = {
        info: (message: string) => logLines.push(`info ${message}`),
        warn: (message: string) => logLines.push(`warn ${message}`),
        error: (message: string, error?: unknown) => logLines.push(`error ${message}${error === undefined ? "" : ` ${String(error)}`}`)
    };
    return {
        location,
        eventsFile,
        logLines,
        newClient(overrides = {}) {
            const client = new EngineClient({
                enginePath,
                clientName: "engine-process-test",
                location,
                logger,
                startTimeoutMs: 20_000,
                engineExitIdleMs: options.engineExitIdleMs ?? 60_000,
                ...(options.modelIdleUnloadMs === undefined ? {} : {modelIdleUnloadMs: options.modelIdleUnloadMs}),
                engineArguments: enginePath === fakeEngineEntryPath ? ["--fake-events", eventsFile, "--fake-step-ms", String(options.stepMs ?? 50)] : [],
                ...overrides
            });
            clients.push(client);
            return client;
        },
        events() {
            if (!existsSync(eventsFile))
                return [];
            return readFileSync(eventsFile, "utf8").split("\n").filter((line) => line !== "").map((line) => JSON.parse(line) as FakeBackendEvent);
        },
        async cleanup() {
            for (const client of clients)
                await client.dispose();
            // Every engine any client started, winners and losers alike.
            for (const pid of startedEnginePids(logLines))
                killQuietly(pid);
            await rm(directory, {recursive: true, force: true});
        }
    };
}

export function startedEnginePids(logLines: readonly string[]): number[] {
    return logLines.flatMap((line) => {
        const match = /Started the engine process \(pid (\d+)\)/.exec(line);
        return match === null ? [] : [Number(match[1])];
    });
}

function killQuietly(pid: number): void {
    try {
        process.kill(pid, "SIGKILL");
    } catch {
        // Already gone.
    }
}

export async function waitFor(description: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
        if (Date.now() > deadline)
            throw new Error(`Timed out after ${timeoutMs} ms waiting for ${description}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
    }
}

// Runs `kv-distill build-backend --json` in a child process for the editor, so the build (and its
// minutes of output) never runs in the extension host, and turns its JSON lines back into calls.
// Cancelling sends SIGTERM: the command then kills its build's process tree and removes the half build.
import {spawn} from "node:child_process";
import type {BuildPrerequisiteReport, GpuBackendKind} from "./detectBuildPrerequisites";
import {
    GpuBackendBuildCancelledError, GpuBackendBuildError, type GpuBackendBuildProgress, type GpuBackendBuildResult
} from "./GpuBackendBuilder";

export type GpuBackendBuildCallbacks = {
    signal?: AbortSignal;
    onProgress?(progress: GpuBackendBuildProgress): void;
    onOutput?(line: string): void;
};

/** What "KV-Distill: Build GPU Backend" needs to check and build (tests pass a fake). */
export type GpuBackendBuildRunner = {
    checkPrerequisites(gpu: GpuBackendKind): Promise<BuildPrerequisiteReport>;
    build(gpu: GpuBackendKind, callbacks: GpuBackendBuildCallbacks): Promise<GpuBackendBuildResult>;
};

export type ChildProcessRunnerOptions = {
    /** dist/cli.js of the installation. */
    cliPath: string;
    /** Node, or the editor's own binary (run as Node through ELECTRON_RUN_AS_NODE). */
    nodeExecutable: string;
    env?: NodeJS.ProcessEnv;
};

type BuildEvent =
    | ({type: "prerequisites"} & BuildPrerequisiteReport)
    | ({type: "progress"} & GpuBackendBuildProgress)
    | {type: "output"; line: string}
    | ({type: "done"} & GpuBackendBuildResult)
    | {type: "error"; kind: "prerequisites" | "cancelled" | "failed"; message: string};

export class ChildProcessGpuBackendBuildRunner implements GpuBackendBuildRunner {
    public constructor(private readonly options: ChildProcessRunnerOptions) {}

    public async checkPrerequisites(gpu: GpuBackendKind): Promise<BuildPrerequisiteReport> {
        let report: BuildPrerequisiteReport | undefined;
        await this.run(["--gpu", gpu, "--check", "--json"], {}, (event) => {
            if (event.type === "prerequisites")
                report = event;
        }, new Set([0, 1]));
        if (report === undefined)
            throw new GpuBackendBuildError(`kv-distill build-backend --check reported nothing for ${gpu}`);
        return report;
    }

    public async build(gpu: GpuBackendKind, callbacks: GpuBackendBuildCallbacks): Promise<GpuBackendBuildResult> {
        let result: GpuBackendBuildResult | undefined;
        let failure: {kind: string; message: string} | undefined;
        await this.run(["--gpu", gpu, "--json"], callbacks, (event) => {
            if (event.type === "progress")
                callbacks.onProgress?.({phase: event.phase, fraction: event.fraction});
            else if (event.type === "output")
                callbacks.onOutput?.(event.line);
            else if (event.type === "done")
                result = {gpu: event.gpu, buildFolder: event.buildFolder, buildSeconds: event.buildSeconds, stampPath: event.stampPath, logPath: event.logPath};
            else if (event.type === "error")
                failure = event;
        }, new Set([0, 1, 130])).catch((error: unknown) => {
            if (callbacks.signal?.aborted === true)
                throw new GpuBackendBuildCancelledError(`The ${gpu} backend build was cancelled; nothing was installed`, {cause: error});
            throw error;
        });
        if (failure?.kind === "cancelled" || (callbacks.signal?.aborted === true && result === undefined))
            throw new GpuBackendBuildCancelledError(failure?.message ?? `The ${gpu} backend build was cancelled; nothing was installed`);
        if (failure !== undefined)
            throw new GpuBackendBuildError(failure.message);
        if (result === undefined)
            throw new GpuBackendBuildError(`kv-distill build-backend ended without a result for ${gpu}`);
        return result;
    }

    private run(args: readonly string[], callbacks: GpuBackendBuildCallbacks, onEvent: (event: BuildEvent) => void, acceptedExitCodes: Set<number>): Promise<void> {
        return new Promise((resolve, reject) => {
            const child = spawn(this.options.nodeExecutable, [this.options.cliPath, "build-backend", ...args], {
                env: {...(this.options.env ?? process.env), ELECTRON_RUN_AS_NODE: "1"},
                stdio: ["ignore", "pipe", "pipe"]
            });
            const onAbort = (): void => void child.kill("SIGTERM");
            callbacks.signal?.addEventListener("abort", onAbort, {once: true});
            if (callbacks.signal?.aborted === true)
                onAbort();
            let pending = "";
            let stderr = "";
            child.stdout.on("data", (chunk: Buffer) => {
                pending += chunk.toString("utf8");
                const lines = pending.split("\n");
                pending = lines.pop() ?? "";
                for (const line of lines) {
                    if (line.trim() === "")
                        continue;
                    let event: BuildEvent;
                    try {
                        event = JSON.parse(line) as BuildEvent;
                    } catch {
                        callbacks.onOutput?.(line);
                        continue;
                    }
                    onEvent(event);
                }
            });
            child.stderr.on("data", (chunk: Buffer) => {
                stderr = (stderr + chunk.toString("utf8")).slice(-4000);
            });
            child.on("error", (error) => {
                callbacks.signal?.removeEventListener("abort", onAbort);
                reject(new GpuBackendBuildError(`Could not run ${this.options.cliPath}: ${error.message}`, {cause: error}));
            });
            child.on("close", (code, signalName) => {
                callbacks.signal?.removeEventListener("abort", onAbort);
                if (code !== null && acceptedExitCodes.has(code))
                    resolve();
                else
                    reject(new GpuBackendBuildError(`kv-distill build-backend exited with ${code ?? signalName}${stderr.trim() === "" ? "" : `: ${stderr.trim()}`}`));
            });
        });
    }
}

import {execFile, spawn} from "node:child_process";
import {closeSync, openSync, readFileSync} from "node:fs";
import {createServer} from "node:net";
import {setTimeout as sleep} from "node:timers/promises";
import {E2eSetupError, EditorTimeoutError} from "./e2eErrors";
import type {E2eTools} from "./findE2eTools";
import type {IsolatedScratch} from "./IsolatedScratch";

/** Process groups still running; killed when this process exits, however it exits. */
const runningProcessGroups = new Set<number>();

function killProcessGroupNow(processGroupId: number): void {
    try {
        process.kill(-processGroupId, "SIGKILL");
    } catch {
        // Already gone.
    }
}

process.on("exit", () => {
    for (const processGroupId of runningProcessGroups)
        killProcessGroupNow(processGroupId);
});
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const)
    process.once(signal, () => {
        for (const processGroupId of runningProcessGroups)
            killProcessGroupNow(processGroupId);
        process.kill(process.pid, signal);
    });

export type CodeServerStartOptions = {
    tools: E2eTools;
    scratch: IsolatedScratch;
    /** The folder the workbench opens. */
    workspaceDir: string;
    /** Extra environment variables; they reach the extension host. */
    env?: Readonly<Record<string, string>>;
    /** Extra code-server arguments (e.g. `--vscode-option`). */
    extraArguments?: readonly string[];
    startTimeoutMs?: number;
};

/**
 * One isolated code-server, started in its own process group (setsid, via `detached`) so that
 * `stop()` ends it together with its extension host, pty host and file watchers.
 */
export class CodeServerProcess {
    private stopped = false;

    private constructor(
        public readonly url: string,
        private readonly processGroupId: number,
        private readonly logFile: string
    ) {}

    /** Installs a VSIX into the scratch folder's extensions dir with code-server's own CLI. */
    public static async installExtension(tools: E2eTools, scratch: IsolatedScratch, vsix: string, timeoutMs = 120_000): Promise<string> {
        const args = [tools.codeServerEntry, "--user-data-dir", scratch.userDataDir, "--extensions-dir", scratch.extensionsDir, "--install-extension", vsix, "--force"];
        return new Promise((resolve, reject) => {
            execFile(tools.node24, args, {env: scratch.environment(), timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024}, (error, stdout, stderr) => {
                const output = `${stdout}${stderr}`;
                if (error !== null || !/successfully installed/i.test(output))
                    reject(new E2eSetupError(`code-server --install-extension ${vsix} failed: ${output.trim() || String(error)}`, {cause: error ?? undefined}));
                else
                    resolve(output.trim());
            });
        });
    }

    public static async start(options: CodeServerStartOptions): Promise<CodeServerProcess> {
        const port = await findFreePort();
        const {tools, scratch} = options;
        const args = [
            tools.codeServerEntry,
            "--auth", "none",
            "--bind-addr", `127.0.0.1:${port}`,
            "--user-data-dir", scratch.userDataDir,
            "--extensions-dir", scratch.extensionsDir,
            "--disable-telemetry",
            "--disable-update-check",
            "--disable-workspace-trust",
            "--reconnection-grace-time", "10",
            ...(options.extraArguments ?? []),
            options.workspaceDir
        ];
        const logFd = openSync(scratch.codeServerLogFile, "a");
        let child;
        try {
            child = spawn(tools.node24, args, {detached: true, stdio: ["ignore", logFd, logFd], env: scratch.environment(options.env)});
        } finally {
            closeSync(logFd);
        }
        if (child.pid === undefined)
            throw new E2eSetupError(`could not start code-server (${tools.node24})`);
        runningProcessGroups.add(child.pid);
        child.unref();
        let exitCode: number | null | undefined;
        child.on("exit", (code, signal) => {
            exitCode = code ?? (signal === null ? null : -1);
        });
        const server = new CodeServerProcess(`http://127.0.0.1:${port}/`, child.pid, scratch.codeServerLogFile);
        try {
            await server.waitUntilHealthy(options.startTimeoutMs ?? 60_000, () => exitCode !== undefined);
        } catch (error) {
            await server.stop();
            throw error;
        }
        return server;
    }

    /** code-server's own output so far (stdout and stderr). */
    public readLog(): string {
        try {
            return readFileSync(this.logFile, "utf8");
        } catch {
            return "";
        }
    }

    /** Stops the whole process group: SIGTERM, then SIGKILL after `graceMs`. Safe to call twice. */
    public async stop(graceMs = 5_000): Promise<void> {
        if (this.stopped)
            return;
        this.stopped = true;
        try {
            process.kill(-this.processGroupId, "SIGTERM");
        } catch {
            runningProcessGroups.delete(this.processGroupId);
            return;
        }
        const deadline = Date.now() + graceMs;
        while (Date.now() < deadline && isProcessGroupAlive(this.processGroupId))
            await sleep(100);
        killProcessGroupNow(this.processGroupId);
        runningProcessGroups.delete(this.processGroupId);
    }

    private async waitUntilHealthy(timeoutMs: number, hasExited: () => boolean): Promise<void> {
        const deadline = Date.now() + timeoutMs;
        while (Date.now() < deadline) {
            if (hasExited())
                throw new E2eSetupError(`code-server exited during start-up:\n${this.readLog().slice(-4000)}`);
            try {
                const response = await fetch(new URL("healthz", this.url), {signal: AbortSignal.timeout(2_000)});
                if (response.ok)
                    return;
            } catch {
                // Not listening yet.
            }
            await sleep(250);
        }
        throw new EditorTimeoutError(`code-server did not answer /healthz within ${timeoutMs} ms:\n${this.readLog().slice(-4000)}`);
    }
}

function isProcessGroupAlive(processGroupId: number): boolean {
    try {
        process.kill(-processGroupId, 0);
        return true;
    } catch {
        return false;
    }
}

function findFreePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const address = server.address();
            server.close(() => {
                if (address !== null && typeof address === "object")
                    resolve(address.port);
                else
                    reject(new E2eSetupError("could not find a free port"));
            });
        });
    });
}

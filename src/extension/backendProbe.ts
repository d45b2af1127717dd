import {execFile} from "node:child_process";
import type {BackendReport} from "../engine/llamaBinding";

/**
 * Asks a short-lived child process which llama.cpp build it can load. node-llama-cpp never
 * loads inside the extension host: a native crash there would take every extension down.
 */
export function probeBackend(cliPath: string, timeoutMs = 60_000): Promise<BackendReport> {
    return new Promise((resolve, reject) => {
        execFile(
            process.execPath,
            [cliPath, "backend", "--json"],
            {env: {...process.env, ELECTRON_RUN_AS_NODE: "1"}, timeout: timeoutMs, maxBuffer: 1024 * 1024},
            (error, stdout, stderr) => {
                if (error !== null) {
                    reject(new Error(`backend probe failed: ${stderr.trim() || error.message}`, {cause: error}));
                    return;
                }
                try {
                    resolve(JSON.parse(stdout.trim().split("\n").pop() ?? "") as BackendReport);
                } catch (parseError) {
                    reject(new Error(`backend probe printed no report: ${stdout.slice(0, 200)}`, {cause: parseError}));
                }
            }
        );
    });
}

// Runs git for the indexer: no shell, no pager, no optional locks (never takes the index lock
// under an editor that is also running git), output streamed in NUL-separated records so that a
// caller can stop reading early (and git is then killed).
import {spawn} from "node:child_process";

export type GitRunOptions = {
    gitCommand: string;
    cwd: string;
    args: readonly string[];
    signal?: AbortSignal;
    /** Extra environment variables for git. */
    env?: Readonly<Record<string, string>>;
    /** Let git take optional locks: only for an index of our own (GIT_INDEX_FILE), never the repository's. */
    allowOptionalLocks?: boolean;
    /** Called with each complete NUL-terminated record; return true to stop early. */
    onRecord(record: string): boolean | void;
};

export type GitRunOutcome = {ok: true; stoppedEarly: boolean} | {ok: false; message: string};

export function runGitCommand(options: GitRunOptions): Promise<GitRunOutcome> {
    return new Promise((resolve) => {
        let stoppedEarly = false;
        let stderr = "";
        let pending: Buffer[] = [];
        const child = spawn(options.gitCommand, [...(options.allowOptionalLocks === true ? [] : ["--no-optional-locks"]), "-c", "core.quotepath=off", ...options.args], {
            cwd: options.cwd,
            env: options.env === undefined ? undefined : {...process.env, ...options.env},
            stdio: ["ignore", "pipe", "pipe"],
            signal: options.signal,
            windowsHide: true
        });
        child.stdout.on("data", (chunk: Buffer) => {
            if (stoppedEarly)
                return;
            let start = 0;
            for (let end = chunk.indexOf(0, start); end !== -1; end = chunk.indexOf(0, start)) {
                // Most records lie within one chunk: decode them in place, without a copy.
                let record: string;
                if (pending.length === 0)
                    record = chunk.toString("utf8", start, end);
                else {
                    pending.push(chunk.subarray(start, end));
                    record = Buffer.concat(pending).toString("utf8");
                    pending = [];
                }
                start = end + 1;
                if (options.onRecord(record) === true) {
                    stoppedEarly = true;
                    child.kill();
                    return;
                }
            }
            if (start < chunk.length)
                pending.push(chunk.subarray(start));
        });
        child.stderr.on("data", (chunk: Buffer) => {
            if (stderr.length < 4000)
                stderr += chunk.toString("utf8");
        });
        child.on("error", (error) => resolve({ok: false, message: error.message}));
        child.on("close", (code) => {
            if (stoppedEarly)
                resolve({ok: true, stoppedEarly: true});
            else if (code === 0) {
                if (pending.length > 0)
                    options.onRecord(Buffer.concat(pending).toString("utf8"));
                resolve({ok: true, stoppedEarly: false});
            } else
                resolve({ok: false, message: stderr.trim() || `git exited with code ${String(code)}`});
        });
    });
}

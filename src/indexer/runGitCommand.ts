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
            const lastEnd = chunk.lastIndexOf(0);
            if (lastEnd === -1) {
                pending.push(chunk);
                return;
            }
            // The chunk's complete records (and the start of the first, held from earlier chunks) are
            // decoded in one call and split at the NULs: a call per record cost more than the records'
            // handling on a large repository. A NUL byte always decodes to a NUL character and ends any
            // sequence before it, so this gives each record exactly as decoding it alone would.
            const complete = pending.length === 0 ? chunk.toString("utf8", 0, lastEnd) : Buffer.concat([...pending, chunk.subarray(0, lastEnd)]).toString("utf8");
            pending = lastEnd + 1 < chunk.length ? [chunk.subarray(lastEnd + 1)] : [];
            for (const record of complete.split("\0"))
                if (options.onRecord(record) === true) {
                    stoppedEarly = true;
                    child.kill();
                    return;
                }
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

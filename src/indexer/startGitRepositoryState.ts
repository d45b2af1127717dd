// Starts git's queries about one repository before the indexer knows which files it wants dated:
// `git status` and `git ls-files` need only the repository and the pathspecs, so the indexer
// starts them as soon as it meets a repository (a nested one is met halfway through the walk) and
// they run while the walk goes on. `git log` needs the wanted paths (it stops once each has been
// seen), so it runs in finish(), after the walk. The answers are those of readGitRepositoryState.
import type {GitRepositoryState, ReadGitRepositoryStateOptions} from "./readGitRepositoryState";
import * as path from "node:path";
import {defaultShadowGitIndexFolder, discardShadowGitIndex, prepareShadowGitIndex, type ShadowGitIndex} from "./prepareShadowGitIndex";
import {runGitCommand} from "./runGitCommand";

export type StartGitRepositoryStateOptions = Omit<ReadGitRepositoryStateOptions, "wantedPaths"> & {
    /** Where `git status` keeps its copies of repositories' indexes (prepareShadowGitIndex); default: a folder of this user's under the system's temporary folder. */
    shadowIndexFolder?: string;
    /** The repository's index file when the caller knows it (findGitRepository's indexPath): spares a git process that asks for it. */
    indexPath?: string;
};

export type StartedGitRepositoryState = {
    /** Waits for status and ls-files, then runs the log for `wantedPaths` (see ReadGitRepositoryStateOptions). Call once. */
    finish(wantedPaths: Iterable<string>): Promise<GitRepositoryState>;
    /** Kills the queries still running, when their answer will not be used (the index failed, or other pathspecs are needed). */
    cancel(): void;
};

type StatusOutcome = {uncommittedPaths: Set<string>; problem: string | undefined};

const commitRecordMarker = "\u0001";

export function startGitRepositoryState(options: StartGitRepositoryStateOptions): StartedGitRepositoryState {
    // Our own controller, so that cancel() can stop these processes without aborting the caller's signal.
    const controller = new AbortController();
    const forwardAbort = (): void => controller.abort(options.signal?.reason);
    if (options.signal?.aborted === true)
        forwardAbort();
    else
        options.signal?.addEventListener("abort", forwardAbort, {once: true});
    const queryOptions = {...options, signal: controller.signal};
    const pathspecArgs = ["--", ...options.pathspecs.map((pathspec) => (pathspec === "" ? "." : pathspec))];
    // Neither promise rejects (runGitCommand resolves with a failure instead), so nothing is left
    // unhandled when finish() is never called.
    const statusAndTracked = Promise.all([readStatus(queryOptions, pathspecArgs), readTrackedPaths(queryOptions, pathspecArgs)]);
    const stopListening = (): void => options.signal?.removeEventListener("abort", forwardAbort);
    return {
        cancel: () => {
            stopListening();
            controller.abort();
        },
        finish: async (wantedPathsOfCaller) => {
            try {
                const [status, tracked] = await statusAndTracked;
                options.signal?.throwIfAborted();
                // Only committed, unchanged files need a commit time (the others are dated by modification
                // time), and only tracked files can turn up in the log: waiting for any other file would make
                // the early stop never happen.
                const wantedPaths = new Set<string>();
                // No tracked file under the pathspecs (an ignored dependency folder): nothing to look up.
                if (tracked === undefined || tracked.size > 0)
                    for (const wanted of wantedPathsOfCaller)
                        if (!status.uncommittedPaths.has(wanted) && (tracked === undefined || tracked.has(wanted)))
                            wantedPaths.add(wanted);
                const log = await readLog(queryOptions, pathspecArgs, wantedPaths);
                options.signal?.throwIfAborted();
                return {
                    lastCommitMsByPath: log.lastCommitMsByPath,
                    uncommittedPaths: status.uncommittedPaths,
                    problem: status.problem ?? log.problem
                };
            } finally {
                stopListening();
            }
        }
    };
}

async function readStatus(options: StartGitRepositoryStateOptions, pathspecArgs: readonly string[]): Promise<StatusOutcome> {
    const indexPath = options.indexPath ?? await readIndexPath(options);
    const shadow = indexPath === undefined ? undefined : prepareShadowGitIndex(indexPath, options.shadowIndexFolder ?? defaultShadowGitIndexFolder());
    if (shadow !== undefined) {
        const shadowed = await runStatus(options, pathspecArgs, shadow);
        if (shadowed.problem === undefined || options.signal?.aborted === true)
            return shadowed;
        discardShadowGitIndex(shadow.path); // git could not use it: fall back to the real index
    }
    return runStatus(options, pathspecArgs, undefined);
}

/** The repository's index file (it lies elsewhere in a linked worktree or a submodule), or undefined. */
async function readIndexPath(options: StartGitRepositoryStateOptions): Promise<string | undefined> {
    let output = "";
    const outcome = await runGitCommand({
        gitCommand: options.gitCommand,
        cwd: options.topLevel,
        args: ["rev-parse", "--git-path", "index"],
        signal: options.signal,
        onRecord: (record) => {
            output += record;
        }
    });
    const relative = output.trim();
    return outcome.ok && relative !== "" ? path.resolve(options.topLevel, relative) : undefined;
}

async function runStatus(options: StartGitRepositoryStateOptions, pathspecArgs: readonly string[], shadow: ShadowGitIndex | undefined): Promise<StatusOutcome> {
    const uncommittedPaths = new Set<string>();
    let skipNext = false;
    const outcome = await runGitCommand({
        gitCommand: options.gitCommand,
        cwd: options.topLevel,
        // On the shadow, git may refresh and store it (the point of the shadow); never the real index.
        ...(shadow === undefined ? {} : {env: {GIT_INDEX_FILE: shadow.path}, allowOptionalLocks: true}),
        // core.checkStat=minimal where git cannot keep what it refreshes (the real index, or a shadow's
        // first status): git then takes a file as unchanged from its index entry on the whole-second
        // mtime and size alone, not also ctime, inode, device, owner and nanoseconds. A copied, restored
        // or re-mounted clone (every inode new) otherwise has git re-hash every file whenever it cannot
        // store the refreshed index: 0.87 s against 0.03 s on a 3,700-file clone. On a shadow that a
        // status has refreshed, the full check costs nothing more and also sees a file rewritten to the
        // same size and modification time (only its ctime moves), which minimal takes for unchanged.
        args: [...(shadow?.copiedNow === false ? [] : ["-c", "core.checkStat=minimal"]), "status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames", ...pathspecArgs],
        signal: options.signal,
        onRecord: (record) => {
            if (skipNext) {
                skipNext = false; // the origin path of a rename or copy
                return;
            }
            if (record.length < 4)
                return;
            const state = record.slice(0, 2);
            uncommittedPaths.add(record.slice(3));
            skipNext = state.includes("R") || state.includes("C");
        }
    });
    return {uncommittedPaths, problem: outcome.ok ? undefined : `git status failed: ${outcome.message}`};
}

async function readTrackedPaths(options: StartGitRepositoryStateOptions, pathspecArgs: readonly string[]): Promise<Set<string> | undefined> {
    const tracked = new Set<string>();
    const outcome = await runGitCommand({
        gitCommand: options.gitCommand,
        cwd: options.topLevel,
        args: ["ls-files", "-z", "--full-name", ...pathspecArgs],
        signal: options.signal,
        onRecord: (record) => {
            if (record !== "")
                tracked.add(record);
        }
    });
    return outcome.ok ? tracked : undefined;
}

async function readLog(options: StartGitRepositoryStateOptions, pathspecArgs: readonly string[], wantedPaths: ReadonlySet<string>): Promise<{lastCommitMsByPath: Map<string, number>; problem: string | undefined}> {
    const lastCommitMsByPath = new Map<string, number>();
    let wantedLeft = wantedPaths.size;
    if (wantedLeft === 0)
        return {lastCommitMsByPath, problem: undefined};
    let commitMs = 0;
    let firstPathOfCommit = false;
    const outcome = await runGitCommand({
        gitCommand: options.gitCommand,
        cwd: options.topLevel,
        // %ct: committer time. It moves when history is rewritten (a rebase), which is when a
        // file's place in the history really changed; the author time would not.
        args: ["log", `--format=${"%x01"}%ct`, "--name-only", "-z", "--no-renames", "--no-merges", ...pathspecArgs],
        signal: options.signal,
        onRecord: (record) => {
            if (record.startsWith(commitRecordMarker) && /^\d+$/.test(record.slice(1))) {
                commitMs = Number(record.slice(1)) * 1000;
                firstPathOfCommit = true;
                return false;
            }
            // git puts a newline between a commit's header and its first path.
            const path = firstPathOfCommit && record.startsWith("\n") ? record.slice(1) : record;
            firstPathOfCommit = false;
            if (path === "")
                return false;
            const known = lastCommitMsByPath.get(path);
            if (known === undefined) {
                lastCommitMsByPath.set(path, commitMs);
                if (wantedPaths.has(path))
                    wantedLeft--;
            } else if (commitMs > known) {
                lastCommitMsByPath.set(path, commitMs); // commit dates out of order (clock skew)
            }
            return wantedLeft === 0;
        }
    });
    // A repository without commits makes git log fail: every file is then untracked anyway.
    const noCommitsYet = !outcome.ok && /does not have any commits|bad default revision/i.test(outcome.message);
    return {lastCommitMsByPath, problem: outcome.ok || noCommitsYet ? undefined : `git log failed: ${outcome.message}`};
}

// What git knows about the files of one repository, from three git processes for the whole
// repository (never one per file): `git status` for uncommitted and untracked files, `git
// ls-files` for which files are tracked, and one `git log --name-only` walk for the time each
// file last changed in a commit.
import {runGitCommand} from "./runGitCommand";

export type GitRepositoryState = {
    /** Repository-relative path ("/" separators) -> committer time of the newest commit that changed it (ms since epoch). */
    lastCommitMsByPath: Map<string, number>;
    /** Repository-relative paths with staged, unstaged or untracked changes. */
    uncommittedPaths: Set<string>;
    /** Why git could not be read, when it could not (the caller falls back to modification times). */
    problem: string | undefined;
};

export type ReadGitRepositoryStateOptions = {
    topLevel: string;
    /** Limits both commands to these repository-relative folders ("" or "." for the whole repository). */
    pathspecs: readonly string[];
    /**
     * Repository-relative paths whose times are wanted. git log lists newest commits first, so the
     * walk stops (and git is killed) once each of them has been seen: on a long history the
     * cost is bounded by how far back the oldest file's last change lies, not by the history's length.
     */
    wantedPaths: ReadonlySet<string>;
    gitCommand: string;
    signal?: AbortSignal;
};

const commitRecordMarker = "\u0001";

export async function readGitRepositoryState(options: ReadGitRepositoryStateOptions): Promise<GitRepositoryState> {
    const pathspecArgs = ["--", ...options.pathspecs.map((pathspec) => (pathspec === "" ? "." : pathspec))];
    const [status, tracked] = await Promise.all([readStatus(options, pathspecArgs), readTrackedPaths(options, pathspecArgs)]);
    options.signal?.throwIfAborted();
    // Only committed, unchanged files need a commit time (the others are dated by modification
    // time), and only tracked files can turn up in the log: waiting for any other file would make
    // the early stop never happen.
    const wantedPaths = new Set<string>();
    for (const wanted of options.wantedPaths)
        if (!status.uncommittedPaths.has(wanted) && (tracked === undefined || tracked.has(wanted)))
            wantedPaths.add(wanted);
    const log = await readLog({...options, wantedPaths}, pathspecArgs);
    options.signal?.throwIfAborted();
    return {
        lastCommitMsByPath: log.lastCommitMsByPath,
        uncommittedPaths: status.uncommittedPaths,
        problem: status.problem ?? log.problem
    };
}

async function readStatus(options: ReadGitRepositoryStateOptions, pathspecArgs: readonly string[]): Promise<{uncommittedPaths: Set<string>; problem: string | undefined}> {
    const uncommittedPaths = new Set<string>();
    let skipNext = false;
    const outcome = await runGitCommand({
        gitCommand: options.gitCommand,
        cwd: options.topLevel,
        args: ["status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames", ...pathspecArgs],
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

async function readTrackedPaths(options: ReadGitRepositoryStateOptions, pathspecArgs: readonly string[]): Promise<Set<string> | undefined> {
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

async function readLog(options: ReadGitRepositoryStateOptions, pathspecArgs: readonly string[]): Promise<{lastCommitMsByPath: Map<string, number>; problem: string | undefined}> {
    const lastCommitMsByPath = new Map<string, number>();
    let wantedLeft = options.wantedPaths.size;
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
                if (options.wantedPaths.has(path))
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

// What git knows about the files of one repository, from three git processes for the whole
// repository (never one per file): `git status` for uncommitted and untracked files, `git
// ls-files` for which files are tracked, and one `git log --name-only` walk for the time each
// file last changed in a commit. See startGitRepositoryState for starting the first two before
// the wanted paths are known.
import {startGitRepositoryState} from "./startGitRepositoryState";

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

export async function readGitRepositoryState(options: ReadGitRepositoryStateOptions): Promise<GitRepositoryState> {
    return startGitRepositoryState(options).finish(options.wantedPaths);
}

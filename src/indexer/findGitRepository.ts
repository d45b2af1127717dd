// Finds the git repository a workspace folder belongs to (one git process per folder).
import * as path from "node:path";
import {runGitCommand} from "./runGitCommand";

export type GitRepositoryLocation = {
    /** Absolute path of the repository's top-level folder. */
    topLevel: string;
    /** The workspace folder's path relative to topLevel, "/" separators, with a trailing "/" ("" when they are the same). */
    folderPrefix: string;
    /** The repository's index file, absolute (it lies elsewhere in a linked worktree or a submodule); asked in the same git process, for the shadow index of `git status`. */
    indexPath: string | undefined;
};

export async function findGitRepository(folderPath: string, gitCommand: string, signal?: AbortSignal): Promise<GitRepositoryLocation | undefined> {
    const lines: string[] = [];
    const outcome = await runGitCommand({
        gitCommand,
        cwd: folderPath,
        args: ["rev-parse", "--show-toplevel", "--show-prefix", "--git-path", "index"],
        signal,
        onRecord: (record) => {
            lines.push(...record.split("\n"));
        }
    });
    signal?.throwIfAborted();
    // A folder inside .git, or a bare repository, has no top level: treat it as outside git.
    if (!outcome.ok || lines[0] === undefined || lines[0] === "")
        return undefined;
    // --git-path answers relative to the folder (git's working directory here) unless it is absolute.
    const indexPath = lines[2] === undefined || lines[2] === "" ? undefined : path.resolve(folderPath, lines[2]);
    return {topLevel: lines[0], folderPrefix: lines[1] ?? "", indexPath};
}

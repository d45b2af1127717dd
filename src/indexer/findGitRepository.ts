// Finds the git repository a workspace folder belongs to (one git process per folder).
import {runGitCommand} from "./runGitCommand";

export type GitRepositoryLocation = {
    /** Absolute path of the repository's top-level folder. */
    topLevel: string;
    /** The workspace folder's path relative to topLevel, "/" separators, with a trailing "/" ("" when they are the same). */
    folderPrefix: string;
};

export async function findGitRepository(folderPath: string, gitCommand: string, signal?: AbortSignal): Promise<GitRepositoryLocation | undefined> {
    const lines: string[] = [];
    const outcome = await runGitCommand({
        gitCommand,
        cwd: folderPath,
        args: ["rev-parse", "--show-toplevel", "--show-prefix"],
        signal,
        onRecord: (record) => {
            lines.push(...record.split("\n"));
        }
    });
    signal?.throwIfAborted();
    // A folder inside .git, or a bare repository, has no top level: treat it as outside git.
    if (!outcome.ok || lines[0] === undefined || lines[0] === "")
        return undefined;
    return {topLevel: lines[0], folderPrefix: lines[1] ?? ""};
}

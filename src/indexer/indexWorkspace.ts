// Indexes the workspace into one prompt held in memory. For large workspaces prefer
// renderPromptToSink, which hands the prompt over file by file and keeps memory bounded by the
// largest file.
import type {IndexResult} from "./indexTypes";
import type {IndexerFileSystem} from "./indexerFileSystem";
import {renderPromptToSink} from "./renderPromptToSink";
import type {OutlineDetail} from "./workspaceOutline";

export type IndexProgress = {filesSeen: number; filesIndexed: number; bytes: number};

export type IndexWorkspaceOptions = {
    /** Workspace folders; names prefix display paths when there is more than one (made unique with "~2", "~3" when two folders share a name). */
    folders: ReadonlyArray<{name: string; path: string}>;
    /** The editor's `files.exclude` globs (VS Code glob syntax, relative to each folder; see compileFilesExcludeGlob). Only the enabled ones: conditional (`when`) entries are the caller's business. */
    filesExclude?: readonly string[];
    /** More exclusions in gitignore syntax (negations allowed), applied at each folder's root with the highest precedence. */
    extraExcludes?: readonly string[];
    /** Files larger than this are skipped as "too-large". Default 1 MiB. */
    maxFileBytes?: number;
    /** Called at most every 100 ms while indexing, and once at the end. */
    onProgress?(progress: IndexProgress): void;
    /** Skip VCS, dependency, cache and build-output folders and generated files (see defaultExclusions). Default true. */
    useDefaultExcludes?: boolean;
    /** Read git history and status for ordering, and ignore files above the folder up to its repository's root. Default true. */
    useGit?: boolean;
    /** "change-time" (default): stable files first, see compareFilesForPrompt. "path": by display path only (for comparisons). */
    order?: "change-time" | "path";
    /** End the prompt with the list of included files (after tailStart). Default true. */
    fileListTail?: boolean;
    /** End the prompt with the workspace outline of the included files (after tailStart, before the file list; see workspaceOutline.ts). Default true. */
    workspaceOutline?: boolean;
    /** What the outline shows (see workspaceOutline.ts): "names" (default) or "definitions" (parameter lists, constants, config settings too). */
    outlineDetail?: OutlineDetail;
    /** The git executable. Default "git". */
    gitCommand?: string;
    /** File-system access; tests inject failures through it. Default: node:fs. */
    fileSystem?: IndexerFileSystem;
};

export async function indexWorkspace(options: IndexWorkspaceOptions, signal?: AbortSignal): Promise<IndexResult> {
    const parts: string[] = [];
    const manifest = await renderPromptToSink(options, (chunk) => {
        if (chunk.kind === "file")
            parts.push(chunk.header, chunk.body);
        else
            parts.push(chunk.text);
    }, signal);
    return {prompt: parts.join(""), manifest};
}

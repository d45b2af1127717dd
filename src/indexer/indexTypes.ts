// The indexer's output, shared with the engine and the editor. Pure types only.

/** Why a file was not put into the prompt. */
export type SkipReason =
    | "ignored"          // matched .gitignore / .ignore / .kvdistillignore / files.exclude / extra excludes
    | "default-excluded" // VCS, dependency or build-output folder
    | "binary"
    | "too-large"        // over the file size cap
    | "unreadable"       // permission denied, vanished while reading, not valid text
    | "symlink-loop"
    | "over-budget";     // left out because the workspace did not fit the token budget

export type SkippedFile = {
    /** Workspace-relative path with "/" separators, prefixed by the folder name in multi-root workspaces. */
    displayPath: string;
    reason: SkipReason;
    /** Human-readable detail (the rule that matched, the size, the error). */
    detail: string;
};

export type IndexedFile = {
    /** Name of the workspace folder the file belongs to. */
    folderName: string;
    /** Absolute path on disk. */
    absolutePath: string;
    /** Path relative to its workspace folder, "/" separators. */
    relativePath: string;
    /** What the prompt header shows: relativePath, prefixed by "folderName/" in multi-root workspaces. */
    displayPath: string;
    /** Language id guessed from the file name (for the header), e.g. "typescript". */
    language: string;
    sizeBytes: number;
    /** sha256 of the file's bytes, hex. */
    contentHash: string;
    /** Last change time used for ordering (ms since epoch): last git commit touching it, else mtime. */
    lastChangedMs: number;
    /** True when the file has uncommitted changes (or is untracked) in git. */
    uncommitted: boolean;
    /** Character span of this file's section (header + content) in the rendered prompt: [start, end). */
    charStart: number;
    charEnd: number;
    /** Character span of the header alone: [charStart, headerEnd). */
    headerEnd: number;
};

export type IndexManifest = {
    formatVersion: 1;
    /** Files in prompt order. */
    files: IndexedFile[];
    skipped: SkippedFile[];
    /** A digest of every ignore rule and exclude setting in force, so that a rule change is detected. */
    rulesDigest: string;
    /** Total characters of the prompt. */
    promptChars: number;
    /** Character offset where the tail (anything that changes when files are added/removed) starts; equals promptChars when there is none. */
    tailStart: number;
};

export type IndexResult = {
    prompt: string;
    manifest: IndexManifest;
};

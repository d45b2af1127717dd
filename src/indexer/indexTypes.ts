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
    /**
     * Token span of this file's section once tokenized (set by applyTokenBudget and
     * tokenizeFileSections): [tokenStart, tokenEnd), the header being [tokenStart, headerTokenEnd).
     * The header and the body are tokenized separately, as the engine feeds them.
     */
    tokenStart?: number;
    headerTokenEnd?: number;
    tokenEnd?: number;
};

/** The rules that decided which files are in the prompt (their digest is rulesDigest). */
export type IndexRulesInForce = {
    /** Every ignore file that was read, with a sha256 of its bytes; "extraExcludes" stands for the caller's extra patterns. */
    ignoreFiles: Array<{displayPath: string; contentHash: string}>;
    filesExclude: string[];
    extraExcludes: string[];
    maxFileBytes: number;
    useDefaultExcludes: boolean;
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
    /**
     * What the tail holds (renderPromptTail) and a digest of its text, which can change while its
     * length does not. Absent in manifests from before the outline: their tail is the file list
     * when promptChars > tailStart.
     */
    tail?: PromptTailRecord;
    /** Identifies the prompt rendering (renderFileSection's promptFormatId); a different value invalidates everything. */
    promptFormat?: string;
    /** How files were ordered: "change-time" (the product) or "path" (for comparisons). */
    order?: "change-time" | "path";
    /** The rules in force, in full (rulesDigest is their digest). */
    rules?: IndexRulesInForce;
    /** Problems that did not stop indexing (git could not be read, so modification times were used). */
    warnings?: string[];
    /** Set once tokenized (applyTokenBudget, tokenizeFileSections): tokens of the whole prompt and where the tail's tokens start. */
    promptTokens?: number;
    tailTokenStart?: number;
};

export type PromptTailRecord = {
    /** The workspace outline was asked for (its text may still be empty: no file has an entry). */
    outline: boolean;
    /**
     * "definitions" when the outline was asked for with that detail (workspaceOutline.ts); absent:
     * "names", whatever the default detail is (manifestOutlineDetail), so that caches saved while
     * "names" was the default keep meaning names.
     */
    outlineDetail?: "definitions";
    /** The list of included files. */
    fileList: boolean;
    /**
     * Characters of the outline at the start of the tail (from tailStart; the file list, if any,
     * follows). The engine scores the outline like file content but always keeps the file list.
     * Absent in manifests from before it was recorded: the whole tail then counts as the file list.
     */
    outlineChars?: number;
    /** sha256 of the tail's text, hex ("" hashed when there is no tail). */
    sha256: string;
};

export type IndexResult = {
    prompt: string;
    manifest: IndexManifest;
};

// The engine's operations as the child-process server exposes them. Pure types only, shared by
// the engine, its IPC client, the command line and the editor.

import type {ScorerName} from "./scorerNames";
import type {OutlineDetail} from "../indexer/workspaceOutline";

export type {ScorerName};

export type ModelSource = {
    /** A local GGUF path or an "hf:" URI already resolved to a local path by the downloader. */
    modelPath: string;
};

export type DistillOptions = ModelSource & {
    /** Workspace folders to index (absolute paths). */
    folders: string[];
    /** Fraction of prompt tokens to keep, in (0, 1]. */
    keepRatio: number;
    scorer: ScorerName;
    /** Tokens per prefill segment; 0 means one segment for the whole prompt when it fits. */
    segmentTokens: number;
    /** Folder where caches are stored (the CLI's --cache-dir, the extension's storageUri). */
    cacheDir: string;
    /** Extra excludes in .gitignore syntax (the kvDistill.index.extraExcludes setting). */
    extraExcludes?: string[];
    /** The editor's enabled files.exclude globs, in VS Code glob syntax. */
    filesExclude?: string[];
    /** Largest file indexed, in bytes. */
    maxFileBytes?: number;
    /**
     * End the prompt with the workspace outline (where functions and classes are defined, which
     * function each error message comes from) before the file list. Default true.
     */
    workspaceOutline?: boolean;
    /**
     * What the outline shows: "names" (default; what the models are trained on) or "definitions"
     * (also each function's parameter list, top-level constants and config files' settings).
     */
    outlineDetail?: OutlineDetail;
    /** Seed for the `random` scorer. */
    seed?: number;
    /**
     * How the patched build drops evicted tokens: "holes" (default; kept cells keep their positions) or
     * "renumber" (contiguous positions). The stock build always erases ranges ("erase-ranges").
     */
    compaction?: DistillCompactionMode;
    /** The scoring adapter (GGUF) of the `adapter` scorer; required by it, ignored by the other scorers. */
    adapterPath?: string;
    /** Size cap of the cache folder in bytes (least recently used caches are evicted beyond it); default: the engine's. */
    cacheSizeCapBytes?: number;
};

export type DistillCompactionMode = "holes" | "renumber";

/** Which llama.cpp build made a cache or runs the engine: for the cache report, the status, `--json`. */
export type EngineBuildReport = {
    /** True for the project's patched build; false in degraded mode (node-llama-cpp's stock binary). */
    patched: boolean;
    /** "cpu", "cuda", "vulkan". */
    backend: string;
    /** "patched local build, cuda" or "degraded: <reason>". */
    description: string;
};

export type DistillProgress = {
    phase: "loading-model" | "indexing" | "tokenizing" | "prefilling" | "saving";
    /** Tokens processed so far and in total, for the prefill phase. */
    doneTokens: number;
    totalTokens: number;
    tokensPerSecond?: number;
    etaSeconds?: number;
    message?: string;
};

export type DistillResult = {
    cacheId: string;
    cachePath: string;
    /** Whether a saved cache was reused as-is, refreshed from a changed segment, or built anew. */
    cacheOutcome: "reused" | "refreshed" | "built";
    promptTokens: number;
    keptTokens: number;
    effectiveKeepRatio: number;
    /** Tokens that were actually evaluated in this run (0 when reused). */
    evaluatedTokens: number;
    segments: number;
    files: number;
    skippedFiles: number;
    timings: {indexMs: number; tokenizeMs: number; prefillMs: number; saveMs: number; totalMs: number};
    stateBytes: number;
    /** The context size used for distilling (kept tokens plus one segment, rounded up). */
    contextSize: number;
    /** The llama.cpp build that runs the engine. */
    build: EngineBuildReport;
    /** How evicted tokens were dropped: "holes" | "renumber" (patched build) or "erase-ranges" (stock build). */
    compaction: CacheCompaction;
};

export type CacheCompaction = DistillCompactionMode | "erase-ranges";

export type ChatTurn = {role: "user" | "assistant"; text: string};

export type AskOptions = DistillOptions & {
    question: string;
    /** Earlier turns of the same conversation, oldest first. */
    history?: ChatTurn[];
    maxAnswerTokens?: number;
};

export type AskResult = {
    answer: string;
    distill: DistillResult;
    answerTokens: number;
    timings: {loadMs: number; firstTokenMs: number; answerMs: number};
};

/** What a saved cache holds, file by file: for the cache report and the "context used" line. */
export type CacheReport = {
    modelPath: string;
    scorer: ScorerName;
    keepRatio: number;
    effectiveKeepRatio: number;
    createdAt: string;
    promptTokens: number;
    keptTokens: number;
    files: Array<{displayPath: string; tokens: number; keptTokens: number}>;
    /** The llama.cpp build that made the cache ("patched local build, cpu", "degraded: ..."). */
    build: string;
    compaction: CacheCompaction;
    /** sha256 of the scoring adapter file (the `adapter` scorer), else null. */
    adapterSha256: string | null;
    /** Files not in the cache, with the reason (ignored, binary, too large, over budget...). */
    skipped: Array<{displayPath: string; reason: string; detail: string}>;
};

export type EngineProcessState =
    | {kind: "stopped"}
    | {kind: "starting"}
    | {kind: "ready"; modelLoaded: boolean; modelPath?: string}
    | {kind: "busy"; operation: string}
    | {kind: "crashed"; message: string};

export type EngineRequestCallbacks = {
    onProgress?(progress: DistillProgress): void;
    signal?: AbortSignal;
};

/**
 * What the extension and the command line use to reach the engine child process (implemented by
 * src/engine/EngineClient.ts). Every call rejects with a KvDistillError subclass on failure,
 * including when the engine process dies mid-request.
 */
export interface EngineClientApi {
    distill(options: DistillOptions, callbacks?: EngineRequestCallbacks): Promise<DistillResult & {report: CacheReport}>;
    ask(options: AskOptions, callbacks?: EngineRequestCallbacks & {onToken?(text: string): void}): Promise<AskResult>;
    /** The report of the saved cache for these options, or undefined when none is saved. */
    getCacheReport(options: DistillOptions): Promise<CacheReport | undefined>;
    /** Deletes every saved cache under options.cacheDir for these folders. */
    clearCache(options: Pick<DistillOptions, "folders" | "cacheDir">): Promise<void>;
    unloadModel(): Promise<void>;
    /** Asks the running engine process (if any) to exit; the next request starts a new one (which loads a newly built backend). */
    shutdownEngine(reason: string): Promise<void>;
    onDidChangeState(listener: (state: EngineProcessState) => void): {dispose(): void};
    dispose(): Promise<void>;
}

// ---- Model files and downloads (validateModelFile.ts, modelDownloader.ts) ----

/** What a GGUF header says about the model: enough for a fingerprint and for sizing decisions. */
export type ModelFileMetadata = {
    architecture: string;
    /** general.name, when the file has one. */
    name?: string;
    ggufVersion: number;
    /** {arch}.block_count */
    layerCount?: number;
    /** {arch}.embedding_length */
    embeddingWidth?: number;
    /** Entries of tokenizer.ggml.tokens (or {arch}.vocab_size). */
    vocabularySize?: number;
    /** {arch}.context_length: the context the model was trained for. */
    trainedContextLength?: number;
    tensorCount: number;
    fileBytes: number;
    /** general.file_type, llama.cpp's quantization id. */
    fileType?: number;
};

export type ModelDownloadOptions = {
    /** "hf:<user>/<repo>:<quant>" or "hf:<user>/<repo>/<file>.gguf" (node-llama-cpp's URI forms). */
    uri: string;
    /** Folder the model goes into (the extension's global storage). */
    directory: string;
    /** Nothing is downloaded unless this is true; otherwise DownloadConsentRequiredError with the size. */
    consent: boolean;
    /** Lower-case hex SHA-256 the finished file must have, when the caller knows it. */
    expectedSha256?: string;
    /** Another Hugging Face endpoint (a mirror; the tests' local server). */
    huggingFaceEndpoint?: string;
};

export type ModelDownloadProgress = {
    downloadedBytes: number;
    totalBytes: number;
    bytesPerSecond?: number;
    etaSeconds?: number;
};

export type ModelDownloadResult = {
    modelPath: string;
    /** "present": already complete on disk; "resumed": a partial download was continued. */
    outcome: "present" | "downloaded" | "resumed";
    sizeBytes: number;
    metadata: ModelFileMetadata;
};

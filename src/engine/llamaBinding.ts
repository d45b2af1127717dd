// The only module that imports node-llama-cpp. It is ESM-only, so it is loaded with a dynamic
// import() that esbuild and tsc leave alone, and only when something needs it. Everything the
// engine does with llama.cpp goes through the small classes below (runtime, model, sequence), so
// that the native patch series can later swap their insides without touching the engine.
import {createHash} from "node:crypto";
import {existsSync, statSync} from "node:fs";
import type * as NodeLlamaCpp from "node-llama-cpp";
import {KvDistillError} from "../common/errors";
import {ContextAllocationError, ContextOverflowError, ModelFileNotFoundError, ModelLoadError, OperationCancelledError} from "./engineErrors";
import type {ChatTurn} from "./engineApi";

export type NodeLlamaCppModule = typeof NodeLlamaCpp;

let modulePromise: Promise<NodeLlamaCppModule> | undefined;

export function loadNodeLlamaCpp(): Promise<NodeLlamaCppModule> {
    modulePromise ??= import("node-llama-cpp");
    return modulePromise;
}

// ---- Model download ----
// A thin wrapper over node-llama-cpp's downloader (ipull underneath: parallel ranges, a ".ipull"
// progress file next to the target that a later run resumes from). The policy (consent, checks)
// lives in modelDownloader.ts.

export type ModelFileDownload = {
    /** Where the finished model will be (the first part of a split model). */
    entrypointFilePath: string;
    totalSizeBytes: number;
    totalFiles: number;
    /** Downloads what is missing; on abort the partial file stays for a resume. */
    download(signal?: AbortSignal): Promise<string>;
    /** Releases the connections without deleting the partial file. */
    close(): Promise<void>;
};

export type ModelFileDownloadOptions = {
    uri: string;
    directory: string;
    /** node-llama-cpp's `endpoints.huggingFace`; without it node-llama-cpp reads HF_ENDPOINT itself. */
    huggingFaceEndpoint?: string;
    onProgress?(status: {downloadedSize: number; totalSize: number; averageSpeed: number; estimatedTimeLeft: number}): void;
};

/** Resolves the URI and asks the server for the size; no model bytes are written until download(). */
export async function createModelFileDownload(options: ModelFileDownloadOptions): Promise<ModelFileDownload> {
    const binding = await loadNodeLlamaCpp();
    const downloader = await binding.createModelDownloader({
        modelUri: options.uri,
        dirPath: options.directory,
        showCliProgress: false,
        skipExisting: true,
        deleteTempFileOnCancel: false,
        parallelDownloads: 1,
        ...(options.huggingFaceEndpoint === undefined ? {} : {endpoints: {huggingFace: options.huggingFaceEndpoint}}),
        ...(options.onProgress === undefined ? {} : {onProgress: options.onProgress})
    });
    return {
        entrypointFilePath: downloader.entrypointFilePath,
        totalSizeBytes: downloader.totalSize,
        totalFiles: downloader.totalFiles,
        download: (signal) => downloader.download(signal === undefined ? {} : {signal}),
        close: () => downloader.cancel({deleteTempFile: false})
    };
}

/** The path of an already complete download of this URI in the folder, without any network access. */
export async function findDownloadedModelFile(options: {uri: string; directory: string; huggingFaceEndpoint?: string}): Promise<string | undefined> {
    const binding = await loadNodeLlamaCpp();
    try {
        return await binding.resolveModelFile(options.uri, {
            directory: options.directory,
            download: false,
            cli: false,
            ...(options.huggingFaceEndpoint === undefined ? {} : {endpoints: {huggingFace: options.huggingFaceEndpoint}})
        });
    } catch {
        // resolveModelFile throws a plain Error when nothing is there (download: false).
        return undefined;
    }
}

export type BackendReport = {
    /** "localBuild" for a build made from source here, "prebuilt" for node-llama-cpp's stock binary. */
    buildType: string;
    /** The GPU backend in use, or false for CPU only. */
    gpu: string | false;
    llamaCppRelease: string;
    nodeLlamaCppVersion: string;
};

/** Loads whichever llama.cpp build is available without building one, and describes it. */
export async function detectBackend(gpu: PatchedLlamaGpu | "auto" = "auto"): Promise<BackendReport & {patched: boolean; description: string}> {
    const {llama, patched, reason} = await loadLlamaForGpuChoice(gpu);
    try {
        return {
            buildType: llama.buildType,
            gpu: llama.gpu,
            llamaCppRelease: llama.llamaCppRelease.release,
            nodeLlamaCppVersion: await readNodeLlamaCppVersion(),
            patched,
            description: patched ? `patched local build, ${llama.gpu === false ? "cpu" : llama.gpu}` : `degraded: ${reason}`
        };
    } finally {
        await llama.dispose();
    }
}

async function readNodeLlamaCppVersion(): Promise<string> {
    // The package's "exports" hide package.json, so find it from the entry point's folder.
    const {readFile} = await import("node:fs/promises");
    const path = await import("node:path");
    const {createRequire} = await import("node:module");
    let folder = path.dirname(createRequire(__filename).resolve("node-llama-cpp"));
    while (path.basename(folder) !== "node-llama-cpp" && path.dirname(folder) !== folder)
        folder = path.dirname(folder);
    const packageJson = JSON.parse(await readFile(path.join(folder, "package.json"), "utf8")) as {version: string};
    return packageJson.version;
}

// =================================================================================================
// Patched build (issue 5, native/): thin wrappers over what the project's patch series adds to
// node-llama-cpp's addon. node-llama-cpp keeps its addon objects internal, so this section reaches
// them through the fields named in the types below (node-llama-cpp 3.22.1, pinned in
// native/upstream.json); nothing else in the project touches those internals.
// =================================================================================================

export type PatchedLlamaGpu = "cuda" | "vulkan" | false;

export type PatchedLlamaLoad = {
    llama: NodeLlamaCpp.Llama;
    /** True when the loaded binary is the project's patched build. */
    patched: boolean;
    /** Why this binary was chosen: what was loaded, or why the patched build could not be. */
    reason: string;
};

/** How llama.cpp places the kept cells: "holes" keeps their positions, "renumber" makes them contiguous. */
export type SequenceCompactionMode = "holes" | "renumber";

export type SequenceCompaction = {
    /** The number of tokens (KV cells) the sequence holds after compaction; also its next token index. */
    keptTokenCount: number;
    /** The llama.cpp position the next evaluated token gets: the last kept position + 1. */
    nextPosition: number;
};

/** Per-token scores of the scoring adapter, by token index of the sequence (sequence.contextTokens). */
export type SequenceScores = {tokenIndexes: Uint32Array; scores: Float32Array};

// The addon methods added by native/patches/0002-addon-compact-sequence.patch and 0004-addon-scoring-adapter.patch.
type PatchedAddonContext = {
    compactSequence(sequenceId: number, keepTokenIndexes: Uint32Array, renumber: boolean): number;
    getSequenceTokenPositions(sequenceId: number): Int32Array;
    setScoringAdapter(adapterPath: string): Promise<{eta: number}>;
    removeScoringAdapter(): void;
    takeSequenceScores(sequenceId: number): SequenceScores;
};

type ContextInternals = {_ctx: Partial<PatchedAddonContext>};

// node-llama-cpp's internal sequence bookkeeping: token i of the sequence is _contextTokens[i], and the next
// evaluated token gets index _nextTokenIndex. The patched addon maps indexes to llama.cpp positions.
type ContextSequenceInternals = {
    _sequenceId: number;
    _context: {_ctx: Partial<PatchedAddonContext>};
    _contextTokens: NodeLlamaCpp.Token[];
    _nextTokenIndex: number;
    _loadedTokenPredictions: unknown[];
    _lock: object;
    _checkpoints?: {clearAllCheckpoints?(): void};
};

type LlamaInternals = {_bindings: {AddonContext: {prototype: Partial<PatchedAddonContext>}}};

type LifecycleUtils = {acquireLock(scope: [object, string]): Promise<{dispose(): void}>};

/** Thrown when the patched llama.cpp build is missing, lacks the patches, or a patched call fails. */
export class PatchedBuildError extends KvDistillError {}

const patchedAddonMethods = [
    "compactSequence", "getSequenceTokenPositions", "setScoringAdapter", "removeScoringAdapter", "takeSequenceScores"
] as const;

/** True when the loaded llama.cpp binary has the patch series' functions. */
export function isPatchedLlama(llama: NodeLlamaCpp.Llama): boolean {
    const prototype = (llama as unknown as LlamaInternals)._bindings?.AddonContext?.prototype;
    return patchedAddonMethods.every((name) => typeof prototype?.[name] === "function");
}

/**
 * Loads only the patched build made by `npm run build:native` (never a prebuilt binary, never a build).
 * Throws PatchedBuildError when there is none or the local build lacks the patches.
 */
export async function loadPatchedLlama(gpu: PatchedLlamaGpu = false, logging: LlamaLogging = {}): Promise<NodeLlamaCpp.Llama> {
    const binding = await loadNodeLlamaCpp();
    let llama: NodeLlamaCpp.Llama;
    try {
        llama = await binding.getLlama({
            gpu, build: "never", usePrebuiltBinaries: false, progressLogs: false, ...llamaLoggingOptions(binding, logging)
        });
    } catch (error) {
        throw new PatchedBuildError(`No patched llama.cpp build for gpu ${String(gpu)} (run \`npm run build:native\`): ${String(error)}`, {cause: error});
    }
    if (llama.buildType !== "localBuild" || !isPatchedLlama(llama)) {
        const buildType = llama.buildType;
        await llama.dispose();
        throw new PatchedBuildError(`The ${buildType} llama.cpp binary lacks the kv-distill patches (run \`npm run build:native\`)`);
    }
    return llama;
}

/**
 * The patched build when it loads; otherwise node-llama-cpp's stock CPU binary (degraded mode: no
 * compaction or scoring adapter, the `surprisal` scorer still works), with the reason.
 */
export async function loadPatchedLlamaOrFallback(gpu: PatchedLlamaGpu = false, logging: LlamaLogging = {}): Promise<PatchedLlamaLoad> {
    try {
        return patchedLlamaLoad(await loadPatchedLlama(gpu, logging));
    } catch (error) {
        if (!(error instanceof PatchedBuildError))
            throw error;
        const llama = await loadFallbackCpuLlama(logging);
        return {llama, patched: isPatchedLlama(llama), reason: `${error.message}; running degraded on the ${llama.buildType} CPU binary`};
    }
}

function patchedLlamaLoad(llama: NodeLlamaCpp.Llama): PatchedLlamaLoad {
    return {llama, patched: true, reason: `patched local build (gpu: ${String(llama.gpu)}, llama.cpp ${llama.llamaCppRelease.release})`};
}

/** node-llama-cpp's own choice of CPU binary, never building one: the fallback when no patched build loads. */
async function loadFallbackCpuLlama(logging: LlamaLogging): Promise<NodeLlamaCpp.Llama> {
    const binding = await loadNodeLlamaCpp();
    return binding.getLlama({gpu: false, build: "never", progressLogs: false, ...llamaLoggingOptions(binding, logging)});
}

/**
 * `auto`: the patched local builds present, CUDA first, then Vulkan, then CPU; node-llama-cpp's stock CPU binary
 * (degraded) when none loads. A named backend: that patched build, else the fallback of loadPatchedLlamaOrFallback.
 */
export async function loadLlamaForGpuChoice(gpu: PatchedLlamaGpu | "auto", logging: LlamaLogging = {}): Promise<PatchedLlamaLoad> {
    if (gpu !== "auto")
        return loadPatchedLlamaOrFallback(gpu, logging);
    const failures: string[] = [];
    for (const candidate of ["cuda", "vulkan", false] as const) {
        try {
            return patchedLlamaLoad(await loadPatchedLlama(candidate, logging));
        } catch (error) {
            if (!(error instanceof PatchedBuildError))
                throw error;
            failures.push(`${candidate === false ? "cpu" : candidate}: ${error.message}`);
        }
    }
    const llama = await loadFallbackCpuLlama(logging);
    return {llama, patched: isPatchedLlama(llama), reason: `no patched build loads (${failures.join("; ")}); running on the ${llama.buildType} CPU binary`};
}

/**
 * node-llama-cpp's stock prebuilt CPU binary, even when local builds exist (degraded mode on purpose: tests,
 * comparisons). node-llama-cpp looks for a local build in a folder named after the custom cmake options, so an
 * option no build was made with skips the local builds and lands on the prebuilt binary.
 */
export async function loadStockLlama(logging: LlamaLogging = {}): Promise<PatchedLlamaLoad> {
    const binding = await loadNodeLlamaCpp();
    const llama = await binding.getLlama({
        gpu: false, build: "never", progressLogs: false, cmakeOptions: {KV_DISTILL_STOCK_BINARY: "ON"}, ...llamaLoggingOptions(binding, logging)
    });
    return {llama, patched: isPatchedLlama(llama), reason: `the ${llama.buildType} CPU binary was asked for (stock build)`};
}

/** Where llama.cpp's own log lines go; default: errors only, to node-llama-cpp's console logger. */
export type LlamaLogging = {logger?(level: NodeLlamaCpp.LlamaLogLevel, message: string): void; logLevel?: NodeLlamaCpp.LlamaLogLevel};

function llamaLoggingOptions(binding: NodeLlamaCppModule, logging: LlamaLogging): {logLevel: NodeLlamaCpp.LlamaLogLevel; logger?(level: NodeLlamaCpp.LlamaLogLevel, message: string): void} {
    return {logLevel: logging.logLevel ?? binding.LlamaLogLevel.error, ...(logging.logger === undefined ? {} : {logger: logging.logger})};
}

let lifecycleUtilsPromise: Promise<LifecycleUtils> | undefined;

// The lock helpers node-llama-cpp itself uses, from its own dependency (not a bundled copy): a lock taken here
// must exclude node-llama-cpp's own decoding of the same context.
function loadLifecycleUtils(): Promise<LifecycleUtils> {
    lifecycleUtilsPromise ??= (async () => {
        const {createRequire} = await import("node:module");
        const {pathToFileURL} = await import("node:url");
        const fromNodeLlamaCpp = createRequire(createRequire(__filename).resolve("node-llama-cpp"));
        const entry = pathToFileURL(fromNodeLlamaCpp.resolve("lifecycle-utils")).href;
        return await import(entry) as LifecycleUtils;
    })();
    return lifecycleUtilsPromise;
}

function patchedAddonContext(context: ContextInternals): PatchedAddonContext {
    const addonContext = context?._ctx;
    if (addonContext === undefined || !patchedAddonMethods.every((name) => typeof addonContext[name] === "function"))
        throw new PatchedBuildError("This context was created by a llama.cpp binary without the kv-distill patches");
    return addonContext as PatchedAddonContext;
}

function sequenceInternals(sequence: NodeLlamaCpp.LlamaContextSequence): ContextSequenceInternals & {_context: {_ctx: PatchedAddonContext}} {
    const internals = sequence as unknown as ContextSequenceInternals;
    patchedAddonContext(internals._context);
    return internals as ContextSequenceInternals & {_context: {_ctx: PatchedAddonContext}};
}

/**
 * Keeps the given tokens of a sequence (indexes into sequence.contextTokens, strictly ascending) and drops the
 * others in one pass over the KV cells. Afterwards sequence.contextTokens holds only the kept tokens and new
 * tokens are appended after them as usual.
 * - "holes": the kept cells keep their positions; the next token goes at the last kept position + 1. The
 *   addon remembers the positions, and they survive saveStateToFile/loadStateFromFile. Erasing a range inside
 *   the compacted tokens re-evaluates the sequence (node-llama-cpp's fallback); erasing a suffix or tokens
 *   added after the compaction works as usual.
 * - "renumber": positions become contiguous from the first kept position; the K-shift is applied before this
 *   returns, so the state can be saved right away.
 * Waits for the sequence's and the context's locks, so it never runs during a decode of the same context.
 */
export async function compactContextSequence(
    sequence: NodeLlamaCpp.LlamaContextSequence,
    keepTokenIndexes: readonly number[] | Uint32Array,
    mode: SequenceCompactionMode
): Promise<SequenceCompaction> {
    const internals = sequenceInternals(sequence);
    const {acquireLock} = await loadLifecycleUtils();
    const evaluateLock = await acquireLock([internals._lock, "evaluate"]);
    const contextLock = await acquireLock([internals._context, "context"]);
    try {
        if (sequence.disposed)
            throw new PatchedBuildError("The context sequence is disposed");
        if (internals._loadedTokenPredictions.length > 0)
            throw new PatchedBuildError("Cannot compact a sequence that holds unvalidated token predictions");
        const tokens = internals._contextTokens;
        const keep = Uint32Array.from(keepTokenIndexes);
        for (let i = 0; i < keep.length; i++) {
            if (keep[i] >= tokens.length || (i > 0 && keep[i] <= keep[i - 1]))
                throw new RangeError(`keepTokenIndexes must be strictly ascending indexes below ${tokens.length}`);
        }

        const keptTokenCount = internals._context._ctx.compactSequence(internals._sequenceId, keep, mode === "renumber");

        internals._contextTokens = Array.from(keep, (index) => tokens[index]);
        internals._nextTokenIndex = internals._contextTokens.length;
        internals._checkpoints?.clearAllCheckpoints?.();
        if (keptTokenCount !== internals._contextTokens.length)
            throw new PatchedBuildError(`Compaction left ${keptTokenCount} cells for ${internals._contextTokens.length} kept tokens`);

        const positions = internals._context._ctx.getSequenceTokenPositions(internals._sequenceId);
        return {keptTokenCount, nextPosition: positions.length === 0 ? 0 : positions[positions.length - 1] + 1};
    } finally {
        contextLock.dispose();
        evaluateLock.dispose();
    }
}

/** The llama.cpp position of every token of the sequence (ascending); contiguous unless compacted with holes. */
export function getContextSequenceTokenPositions(sequence: NodeLlamaCpp.LlamaContextSequence): Int32Array {
    const internals = sequenceInternals(sequence);
    return internals._context._ctx.getSequenceTokenPositions(internals._sequenceId);
}

/**
 * Loads a scoring adapter (GGUF, see docs/NATIVE.md) into the context: from then on every decode of the context
 * evaluates it inside the model's graph, on the device of the scored layer, and keeps one score per token.
 * Rejects with the reason when the file is not a scoring adapter or was made for another model.
 * Replaces the context's previous adapter. Waits for the context's lock (never during a decode).
 */
export async function setContextScoringAdapter(context: NodeLlamaCpp.LlamaContext, adapterPath: string): Promise<{eta: number}> {
    const addonContext = patchedAddonContext(context as unknown as ContextInternals);
    const {acquireLock} = await loadLifecycleUtils();
    const contextLock = await acquireLock([context, "context"]);
    try {
        return await addonContext.setScoringAdapter(adapterPath);
    } catch (error) {
        throw new PatchedBuildError(error instanceof Error ? error.message : String(error), {cause: error});
    } finally {
        contextLock.dispose();
    }
}

/** Stops scoring in this context and frees its adapter. */
export async function removeContextScoringAdapter(context: NodeLlamaCpp.LlamaContext): Promise<void> {
    const addonContext = patchedAddonContext(context as unknown as ContextInternals);
    const {acquireLock} = await loadLifecycleUtils();
    const contextLock = await acquireLock([context, "context"]);
    try {
        addonContext.removeScoringAdapter();
    } finally {
        contextLock.dispose();
    }
}

/**
 * The scores of the sequence's tokens evaluated since the last call (in evaluation order), by token index at the
 * time they were evaluated. Decodes leave their scores in llama.cpp without waiting for the device; this call waits
 * once and collects the scores of every decode since (erasing, shifting or compacting a sequence collects first, so
 * the token indexes stay right).
 */
export function takeContextSequenceScores(sequence: NodeLlamaCpp.LlamaContextSequence): SequenceScores {
    const internals = sequenceInternals(sequence);
    return internals._context._ctx.takeSequenceScores(internals._sequenceId);
}

// ==================================================================== engine runtime

/** Where engine decisions and llama.cpp warnings go (the CLI's stderr, the extension's log channel). */
export type EngineLog = (line: string) => void;

export type GpuChoice = "auto" | false | "cuda" | "vulkan";

/** Which binary to load: the patched build (with the degraded fallback), or node-llama-cpp's stock binary. */
export type LlamaBuildChoice = "patched" | "stock";

export type BuildInfo = BackendReport & {
    /** True when the project's patched llama.cpp runs (compaction and the scoring adapter available). */
    patched: boolean;
    /** "patched local build, cuda", or "degraded: <reason>". */
    description: string;
};

type Llama = NodeLlamaCpp.Llama;
type LlamaModel = NodeLlamaCpp.LlamaModel;
type LlamaContext = NodeLlamaCpp.LlamaContext;
type LlamaContextSequence = NodeLlamaCpp.LlamaContextSequence;

/** One loaded llama.cpp build (never built at run time: a missing build is an error, not a 6-minute compile). */
export class LlamaRuntime {
    private disposed = false;

    private constructor(
        private readonly binding: NodeLlamaCppModule,
        private readonly llama: Llama,
        public readonly build: BuildInfo,
        private readonly log: EngineLog
    ) {}

    public static async open(options: {gpu: GpuChoice; log: EngineLog; build?: LlamaBuildChoice}): Promise<LlamaRuntime> {
        const binding = await loadNodeLlamaCpp();
        const log = options.log;
        const logging: LlamaLogging = {
            logLevel: binding.LlamaLogLevel.warn,
            logger(level, message) {
                const text = message.trimEnd();
                if (text !== "" && (level === binding.LlamaLogLevel.error || level === binding.LlamaLogLevel.fatal || level === binding.LlamaLogLevel.warn))
                    log(`llama.cpp ${level}: ${text}`);
            }
        };
        const load = options.build === "stock" ? await loadStockLlama(logging) : await loadLlamaForGpuChoice(options.gpu, logging);
        const llama = load.llama;
        const backend = llama.gpu === false ? "cpu" : llama.gpu;
        // A named backend whose patched build is missing falls back: say so next to what runs.
        const missedBackend = options.gpu !== "auto" && options.gpu !== false && llama.gpu !== options.gpu;
        const build: BuildInfo = {
            buildType: llama.buildType,
            gpu: llama.gpu,
            llamaCppRelease: llama.llamaCppRelease.release,
            nodeLlamaCppVersion: await readNodeLlamaCppVersion(),
            patched: load.patched,
            description: load.patched
                ? `patched local build, ${backend}${missedBackend ? ` (${String(options.gpu)} was asked for: ${load.reason})` : ""}`
                : `degraded: ${load.reason}`
        };
        log(`llama.cpp: ${build.description} (llama.cpp ${build.llamaCppRelease} via node-llama-cpp ${build.nodeLlamaCppVersion}, ` +
            `${build.buildType} binary, requested gpu: ${options.gpu === false ? "cpu" : options.gpu})`);
        return new LlamaRuntime(binding, llama, build, log);
    }

    public async loadModel(modelPath: string, options: {signal?: AbortSignal} = {}): Promise<LoadedModel> {
        this.ensureNotDisposed();
        if (!existsSync(modelPath) || !statSync(modelPath).isFile())
            throw new ModelFileNotFoundError(modelPath);
        const fileIdentity = modelFileIdentity(modelPath);
        let model: LlamaModel;
        try {
            model = await this.llama.loadModel({modelPath, loadSignal: options.signal});
        } catch (error) {
            if (options.signal?.aborted === true)
                throw new OperationCancelledError("loading the model", {cause: error});
            throw new ModelLoadError(modelPath, error);
        }
        const loaded = new LoadedModel(this.binding, model, modelPath, fileIdentity, this.log, this.build.patched);
        this.log(`model ${modelPath}: ${loaded.summary.architecture}, ${loaded.summary.layers} layers, width ${loaded.summary.embeddingLength}, ` +
            `vocabulary ${loaded.summary.vocabularySize}, trained context ${loaded.summary.trainContextSize}, ` +
            `${model.gpuLayers} layers on the GPU, chat template: ${loaded.chatWrapperName}`);
        return loaded;
    }

    public async dispose(): Promise<void> {
        if (this.disposed)
            return;
        this.disposed = true;
        await this.llama.dispose();
    }

    private ensureNotDisposed(): void {
        if (this.disposed)
            throw new Error("the llama.cpp runtime is disposed");
    }
}

export type ModelSummary = {
    architecture: string;
    name: string;
    vocabularySize: number;
    layers: number;
    embeddingLength: number;
    trainContextSize: number;
    /** sha256 over the GGUF metadata (huge tokenizer arrays digested, not inlined). */
    metadataDigest: string;
};

export type ConversationSplit = {
    /** Tokens of the chat template before the workspace (BOS, system turn start, preamble). */
    openingTokens: number[];
    /** Tokens after the workspace: end of the system turn, earlier turns, the question, the assistant opening. */
    suffixTokens: number[];
    /** Plain-text stop sequences from the chat template (special end-of-turn tokens stop generation anyway). */
    stopStrings: string[];
};

// Marks where the workspace goes inside the rendered chat; never tokenized.
const workspacePlaceholder = "\u0001KV_DISTILL_WORKSPACE_PLACEHOLDER\u0001";

export class LoadedModel {
    public readonly summary: ModelSummary;
    public readonly chatWrapperName: string;
    private readonly chatWrapper: NodeLlamaCpp.ChatWrapper;
    private disposed = false;

    public constructor(
        private readonly binding: NodeLlamaCppModule,
        private readonly model: LlamaModel,
        public readonly modelPath: string,
        /** size, mtime and inode of the file when it was loaded: a different value means another file. */
        public readonly fileIdentity: string,
        private readonly log: EngineLog,
        /** Whether the loaded llama.cpp binary is the patched build (compaction, scoring adapter). */
        public readonly patched: boolean
    ) {
        this.summary = summarizeModel(model);
        this.chatWrapper = binding.resolveChatWrapper(model);
        this.chatWrapperName = this.chatWrapper.wrapperName;
    }

    public get flashAttentionSupported(): boolean {
        return this.model.flashAttentionSupported;
    }

    /** Plain text to tokens; special-token text in it stays text (workspace content is data). */
    public tokenizeText(text: string): number[] {
        if (text === "")
            return [];
        return Array.from(this.model.tokenize(text, false, "trimLeadingSpace"));
    }

    public detokenize(tokens: readonly number[]): string {
        return this.model.detokenize(tokens as NodeLlamaCpp.Token[], false);
    }

    public isEndOfGeneration(token: number): boolean {
        return this.model.isEogToken(token as NodeLlamaCpp.Token);
    }

    /**
     * Renders a conversation with the model's chat template and splits it around the workspace:
     * the system message is `systemPreamble` followed by the workspace; what comes before the
     * workspace is the cached opening, what comes after it is the per-question suffix.
     */
    public renderConversation(options: {systemPreamble: string; history: readonly ChatTurn[]; question: string}): ConversationSplit {
        const {LlamaText} = this.binding;
        const chatHistory: NodeLlamaCpp.ChatHistoryItem[] = [{type: "system", text: options.systemPreamble + workspacePlaceholder}];
        for (const turn of options.history)
            chatHistory.push(turn.role === "user" ? {type: "user", text: turn.text} : {type: "model", response: [turn.text]});
        chatHistory.push({type: "user", text: options.question}, {type: "model", response: []});
        const {contextText, stopGenerationTriggers} = this.chatWrapper.generateContextState({chatHistory});
        const values = contextText.values;
        const placeholderValueIndex = values.findIndex((value) => typeof value === "string" && value.includes(workspacePlaceholder));
        if (placeholderValueIndex < 0)
            throw new Error(`the ${this.chatWrapperName} chat template dropped the system message; cannot place the workspace`);
        const placeholderValue = values[placeholderValueIndex] as string;
        const placeholderAt = placeholderValue.indexOf(workspacePlaceholder);
        const opening = LlamaText([...values.slice(0, placeholderValueIndex), placeholderValue.slice(0, placeholderAt)]);
        const suffix = LlamaText([placeholderValue.slice(placeholderAt + workspacePlaceholder.length), ...values.slice(placeholderValueIndex + 1)]);
        const stopStrings = stopGenerationTriggers
            .filter((trigger) => trigger.values.length > 0 && trigger.values.every((value) => typeof value === "string"))
            .map((trigger) => trigger.values.join(""));
        return {
            openingTokens: Array.from(opening.tokenize(this.model.tokenizer)),
            suffixTokens: Array.from(suffix.tokenize(this.model.tokenizer)),
            stopStrings
        };
    }

    /**
     * A context with one sequence. Context shifts are turned into errors: the engine sizes contexts
     * itself and must never lose tokens silently.
     */
    public async createSequence(options: {contextSize: number; batchSize: number; flashAttention: boolean; threads?: number; signal?: AbortSignal}): Promise<ContextSequence> {
        this.ensureNotDisposed();
        const batchSize = Math.max(1, Math.min(options.batchSize, options.contextSize));
        let context: LlamaContext;
        try {
            context = await this.model.createContext({
                contextSize: options.contextSize,
                batchSize,
                flashAttention: options.flashAttention,
                sequences: 1,
                ...(options.threads === undefined ? {} : {threads: options.threads}),
                failedCreationRemedy: false,
                createSignal: options.signal
            });
        } catch (error) {
            if (options.signal?.aborted === true)
                throw new OperationCancelledError("creating the context", {cause: error});
            throw new ContextAllocationError(options.contextSize, error);
        }
        const sequence = context.getSequence({
            contextShift: {
                strategy: () => {
                    throw new ContextOverflowError(context.contextSize);
                }
            }
        });
        const kvCacheKeyType = typeof context.kvCacheKeyType === "number" ? this.binding.GgmlType[context.kvCacheKeyType] : "F16";
        const kvCacheValueType = typeof context.kvCacheValueType === "number" ? this.binding.GgmlType[context.kvCacheValueType] : "F16";
        this.log(`context: ${context.contextSize} tokens (asked ${options.contextSize}), batch ${context.batchSize}, ` +
            `flash attention ${options.flashAttention ? "on" : "off"}, KV ${kvCacheKeyType}/${kvCacheValueType}, ${context.idealThreads} threads`);
        return new ContextSequence(this, context, sequence, {
            flashAttention: options.flashAttention,
            kvCacheKeyType: kvCacheKeyType ?? "unknown",
            kvCacheValueType: kvCacheValueType ?? "unknown"
        });
    }

    public async dispose(): Promise<void> {
        if (this.disposed)
            return;
        this.disposed = true;
        await this.model.dispose();
    }

    private ensureNotDisposed(): void {
        if (this.disposed)
            throw new Error(`the model ${this.modelPath} is unloaded`);
    }
}

/** size, mtime and inode of a file, or "missing". */
export function modelFileIdentity(modelPath: string): string {
    try {
        const info = statSync(modelPath);
        return `${info.size}|${Math.round(info.mtimeMs)}|${info.ino}`;
    } catch {
        return "missing";
    }
}

function summarizeModel(model: LlamaModel): ModelSummary {
    const metadata = model.fileInfo.metadata as unknown as Record<string, unknown>;
    const general = (metadata.general ?? {}) as Record<string, unknown>;
    const architecture = String(general.architecture ?? "unknown");
    const architectureMetadata = (metadata[architecture] ?? {}) as Record<string, unknown>;
    return {
        architecture,
        name: String(general.name ?? ""),
        vocabularySize: vocabularySizeOf(metadata, architectureMetadata),
        layers: Number(architectureMetadata.block_count ?? 0),
        embeddingLength: Number(architectureMetadata.embedding_length ?? 0),
        trainContextSize: model.trainContextSize,
        metadataDigest: digestMetadata(metadata)
    };
}

function vocabularySizeOf(metadata: Record<string, unknown>, architectureMetadata: Record<string, unknown>): number {
    if (typeof architectureMetadata.vocab_size === "number")
        return architectureMetadata.vocab_size;
    const tokens = ((metadata.tokenizer as Record<string, unknown> | undefined)?.ggml as Record<string, unknown> | undefined)?.tokens;
    return Array.isArray(tokens) ? tokens.length : 0;
}

/** A stable digest of GGUF metadata; arrays are digested element by element so huge vocabularies stay cheap. */
function digestMetadata(metadata: unknown): string {
    const hash = createHash("sha256");
    const visit = (value: unknown): void => {
        if (Array.isArray(value)) {
            hash.update(`[${value.length}:`);
            for (const element of value)
                visit(element);
            hash.update("]");
        } else if (value !== null && typeof value === "object") {
            hash.update("{");
            for (const key of Object.keys(value).sort()) {
                hash.update(JSON.stringify(key) + ":");
                visit((value as Record<string, unknown>)[key]);
            }
            hash.update("}");
        } else
            hash.update(typeof value === "bigint" ? `${value}n,` : `${JSON.stringify(value)},`);
    };
    visit(metadata);
    return hash.digest("hex");
}

export type SequenceSettings = {flashAttention: boolean; kvCacheKeyType: string; kvCacheValueType: string};

export type EvaluationProgress = (evaluatedTokens: number) => void;

export type GenerationResult = {
    text: string;
    tokens: number[];
    stopReason: "end-of-turn" | "max-tokens" | "stop-string" | "aborted";
    firstTokenMs: number;
};

/** One sequence in its own context: evaluate, score, erase, save and load state, generate. */
export class ContextSequence {
    private disposed = false;
    /** Tokens evaluated through this object (prefill and generation), for tests and figures. */
    public evaluatedTokens = 0;

    public constructor(
        private readonly model: LoadedModel,
        private readonly context: LlamaContext,
        private readonly sequence: LlamaContextSequence,
        public readonly settings: SequenceSettings
    ) {}

    public get contextSize(): number {
        return this.context.contextSize;
    }

    public get batchSize(): number {
        return this.context.batchSize;
    }

    /** Tokens that fit: node-llama-cpp keeps one cell free. */
    public get capacity(): number {
        return this.context.contextSize - 1;
    }

    public get tokenCount(): number {
        return this.sequence.nextTokenIndex;
    }

    public get tokens(): readonly number[] {
        return this.sequence.contextTokens;
    }

    /**
     * Evaluates tokens without any output (no logits: llama.cpp skips the output layer), in
     * batch-sized chunks so that cancellation and progress are prompt. Each chunk is one
     * llama_decode call either way (node-llama-cpp splits a longer call into batches itself);
     * `chunkTokens` exists for the benchmark's one-call comparison.
     */
    public async evaluate(tokens: readonly number[], options: {signal?: AbortSignal; onProgress?: EvaluationProgress; chunkTokens?: number} = {}): Promise<void> {
        this.ensureRoom(tokens.length);
        const chunkSize = Math.max(1, options.chunkTokens ?? this.context.batchSize);
        for (let start = 0; start < tokens.length; start += chunkSize) {
            throwIfAborted(options.signal, "prefill");
            const chunk = tokens.slice(start, start + chunkSize) as NodeLlamaCpp.Token[];
            await this.sequence.evaluateWithoutGeneratingNewTokens(chunk);
            this.evaluatedTokens += chunk.length;
            options.onProgress?.(start + chunk.length);
        }
    }

    /**
     * Evaluates tokens and returns, for each, log p(next | everything up to it), where `next` is the
     * following token of `tokens` and, for the last one, `followingToken` (NaN when absent). The
     * probabilities come from the full vocabulary: the logit of `next` minus the log-sum-exp of all
     * logits, which the addon computes as max + log(sum(exp(logit - max))).
     */
    public async evaluateWithLogProbabilities(
        tokens: readonly number[],
        followingToken: number | undefined,
        options: {signal?: AbortSignal; onProgress?: EvaluationProgress} = {}
    ): Promise<Float64Array> {
        this.ensureRoom(tokens.length);
        const result = new Float64Array(tokens.length).fill(Number.NaN);
        const chunkSize = this.context.batchSize;
        for (let start = 0; start < tokens.length; start += chunkSize) {
            throwIfAborted(options.signal, "prefill");
            const end = Math.min(tokens.length, start + chunkSize);
            const input: NodeLlamaCpp.ControlledEvaluateInputItem[] = [];
            for (let index = start; index < end; index++) {
                const next = index + 1 < tokens.length ? tokens[index + 1] : followingToken;
                const token = tokens[index] as NodeLlamaCpp.Token;
                if (next === undefined)
                    input.push(token);
                else
                    input.push([token, {generateNext: {
                        token: true, // greedy over the raw logits: the selected token is the argmax
                        logits: {filter: {tokens: [next as NodeLlamaCpp.Token], includeSelected: true}},
                        totalLogitWeight: true
                    }}]);
            }
            const outputs = await this.sequence.controlledEvaluate(input);
            for (let offset = 0; offset < input.length; offset++) {
                const index = start + offset;
                const next = index + 1 < tokens.length ? tokens[index + 1] : followingToken;
                const output = outputs[offset]?.next;
                if (next === undefined || output === undefined)
                    continue;
                const selected = output.token;
                const nextLogit = output.logits?.get(next as NodeLlamaCpp.Token);
                const maxLogit = selected === undefined || selected === null ? undefined : output.logits?.get(selected);
                const totalWeight = output.totalLogitWeight;
                if (nextLogit === undefined || maxLogit === undefined || totalWeight === undefined || !(totalWeight > 0))
                    throw new Error(`llama.cpp returned no logits for token ${index}`);
                result[index] = nextLogit - maxLogit - Math.log(totalWeight);
            }
            this.evaluatedTokens += input.length;
            options.onProgress?.(end);
        }
        return result;
    }

    /**
     * Removes token ranges ([start, end) indexes into the sequence). node-llama-cpp renumbers the
     * later positions (contiguous positions, a pending K-shift). Erasing token 0 would make it
     * re-evaluate everything, so it is refused.
     */
    public async eraseRanges(ranges: ReadonlyArray<{start: number; end: number}>): Promise<void> {
        if (ranges.length === 0)
            return;
        let erased = 0;
        let previousEnd = 0;
        for (const range of ranges) {
            if (range.start <= 0 || range.start < previousEnd || range.end <= range.start || range.end > this.tokenCount)
                throw new RangeError(`invalid erase range [${range.start}, ${range.end}) in a sequence of ${this.tokenCount} tokens`);
            erased += range.end - range.start;
            previousEnd = range.end;
        }
        const before = this.tokenCount;
        await this.sequence.eraseContextTokenRanges(ranges.map(({start, end}) => ({start, end})));
        if (this.tokenCount !== before - erased)
            throw new Error(`erasing ${erased} tokens left ${this.tokenCount} of ${before}: the sequence was re-evaluated`);
    }

    /** Drops everything from `length` on (no position shift: nothing follows). */
    public async truncate(length: number): Promise<void> {
        if (length < this.tokenCount) {
            if (length <= 0)
                await this.sequence.clearHistory();
            else
                await this.sequence.eraseContextTokenRanges([{start: length, end: this.tokenCount}]);
        }
    }

    /**
     * Applies a pending K-shift (left by erasing) by decoding one token and dropping it again, so a
     * saved state holds rotated keys. Saving right after an erase would store un-rotated keys.
     */
    public async applyPendingShift(): Promise<void> {
        const length = this.tokenCount;
        if (length === 0)
            return;
        this.ensureRoom(1);
        await this.sequence.evaluateWithoutGeneratingNewTokens([this.tokens[length - 1]!] as NodeLlamaCpp.Token[]);
        await this.truncate(length);
    }

    /** Whether the patched build's one-pass compaction and scoring adapter are available. */
    public get patched(): boolean {
        return this.model.patched;
    }

    /**
     * Keeps the given tokens (ascending indexes into the sequence) and drops the rest in one pass
     * (patched build only). "holes" leaves no pending K-shift; "renumber" applies it before returning.
     */
    public async compact(keepTokenIndexes: ArrayLike<number>, mode: SequenceCompactionMode): Promise<SequenceCompaction> {
        this.ensureRoom(0);
        return compactContextSequence(this.sequence, Uint32Array.from(keepTokenIndexes), mode);
    }

    /** Loads a scoring adapter into this context: every later decode scores its tokens (patched build only). */
    public async attachScoringAdapter(adapterPath: string): Promise<{eta: number}> {
        this.ensureRoom(0);
        return setContextScoringAdapter(this.context, adapterPath);
    }

    /** The llama.cpp position of each token (patched build): contiguous unless compacted with holes. */
    public tokenPositions(): Int32Array {
        return getContextSequenceTokenPositions(this.sequence);
    }

    /** The adapter scores of the tokens evaluated since the last call, by token index. */
    public takeScores(): SequenceScores {
        return takeContextSequenceScores(this.sequence);
    }

    public async saveState(filePath: string): Promise<{bytes: number}> {
        const {fileSize} = await this.sequence.saveStateToFile(filePath);
        return {bytes: fileSize};
    }

    /** Loads a state file. The caller must have checked that it was made by this model and build. */
    public async loadState(filePath: string): Promise<void> {
        await this.sequence.loadStateFromFile(filePath, {acceptRisk: true});
    }

    /** The full next-token distribution after evaluating `tokens` (for tests and fidelity checks). */
    public async nextTokenProbabilities(tokens: readonly number[]): Promise<Float64Array> {
        if (tokens.length === 0)
            throw new RangeError("need at least one token to predict from");
        this.ensureRoom(tokens.length);
        const input: NodeLlamaCpp.ControlledEvaluateInputItem[] = tokens.map((token) => token as NodeLlamaCpp.Token);
        input[input.length - 1] = [tokens[tokens.length - 1] as NodeLlamaCpp.Token, {generateNext: {logits: true}}];
        const outputs = await this.sequence.controlledEvaluate(input);
        this.evaluatedTokens += tokens.length;
        const logits = outputs[outputs.length - 1]?.next.logits;
        if (logits === undefined)
            throw new Error("llama.cpp returned no logits");
        const probabilities = new Float64Array(this.model.summary.vocabularySize);
        let maxLogit = -Infinity;
        for (const logit of logits.values())
            maxLogit = Math.max(maxLogit, logit);
        let sum = 0;
        for (const [token, logit] of logits) {
            const weight = Math.exp(logit - maxLogit);
            probabilities[token] = weight;
            sum += weight;
        }
        for (let index = 0; index < probabilities.length; index++)
            probabilities[index]! /= sum;
        return probabilities;
    }

    /**
     * Evaluates the prompt tokens, then generates greedily until an end-of-turn token, a stop
     * string, `maxTokens`, or the signal. Text is streamed through onText as it becomes valid UTF-8.
     */
    public async generate(promptTokens: readonly number[], options: {
        maxTokens: number;
        stopStrings: readonly string[];
        signal?: AbortSignal;
        onText?(text: string): void;
    }): Promise<GenerationResult> {
        this.ensureRoom(promptTokens.length + 1);
        const startedAt = performance.now();
        let firstTokenMs = -1;
        const generated: number[] = [];
        let emittedText = "";
        let stopReason: GenerationResult["stopReason"] = "end-of-turn";
        const room = this.capacity - this.tokenCount - promptTokens.length;
        const maxTokens = Math.max(0, Math.min(options.maxTokens, room));
        if (isAborted(options.signal))
            return {text: "", tokens: [], stopReason: "aborted", firstTokenMs: 0};
        if (maxTokens === 0)
            return {text: "", tokens: [], stopReason: "max-tokens", firstTokenMs: 0};
        const iterator = this.sequence.evaluate(promptTokens as NodeLlamaCpp.Token[], {temperature: 0});
        this.evaluatedTokens += promptTokens.length;
        try {
            for await (const token of iterator) {
                if (firstTokenMs < 0)
                    firstTokenMs = performance.now() - startedAt;
                generated.push(token);
                this.evaluatedTokens++;
                let text = this.model.detokenize(generated);
                const stopAt = findFirstStop(text, options.stopStrings);
                if (stopAt >= 0) {
                    text = text.slice(0, stopAt);
                    stopReason = "stop-string";
                }
                // Hold back an incomplete UTF-8 sequence (shown as U+FFFD) until its next token arrives.
                if (stopReason !== "stop-string" && text.endsWith("\uFFFD"))
                    text = emittedText;
                if (text.length > emittedText.length && text.startsWith(emittedText)) {
                    options.onText?.(text.slice(emittedText.length));
                    emittedText = text;
                }
                if (stopReason === "stop-string")
                    break;
                if (isAborted(options.signal)) {
                    stopReason = "aborted";
                    break;
                }
                if (generated.length >= maxTokens) {
                    stopReason = "max-tokens";
                    break;
                }
            }
        } finally {
            await iterator.return();
        }
        const finalText = this.model.detokenize(generated);
        const stopAt = findFirstStop(finalText, options.stopStrings);
        const text = stopAt >= 0 ? finalText.slice(0, stopAt) : finalText;
        if (text.length > emittedText.length && text.startsWith(emittedText))
            options.onText?.(text.slice(emittedText.length));
        return {text, tokens: generated, stopReason, firstTokenMs: Math.max(0, firstTokenMs)};
    }

    public async dispose(): Promise<void> {
        if (this.disposed)
            return;
        this.disposed = true;
        await this.sequence.dispose();
        await this.context.dispose();
    }

    private ensureRoom(tokens: number): void {
        if (this.disposed)
            throw new Error("the context is disposed");
        if (this.tokenCount + tokens > this.capacity)
            throw new ContextOverflowError(this.context.contextSize, this.tokenCount + tokens);
    }
}

function findFirstStop(text: string, stopStrings: readonly string[]): number {
    let first = -1;
    for (const stop of stopStrings) {
        const at = text.indexOf(stop);
        if (at >= 0 && (first < 0 || at < first))
            first = at;
    }
    return first;
}

// A function so that TypeScript does not narrow `aborted` across awaits.
function isAborted(signal: AbortSignal | undefined): boolean {
    return signal?.aborted === true;
}

function throwIfAborted(signal: AbortSignal | undefined, operation: string): void {
    if (signal?.aborted === true)
        throw new OperationCancelledError(operation, {cause: signal.reason});
}

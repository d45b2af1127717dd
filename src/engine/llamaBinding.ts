// The only module that imports node-llama-cpp. It is ESM-only, so it is loaded with a dynamic
// import() that esbuild and tsc leave alone, and only when something needs it.
import type * as NodeLlamaCpp from "node-llama-cpp";
import {KvDistillError} from "../common/errors";

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
export async function detectBackend(): Promise<BackendReport> {
    const binding = await loadNodeLlamaCpp();
    const llama = await binding.getLlama({gpu: false, build: "never"});
    try {
        return {
            buildType: llama.buildType,
            gpu: llama.gpu,
            llamaCppRelease: llama.llamaCppRelease.release,
            nodeLlamaCppVersion: await readNodeLlamaCppVersion()
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
export async function loadPatchedLlama(gpu: PatchedLlamaGpu = false): Promise<NodeLlamaCpp.Llama> {
    const binding = await loadNodeLlamaCpp();
    let llama: NodeLlamaCpp.Llama;
    try {
        llama = await binding.getLlama({
            gpu, build: "never", usePrebuiltBinaries: false, progressLogs: false, logLevel: binding.LlamaLogLevel.error
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
export async function loadPatchedLlamaOrFallback(gpu: PatchedLlamaGpu = false): Promise<PatchedLlamaLoad> {
    try {
        const llama = await loadPatchedLlama(gpu);
        return {llama, patched: true, reason: `patched local build (gpu: ${String(llama.gpu)}, llama.cpp ${llama.llamaCppRelease.release})`};
    } catch (error) {
        if (!(error instanceof PatchedBuildError))
            throw error;
        const binding = await loadNodeLlamaCpp();
        const llama = await binding.getLlama({gpu: false, build: "never", progressLogs: false, logLevel: binding.LlamaLogLevel.error});
        const patched = isPatchedLlama(llama);
        return {llama, patched, reason: `${error.message}; running degraded on the ${llama.buildType} CPU binary`};
    }
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
 * time they were evaluated. Call it after evaluating and before compacting the sequence.
 */
export function takeContextSequenceScores(sequence: NodeLlamaCpp.LlamaContextSequence): SequenceScores {
    const internals = sequenceInternals(sequence);
    return internals._context._ctx.takeSequenceScores(internals._sequenceId);
}

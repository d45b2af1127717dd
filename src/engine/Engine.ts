// The engine: owns the llama.cpp runtime, the loaded model and the loaded answer session, and runs
// one operation at a time (distill, ask, report, clear). The engine server (child process) and the
// command line call exactly these methods.
import {stat} from "node:fs/promises";
import path from "node:path";
import {AnswerSession} from "./AnswerSession";
import {CacheStore} from "./CacheStore";
import {cacheReportFromManifest} from "./cacheManifest";
import type {CacheLockOptions} from "./cacheLock";
import {distillPrompt, validateDistillOptions} from "./distillPrompt";
import type {DistillEngineSettings, DistillPromptOutput, SegmentScoredEvent} from "./distillPrompt";
import type {AskOptions, AskResult, CacheReport, DistillOptions, DistillProgress, DistillResult, EngineRequestCallbacks} from "./engineApi";
import {EngineDisposedError, InvalidEngineOptionsError, ScoringAdapterError, UnsupportedScorerError} from "./engineErrors";
import {LlamaRuntime, modelFileIdentity} from "./llamaBinding";
import type {BuildInfo, EngineLog, GpuChoice, LlamaBuildChoice, LoadedModel} from "./llamaBinding";
import {computeModelFileDigest} from "./modelFileDigest";
import {defaultAlwaysKeepRules} from "./selection/buildAlwaysKeepMask";
import type {AlwaysKeepRules} from "./selection/buildAlwaysKeepMask";
import {defaultMaxPieceChars} from "./prompt/buildPromptLayout";
import type {WorkspaceIndexer} from "./workspaceIndexer";
import {defaultOutlineDetail} from "../indexer/workspaceOutline";

export type EngineOptions = {
    /** The workspace indexer (issue 3's indexWorkspace and diffManifests). */
    indexer: WorkspaceIndexer;
    log?: EngineLog;
    /**
     * Which patched build to load: "auto" (default: CUDA, then Vulkan, then CPU, among the patched local builds
     * present), "cuda", "vulkan" or false (CPU). Without a patched build the engine runs degraded on
     * node-llama-cpp's stock CPU binary. One process holds one binary: changing this needs a new process.
     */
    gpu?: GpuChoice;
    /** "stock" loads node-llama-cpp's stock CPU binary on purpose (degraded mode; tests, comparisons). Default "patched". */
    llamaBuild?: LlamaBuildChoice;
    /**
     * Tokens per llama_decode call (node-llama-cpp makes it the micro-batch too). Default 512 on CPU and 2048 with a
     * GPU, where it prefills 28% faster than 512 (docs/BENCHMARKS.md, "GPU: the engine reaches stock llama-bench").
     */
    batchSize?: number;
    /**
     * CPU threads for llama.cpp. Default: node-llama-cpp's (the math cores). On a machine shared
     * with other busy processes, fewer threads can be much faster (spinning threads wait on each other).
     */
    threads?: number;
    /**
     * Default: on with a GPU (when the model supports it), off on CPU, where ggml's flash-attention
     * kernel accumulates in f16 and a restored cache (compact cells) then predicts up to ~1e-3 away
     * from the same cache in place (cells with holes). Recorded in every cache; a cache made with the
     * other setting is rebuilt.
     */
    flashAttention?: boolean;
    /** Largest context to allocate. Default: the model's training context. */
    maxContextTokens?: number;
    /** Segment size used when one segment was asked for but the workspace does not fit. Default 4096. */
    fallbackSegmentTokens?: number;
    alwaysKeep?: AlwaysKeepRules;
    /** Size cap of each cache folder; least recently used caches are evicted beyond it. Default 8 GiB. */
    cacheSizeCapBytes?: number;
    /** Room after the cached prefix in the answer context (turns, question, answer). Default 4096. */
    answerRoomTokens?: number;
    /** Most tokens earlier turns may take in a question. Default 2048. */
    historyBudgetTokens?: number;
    /** Default answer length cap. Default 512. */
    maxAnswerTokens?: number;
    lockOptions?: CacheLockOptions;
};

export type EngineDistillCallbacks = EngineRequestCallbacks & {
    /** Engine-internal (tests, benchmarks): each segment's scores and selection. */
    onSegmentScored?(event: SegmentScoredEvent): void;
};

export type EngineAskResult = AskResult & {
    stopReason: string;
    /** Whether the saved cache had to be loaded for this question (false when the loaded one was reused). */
    cacheLoaded: boolean;
    questionTokens: number;
    historyTurnsUsed: number;
};

export class Engine {
    private runtime: LlamaRuntime | undefined;
    private model: LoadedModel | undefined;
    private answerSession: AnswerSession | undefined;
    private queue: Promise<unknown> = Promise.resolve();
    private disposed = false;
    private readonly log: EngineLog;

    public constructor(private readonly options: EngineOptions) {
        this.log = options.log ?? (() => undefined);
    }

    public distill(options: DistillOptions, callbacks: EngineDistillCallbacks = {}): Promise<DistillResult & {report: CacheReport}> {
        return this.exclusive(async () => (await this.runDistill(options, callbacks)).result);
    }

    public ask(options: AskOptions, callbacks: EngineRequestCallbacks & {onToken?(text: string): void} = {}): Promise<EngineAskResult> {
        return this.exclusive(async () => {
            if (typeof options.question !== "string" || options.question.trim() === "")
                throw new InvalidEngineOptionsError("the question is empty");
            const distilled = await this.runDistill(options, callbacks);
            const maxAnswerTokens = options.maxAnswerTokens ?? this.options.maxAnswerTokens ?? 512;
            const historyBudgetTokens = this.options.historyBudgetTokens ?? 2048;
            let session = this.answerSession;
            let cacheLoaded = false;
            const isSameCache = session !== undefined && session.stateSha256 === distilled.manifest.state.sha256 &&
                session.manifest.key === distilled.manifest.key;
            if (isSameCache) {
                const needed = session!.renderQuestion({question: options.question, history: options.history ?? [], historyBudgetTokens}).tokens.length + maxAnswerTokens + 1;
                if (needed > session!.roomAfterPrefix) {
                    await session!.dispose();
                    session = undefined;
                    this.answerSession = undefined;
                }
            } else if (session !== undefined) {
                await session.dispose();
                session = undefined;
                this.answerSession = undefined;
            }
            if (session === undefined) {
                const model = this.model!;
                const roomTokens = Math.max(this.options.answerRoomTokens ?? 4096, historyBudgetTokens + maxAnswerTokens + 512);
                session = await AnswerSession.open({
                    model,
                    manifest: distilled.manifest,
                    statePath: distilled.statePath,
                    roomTokens,
                    batchSize: this.batchSize(),
                    threads: this.options.threads,
                    log: this.log,
                    signal: callbacks.signal
                });
                this.answerSession = session;
                cacheLoaded = true;
            }
            const outcome = await session.answer({
                question: options.question,
                history: options.history ?? [],
                maxAnswerTokens,
                historyBudgetTokens,
                signal: callbacks.signal,
                onText: callbacks.onToken
            });
            const {report: _report, ...distill} = distilled.result;
            return {
                answer: outcome.answer,
                distill,
                answerTokens: outcome.answerTokens,
                timings: {loadMs: cacheLoaded ? session.loadMs : 0, firstTokenMs: outcome.firstTokenMs, answerMs: outcome.answerMs},
                stopReason: outcome.stopReason,
                cacheLoaded,
                questionTokens: outcome.questionTokens,
                historyTurnsUsed: outcome.historyTurnsUsed
            };
        });
    }

    /** The report of the saved cache for these options (as saved; it may be stale), or undefined when none is saved. */
    public getCacheReport(options: DistillOptions): Promise<CacheReport | undefined> {
        return this.exclusive(async () => {
            const store = new CacheStore(options.cacheDir, this.log);
            const read = await store.read(CacheStore.keyFor(options));
            return read.kind === "found" ? cacheReportFromManifest(read.manifest) : undefined;
        });
    }

    /** Deletes every saved cache under options.cacheDir made for these folders. */
    public clearCache(options: Pick<DistillOptions, "folders" | "cacheDir">): Promise<void> {
        return this.exclusive(async () => {
            const store = new CacheStore(options.cacheDir, this.log);
            const prefix = CacheStore.foldersDigest(options.folders);
            if (this.answerSession !== undefined && this.answerSession.manifest.key.startsWith(prefix)) {
                await this.answerSession.dispose();
                this.answerSession = undefined;
            }
            const removed = await store.removeForFolders(options.folders);
            this.log(`cleared ${removed} cache(s) for ${options.folders.join(", ")}`);
        });
    }

    /** Frees the model and its contexts (the next request loads it again). */
    public unloadModel(): Promise<void> {
        return this.exclusive(() => this.unloadModelNow());
    }

    public async dispose(): Promise<void> {
        if (this.disposed)
            return;
        await this.exclusive(async () => {
            await this.unloadModelNow();
            await this.runtime?.dispose();
            this.runtime = undefined;
        });
        this.disposed = true;
    }

    /** Engine-internal (tests): a distill that also hands back the live compressed sequence. */
    public distillForTesting(options: DistillOptions, callbacks: EngineDistillCallbacks = {}, keepSequenceOpen = false): Promise<DistillPromptOutput> {
        return this.exclusive(() => this.runDistill(options, callbacks, keepSequenceOpen));
    }

    /** Engine-internal (tests, benchmarks): the loaded model and build, loading them if needed. */
    public loadModelForTesting(modelPath: string): Promise<{model: LoadedModel; build: BuildInfo}> {
        return this.exclusive(async () => {
            const model = await this.ensureModel(modelPath, undefined, undefined);
            return {model, build: this.runtime!.build};
        });
    }

    private async runDistill(options: DistillOptions, callbacks: EngineDistillCallbacks, keepSequenceOpen = false): Promise<DistillPromptOutput> {
        validateDistillOptions(options);
        const startedAt = performance.now();
        const model = await this.ensureModel(options.modelPath, callbacks.signal, callbacks.onProgress);
        callbacks.onProgress?.({phase: "indexing", doneTokens: 0, totalTokens: 0});
        const indexStartedAt = performance.now();
        const indexResult = await this.options.indexer.indexWorkspace({
            folders: options.folders,
            extraExcludes: options.extraExcludes,
            filesExclude: options.filesExclude,
            maxFileBytes: options.maxFileBytes,
            workspaceOutline: options.workspaceOutline,
            outlineDetail: options.outlineDetail
        }, callbacks.signal);
        const indexMs = performance.now() - indexStartedAt;
        const {manifest} = indexResult;
        this.log(`index: ${manifest.files.length} file(s), ${manifest.promptChars} prompt characters, tail ${manifest.promptChars - manifest.tailStart} ` +
            `(workspace outline ${options.workspaceOutline === false ? "off" : `on, detail ${options.outlineDetail ?? defaultOutlineDetail}`}), ${indexMs.toFixed(0)} ms`);
        const modelFile = await computeModelFileDigest(options.modelPath, options.cacheDir);
        const adapter = options.scorer === "adapter" ? await this.resolveAdapter(options) : undefined;
        const output = await distillPrompt({
            model,
            build: this.runtime!.build,
            modelFile,
            ...(adapter === undefined ? {} : {adapter}),
            store: new CacheStore(options.cacheDir, this.log),
            options,
            indexResult,
            diffManifests: (previous, current) => this.options.indexer.diffManifests(previous, current),
            settings: this.distillSettings(model),
            log: this.log,
            callbacks,
            keepSequenceOpen
        });
        output.result.timings.indexMs = indexMs;
        output.result.timings.totalMs = performance.now() - startedAt;
        return output;
    }

    /** The adapter file and its sha256 (part of the cache's settings: another adapter keeps other tokens). */
    private async resolveAdapter(options: DistillOptions): Promise<{path: string; sha256: string}> {
        const build = this.runtime!.build;
        if (!build.patched)
            throw new UnsupportedScorerError("adapter", `it needs the patched llama.cpp build, which is not loaded (${build.description})`);
        if (options.adapterPath === undefined || options.adapterPath.trim() === "")
            throw new ScoringAdapterError("", "the adapter scorer needs an adapter file (--adapter, kvDistill.distill.adapterPath)");
        const adapterPath = path.resolve(options.adapterPath);
        const isFile = await stat(adapterPath).then((info) => info.isFile(), () => false);
        if (!isFile)
            throw new ScoringAdapterError(adapterPath, "the file does not exist");
        const {sha256} = await computeModelFileDigest(adapterPath, options.cacheDir);
        return {path: adapterPath, sha256};
    }

    private batchSize(): number {
        return this.options.batchSize ?? (this.runtime !== undefined && this.runtime.build.gpu !== false ? 2048 : 512);
    }

    private distillSettings(model: LoadedModel): DistillEngineSettings {
        return {
            batchSize: this.batchSize(),
            threads: this.options.threads,
            flashAttention: this.options.flashAttention ?? (model.flashAttentionSupported && this.runtime!.build.gpu !== false),
            maxContextTokens: this.options.maxContextTokens ?? model.summary.trainContextSize,
            fallbackSegmentTokens: this.options.fallbackSegmentTokens ?? 4096,
            alwaysKeep: this.options.alwaysKeep ?? defaultAlwaysKeepRules,
            maxPieceChars: defaultMaxPieceChars,
            cacheSizeCapBytes: this.options.cacheSizeCapBytes ?? 8 * 1024 ** 3,
            lockOptions: this.options.lockOptions
        };
    }

    private async ensureModel(modelPath: string, signal: AbortSignal | undefined, onProgress: ((progress: DistillProgress) => void) | undefined): Promise<LoadedModel> {
        // The same path with another file behind it (replaced, re-downloaded) is another model.
        if (this.model !== undefined && this.model.modelPath === modelPath && this.model.fileIdentity === modelFileIdentity(modelPath))
            return this.model;
        await this.unloadModelNow();
        onProgress?.({phase: "loading-model", doneTokens: 0, totalTokens: 0, message: modelPath});
        this.runtime ??= await LlamaRuntime.open({gpu: this.options.gpu ?? "auto", build: this.options.llamaBuild ?? "patched", log: this.log});
        this.model = await this.runtime.loadModel(modelPath, {signal});
        return this.model;
    }

    private async unloadModelNow(): Promise<void> {
        await this.answerSession?.dispose();
        this.answerSession = undefined;
        await this.model?.dispose();
        this.model = undefined;
    }

    /** Runs operations one at a time: a model and its contexts are not safe for concurrent use. */
    private exclusive<T>(operation: () => Promise<T>): Promise<T> {
        if (this.disposed)
            return Promise.reject(new EngineDisposedError());
        const run = this.queue.then(operation, operation);
        this.queue = run.catch(() => undefined);
        return run;
    }
}

// The workspace's cache as the editor sees it: runs distill and ask on the engine one at a time,
// tracks progress, the saved cache's summary and staleness, and unloads the model when idle.
// No `vscode` import: everything it touches is injected, so it is unit-tested in plain Node.
import type {AnswerContext} from "../common/chatProtocol";
import {freshStaleSummary, type BusyOperation, type CacheStatus, type CacheSummary, type ModelDescription} from "../common/cacheStatus";
import {isAbortError} from "../common/adviseOnError";
import {realTimers, type TimerApi} from "../common/DebouncedAction";
import {NoWorkspaceError, OperationCancelledError} from "../common/editorErrors";
import type {StaleTracker} from "../common/StaleTracker";
import {displayPathToAbsolutePath, type WorkspaceFolderLocation} from "../common/workspacePaths";
import type {
    AskResult,
    CacheReport,
    ChatTurn,
    DistillOptions,
    DistillProgress,
    DistillResult,
    EngineClientApi,
    EngineProcessState
} from "../engine/engineApi";

export type LogSink = {
    info(message: string): void;
    warn(message: string): void;
    error(message: string, error?: unknown): void;
};

export type WorkspaceCacheServiceDependencies = {
    /** The engine client; called on first use. Throws EngineUnavailableError when none is wired. */
    getEngine(): EngineClientApi;
    engineAvailable: boolean;
    getFolders(): WorkspaceFolderLocation[];
    /**
     * The options for the current settings and folders. `interactive` allows asking the user
     * (e.g. to download the model); otherwise it throws instead of asking.
     */
    buildDistillOptions(interactive: boolean, signal?: AbortSignal): Promise<DistillOptions>;
    /** Where the workspace's caches are kept (the extension's storageUri), or undefined without a folder. */
    cacheDir(): string | undefined;
    describeModel(): ModelDescription;
    idleUnloadMinutes(): number;
    maxAnswerTokens(): number;
    staleTracker: StaleTracker;
    log: LogSink;
    timers?: TimerApi;
};

export type DistillTrigger = "command" | "panel" | "auto-refresh" | "status";

export type AskOutcome = {result: AskResult; context: AnswerContext};

type Listener = (status: CacheStatus) => void;

function summarize(report: CacheReport): CacheSummary {
    return {
        files: report.files.length,
        skippedFiles: report.skipped.length,
        promptTokens: report.promptTokens,
        keptTokens: report.keptTokens,
        keepRatio: report.keepRatio,
        effectiveKeepRatio: report.effectiveKeepRatio,
        scorer: report.scorer,
        createdAt: report.createdAt
    };
}

function describeProgress(operation: BusyOperation["operation"], progress: DistillProgress): BusyOperation {
    const fraction = progress.phase === "prefilling" && progress.totalTokens > 0
        ? Math.min(1, Math.max(0, progress.doneTokens / progress.totalTokens))
        : undefined;
    let message = progress.message;
    if (message === undefined && progress.phase === "prefilling" && progress.totalTokens > 0) {
        message = `${progress.doneTokens} / ${progress.totalTokens} tokens` +
            (progress.tokensPerSecond === undefined ? "" : `, ${Math.round(progress.tokensPerSecond)} tokens/s`) +
            (progress.etaSeconds === undefined ? "" : `, about ${Math.ceil(progress.etaSeconds)} s left`);
    }
    return {operation, phase: progress.phase, fraction, message, cancellable: true};
}

export class WorkspaceCacheService {
    private cache: CacheStatus["cache"] = {kind: "unknown"};
    private report: CacheReport | undefined;
    private busy: BusyOperation | undefined;
    private engineState: EngineProcessState = {kind: "stopped"};
    private engine: EngineClientApi | undefined;
    private engineSubscription: {dispose(): void} | undefined;
    private queue: Promise<unknown> = Promise.resolve();
    private currentController: AbortController | undefined;
    private idleHandle: unknown;
    private readonly listeners = new Set<Listener>();
    private readonly staleSubscription: {dispose(): void};
    private readonly timers: TimerApi;
    private disposed = false;

    public constructor(private readonly dependencies: WorkspaceCacheServiceDependencies) {
        this.timers = dependencies.timers ?? realTimers;
        this.staleSubscription = dependencies.staleTracker.onDidChange((summary) => {
            if (summary.stale)
                dependencies.log.info(`Cache marked stale: ${summary.reasons.join(", ")} (${summary.changedCount} files)`);
            this.emit();
        });
    }

    public get status(): CacheStatus {
        const folders = this.dependencies.getFolders();
        return {
            workspaceOpen: folders.length > 0,
            engineAvailable: this.dependencies.engineAvailable,
            model: this.dependencies.describeModel(),
            cache: this.cache,
            stale: this.cache.kind === "ready" ? this.dependencies.staleTracker.summary : freshStaleSummary(),
            busy: this.busy,
            engine: this.engineState
        };
    }

    public get lastReport(): CacheReport | undefined {
        return this.report;
    }

    public onDidChangeStatus(listener: Listener): {dispose(): void} {
        this.listeners.add(listener);
        return {dispose: () => this.listeners.delete(listener)};
    }

    /**
     * Shows a report remembered from an earlier session as the current cache, without starting
     * the engine (the engine checks the saved cache itself before using it).
     */
    public restoreReport(report: CacheReport): void {
        if (this.cache.kind === "unknown")
            this.applyReport(report);
    }

    /** Called when settings or folders change: the header and status bar show the new model. */
    public settingsChanged(): void {
        this.emit();
    }

    /**
     * Reads the saved cache's report without loading the model, to show "ready" after a
     * restart. Never asks the user anything; failures only reach the log.
     */
    public async loadSavedReport(): Promise<CacheReport | undefined> {
        if (!this.dependencies.engineAvailable || this.dependencies.getFolders().length === 0 || !this.dependencies.describeModel().configured) {
            // Without an engine, a folder or a model there is no cache to look up.
            if (this.cache.kind === "unknown") {
                this.cache = {kind: "none"};
                this.emit();
            }
            return undefined;
        }
        return this.exclusive(undefined, async () => {
            let options: DistillOptions;
            try {
                options = await this.dependencies.buildDistillOptions(false);
            } catch (error) {
                this.dependencies.log.info(`No saved cache looked up: ${error instanceof Error ? error.message : String(error)}`);
                if (this.cache.kind === "unknown")
                    this.cache = {kind: "none"};
                return undefined;
            }
            try {
                const report = await this.ensureEngine().getCacheReport(options);
                this.applyReport(report);
                this.dependencies.log.info(report === undefined ? "No saved cache for this workspace" : `Saved cache found: ${report.files.length} files, ${report.keptTokens}/${report.promptTokens} tokens kept`);
                return report;
            } catch (error) {
                this.dependencies.log.error("Could not read the saved cache's report", error);
                if (this.cache.kind === "unknown")
                    this.cache = {kind: "error", message: error instanceof Error ? error.message : String(error)};
                return undefined;
            }
        });
    }

    /** Builds or refreshes the cache (the engine re-processes only the segments that changed). */
    public async distill(trigger: DistillTrigger, signal?: AbortSignal): Promise<DistillResult & {report: CacheReport}> {
        return this.exclusive(signal, async (operationSignal) => {
            const options = await this.dependencies.buildDistillOptions(trigger !== "auto-refresh", operationSignal);
            this.dependencies.log.info(`Distill started (${trigger}): ${options.folders.length} folders, keep ${options.keepRatio}, scorer ${options.scorer}, segment ${options.segmentTokens} tokens, model ${options.modelPath}`);
            this.setBusy({operation: "distill", phase: "waiting", fraction: undefined, message: undefined, cancellable: true});
            let lastPhase = "";
            try {
                const result = await this.ensureEngine().distill(options, {
                    signal: operationSignal,
                    onProgress: (progress) => {
                        if (progress.phase !== lastPhase) {
                            lastPhase = progress.phase;
                            this.dependencies.log.info(`Distill phase: ${progress.phase}`);
                        }
                        this.setBusy(describeProgress("distill", progress));
                    }
                });
                this.applyReport(result.report);
                this.dependencies.log.info(
                    `Distill finished: ${result.cacheOutcome}, ${result.files} files, ${result.keptTokens}/${result.promptTokens} tokens kept ` +
                    `(${(result.effectiveKeepRatio * 100).toFixed(1)}%), ${result.evaluatedTokens} evaluated, ${result.timings.totalMs} ms; ` +
                    `llama.cpp: ${result.build.description}, compaction ${result.compaction}`
                );
                return result;
            } catch (error) {
                if (isAbortError(error) || operationSignal.aborted) {
                    this.dependencies.log.info("Distill cancelled");
                    throw new OperationCancelledError("Distill", {cause: error});
                }
                this.dependencies.log.error("Distill failed", error);
                if (this.cache.kind !== "ready")
                    this.cache = {kind: "error", message: error instanceof Error ? error.message : String(error)};
                throw error;
            }
        });
    }

    /** Answers from the cache, streaming tokens; the engine distills first when it must. */
    public async ask(
        question: string,
        history: ChatTurn[],
        callbacks: {signal?: AbortSignal; onToken?(text: string): void} = {}
    ): Promise<AskOutcome> {
        return this.exclusive(callbacks.signal, async (operationSignal) => {
            const options = await this.dependencies.buildDistillOptions(true, operationSignal);
            const staleBefore = this.cache.kind === "ready" ? this.dependencies.staleTracker.summary : freshStaleSummary();
            this.dependencies.log.info(`Answer started: ${question.length} characters, ${history.length} earlier turns`);
            this.setBusy({operation: "ask", phase: "waiting", fraction: undefined, message: undefined, cancellable: true});
            let answering = false;
            try {
                const result = await this.ensureEngine().ask(
                    {...options, question, history, maxAnswerTokens: this.dependencies.maxAnswerTokens()},
                    {
                        signal: operationSignal,
                        onProgress: (progress) => this.setBusy(describeProgress("ask", progress)),
                        onToken: (text) => {
                            if (!answering) {
                                answering = true;
                                this.setBusy({operation: "ask", phase: "answering", fraction: undefined, message: undefined, cancellable: true});
                            }
                            callbacks.onToken?.(text);
                        }
                    }
                );
                const outcome = result.distill.cacheOutcome;
                if (outcome !== "reused" || this.cache.kind !== "ready") {
                    try {
                        this.applyReport(await this.ensureEngine().getCacheReport(options));
                    } catch (error) {
                        this.dependencies.log.error("Could not read the cache report after answering", error);
                    }
                }
                const context: AnswerContext = {
                    filesInCache: result.distill.files,
                    filesExcluded: result.distill.skippedFiles,
                    effectiveKeepRatio: result.distill.effectiveKeepRatio,
                    staleFiles: outcome === "reused" ? staleBefore.changedFiles : [],
                    staleCount: outcome === "reused" ? staleBefore.changedCount : 0,
                    cacheOutcome: outcome
                };
                this.dependencies.log.info(
                    `Answer finished: ${result.answerTokens} tokens, first token after ${result.timings.firstTokenMs} ms, cache ${outcome}, ` +
                    `${context.filesInCache} files in context`
                );
                return {result, context};
            } catch (error) {
                if (isAbortError(error) || operationSignal.aborted) {
                    this.dependencies.log.info("Answer stopped");
                    throw new OperationCancelledError("Answer", {cause: error});
                }
                this.dependencies.log.error("Answer failed", error);
                throw error;
            }
        });
    }

    /** Cancels the running distill or answer (the header's cancel button). */
    public cancelOperation(): void {
        if (this.currentController !== undefined && !this.currentController.signal.aborted) {
            this.dependencies.log.info("Cancel requested");
            this.currentController.abort();
        }
    }

    public async clearCache(): Promise<void> {
        await this.exclusive(undefined, async () => {
            const folders = this.dependencies.getFolders().map((folder) => folder.path);
            const cacheDir = this.dependencies.cacheDir();
            if (cacheDir === undefined || folders.length === 0)
                throw new NoWorkspaceError();
            this.setBusy({operation: "clear", phase: "waiting", fraction: undefined, message: undefined, cancellable: false});
            await this.ensureEngine().clearCache({folders, cacheDir});
            this.report = undefined;
            this.cache = {kind: "none"};
            this.dependencies.staleTracker.clearBaseline();
            this.dependencies.log.info("Cache cleared");
        });
    }

    public async unloadModel(reason: "command" | "idle" = "command"): Promise<void> {
        if (this.engine === undefined) {
            this.dependencies.log.info("Unload: no engine is running");
            return;
        }
        await this.exclusive(undefined, async () => {
            this.setBusy({operation: "unload", phase: "waiting", fraction: undefined, message: undefined, cancellable: false});
            await this.ensureEngine().unloadModel();
            this.dependencies.log.info(reason === "idle" ? `Model unloaded after ${this.dependencies.idleUnloadMinutes()} idle minutes` : "Model unloaded");
        }, reason === "idle");
    }

    /**
     * Stops the engine process after the current operation, so that the next request starts a new one: a newly built
     * llama.cpp backend is loaded only by a new process (node-llama-cpp loads its binary once per process).
     */
    public async restartEngine(reason: string): Promise<void> {
        if (this.engine === undefined) {
            this.dependencies.log.info(`Engine restart (${reason}): no engine is running; the next request starts one`);
            return;
        }
        await this.exclusive(undefined, async () => {
            this.setBusy({operation: "unload", phase: "waiting", fraction: undefined, message: undefined, cancellable: false});
            await this.ensureEngine().shutdownEngine(reason);
            this.dependencies.log.info(`Engine stopped (${reason}); the next request starts a new one`);
        });
    }

    public async dispose(): Promise<void> {
        this.disposed = true;
        this.cancelOperation();
        this.clearIdleTimer();
        this.staleSubscription.dispose();
        this.engineSubscription?.dispose();
        this.listeners.clear();
    }

    private ensureEngine(): EngineClientApi {
        if (this.engine === undefined) {
            this.engine = this.dependencies.getEngine();
            this.engineSubscription = this.engine.onDidChangeState((state) => {
                if (state.kind === "crashed")
                    this.dependencies.log.error(`Engine stopped: ${state.message}`);
                this.engineState = state;
                this.emit();
            });
        }
        return this.engine;
    }

    private applyReport(report: CacheReport | undefined): void {
        this.report = report;
        if (report === undefined) {
            this.cache = {kind: "none"};
            this.dependencies.staleTracker.clearBaseline();
        } else {
            this.cache = {kind: "ready", summary: summarize(report)};
            const folders = this.dependencies.getFolders();
            const indexed = report.files
                .map((file) => displayPathToAbsolutePath(file.displayPath, folders))
                .filter((filePath): filePath is string => filePath !== undefined);
            this.dependencies.staleTracker.setBaseline(indexed);
        }
        this.emit();
    }

    /** Runs operations one at a time; each gets a signal that the caller's or Cancel aborts. */
    private exclusive<T>(callerSignal: AbortSignal | undefined, operation: (signal: AbortSignal) => Promise<T>, keepIdleTimer = false): Promise<T> {
        const run = async (): Promise<T> => {
            if (this.disposed)
                throw new OperationCancelledError("The operation");
            const controller = new AbortController();
            const abort = (): void => controller.abort();
            if (callerSignal?.aborted)
                controller.abort();
            callerSignal?.addEventListener("abort", abort, {once: true});
            this.currentController = controller;
            if (!keepIdleTimer)
                this.clearIdleTimer();
            try {
                return await operation(controller.signal);
            } finally {
                callerSignal?.removeEventListener("abort", abort);
                if (this.currentController === controller)
                    this.currentController = undefined;
                this.setBusy(undefined);
                if (!keepIdleTimer)
                    this.scheduleIdleUnload();
            }
        };
        const result = this.queue.then(run, run);
        this.queue = result.catch(() => undefined);
        return result;
    }

    private scheduleIdleUnload(): void {
        this.clearIdleTimer();
        const minutes = this.dependencies.idleUnloadMinutes();
        if (minutes <= 0 || this.engine === undefined || this.disposed)
            return;
        this.idleHandle = this.timers.setTimeout(() => {
            this.idleHandle = undefined;
            this.unloadModel("idle").catch((error: unknown) => this.dependencies.log.error("Idle unload failed", error));
        }, minutes * 60_000);
    }

    private clearIdleTimer(): void {
        if (this.idleHandle !== undefined)
            this.timers.clearTimeout(this.idleHandle);
        this.idleHandle = undefined;
    }

    private setBusy(busy: BusyOperation | undefined): void {
        this.busy = busy;
        this.emit();
    }

    private emit(): void {
        if (this.disposed)
            return;
        const status = this.status;
        for (const listener of [...this.listeners])
            listener(status);
    }
}

// A TEST DOUBLE of EngineClientApi for the editor-side unit tests: scripted progress, tokens,
// results and failures; records every call. Never shipped.
import type {
    AskOptions,
    AskResult,
    CacheReport,
    DistillOptions,
    DistillResult,
    EngineClientApi,
    EngineProcessState,
    EngineRequestCallbacks
} from "../../../src/engine/engineApi";

export function makeReport(displayPaths: string[], overrides: Partial<CacheReport> = {}): CacheReport {
    return {
        modelPath: "/models/test.gguf",
        scorer: "surprisal",
        keepRatio: 0.2,
        effectiveKeepRatio: 0.25,
        createdAt: "2026-01-01T00:00:00.000Z",
        promptTokens: 1000,
        keptTokens: 250,
        files: displayPaths.map((displayPath) => ({displayPath, tokens: 100, keptTokens: 25})),
        skipped: [{displayPath: "big.bin", reason: "binary", detail: "NUL bytes"}],
        build: "patched local build, cpu",
        compaction: "holes",
        adapterSha256: null,
        ...overrides
    };
}

export function makeDistillResult(report: CacheReport, outcome: DistillResult["cacheOutcome"] = "built"): DistillResult & {report: CacheReport} {
    return {
        cacheId: "cache-1",
        contextSize: 4096,
        build: {patched: true, backend: "cpu", description: "patched local build, cpu"},
        compaction: "holes",
        cachePath: "/cache/cache-1",
        cacheOutcome: outcome,
        promptTokens: report.promptTokens,
        keptTokens: report.keptTokens,
        effectiveKeepRatio: report.effectiveKeepRatio,
        evaluatedTokens: outcome === "reused" ? 0 : report.promptTokens,
        segments: 1,
        files: report.files.length,
        skippedFiles: report.skipped.length,
        timings: {indexMs: 1, tokenizeMs: 1, prefillMs: 1, saveMs: 1, totalMs: 4},
        stateBytes: 1234,
        report
    };
}

function abortError(): Error {
    const error = new Error("The operation was aborted");
    error.name = "AbortError";
    return error;
}

/** Waits until the signal aborts, then rejects the way the real client does. */
function untilAborted(signal: AbortSignal | undefined): Promise<never> {
    return new Promise((_resolve, reject) => {
        if (signal === undefined)
            return;
        if (signal.aborted)
            reject(abortError());
        signal.addEventListener("abort", () => reject(abortError()), {once: true});
    });
}

export class FakeEngineClient implements EngineClientApi {
    public readonly calls: Array<{method: string; options?: unknown}> = [];
    public report: CacheReport | undefined;
    public distillOutcome: DistillResult["cacheOutcome"] = "built";
    public askOutcome: DistillResult["cacheOutcome"] = "reused";
    public answerTokens = ["The greeting is in ", "src/greeting.ts:3", "."];
    /** When set, the next distill/ask rejects with it. */
    public failWith: Error | undefined;
    /** When true, distill/ask wait for their signal to abort. */
    public hang = false;
    public unloads = 0;
    private readonly stateListeners = new Set<(state: EngineProcessState) => void>();

    public constructor(private readonly reportForDistill: CacheReport) {}

    public async distill(options: DistillOptions, callbacks?: EngineRequestCallbacks): Promise<DistillResult & {report: CacheReport}> {
        this.calls.push({method: "distill", options});
        callbacks?.onProgress?.({phase: "indexing", doneTokens: 0, totalTokens: 0});
        callbacks?.onProgress?.({phase: "prefilling", doneTokens: 250, totalTokens: 1000, tokensPerSecond: 500, etaSeconds: 1.5});
        if (this.hang)
            await untilAborted(callbacks?.signal);
        if (this.failWith !== undefined)
            throw this.failWith;
        callbacks?.onProgress?.({phase: "prefilling", doneTokens: 1000, totalTokens: 1000});
        this.report = this.reportForDistill;
        return makeDistillResult(this.reportForDistill, this.distillOutcome);
    }

    public async ask(options: AskOptions, callbacks?: EngineRequestCallbacks & {onToken?(text: string): void}): Promise<AskResult> {
        this.calls.push({method: "ask", options});
        if (this.failWith !== undefined)
            throw this.failWith;
        callbacks?.onToken?.(this.answerTokens[0] ?? "");
        if (this.hang)
            await untilAborted(callbacks?.signal);
        for (const token of this.answerTokens.slice(1))
            callbacks?.onToken?.(token);
        if (this.askOutcome !== "reused")
            this.report = this.reportForDistill;
        return {
            answer: this.answerTokens.join(""),
            distill: makeDistillResult(this.reportForDistill, this.askOutcome),
            answerTokens: this.answerTokens.length,
            timings: {loadMs: 1, firstTokenMs: 2, answerMs: 3}
        };
    }

    public async getCacheReport(options: DistillOptions): Promise<CacheReport | undefined> {
        this.calls.push({method: "getCacheReport", options});
        return this.report;
    }

    public async clearCache(options: Pick<DistillOptions, "folders" | "cacheDir">): Promise<void> {
        this.calls.push({method: "clearCache", options});
        this.report = undefined;
    }

    public async unloadModel(): Promise<void> {
        this.calls.push({method: "unloadModel"});
        this.unloads++;
    }

    public async shutdownEngine(reason: string): Promise<void> {
        this.calls.push({method: "shutdownEngine", options: {reason}});
    }

    public onDidChangeState(listener: (state: EngineProcessState) => void): {dispose(): void} {
        this.stateListeners.add(listener);
        return {dispose: () => this.stateListeners.delete(listener)};
    }

    public emitState(state: EngineProcessState): void {
        for (const listener of this.stateListeners)
            listener(state);
    }

    public async dispose(): Promise<void> {
        this.calls.push({method: "dispose"});
    }
}

/** Timers a test fires by hand. */
export class ManualTimers {
    private next = 1;
    public readonly pending = new Map<number, {callback: () => void; delayMs: number}>();

    public setTimeout = (callback: () => void, delayMs: number): unknown => {
        const handle = this.next++;
        this.pending.set(handle, {callback, delayMs});
        return handle;
    };

    public clearTimeout = (handle: unknown): void => {
        this.pending.delete(handle as number);
    };

    public fireAll(): void {
        const due = [...this.pending.values()];
        this.pending.clear();
        for (const timer of due)
            timer.callback();
    }
}

export class MemoryLog {
    public readonly lines: string[] = [];
    public info(message: string): void { this.lines.push(`info ${message}`); }
    public warn(message: string): void { this.lines.push(`warn ${message}`); }
    public error(message: string, error?: unknown): void { this.lines.push(`error ${message}${error === undefined ? "" : `: ${String(error)}`}`); }
    public has(pattern: RegExp): boolean { return this.lines.some((line) => pattern.test(line)); }
}

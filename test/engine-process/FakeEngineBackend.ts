// A test double of the engine backend (the Engine class), for the transport tests: no model, just
// timed steps that report progress, stream tokens, honour AbortSignals, and write every call to
// an events file the test reads. Never shipped.
import {appendFileSync} from "node:fs";
import type {AskOptions, AskResult, CacheReport, DistillOptions, DistillProgress, DistillResult} from "../../src/engine/engineApi";
import type {EngineBackend} from "../../src/engine/EngineServer";

export type FakeBackendEvent = {event: string; pid: number; at: number; detail?: string};

export class FakeEngineBackend implements EngineBackend {
    private readonly reports = new Map<string, CacheReport>();

    public constructor(private readonly eventsFile: string, private readonly stepMs: number) {
        this.record("created");
    }

    public async distill(options: DistillOptions, callbacks: {onProgress?(progress: DistillProgress): void; signal?: AbortSignal}): Promise<DistillResult & {report: CacheReport}> {
        const steps = Math.max(1, options.segmentTokens);
        const label = options.folders[0] ?? "";
        this.record("distill-start", label);
        for (let step = 1; step <= steps; step++) {
            await this.step(callbacks.signal, `distill-aborted`, label);
            callbacks.onProgress?.({phase: "prefilling", doneTokens: step * 100, totalTokens: steps * 100, tokensPerSecond: 100_000 / this.stepMs});
        }
        const promptTokens = steps * 100;
        const keptTokens = Math.round(promptTokens * options.keepRatio);
        const report: CacheReport = {
            modelPath: options.modelPath,
            scorer: options.scorer,
            keepRatio: options.keepRatio,
            effectiveKeepRatio: keptTokens / promptTokens,
            createdAt: new Date(0).toISOString(),
            promptTokens,
            keptTokens,
            files: options.folders.map((folder) => ({displayPath: folder, tokens: promptTokens / options.folders.length, keptTokens: keptTokens / options.folders.length})),
            build: "fake build",
            compaction: "erase-ranges",
            adapterSha256: null,
            skipped: []
        };
        this.reports.set(options.cacheDir, report);
        this.record("distill-end", label);
        // Not a typed literal, so that fields the real result gains later need no change here.
        const result = {
            cacheId: `fake-${label}`,
            cachePath: options.cacheDir,
            cacheOutcome: "built" as const,
            promptTokens,
            keptTokens,
            effectiveKeepRatio: keptTokens / promptTokens,
            evaluatedTokens: promptTokens,
            segments: steps,
            files: options.folders.length,
            skippedFiles: 0,
            timings: {indexMs: 0, tokenizeMs: 0, prefillMs: steps * this.stepMs, saveMs: 0, totalMs: steps * this.stepMs},
            stateBytes: keptTokens * 16,
            contextSize: keptTokens + 100,
            build: {patched: false, backend: "cpu", description: "degraded: fake backend"},
            compaction: "erase-ranges" as const,
            report
        };
        return result;
    }

    public async ask(options: AskOptions, callbacks: {onProgress?(progress: DistillProgress): void; onToken?(text: string): void; signal?: AbortSignal}): Promise<AskResult> {
        const distill = await this.distill(options, callbacks);
        this.record("ask-start", options.question);
        // The "answer" is the question's words reversed, one token per step.
        const words = options.question.split(/\s+/).filter((word) => word !== "").reverse();
        const pieces: string[] = [];
        for (const word of words) {
            await this.step(callbacks.signal, "ask-aborted", options.question);
            const piece = pieces.length === 0 ? word : ` ${word}`;
            pieces.push(piece);
            callbacks.onToken?.(piece);
        }
        this.record("ask-end", options.question);
        return {answer: pieces.join(""), distill, answerTokens: pieces.length, timings: {loadMs: 0, firstTokenMs: this.stepMs, answerMs: words.length * this.stepMs}};
    }

    public async getCacheReport(options: DistillOptions): Promise<CacheReport | undefined> {
        return this.reports.get(options.cacheDir);
    }

    public async clearCache(options: Pick<DistillOptions, "folders" | "cacheDir">): Promise<void> {
        this.reports.delete(options.cacheDir);
        this.record("clear-cache", options.cacheDir);
    }

    public async unloadModel(): Promise<void> {
        this.record("unload");
    }

    public async dispose(): Promise<void> {
        this.record("dispose");
    }

    private step(signal: AbortSignal | undefined, abortedEvent: string, label: string): Promise<void> {
        return new Promise((resolve, reject) => {
            const onAbort = (): void => {
                clearTimeout(timer);
                this.record(abortedEvent, label);
                const error = new Error("The fake backend saw the abort");
                error.name = "AbortError";
                reject(error);
            };
            const timer = setTimeout(() => {
                signal?.removeEventListener("abort", onAbort);
                resolve();
            }, this.stepMs);
            if (signal?.aborted === true)
                onAbort();
            else
                signal?.addEventListener("abort", onAbort, {once: true});
        });
    }

    private record(event: string, detail?: string): void {
        const line: FakeBackendEvent = {event, pid: process.pid, at: Date.now(), ...(detail === undefined ? {} : {detail})};
        appendFileSync(this.eventsFile, JSON.stringify(line) + "\n");
    }
}

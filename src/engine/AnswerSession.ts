// A saved compressed cache loaded into a small context, answering questions one after another.
// Each question appends the conversation's earlier turns (within a budget), the question and the
// assistant opening after the cached prefix; afterwards everything after the prefix is dropped
// again, so the prefix is never re-evaluated and the saved cache is never touched.
import {createHash} from "node:crypto";
import type {CacheManifest} from "./cacheManifest";
import type {ChatTurn} from "./engineApi";
import {ContextOverflowError, InvalidEngineOptionsError} from "./engineErrors";
import type {ContextSequence, EngineLog, GenerationResult, LoadedModel} from "./llamaBinding";
import {workspaceSystemPreamble} from "./distillPrompt";

export type AnswerRequest = {
    question: string;
    history: readonly ChatTurn[];
    maxAnswerTokens: number;
    /** Most tokens the earlier turns may take; the oldest turns are dropped first. */
    historyBudgetTokens: number;
    signal?: AbortSignal;
    onText?(text: string): void;
};

export type AnswerOutcome = {
    answer: string;
    answerTokens: number;
    stopReason: GenerationResult["stopReason"];
    /** Tokens appended after the cached prefix for this question (turns, question, assistant opening). */
    questionTokens: number;
    historyTurnsUsed: number;
    firstTokenMs: number;
    answerMs: number;
};

export class AnswerSession {
    private disposed = false;

    private constructor(
        private readonly model: LoadedModel,
        private readonly sequence: ContextSequence,
        public readonly manifest: CacheManifest,
        public readonly loadMs: number
    ) {}

    /** The state file's sha256: identifies which saved cache this session holds. */
    public get stateSha256(): string {
        return this.manifest.state.sha256;
    }

    public get contextSize(): number {
        return this.sequence.contextSize;
    }

    /** Tokens available after the cached prefix. */
    public get roomAfterPrefix(): number {
        return this.sequence.capacity - this.manifest.keptTokens;
    }

    public static async open(options: {
        model: LoadedModel;
        manifest: CacheManifest;
        statePath: string;
        /** Room after the cached prefix for turns, question and answer. */
        roomTokens: number;
        batchSize: number;
        threads?: number;
        log: EngineLog;
        signal?: AbortSignal;
    }): Promise<AnswerSession> {
        const startedAt = performance.now();
        const contextSize = Math.ceil((options.manifest.keptTokens + options.roomTokens + 1) / 256) * 256;
        const sequence = await options.model.createSequence({
            contextSize,
            batchSize: options.batchSize,
            flashAttention: options.manifest.kv.flashAttention,
            threads: options.threads,
            signal: options.signal
        });
        try {
            await sequence.loadState(options.statePath);
            if (sequence.tokenCount !== options.manifest.keptTokens)
                throw new Error(`the saved cache holds ${sequence.tokenCount} tokens, its manifest says ${options.manifest.keptTokens}`);
        } catch (error) {
            await sequence.dispose();
            throw error;
        }
        const loadMs = performance.now() - startedAt;
        options.log(`cache ${options.manifest.key} loaded: ${options.manifest.keptTokens} tokens into a context of ${sequence.contextSize} in ${loadMs.toFixed(0)} ms`);
        return new AnswerSession(options.model, sequence, options.manifest, loadMs);
    }

    /** The tokens appended for a question (after trimming the history to its budget). */
    public renderQuestion(request: Pick<AnswerRequest, "question" | "history" | "historyBudgetTokens">): {tokens: number[]; stopStrings: string[]; historyTurnsUsed: number} {
        let history = request.history.slice();
        const questionOnly = this.model.renderConversation({systemPreamble: workspaceSystemPreamble, history: [], question: request.question});
        this.checkOpening(questionOnly.openingTokens);
        let split = this.model.renderConversation({systemPreamble: workspaceSystemPreamble, history, question: request.question});
        while (history.length > 0 && split.suffixTokens.length - questionOnly.suffixTokens.length > request.historyBudgetTokens) {
            // Drop the oldest exchange (a user turn and the answer to it) at once.
            history = history.slice(history.length > 1 && history[0]!.role === "user" && history[1]!.role === "assistant" ? 2 : 1);
            split = this.model.renderConversation({systemPreamble: workspaceSystemPreamble, history, question: request.question});
        }
        return {tokens: split.suffixTokens, stopStrings: split.stopStrings, historyTurnsUsed: history.length};
    }

    public async answer(request: AnswerRequest): Promise<AnswerOutcome> {
        if (this.disposed)
            throw new Error("the answer session is closed");
        if (request.question.trim() === "")
            throw new InvalidEngineOptionsError("the question is empty");
        const {tokens, stopStrings, historyTurnsUsed} = this.renderQuestion(request);
        if (tokens.length + 1 > this.roomAfterPrefix)
            throw new ContextOverflowError(this.sequence.contextSize, this.manifest.keptTokens + tokens.length + 1);
        await this.sequence.truncate(this.manifest.keptTokens);
        const startedAt = performance.now();
        try {
            const generation = await this.sequence.generate(tokens, {
                maxTokens: request.maxAnswerTokens,
                stopStrings,
                signal: request.signal,
                onText: request.onText
            });
            return {
                answer: generation.text,
                answerTokens: generation.tokens.length,
                stopReason: generation.stopReason,
                questionTokens: tokens.length,
                historyTurnsUsed,
                firstTokenMs: generation.firstTokenMs,
                answerMs: performance.now() - startedAt
            };
        } finally {
            // Drop the question and answer so the next question starts right after the prefix.
            await this.sequence.truncate(this.manifest.keptTokens);
        }
    }

    /** Tests and fidelity checks: the next-token distribution after the prefix plus `tokens`. */
    public async nextTokenProbabilities(tokens: readonly number[]): Promise<Float64Array> {
        await this.sequence.truncate(this.manifest.keptTokens);
        try {
            return await this.sequence.nextTokenProbabilities(tokens);
        } finally {
            await this.sequence.truncate(this.manifest.keptTokens);
        }
    }

    public get prefixTokens(): readonly number[] {
        return this.sequence.tokens.slice(0, this.manifest.keptTokens);
    }

    public async dispose(): Promise<void> {
        if (this.disposed)
            return;
        this.disposed = true;
        await this.sequence.dispose();
    }

    private checkOpening(openingTokens: readonly number[]): void {
        const digest = createHash("sha256").update(Buffer.from(Uint32Array.from(openingTokens).buffer)).digest("hex");
        if (digest !== this.manifest.openingDigest)
            throw new Error("the model's chat template renders a different opening than the one in the saved cache");
    }
}

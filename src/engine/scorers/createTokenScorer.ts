// The scorers. `recent`, `random` and `surprisal` work on node-llama-cpp's own build; `adapter` needs
// the project's patched llama.cpp (issue 5) and is refused on the stock build with the reason;
// `reconstruct` (trained adapters) is not implemented yet.
import {UnsupportedScorerError} from "../engineErrors";
import type {ScorerName} from "../engineApi";
import type {SegmentScoringInput, TokenScorer} from "./tokenScorer";

export function createTokenScorer(name: ScorerName, options: {seed?: number; build?: {patched: boolean; description: string}} = {}): TokenScorer {
    switch (name) {
        case "recent":
            return recentScorer;
        case "random":
            return createRandomScorer(options.seed ?? 0);
        case "surprisal":
            return surprisalScorer;
        case "adapter":
            if (options.build?.patched !== true)
                throw new UnsupportedScorerError(name, `it needs the patched llama.cpp build, which is not loaded (${options.build?.description ?? "no build loaded"})`);
            return adapterScorer;
        case "reconstruct":
            throw new UnsupportedScorerError(name, "it needs trained reconstruction adapters, which this version does not have");
    }
}

/** StreamingLLM baseline: later tokens score higher, so a segment keeps its most recent window (sinks are always kept). */
const recentScorer: TokenScorer = {
    name: "recent",
    requirements: {logProbabilities: false, adapterScores: false},
    scoreSegment({tokens, firstTokenIndex}: SegmentScoringInput): Float64Array {
        const scores = new Float64Array(tokens.length);
        for (let index = 0; index < tokens.length; index++)
            scores[index] = firstTokenIndex + index;
        return scores;
    }
};

/** KV-Distill-style: the scoring adapter's score of each token, computed inside the model's graph during the prefill. */
const adapterScorer: TokenScorer = {
    name: "adapter",
    requirements: {logProbabilities: false, adapterScores: true},
    scoreSegment({tokens, adapterScores}: SegmentScoringInput): Float64Array {
        if (adapterScores === undefined || adapterScores.length !== tokens.length)
            throw new RangeError("the adapter scorer needs one adapter score per token");
        return Float64Array.from(adapterScores, (score) => Number.isNaN(score) ? -Infinity : score);
    }
};

/** LLMLingua-style: keep the tokens the model found least predictable (highest -log p). */
const surprisalScorer: TokenScorer = {
    name: "surprisal",
    requirements: {logProbabilities: true, adapterScores: false},
    scoreSegment({tokens, logProbabilities}: SegmentScoringInput): Float64Array {
        if (logProbabilities === undefined || logProbabilities.length !== tokens.length)
            throw new RangeError("the surprisal scorer needs one log-probability per token");
        const scores = new Float64Array(tokens.length);
        for (let index = 0; index < tokens.length; index++) {
            const logProbability = logProbabilities[index]!;
            scores[index] = Number.isNaN(logProbability) ? Infinity : -logProbability;
        }
        return scores;
    }
};

/**
 * Benchmark baseline: a score that depends only on the seed and the token's index in the prefix,
 * so the same token gets the same score whatever the segmentation.
 */
function createRandomScorer(seed: number): TokenScorer {
    return {
        name: "random",
        requirements: {logProbabilities: false, adapterScores: false},
        scoreSegment({tokens, firstTokenIndex}: SegmentScoringInput): Float64Array {
            const scores = new Float64Array(tokens.length);
            for (let index = 0; index < tokens.length; index++)
                scores[index] = hashToUnit(seed, firstTokenIndex + index);
            return scores;
        }
    };
}

function hashToUnit(seed: number, index: number): number {
    let value = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 0x632be5ab, 0xc2b2ae35);
    value = Math.imul(value ^ (value >>> 16), 0x7feb352d);
    value = Math.imul(value ^ (value >>> 15), 0x846ca68b);
    value ^= value >>> 16;
    return (value >>> 0) / 4294967296;
}

// The scorer interface: one importance score per token of a segment (higher = keep). Scorers are
// pure; whatever model output they need (requirements) is computed by the prefill and passed in.
import type {ScorerName} from "../engineApi";

export type TokenScorerRequirements = {
    /** log p(token | everything before it), computed during the prefill (costs an output row per token). */
    logProbabilities: boolean;
    /** The scoring adapter's per-token scores (patched build, adapter attached before the prefill). */
    adapterScores: boolean;
};

export type SegmentScoringInput = {
    /** The segment's token ids. */
    tokens: readonly number[];
    /** Index of the segment's first token in the cached prefix. */
    firstTokenIndex: number;
    /** Tokens in the whole cached prefix. */
    totalTokens: number;
    /** Per segment token, when requirements.logProbabilities; NaN where there is no prediction (token 0). */
    logProbabilities?: Float64Array;
    /** Per segment token, when requirements.adapterScores: the adapter's score (higher = keep). */
    adapterScores?: Float64Array;
};

export interface TokenScorer {
    readonly name: ScorerName;
    readonly requirements: TokenScorerRequirements;
    scoreSegment(input: SegmentScoringInput): Float64Array;
}

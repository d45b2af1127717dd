// Which tokens of the cached prefix are kept whatever their score: the chat template's opening and
// the first tokens (attention sinks), every file header (so the model still knows which file a kept
// token came from), and the prompt's tail (the end of the prefix, right before the question).
import type {PromptLayout} from "../prompt/buildPromptLayout";

export type AlwaysKeepRules = {
    /** The first tokens of the prefix, counting the template opening. At least 1: token 0 is never evicted. */
    sinkTokens: number;
    /** The last tokens of the prefix, in addition to the indexer's tail section. */
    tailTokens: number;
};

export const defaultAlwaysKeepRules: AlwaysKeepRules = {sinkTokens: 4, tailTokens: 16};

/** 1 for an always-kept token, 0 otherwise, one entry per token of the prefix. */
export function buildAlwaysKeepMask(layout: PromptLayout, rules: AlwaysKeepRules): Uint8Array {
    const total = layout.tokens.length;
    const mask = new Uint8Array(total);
    const markRange = (start: number, end: number): void => {
        mask.fill(1, Math.max(0, Math.min(start, total)), Math.max(0, Math.min(end, total)));
    };
    markRange(0, Math.max(1, rules.sinkTokens, layout.openingTokenCount));
    for (const piece of layout.pieces)
        if (piece.kind === "header")
            markRange(piece.tokenStart, piece.tokenEnd);
    markRange(layout.tailTokenStart, total);
    markRange(total - Math.max(0, rules.tailTokens), total);
    return mask;
}

// Which tokens of the cached prefix are kept whatever their score: the chat template's opening and
// the first tokens (attention sinks), every file header (so the model still knows which file a kept
// token came from), the file list at the end of the prompt's tail, and the last tokens (the end of
// the prefix, right before the question). The workspace outline in the tail, about a fifth of a
// workspace's tokens, is scored like file content: keeping it whole would overrun the keep ratio.
import type {PromptLayout} from "../prompt/buildPromptLayout";

export type AlwaysKeepRules = {
    /** The first tokens of the prefix, counting the template opening. At least 1: token 0 is never evicted. */
    sinkTokens: number;
    /** The last tokens of the prefix, in addition to the file list. */
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
    markRange(layout.fileListTokenStart, total);
    markRange(total - Math.max(0, rules.tailTokens), total);
    return mask;
}

// How many tokens each segment keeps. The keep ratio is a budget for ALL kept tokens, always-kept
// ones included: after segment k, round(keepRatio * tokens so far) tokens are kept in total. When a
// segment's always-kept tokens exceed its share, they are all kept and the excess is taken from the
// following segments' shares; only an excess in the last segment (usually the file list at the
// prompt's end) is not given back, and the effective ratio is then a little higher. Each segment's
// count depends only on the segments up to it, so an edit never changes the plan of the segments
// before it (that is what lets a saved cache be refreshed from the first changed segment). The
// schedule is known before any prefill, which sizes the context exactly.

export type SegmentKeepPlan = {
    segmentTokens: number;
    alwaysKeptTokens: number;
    /** Tokens this segment keeps (always-kept ones included). */
    keptTokens: number;
    /** Tokens kept by this segment and all before it. */
    keptThrough: number;
};

export function planKeepSchedule(
    segments: ReadonlyArray<{tokenStart: number; tokenEnd: number}>,
    alwaysKeepMask: Uint8Array,
    keepRatio: number
): SegmentKeepPlan[] {
    if (!(keepRatio > 0 && keepRatio <= 1))
        throw new RangeError(`keep ratio must be in (0, 1], got ${keepRatio}`);
    const plans: SegmentKeepPlan[] = [];
    let tokensThrough = 0;
    let keptThrough = 0;
    for (const segment of segments) {
        const segmentTokens = segment.tokenEnd - segment.tokenStart;
        let alwaysKeptTokens = 0;
        for (let index = segment.tokenStart; index < segment.tokenEnd; index++)
            alwaysKeptTokens += alwaysKeepMask[index]!;
        tokensThrough += segmentTokens;
        const share = Math.max(0, Math.round(keepRatio * tokensThrough) - keptThrough);
        const keptTokens = Math.min(segmentTokens, Math.max(share, alwaysKeptTokens));
        keptThrough += keptTokens;
        plans.push({segmentTokens, alwaysKeptTokens, keptTokens, keptThrough});
    }
    return plans;
}

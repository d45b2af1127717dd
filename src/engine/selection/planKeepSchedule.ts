// How many tokens each segment keeps. The keep ratio is a budget for ALL kept tokens, always-kept
// ones included: in the end round(keepRatio * total) tokens are kept, or all always-kept tokens
// when they alone exceed that (the effective ratio is then higher). Along the way, the kept count
// after segment k follows round(keepRatio * tokens so far), but leaves room for the always-kept
// tokens of the segments still to come (the tail, later headers), so the total lands on target.
// The schedule is known before any prefill, which sizes the context exactly.

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
    const alwaysKept = segments.map((segment) => {
        let count = 0;
        for (let index = segment.tokenStart; index < segment.tokenEnd; index++)
            count += alwaysKeepMask[index]!;
        return count;
    });
    const totalTokens = segments.reduce((sum, segment) => sum + segment.tokenEnd - segment.tokenStart, 0);
    let alwaysKeptAfter = alwaysKept.reduce((sum, count) => sum + count, 0);
    const target = Math.max(Math.round(keepRatio * totalTokens), alwaysKeptAfter);
    const plans: SegmentKeepPlan[] = [];
    let tokensThrough = 0;
    let keptThrough = 0;
    segments.forEach((segment, index) => {
        const segmentTokens = segment.tokenEnd - segment.tokenStart;
        tokensThrough += segmentTokens;
        alwaysKeptAfter -= alwaysKept[index]!;
        const wanted = Math.min(Math.round(keepRatio * tokensThrough), target - alwaysKeptAfter);
        const nextKeptThrough = Math.min(keptThrough + segmentTokens, Math.max(keptThrough + alwaysKept[index]!, wanted));
        plans.push({segmentTokens, alwaysKeptTokens: alwaysKept[index]!, keptTokens: nextKeptThrough - keptThrough, keptThrough: nextKeptThrough});
        keptThrough = nextKeptThrough;
    });
    return plans;
}

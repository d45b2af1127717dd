// Top-k selection of one segment's tokens: every always-kept token, then the highest-scoring others
// until the segment's budget is used. Ties go to the earlier token, so the result is deterministic.

export type KeptTokenSelection = {
    /** Indexes into the segment, ascending. */
    keptIndexes: Int32Array;
    alwaysKeptTokens: number;
};

export function selectKeptTokens(scores: Float64Array, alwaysKeep: Uint8Array, keptTokens: number): KeptTokenSelection {
    if (scores.length !== alwaysKeep.length)
        throw new RangeError(`${scores.length} scores for ${alwaysKeep.length} tokens`);
    const count = scores.length;
    const keep = new Uint8Array(count);
    let alwaysKeptTokens = 0;
    const candidates: number[] = [];
    for (let index = 0; index < count; index++) {
        if (alwaysKeep[index] === 1) {
            keep[index] = 1;
            alwaysKeptTokens++;
        } else
            candidates.push(index);
    }
    const freeSlots = Math.max(0, Math.min(count, keptTokens) - alwaysKeptTokens);
    if (freeSlots > 0) {
        // NaN scores rank last.
        const scoreOf = (index: number): number => {
            const score = scores[index]!;
            return Number.isNaN(score) ? -Infinity : score;
        };
        candidates.sort((left, right) => scoreOf(right) - scoreOf(left) || left - right);
        for (let rank = 0; rank < freeSlots && rank < candidates.length; rank++)
            keep[candidates[rank]!] = 1;
    }
    let keptCount = 0;
    for (let index = 0; index < count; index++)
        keptCount += keep[index]!;
    const keptIndexes = new Int32Array(keptCount);
    let cursor = 0;
    for (let index = 0; index < count; index++)
        if (keep[index] === 1)
            keptIndexes[cursor++] = index;
    return {keptIndexes, alwaysKeptTokens};
}

/** The complement of a sorted kept set as [start, end) ranges of segment indexes, for erasing. */
export function evictedRanges(keptIndexes: Int32Array, count: number): Array<{start: number; end: number}> {
    const ranges: Array<{start: number; end: number}> = [];
    let cursor = 0;
    for (const kept of keptIndexes) {
        if (kept > cursor)
            ranges.push({start: cursor, end: kept});
        cursor = kept + 1;
    }
    if (cursor < count)
        ranges.push({start: cursor, end: count});
    return ranges;
}

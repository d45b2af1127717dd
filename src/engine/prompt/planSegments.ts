// Splits the cached prefix into prefill segments of at most `segmentTokens`. A segment ends at a
// piece boundary, preferably where a file starts, so that an edit invalidates as few segments as
// possible; a piece is cut at a token boundary only to fill a segment that would otherwise stay
// less than half full (or when the piece alone is longer than a segment).
import type {PromptLayout} from "./buildPromptLayout";

export type SegmentPlan = {
    index: number;
    /** Token span in the cached prefix. */
    tokenStart: number;
    tokenEnd: number;
    /**
     * Character span in the workspace prompt covered by this segment's pieces. A piece cut across two
     * segments counts in both, so an edit anywhere in it invalidates both (conservative).
     */
    charStart: number;
    charEnd: number;
};

/**
 * @param segmentTokens the target segment size; 0 (or a size of at least the whole prefix) gives
 * one segment holding everything.
 */
export function planSegments(layout: PromptLayout, segmentTokens: number): SegmentPlan[] {
    const totalTokens = layout.tokens.length;
    if (segmentTokens <= 0 || segmentTokens >= totalTokens)
        return [{index: 0, tokenStart: 0, tokenEnd: totalTokens, charStart: 0, charEnd: layout.promptChars}];

    type Range = {tokenStart: number; tokenEnd: number; charStart: number; charEnd: number; startsSection: boolean};
    const segments: Range[] = [];
    let current: Range[] = [];
    const currentTokens = (): number => current.reduce((sum, range) => sum + range.tokenEnd - range.tokenStart, 0);
    const emit = (ranges: Range[]): void => {
        if (ranges.length === 0)
            return;
        segments.push({
            tokenStart: ranges[0]!.tokenStart,
            tokenEnd: ranges[ranges.length - 1]!.tokenEnd,
            charStart: ranges[0]!.charStart,
            charEnd: ranges[ranges.length - 1]!.charEnd,
            startsSection: ranges[0]!.startsSection
        });
    };

    for (const piece of layout.pieces) {
        if (piece.tokenEnd === piece.tokenStart && piece.kind !== "opening")
            continue;
        let remaining: Range = {...piece};
        for (;;) {
            const remainingTokens = remaining.tokenEnd - remaining.tokenStart;
            const room = segmentTokens - currentTokens();
            if (remainingTokens <= room) {
                current.push(remaining);
                break;
            }
            // Prefer ending at the last file start inside the current segment, if that leaves it at
            // least half full; else end here if it is half full; else fill it with part of the piece.
            let cutAt = -1;
            for (let index = current.length - 1; index > 0; index--) {
                if (current[index]!.startsSection) {
                    const before = current.slice(0, index).reduce((sum, item) => sum + item.tokenEnd - item.tokenStart, 0);
                    if (before >= segmentTokens / 2)
                        cutAt = index;
                    break;
                }
            }
            if (cutAt > 0) {
                emit(current.slice(0, cutAt));
                current = current.slice(cutAt);
            } else if (currentTokens() >= segmentTokens / 2) {
                emit(current);
                current = [];
            } else {
                // The piece's characters are claimed by both segments (a conservative span).
                current.push({...remaining, tokenEnd: remaining.tokenStart + room});
                emit(current);
                current = [];
                remaining = {...remaining, tokenStart: remaining.tokenStart + room, startsSection: false};
            }
        }
    }
    emit(current);
    return segments.map((segment, index) => ({
        index,
        tokenStart: segment.tokenStart,
        tokenEnd: segment.tokenEnd,
        charStart: segment.charStart,
        charEnd: segment.charEnd
    }));
}

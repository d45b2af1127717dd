// Splits the cached prefix into prefill segments. A segment ends at a piece boundary, preferably
// where a file starts, so that an edit invalidates as few segments as possible; a piece longer than
// a whole segment is cut at token boundaries.
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
        const pieceTokens = piece.tokenEnd - piece.tokenStart;
        if (pieceTokens === 0 && piece.kind !== "opening")
            continue;
        const range: Range = {...piece};
        if (currentTokens() + pieceTokens > segmentTokens && current.length > 0) {
            // Prefer ending at the last file start inside the current segment, unless that leaves it
            // less than half full.
            let cutAt = current.length;
            for (let index = current.length - 1; index > 0; index--) {
                if (current[index]!.startsSection) {
                    const before = current.slice(0, index).reduce((sum, item) => sum + item.tokenEnd - item.tokenStart, 0);
                    if (before >= segmentTokens / 2)
                        cutAt = index;
                    break;
                }
            }
            emit(current.slice(0, cutAt));
            current = current.slice(cutAt);
            if (currentTokens() + pieceTokens > segmentTokens) {
                emit(current);
                current = [];
            }
        }
        if (pieceTokens > segmentTokens) {
            // Cut an oversized piece into whole segments; its last part starts the next segment.
            let tokenStart = piece.tokenStart;
            while (piece.tokenEnd - tokenStart > segmentTokens) {
                emit([{...range, tokenStart, tokenEnd: tokenStart + segmentTokens}]);
                tokenStart += segmentTokens;
            }
            current.push({...range, tokenStart, startsSection: false});
            continue;
        }
        current.push(range);
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

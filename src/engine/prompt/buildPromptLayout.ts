// Turns the indexer's prompt into the token layout of the cached prefix: the chat template's
// opening, then the workspace prompt tokenized piece by piece. Pieces end at every file, header,
// outline and file-list boundary (and at line breaks inside long files), so that each file's and
// header's token span is exact and an edit never changes the tokens of the pieces before it.
import type {IndexManifest} from "../../indexer/indexTypes";

/**
 * What a piece holds. The prompt's tail is split in two: the workspace outline ("outline"), which
 * selection scores and may drop like file content, and the file list after it ("fileList"), which
 * is always kept.
 */
export type PromptPieceKind = "opening" | "header" | "content" | "between" | "outline" | "fileList";

export type PromptPiece = {
    kind: PromptPieceKind;
    /** Index into manifest.files, or -1. */
    fileIndex: number;
    /** Character span in the workspace prompt (the opening has an empty span at 0). */
    charStart: number;
    charEnd: number;
    /** Token span in the cached prefix. */
    tokenStart: number;
    tokenEnd: number;
    /** True when a file (or the tail, outline or file list, whichever comes first) starts with this piece: a preferred segment boundary. */
    startsSection: boolean;
};

export type FileTokenSpan = {tokenStart: number; headerTokenEnd: number; tokenEnd: number};

export type PromptLayout = {
    /** Every token of the cached prefix, opening first. */
    tokens: number[];
    openingTokenCount: number;
    pieces: PromptPiece[];
    /** Token spans per manifest file, same order as manifest.files. */
    files: FileTokenSpan[];
    /** First token of the prompt's tail, outline and file list (equals tokens.length when there is none). */
    tailTokenStart: number;
    /** First token of the file list, the tail after the outline (equals tokens.length when there is none). */
    fileListTokenStart: number;
    promptChars: number;
};

export type PromptLayoutInput = {
    prompt: string;
    manifest: IndexManifest;
    /** Tokens of the chat template's opening (BOS, system turn start, preamble). */
    openingTokens: readonly number[];
    /** Tokenizes plain text (never parsing special tokens: workspace text is data). */
    tokenizeText(text: string): number[];
    /** Longest content piece in characters; content is cut at the last line break before it. */
    maxPieceChars?: number;
};

export const defaultMaxPieceChars = 1024;

export function buildPromptLayout(input: PromptLayoutInput): PromptLayout {
    const {prompt, manifest} = input;
    const maxPieceChars = Math.max(16, input.maxPieceChars ?? defaultMaxPieceChars);
    if (prompt.length !== manifest.promptChars)
        throw new RangeError(`the prompt has ${prompt.length} characters but its manifest says ${manifest.promptChars}`);

    type Region = {kind: PromptPieceKind; fileIndex: number; charStart: number; charEnd: number};
    const regions: Region[] = [];
    let cursor = 0;
    const pushRegion = (kind: PromptPieceKind, fileIndex: number, charStart: number, charEnd: number): void => {
        if (charEnd > charStart)
            regions.push({kind, fileIndex, charStart, charEnd});
    };
    const tailStart = Math.min(manifest.tailStart, manifest.promptChars);
    // A manifest that does not record the outline's length has none (from before the outline: its tail is the file list).
    const outlineChars = manifest.tail?.outlineChars ?? 0;
    if (!(Number.isInteger(outlineChars) && outlineChars >= 0 && tailStart + outlineChars <= manifest.promptChars))
        throw new RangeError(`the outline's ${outlineChars} characters do not fit the tail [${tailStart}, ${manifest.promptChars})`);
    const fileListStart = tailStart + outlineChars;
    manifest.files.forEach((file, fileIndex) => {
        if (file.charStart < cursor || file.headerEnd < file.charStart || file.charEnd < file.headerEnd || file.charEnd > tailStart)
            throw new RangeError(`file span of ${file.displayPath} [${file.charStart}, ${file.headerEnd}, ${file.charEnd}) is out of order`);
        pushRegion("between", -1, cursor, file.charStart);
        pushRegion("header", fileIndex, file.charStart, file.headerEnd);
        pushRegion("content", fileIndex, file.headerEnd, file.charEnd);
        cursor = file.charEnd;
    });
    pushRegion("between", -1, cursor, tailStart);
    pushRegion("outline", -1, tailStart, fileListStart);
    pushRegion("fileList", -1, fileListStart, manifest.promptChars);

    const tokens: number[] = [...input.openingTokens];
    const pieces: PromptPiece[] = [{
        kind: "opening", fileIndex: -1, charStart: 0, charEnd: 0, tokenStart: 0, tokenEnd: tokens.length, startsSection: true
    }];
    const files: FileTokenSpan[] = manifest.files.map(() => ({tokenStart: 0, headerTokenEnd: 0, tokenEnd: 0}));
    for (const region of regions) {
        const cuts = region.kind === "header" ? [region.charEnd] : cutAtLineBreaks(prompt, region.charStart, region.charEnd, maxPieceChars);
        let pieceStart = region.charStart;
        for (const pieceEnd of cuts) {
            const pieceTokens = input.tokenizeText(prompt.slice(pieceStart, pieceEnd));
            const tokenStart = tokens.length;
            for (const token of pieceTokens)
                tokens.push(token);
            pieces.push({
                kind: region.kind,
                fileIndex: region.fileIndex,
                charStart: pieceStart,
                charEnd: pieceEnd,
                tokenStart,
                tokenEnd: tokens.length,
                // The tail starts one section, where it starts: any file's change invalidates all of it.
                startsSection: pieceStart === region.charStart && (region.kind === "header" || (region.charStart === tailStart && isTailKind(region.kind)))
            });
            pieceStart = pieceEnd;
        }
    }
    const seenFiles = new Set<number>();
    for (const piece of pieces) {
        if (piece.fileIndex < 0)
            continue;
        const span = files[piece.fileIndex]!;
        if (!seenFiles.has(piece.fileIndex)) {
            seenFiles.add(piece.fileIndex);
            span.tokenStart = piece.tokenStart;
            span.headerTokenEnd = piece.tokenStart;
        }
        if (piece.kind === "header")
            span.headerTokenEnd = piece.tokenEnd;
        span.tokenEnd = piece.tokenEnd;
    }
    // A file with no characters at all (impossible from the indexer, but harmless) gets an empty span.
    manifest.files.forEach((_file, fileIndex) => {
        if (!seenFiles.has(fileIndex)) {
            const next = pieces.find((piece) => piece.fileIndex > fileIndex || isTailKind(piece.kind));
            const at = next?.tokenStart ?? tokens.length;
            files[fileIndex] = {tokenStart: at, headerTokenEnd: at, tokenEnd: at};
        }
    });
    return {
        tokens,
        openingTokenCount: input.openingTokens.length,
        pieces,
        files,
        tailTokenStart: pieces.find((piece) => isTailKind(piece.kind))?.tokenStart ?? tokens.length,
        fileListTokenStart: pieces.find((piece) => piece.kind === "fileList")?.tokenStart ?? tokens.length,
        promptChars: manifest.promptChars
    };
}

function isTailKind(kind: PromptPieceKind): boolean {
    return kind === "outline" || kind === "fileList";
}

/** Cut points (exclusive ends) splitting [start, end) into pieces of at most maxChars, preferring line breaks. */
function cutAtLineBreaks(text: string, start: number, end: number, maxChars: number): number[] {
    const cuts: number[] = [];
    let pieceStart = start;
    while (end - pieceStart > maxChars) {
        const limit = pieceStart + maxChars;
        const lineBreak = text.lastIndexOf("\n", limit - 1);
        let cut = lineBreak >= pieceStart + maxChars / 4 ? lineBreak + 1 : limit;
        // Never cut between the two halves of a surrogate pair.
        if (isLowSurrogate(text.charCodeAt(cut)))
            cut--;
        cuts.push(cut);
        pieceStart = cut;
    }
    cuts.push(end);
    return cuts;
}

function isLowSurrogate(code: number): boolean {
    return code >= 0xdc00 && code <= 0xdfff;
}

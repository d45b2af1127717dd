import assert from "node:assert/strict";
import {describe, test} from "node:test";
import type {IndexedFile, IndexManifest} from "../../src/indexer/indexTypes";
import {buildPromptLayout} from "../../src/engine/prompt/buildPromptLayout";
import type {PromptLayout} from "../../src/engine/prompt/buildPromptLayout";
import {planSegments} from "../../src/engine/prompt/planSegments";
import {buildAlwaysKeepMask, defaultAlwaysKeepRules} from "../../src/engine/selection/buildAlwaysKeepMask";
import {planKeepSchedule} from "../../src/engine/selection/planKeepSchedule";
import {renderFileListTail} from "../../src/indexer/renderPromptTail";
import {renderWorkspaceOutline} from "../../src/indexer/workspaceOutline";

// One token per UTF-16 code unit: token spans then mirror character spans exactly.
const tokenizeByCharacter = (text: string): number[] => Array.from(text, (character) => character.charCodeAt(0));

/** `outline`: put this outline in front of the tail and record its length, as the indexer does. */
function makePrompt(contents: string[], tail = "=== tail ===\n", outline?: string): {prompt: string; manifest: IndexManifest} {
    let prompt = "";
    const files: IndexedFile[] = contents.map((content, index) => {
        const charStart = prompt.length;
        prompt += `=== file${index}.ts ===\n`;
        const headerEnd = prompt.length;
        prompt += content;
        return {
            folderName: "ws", absolutePath: `/ws/file${index}.ts`, relativePath: `file${index}.ts`, displayPath: `file${index}.ts`,
            language: "typescript", sizeBytes: content.length, contentHash: String(index), lastChangedMs: 0, uncommitted: false,
            charStart, charEnd: prompt.length, headerEnd
        };
    });
    const tailStart = prompt.length;
    prompt += (outline ?? "") + tail;
    const manifest: IndexManifest = {formatVersion: 1, files, skipped: [], rulesDigest: "", promptChars: prompt.length, tailStart};
    if (outline !== undefined)
        manifest.tail = {outline: true, fileList: true, outlineChars: outline.length, sha256: ""};
    return {prompt, manifest};
}

function layoutOf(contents: string[], maxPieceChars = 64, opening = [1, 2, 3]): {layout: PromptLayout; prompt: string; manifest: IndexManifest} {
    const {prompt, manifest} = makePrompt(contents);
    return {layout: buildPromptLayout({prompt, manifest, openingTokens: opening, tokenizeText: tokenizeByCharacter, maxPieceChars}), prompt, manifest};
}

describe("buildPromptLayout", () => {
    test("tokens are the opening followed by the whole prompt, and pieces tile both", () => {
        const {layout, prompt} = layoutOf(["alpha\nbeta\n", "gamma\n".repeat(30), ""]);
        assert.deepEqual(layout.tokens, [1, 2, 3, ...tokenizeByCharacter(prompt)]);
        assert.equal(layout.openingTokenCount, 3);
        let charCursor = 0;
        let tokenCursor = 0;
        for (const piece of layout.pieces) {
            assert.equal(piece.charStart, charCursor, "pieces are contiguous in characters");
            assert.equal(piece.tokenStart, tokenCursor, "pieces are contiguous in tokens");
            charCursor = piece.charEnd;
            tokenCursor = piece.tokenEnd;
        }
        assert.equal(charCursor, prompt.length);
        assert.equal(tokenCursor, layout.tokens.length);
    });

    test("file and header token spans match the manifest's character spans", () => {
        const {layout, manifest} = layoutOf(["x = 1\n", "y = 2\n".repeat(20)]);
        manifest.files.forEach((file, index) => {
            const span = layout.files[index]!;
            assert.equal(span.tokenStart, 3 + file.charStart);
            assert.equal(span.headerTokenEnd, 3 + file.headerEnd);
            assert.equal(span.tokenEnd, 3 + file.charEnd);
        });
        assert.equal(layout.tailTokenStart, 3 + manifest.tailStart);
    });

    test("long content is cut at line breaks, never longer than the limit", () => {
        const {layout, prompt} = layoutOf(["0123456789\n".repeat(40)], 64);
        const contentPieces = layout.pieces.filter((piece) => piece.kind === "content");
        assert.ok(contentPieces.length > 5);
        for (const piece of contentPieces) {
            assert.ok(piece.charEnd - piece.charStart <= 64);
            assert.ok(piece.charEnd === prompt.length - "=== tail ===\n".length || prompt[piece.charEnd - 1] === "\n", "cut after a line break");
        }
    });

    test("an edit in the last file leaves every earlier piece's tokens unchanged", () => {
        const before = layoutOf(["a\n".repeat(50), "b\n".repeat(50), "c\n".repeat(50)]).layout;
        const after = layoutOf(["a\n".repeat(50), "b\n".repeat(50), "c\n".repeat(49) + "changed\n"]).layout;
        const lastFileStart = before.files[2]!.tokenStart;
        assert.deepEqual(after.tokens.slice(0, lastFileStart), before.tokens.slice(0, lastFileStart));
        assert.notDeepEqual(after.tokens.slice(lastFileStart), before.tokens.slice(lastFileStart));
    });

    test("rejects a manifest whose spans do not fit the prompt", () => {
        const {prompt, manifest} = makePrompt(["a\n"]);
        assert.throws(() => buildPromptLayout({prompt: prompt + "x", manifest, openingTokens: [], tokenizeText: tokenizeByCharacter}), RangeError);
        const broken = {...manifest, files: [{...manifest.files[0]!, charStart: 5, headerEnd: 2}]};
        assert.throws(() => buildPromptLayout({prompt, manifest: broken, openingTokens: [], tokenizeText: tokenizeByCharacter}), RangeError);
    });
});

describe("planSegments", () => {
    const contents = Array.from({length: 8}, (_, index) => `line ${index}\n`.repeat(6 + index * 3));

    test("0 or a size beyond the prompt gives one segment with everything", () => {
        const {layout} = layoutOf(contents);
        for (const size of [0, layout.tokens.length, layout.tokens.length + 100]) {
            const segments = planSegments(layout, size);
            assert.equal(segments.length, 1);
            assert.deepEqual([segments[0]!.tokenStart, segments[0]!.tokenEnd], [0, layout.tokens.length]);
        }
    });

    test("segments tile the prefix, never exceed the size, and mostly end where a file starts", () => {
        const {layout} = layoutOf(contents);
        const size = 200;
        const segments = planSegments(layout, size);
        assert.ok(segments.length > 3);
        let cursor = 0;
        for (const segment of segments) {
            assert.equal(segment.tokenStart, cursor);
            assert.ok(segment.tokenEnd - segment.tokenStart <= size, `segment of ${segment.tokenEnd - segment.tokenStart} tokens`);
            assert.ok(segment.tokenEnd > segment.tokenStart);
            cursor = segment.tokenEnd;
        }
        assert.equal(cursor, layout.tokens.length);
        const fileStarts = new Set(layout.files.map((file) => file.tokenStart));
        const startsAtFile = segments.slice(1).filter((segment) => fileStarts.has(segment.tokenStart)).length;
        assert.ok(startsAtFile >= (segments.length - 1) / 2, `${startsAtFile} of ${segments.length - 1} segments start at a file`);
    });

    test("a piece longer than a segment is cut into whole segments", () => {
        const {layout} = layoutOf(["x".repeat(500) + "\n"], 1000);
        const segments = planSegments(layout, 100);
        for (const segment of segments)
            assert.ok(segment.tokenEnd - segment.tokenStart <= 100);
        assert.equal(segments[segments.length - 1]!.tokenEnd, layout.tokens.length);
        // The cut piece's characters are claimed by every segment holding part of it.
        const piece = layout.pieces.find((candidate) => candidate.kind === "content")!;
        const holders = segments.filter((segment) => segment.tokenStart < piece.tokenEnd && segment.tokenEnd > piece.tokenStart);
        for (const holder of holders)
            assert.ok(holder.charStart <= piece.charStart && holder.charEnd >= piece.charEnd);
    });

    test("segments before an edited file are identical", () => {
        const before = layoutOf(contents).layout;
        const edited = contents.slice();
        edited[7] = edited[7]!.replace("line 7", "LINE 7 edited");
        const after = layoutOf(edited).layout;
        const beforeSegments = planSegments(before, 150);
        const afterSegments = planSegments(after, 150);
        const editedFileStart = before.files[7]!.tokenStart;
        const unaffected = beforeSegments.filter((segment) => segment.tokenEnd <= editedFileStart);
        assert.ok(unaffected.length >= 2);
        assert.deepEqual(afterSegments.slice(0, unaffected.length), unaffected);
    });
});

describe("the workspace outline in the layout", () => {
    // Files with functions, so that the outline has entries: about as many tokens as the files.
    const contents = Array.from({length: 6}, (_, index) => Array.from({length: 8}, (_, line) => `export function handler${index}x${line}() { return ${line}; }\n`).join(""));
    const displayPaths = contents.map((_, index) => `file${index}.ts`);
    const outline = renderWorkspaceOutline(contents.map((content, index) => ({displayPath: displayPaths[index]!, content})), "names");
    const fileList = renderFileListTail(displayPaths);
    const layoutWithOutline = (): {layout: PromptLayout; prompt: string; manifest: IndexManifest} => {
        const {prompt, manifest} = makePrompt(contents, fileList, outline);
        return {layout: buildPromptLayout({prompt, manifest, openingTokens: [1, 2, 3], tokenizeText: tokenizeByCharacter, maxPieceChars: 64}), prompt, manifest};
    };

    test("the tail is split into outline pieces, cut at line breaks, and the file list after them", () => {
        const {layout, prompt, manifest} = layoutWithOutline();
        assert.ok(outline.includes("handler5x7: file5.ts"), outline);
        const outlinePieces = layout.pieces.filter((piece) => piece.kind === "outline");
        const fileListPieces = layout.pieces.filter((piece) => piece.kind === "fileList");
        assert.ok(outlinePieces.length > 3);
        assert.equal(outlinePieces[0]!.charStart, manifest.tailStart);
        assert.equal(fileListPieces[0]!.charStart, manifest.tailStart + outline.length);
        assert.equal(outlinePieces.map((piece) => prompt.slice(piece.charStart, piece.charEnd)).join(""), outline);
        assert.equal(fileListPieces.map((piece) => prompt.slice(piece.charStart, piece.charEnd)).join(""), fileList);
        for (const piece of outlinePieces)
            assert.ok(piece.charEnd - piece.charStart <= 64 && prompt[piece.charEnd - 1] === "\n", "cut after a line break");
        // One section boundary, where the tail starts.
        assert.deepEqual([...outlinePieces, ...fileListPieces].map((piece) => piece.startsSection), [true, ...new Array(outlinePieces.length + fileListPieces.length - 1).fill(false)]);
        assert.equal(layout.tailTokenStart, 3 + manifest.tailStart);
        assert.equal(layout.fileListTokenStart, 3 + manifest.tailStart + outline.length);
    });

    test("outline tokens are not always kept, the file list is", () => {
        const {layout} = layoutWithOutline();
        const mask = buildAlwaysKeepMask(layout, defaultAlwaysKeepRules);
        const outlineMask = mask.subarray(layout.tailTokenStart, layout.fileListTokenStart);
        assert.ok(outlineMask.length > 500);
        assert.equal(outlineMask.reduce((sum, bit) => sum + bit, 0), 0, "no outline token is always kept");
        assert.ok(mask.subarray(layout.fileListTokenStart).every((bit) => bit === 1), "every file-list token is always kept");
    });

    test("with the outline, the kept share stays within the keep ratio", () => {
        const {layout} = layoutWithOutline();
        const total = layout.tokens.length;
        assert.ok(layout.fileListTokenStart - layout.tailTokenStart > total * 0.3, "the outline is a large share of the prompt");
        const mask = buildAlwaysKeepMask(layout, defaultAlwaysKeepRules);
        for (const segmentTokens of [0, 256]) {
            const schedule = planKeepSchedule(planSegments(layout, segmentTokens), mask, 0.25);
            const kept = schedule[schedule.length - 1]!.keptThrough;
            // Only the always-kept file list and last tokens of the last segment may go over the budget.
            const allowedExcess = total - layout.fileListTokenStart + defaultAlwaysKeepRules.tailTokens;
            assert.ok(kept <= Math.round(0.25 * total) + allowedExcess, `segments of ${segmentTokens}: kept ${kept} of ${total}`);
            assert.ok(kept < layout.fileListTokenStart - layout.tailTokenStart, "less than the outline alone");
        }
    });

    test("a manifest that does not record the outline's length has no outline: its whole tail is the file list", () => {
        const {prompt, manifest} = makePrompt(contents, fileList, outline);
        const old: IndexManifest = {...manifest, tail: {outline: true, fileList: true, sha256: ""}};
        const layout = buildPromptLayout({prompt, manifest: old, openingTokens: [1, 2, 3], tokenizeText: tokenizeByCharacter, maxPieceChars: 64});
        assert.equal(layout.pieces.filter((piece) => piece.kind === "outline").length, 0);
        assert.equal(layout.fileListTokenStart, layout.tailTokenStart);
        const withoutRecord = buildPromptLayout({prompt, manifest: {...manifest, tail: undefined}, openingTokens: [], tokenizeText: tokenizeByCharacter});
        assert.equal(withoutRecord.fileListTokenStart, manifest.tailStart);
    });

    test("rejects an outline longer than the tail", () => {
        const {prompt, manifest} = makePrompt(contents, fileList, outline);
        const broken: IndexManifest = {...manifest, tail: {...manifest.tail!, outlineChars: outline.length + fileList.length + 1}};
        assert.throws(() => buildPromptLayout({prompt, manifest: broken, openingTokens: [], tokenizeText: tokenizeByCharacter}), RangeError);
    });
});

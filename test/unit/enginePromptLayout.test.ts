import assert from "node:assert/strict";
import {describe, test} from "node:test";
import type {IndexedFile, IndexManifest} from "../../src/indexer/indexTypes";
import {buildPromptLayout} from "../../src/engine/prompt/buildPromptLayout";
import type {PromptLayout} from "../../src/engine/prompt/buildPromptLayout";
import {planSegments} from "../../src/engine/prompt/planSegments";

// One token per UTF-16 code unit: token spans then mirror character spans exactly.
const tokenizeByCharacter = (text: string): number[] => Array.from(text, (character) => character.charCodeAt(0));

function makePrompt(contents: string[], tail = "=== tail ===\n"): {prompt: string; manifest: IndexManifest} {
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
    prompt += tail;
    return {prompt, manifest: {formatVersion: 1, files, skipped: [], rulesDigest: "", promptChars: prompt.length, tailStart}};
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

import {strict as assert} from "node:assert";
import {isAscii} from "node:buffer";
import {describe, it} from "node:test";
import {decodeBlockBytes, decodeFileText} from "../../../src/indexer/decodeFileText";
import {renderFileSection} from "../../../src/indexer/renderFileSection";
import {renderFileSectionFromBytes} from "../../../src/indexer/renderFileSectionFromBytes";
import {createSeededRandom} from "../../../src/common/seededRandom";

/** The project's seeded generator, so that every run checks the same byte sequences. */
const createRandom = (seed: number): (() => number) => createSeededRandom(seed).nextUniform;

const ascii = (length: number, fill = "a"): Buffer => Buffer.alloc(length, fill);

// Byte sequences that end a UTF-8 character, cut one, or are invalid in every way a decoder has to
// handle: lone and surplus continuation bytes, truncated 2-, 3- and 4-byte sequences, overlong
// forms, surrogates, code points above U+10FFFF, bytes that never occur in UTF-8.
const awkwardSequences: Buffer[] = [
    Buffer.from("é€😀", "utf8"),
    Buffer.from([0x80]), Buffer.alloc(9, 0x80), Buffer.from([0xc3]), Buffer.from([0xe2, 0x82]), Buffer.from([0xf0, 0x9f, 0x98]),
    Buffer.from([0xe2, 0x82, 0xac, 0x80, 0x80]), Buffer.from([0xc0, 0xaf]), Buffer.from([0xe0, 0x80, 0x80]), Buffer.from([0xed, 0xa0, 0x80]),
    Buffer.from([0xf4, 0x90, 0x80, 0x80]), Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80]), Buffer.from([0xff, 0xfe]), Buffer.from([0xc3, 0x41])
];

/** Files whose every variant the bytes path must render as the string path does. */
function sampleFiles(): Buffer[] {
    const random = createRandom(20261130);
    const samples: Buffer[] = [
        Buffer.alloc(0), Buffer.from("\n"), Buffer.from("\r"), Buffer.from("\r\n"), Buffer.from("no final newline"),
        Buffer.from("a\r\nb\r\n"), Buffer.from("a\r\nb"), Buffer.from("lone\rcarriage\rreturns"), Buffer.from("mixed\r\nends\rand\n\r"),
        Buffer.from("\ufeffbom\n"), Buffer.from("\ufeff"), Buffer.from("\ufeff\ufeffdouble bom"), Buffer.from("\ufeffbom\r\ncrlf"),
        Buffer.from("x\ufeff bom in the middle\n"), Buffer.from("héllo wörld € 😀 日本\n"), Buffer.from("multi\r\nbyte é\r\n"),
        Buffer.from([0x61, 0xff, 0xfe, 0x62, 0x0a]), Buffer.from([0xef, 0xbb]), Buffer.from([0xef, 0xbb, 0xbf, 0xff, 0x0a])
    ];
    // Large files, decoded in blocks: an awkward sequence at every offset around block boundaries.
    for (const sequence of awkwardSequences)
        for (const boundary of [decodeBlockBytes, 2 * decodeBlockBytes])
            for (let offset = -5; offset <= 4; offset++)
                samples.push(Buffer.concat([ascii(boundary + offset), sequence, ascii(decodeBlockBytes + 100, "b"), Buffer.from("\n")]));
    // Mostly ASCII with a few non-ASCII characters, a byte-order mark first, CRLF, random bytes.
    const sparse = ascii(5 * decodeBlockBytes + 123, "c");
    for (const position of [0, 17, decodeBlockBytes - 1, 3 * decodeBlockBytes + 2, sparse.length - 2])
        Buffer.from("é", "utf8").copy(sparse, position);
    samples.push(sparse, Buffer.concat([Buffer.from("\ufeff"), sparse]), Buffer.concat([sparse, Buffer.from("\r\n")]));
    for (let index = 0; index < 6; index++) {
        const noise = Buffer.from(Array.from({length: 3 * decodeBlockBytes + index * 997}, () => Math.floor(random() * 256)));
        samples.push(noise, Buffer.from(noise.map((byte) => (byte === 0x0d ? 0x0a : byte))));
    }
    samples.push(Buffer.from("日本語のテキスト\n".repeat(4000), "utf8"), Buffer.from("😀".repeat(20_000), "utf8"));
    return samples;
}

describe("renderFileSectionFromBytes", () => {
    it("renders every file exactly as renderFileSection renders its UTF-8 decoding: CRLF, BOM, invalid UTF-8, multi-byte text, large files", () => {
        const samples = sampleFiles();
        for (const [index, bytes] of samples.entries()) {
            const expected = renderFileSection("dir/a \"b\".ts", "typescript", bytes.toString("utf8"));
            const actual = renderFileSectionFromBytes("dir/a \"b\".ts", "typescript", bytes, isAscii(bytes));
            assert.equal(actual.header, expected.header, `sample ${index}`);
            assert.equal(actual.body.length, expected.body.length, `sample ${index}: character count`);
            assert.equal(actual.body, expected.body, `sample ${index}`);
        }
        assert.ok(samples.length > 300);
    });

    it("drops a byte-order mark, turns CRLF into LF and closes the section after a final newline", () => {
        assert.equal(renderFileSectionFromBytes("a.txt", "plaintext", Buffer.from("\ufeffone\r\ntwo"), false).body, "one\ntwo\n</file>\n");
        assert.equal(renderFileSectionFromBytes("a.txt", "plaintext", Buffer.from("\ufeff"), false).body, "</file>\n");
        assert.equal(renderFileSectionFromBytes("a.txt", "plaintext", Buffer.from("one\n"), true).body, "one\n</file>\n");
        assert.equal(renderFileSectionFromBytes("a.txt", "plaintext", Buffer.alloc(0), true).body, "</file>\n");
    });
});

describe("decodeFileText in blocks", () => {
    it("gives the UTF-8 decoder's string for large files with non-ASCII bytes anywhere, invalid sequences at block ends included", () => {
        for (const [index, bytes] of sampleFiles().entries()) {
            const decoded = decodeFileText(bytes);
            assert.equal(decoded.length, bytes.toString("utf8").length, `sample ${index}: length`);
            assert.equal(decoded, bytes.toString("utf8"), `sample ${index}`);
            assert.equal(decodeFileText(bytes, isAscii(bytes)), decoded, `sample ${index}, with the reader's ASCII answer`);
        }
    });
});

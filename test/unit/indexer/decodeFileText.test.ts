import {strict as assert} from "node:assert";
import {describe, it} from "node:test";
import {decodeFileText} from "../../../src/indexer/decodeFileText";

describe("decodeFileText", () => {
    it("decodes ASCII, multi-byte UTF-8, a byte-order mark and empty files exactly as the UTF-8 decoder does", () => {
        const samples = [
            "",
            "plain ASCII\r\nwith CRLF and \u007f DEL\n",
            "\ufeffa byte-order mark first",
            "caf\u00e9 \u00a9 2026 \u2014 \u65e5\u672c\u8a9e \ud83d\ude80 rocket",
            "x".repeat(100_000) + "\u00e9" // a single non-ASCII byte at the very end of a long file
        ];
        for (const text of samples) {
            const bytes = Buffer.from(text, "utf8");
            assert.equal(decodeFileText(bytes), text);
            assert.equal(decodeFileText(bytes), bytes.toString("utf8"));
        }
    });

    it("never reads Latin-1 into a file with bytes above 0x7f", () => {
        // 0xc3 0xa9 is "é" in UTF-8 but "Ã©" in Latin-1.
        assert.equal(decodeFileText(Buffer.from([0x61, 0xc3, 0xa9, 0x62])), "a\u00e9b");
        // Every byte sequence decodes as the UTF-8 decoder decodes it, invalid ones included.
        for (let seed = 1; seed <= 200; seed++) {
            const bytes = Buffer.from(Array.from({length: seed % 40}, (_, index) => (seed * 37 + index * 101) % 256));
            assert.equal(decodeFileText(bytes), bytes.toString("utf8"));
        }
    });
});

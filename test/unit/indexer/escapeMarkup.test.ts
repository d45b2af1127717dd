import {strict as assert} from "node:assert";
import {describe, it} from "node:test";
import {anyNeedsMarkupEscaping, escapeMarkup, renderFileHeader} from "../../../src/indexer/renderFileSection";
import {renderFileListTail} from "../../../src/indexer/renderPromptTail";

describe("escapeMarkup", () => {
    it("escapes exactly & \" < > CR LF, wherever they are, and returns any other text unchanged", () => {
        const reference = (text: string): string => text.replace(/[&"<>\r\n]/g, (char) => `&#${char.charCodeAt(0)};`);
        for (let code = 0; code < 0x300; code++) {
            const char = String.fromCharCode(code);
            for (const text of [char, `a${char}`, `${char}b`, `src/${char}/x.ts`, `${char}${char}`])
                assert.equal(escapeMarkup(text), reference(text), `code ${code} in ${JSON.stringify(text)}`);
        }
        assert.equal(escapeMarkup("a\"b<c>d&e\r\nf"), "a&#34;b&#60;c&#62;d&#38;e&#13;&#10;f");
        assert.equal(escapeMarkup(""), "");
        assert.equal(escapeMarkup("\u{1f600}/\uffff.ts"), "\u{1f600}/\uffff.ts");
        const plain = "node_modules/some-package/dist/index.js";
        assert.equal(escapeMarkup(plain), plain);
    });

    it("one scan over many paths tells whether any needs escaping; plain paths render the same header and tail either way", () => {
        const plain = ["src/a.ts", "b c/ü.md", "\u{1f600}.txt", "x'y.ts", ""];
        assert.equal(anyNeedsMarkupEscaping(plain), false);
        assert.equal(anyNeedsMarkupEscaping([]), false);
        for (const odd of ["a&b", "q\"", "<x>", "line\nbreak", "cr\r"])
            assert.equal(anyNeedsMarkupEscaping([...plain, odd]), true, JSON.stringify(odd));
        for (const displayPath of plain)
            assert.equal(renderFileHeader(displayPath, "typescript", true), renderFileHeader(displayPath, "typescript"));
        const reference = (paths: string[]): string => `<workspace-files count="${paths.length}">\n${[...paths].sort().map((p) => escapeMarkup(p) + "\n").join("")}</workspace-files>\n`;
        for (const paths of [plain, [...plain, "a&b", "line\nbreak"], [], ["only.ts"]])
            assert.equal(renderFileListTail(paths), reference(paths));
    });
});

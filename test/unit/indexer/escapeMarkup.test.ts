import {strict as assert} from "node:assert";
import {describe, it} from "node:test";
import {escapeMarkup} from "../../../src/indexer/renderFileSection";

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
});

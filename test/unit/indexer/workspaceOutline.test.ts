import {strict as assert} from "node:assert";
import {readFileSync} from "node:fs";
import * as path from "node:path";
import {describe, it} from "node:test";
import {fileOutline, maxMessageLength, maxMessagesPerFile, maxSymbolsPerFile, outlineLanguage, renderWorkspaceOutline} from "../../../src/indexer/workspaceOutline";
import {findRepositoryRoot} from "../../fixtures/repositoryPaths";

/** The cases shared with native/train/kvtrain/workspace_outline.py (its selftest reads the same file). */
type OutlineCases = {
    files: Array<{path: string; content: string; symbols: string[]; messages: Array<[string, string | null]>}>;
    outline: string;
};

const cases = JSON.parse(readFileSync(path.join(findRepositoryRoot(), "test", "fixtures", "workspace-outline", "cases.json"), "utf8")) as OutlineCases;

describe("workspace outline: the cases shared with the Python reference", () => {
    it("has cases to check", () => {
        assert.ok(cases.files.length >= 6);
        assert.ok(cases.files.some((file) => file.symbols.length > 0) && cases.files.some((file) => file.messages.length > 0));
    });

    for (const file of cases.files) {
        it(`reads the symbols and messages of ${file.path}`, () => {
            const outline = fileOutline(file.path, file.content);
            assert.deepEqual(outline.symbols, file.symbols);
            assert.deepEqual(outline.messages.map(({message, enclosing}) => [message, enclosing]), file.messages);
        });
    }

    it("renders the whole outline of all files, in their order, character for character", () => {
        const outline = renderWorkspaceOutline(cases.files.map((file) => ({displayPath: file.path, content: file.content})));
        assert.equal(outline, cases.outline);
        // The same from outlines taken beforehand (what the indexer keeps instead of contents).
        const taken = cases.files.map((file) => ({displayPath: file.path, ...fileOutline(file.path, file.content)}));
        assert.equal(renderWorkspaceOutline(taken), cases.outline);
    });
});

describe("workspace outline", () => {
    it("is empty without entries, and leaves out an empty section", () => {
        assert.equal(renderWorkspaceOutline([]), "");
        assert.equal(renderWorkspaceOutline([{displayPath: "notes.md", content: "def not_code():\n    raise X(\"not read here\")\n"}]), "");
        assert.equal(renderWorkspaceOutline([{displayPath: "a.py", content: "def only_symbol():\n    pass\n"}]),
            "<workspace-symbols>\n- only_symbol: a.py\n</workspace-symbols>\n");
        assert.equal(renderWorkspaceOutline([{displayPath: "a.py", content: "raise SystemExit(\"only a message\")\n"}]),
            "<workspace-messages>\n- \"only a message\": a.py\n</workspace-messages>\n");
    });

    it("chooses the language by the extension, lower-cased; a name that starts with its dot has none", () => {
        assert.equal(outlineLanguage("src/A.PY"), "python");
        assert.equal(outlineLanguage("web/x.d.TS"), "script");
        assert.equal(outlineLanguage("lib/io.Hpp"), "c");
        assert.equal(outlineLanguage("a.py/readme"), undefined);
        assert.equal(outlineLanguage("dir/.py"), undefined);
        assert.equal(outlineLanguage("Makefile"), undefined);
        assert.deepEqual(fileOutline("SRC/TOOL.PY", "def run():\n").symbols, ["run"]);
    });

    it("reads CRLF line ends as LF, and keeps a lone carriage return inside a line", () => {
        const lf = "class Store:\n    def put(self):\n        raise KeyError(\"no room left\")\n";
        assert.deepEqual(fileOutline("s.py", lf.replace(/\n/g, "\r\n")), fileOutline("s.py", lf));
        assert.deepEqual(fileOutline("s.py", lf).messages, [{message: "no room left", enclosing: "put"}]);
        // "\r" is not a line end by itself: the message is on the same line as the def, which wins.
        assert.deepEqual(fileOutline("s.py", "def put():\r    raise KeyError(\"no room left\")\n"), {symbols: ["put"], messages: []});
        assert.deepEqual(fileOutline("s.py", "raise KeyError(\"one\rtwo\")\n").messages, [{message: "one\rtwo", enclosing: null}]);
    });

    it("skips a message longer than 160 code points, or shorter than 4, or without a letter", () => {
        const longest = "m".repeat(maxMessageLength);
        assert.deepEqual(fileOutline("a.py", `raise X("${longest}")\n`).messages, [{message: longest, enclosing: null}]);
        assert.deepEqual(fileOutline("a.py", `raise X("${longest}m")\n`).messages, []);
        // Python counts code points: 159 emoji and a letter are 160, though 319 UTF-16 units.
        const emoji = "\u{1f600}".repeat(159) + "a";
        assert.deepEqual(fileOutline("a.py", `raise X("${emoji}")\n`).messages, [{message: emoji, enclosing: null}]);
        assert.deepEqual(fileOutline("a.py", "raise X(\"abc\")\nraise X(\"1234\")\nraise X(\"-- : --\")\n").messages, []);
        // Trailing \n \r \t escapes do not count and are dropped; other text is kept as written.
        assert.deepEqual(fileOutline("a.go", "\treturn fmt.Errorf(\"read failed: %v\\n\\n\", err)\n\tpanic(\"ok\\n\")\n").messages,
            [{message: "read failed: %v", enclosing: null}]);
    });

    it("caps the symbols and the messages of a file, each counted once", () => {
        const lines: string[] = [];
        for (let index = 0; index < maxSymbolsPerFile + 10; index++)
            lines.push(`def function_${index}():`, `    raise ValueError("failure number ${index}")`, `    raise ValueError("failure number ${index}")`);
        const outline = fileOutline("many.py", lines.join("\n"));
        assert.equal(outline.symbols.length, maxSymbolsPerFile);
        assert.equal(outline.symbols[maxSymbolsPerFile - 1], `function_${maxSymbolsPerFile - 1}`);
        assert.equal(outline.messages.length, maxMessagesPerFile);
        assert.deepEqual(outline.messages[maxMessagesPerFile - 1], {message: `failure number ${maxMessagesPerFile - 1}`, enclosing: `function_${maxMessagesPerFile - 1}`});
        // A name defined twice is listed once; a message's enclosing definition is the nearest less indented one.
        assert.deepEqual(fileOutline("twice.py", "def again():\n    pass\ndef again():\n    pass\n").symbols, ["again"]);
    });

    it("writes quotes inside a message as the source does, and takes only the first literal of a line", () => {
        assert.deepEqual(fileOutline("a.py", "raise ValueError(\"say \\\"hi\\\" first\", 'second')\n").messages, [{message: "say \\\"hi\\\" first", enclosing: null}]);
        assert.deepEqual(fileOutline("a.ts", "throw new Error('it\\'s \"quoted\" here');\n").messages, [{message: "it\\'s \"quoted\" here", enclosing: null}]);
        // Single quotes start a literal only in Python and scripts; in C a ' is just a character.
        assert.deepEqual(fileOutline("a.c", "    fprintf(stderr, \"can't open '%s'\", name);\n").messages, [{message: "can't open '%s'", enclosing: null}]);
        // The marker must be outside the literals.
        assert.deepEqual(fileOutline("a.py", "x = \"raise me not\"\nprint(\"throw it away\")\n").messages, []);
        assert.equal(renderWorkspaceOutline([{displayPath: "a.py", content: "def f():\n    raise E(\"say \\\"hi\\\" now\")\n"}]),
            "<workspace-symbols>\n- f: a.py\n</workspace-symbols>\n<workspace-messages>\n- \"say \\\"hi\\\" now\": f in a.py\n</workspace-messages>\n");
    });

    it("writes the path as given: the caller escapes it as the file list does", () => {
        const displayPath = "odd&dir/\"q\".py";
        assert.equal(renderWorkspaceOutline([{displayPath, content: "def odd():\n"}]), `<workspace-symbols>\n- odd: ${displayPath}\n</workspace-symbols>\n`);
    });

    it("knows word characters as Python does (Unicode letters and digits), not as JavaScript's \\b", () => {
        // Python's \b sees no word boundary between "f" and "é": no class, no marker.
        assert.deepEqual(fileOutline("a.py", "class Café:\n    pass\nclass Plain:\n"), {symbols: ["Plain"], messages: []});
        assert.deepEqual(fileOutline("a.go", "type Foo structé\n").symbols, []);
        assert.deepEqual(fileOutline("a.py", "x = éthrow(\"not an error here\")\n").messages, []);
        assert.deepEqual(fileOutline("a.py", "x = $throw(\"an error here\")\n").messages, [{message: "an error here", enclosing: null}]);
    });

    it("reads a 100 000-character line of any shape in linear time", () => {
        const length = 100_000;
        const lines: Array<[string, string]> = [
            ["a.ts", "function" + " ".repeat(length)],
            ["a.ts", "const x = (" + "a".repeat(length)],
            ["a.c", "a" + "*".repeat(length / 2) + "b(" + "x".repeat(length / 2) + ";"],
            ["a.c", "a ".repeat(length / 2)],
            ["a.py", "raise X(\"" + "\\\"".repeat(length / 2)],
            ["a.py", "raise X(" + "'\"' '\\\"' ".repeat(length / 10) + "\""],
            ["a.py", "raise X(\"" + "\\n".repeat(length / 2) + "x\")"],
            ["a.java", "  " + "public ".repeat(length / 7) + "x("],
            ["a.rs", "pub(" + "(".repeat(length)],
            ["a.go", "\t".repeat(length) + "return errors.New(\"" + "e".repeat(length) + "\")"]
        ];
        for (const [displayPath, line] of lines) {
            const startedAt = performance.now();
            fileOutline(displayPath, `${line}\n${line}\n`);
            const elapsedMs = performance.now() - startedAt;
            assert.ok(elapsedMs < 500, `${displayPath}: ${JSON.stringify(line.slice(0, 40))}... took ${elapsedMs.toFixed(0)} ms`);
        }
        // Binary-ish content does not throw.
        let noise = "";
        for (let index = 0; index < 200_000; index++)
            noise += String.fromCharCode((index * 7919) % 0x3000);
        for (const displayPath of ["x.py", "x.ts", "x.go", "x.rs", "x.c", "x.java"])
            assert.doesNotThrow(() => fileOutline(displayPath, noise));
    });
});

import {strict as assert} from "node:assert";
import {readFileSync} from "node:fs";
import * as path from "node:path";
import {describe, it} from "node:test";
import {
    configFileKind, fileOutline, maxMessageLength, maxMessagesPerFile, maxParameterListLength, maxSettingsPerFile, maxSymbolsPerFile, maxValueLength,
    outlineLanguage, renderWorkspaceOutline
} from "../../../src/indexer/workspaceOutline";
import {findRepositoryRoot} from "../../fixtures/repositoryPaths";

/** The cases shared with native/train/kvtrain/workspace_outline.py (its selftest reads the same file). */
type OutlineCases = {
    files: Array<{
        path: string;
        content: string;
        symbols: string[];
        messages: Array<[string, string | null]>;
        /** Detail "definitions": [name, detail] ("" for none). */
        definitions?: Array<[string, string]>;
        /** Detail "definitions": [key, value] of a config file. */
        settings?: Array<[string, string]>;
    }>;
    /** Detail "names". */
    outline: string;
    /** Detail "definitions", of the same files. */
    definitionsOutline?: string;
};

const cases = JSON.parse(readFileSync(path.join(findRepositoryRoot(), "test", "fixtures", "workspace-outline", "cases.json"), "utf8")) as OutlineCases;

describe("workspace outline: the cases shared with the Python reference", () => {
    it("has cases to check", () => {
        assert.ok(cases.files.length >= 6);
        assert.ok(cases.files.some((file) => file.symbols.length > 0) && cases.files.some((file) => file.messages.length > 0));
    });

    for (const file of cases.files) {
        it(`reads the symbols and messages of ${file.path}`, () => {
            const outline = fileOutline(file.path, file.content, "names");
            assert.deepEqual(outline.symbols, file.symbols);
            assert.deepEqual(outline.messages.map(({message, enclosing}) => [message, enclosing]), file.messages);
        });
        if (file.definitions !== undefined || file.settings !== undefined) {
            it(`reads the definitions and settings of ${file.path} (detail "definitions")`, () => {
                const outline = fileOutline(file.path, file.content, "definitions");
                if (file.definitions !== undefined)
                    assert.deepEqual(outline.definitions?.map(({name, detail}) => [name, detail]), file.definitions);
                if (file.settings !== undefined)
                    assert.deepEqual(outline.settings?.map(({key, value}) => [key, value]), file.settings);
            });
        }
    }

    it("renders the whole outline of all files, in their order, character for character", () => {
        const outline = renderWorkspaceOutline(cases.files.map((file) => ({displayPath: file.path, content: file.content})), "names");
        assert.equal(outline, cases.outline);
        // The same from outlines taken beforehand (what the indexer keeps instead of contents).
        const taken = cases.files.map((file) => ({displayPath: file.path, ...fileOutline(file.path, file.content, "names")}));
        assert.equal(renderWorkspaceOutline(taken, "names"), cases.outline);
    });

    if (cases.definitionsOutline !== undefined) {
        const definitionsOutline = cases.definitionsOutline;
        it("renders the whole detail-\"definitions\" outline of all files, character for character", () => {
            const outline = renderWorkspaceOutline(cases.files.map((file) => ({displayPath: file.path, content: file.content})), "definitions");
            assert.equal(outline, definitionsOutline);
            const taken = cases.files.map((file) => ({displayPath: file.path, ...fileOutline(file.path, file.content, "definitions")}));
            assert.equal(renderWorkspaceOutline(taken, "definitions"), definitionsOutline);
        });
    }
});

describe("workspace outline", () => {
    it("is empty without entries, and leaves out an empty section", () => {
        assert.equal(renderWorkspaceOutline([], "names"), "");
        assert.equal(renderWorkspaceOutline([{displayPath: "notes.md", content: "def not_code():\n    raise X(\"not read here\")\n"}], "names"), "");
        assert.equal(renderWorkspaceOutline([{displayPath: "a.py", content: "def only_symbol():\n    pass\n"}], "names"),
            "<workspace-symbols>\n- only_symbol: a.py\n</workspace-symbols>\n");
        assert.equal(renderWorkspaceOutline([{displayPath: "a.py", content: "raise SystemExit(\"only a message\")\n"}], "names"),
            "<workspace-messages>\n- \"only a message\": a.py\n</workspace-messages>\n");
    });

    it("chooses the language by the extension, lower-cased; a name that starts with its dot has none", () => {
        assert.equal(outlineLanguage("src/A.PY"), "python");
        assert.equal(outlineLanguage("web/x.d.TS"), "script");
        assert.equal(outlineLanguage("lib/io.Hpp"), "c");
        assert.equal(outlineLanguage("a.py/readme"), undefined);
        assert.equal(outlineLanguage("dir/.py"), undefined);
        assert.equal(outlineLanguage("Makefile"), undefined);
        assert.deepEqual(fileOutline("SRC/TOOL.PY", "def run():\n", "names").symbols, ["run"]);
    });

    it("reads CRLF line ends as LF, and keeps a lone carriage return inside a line", () => {
        const lf = "class Store:\n    def put(self):\n        raise KeyError(\"no room left\")\n";
        assert.deepEqual(fileOutline("s.py", lf.replace(/\n/g, "\r\n"), "names"), fileOutline("s.py", lf, "names"));
        assert.deepEqual(fileOutline("s.py", lf, "names").messages, [{message: "no room left", enclosing: "put"}]);
        // "\r" is not a line end by itself: the message is on the same line as the def, which wins.
        assert.deepEqual(fileOutline("s.py", "def put():\r    raise KeyError(\"no room left\")\n", "names"), {symbols: ["put"], messages: []});
        assert.deepEqual(fileOutline("s.py", "raise KeyError(\"one\rtwo\")\n", "names").messages, [{message: "one\rtwo", enclosing: null}]);
    });

    it("skips a message longer than 160 code points, or shorter than 4, or without a letter", () => {
        const longest = "m".repeat(maxMessageLength);
        assert.deepEqual(fileOutline("a.py", `raise X("${longest}")\n`, "names").messages, [{message: longest, enclosing: null}]);
        assert.deepEqual(fileOutline("a.py", `raise X("${longest}m")\n`, "names").messages, []);
        // Python counts code points: 159 emoji and a letter are 160, though 319 UTF-16 units.
        const emoji = "\u{1f600}".repeat(159) + "a";
        assert.deepEqual(fileOutline("a.py", `raise X("${emoji}")\n`, "names").messages, [{message: emoji, enclosing: null}]);
        assert.deepEqual(fileOutline("a.py", "raise X(\"abc\")\nraise X(\"1234\")\nraise X(\"-- : --\")\n", "names").messages, []);
        // Trailing \n \r \t escapes do not count and are dropped; other text is kept as written.
        assert.deepEqual(fileOutline("a.go", "\treturn fmt.Errorf(\"read failed: %v\\n\\n\", err)\n\tpanic(\"ok\\n\")\n", "names").messages,
            [{message: "read failed: %v", enclosing: null}]);
    });

    it("caps the symbols and the messages of a file, each counted once", () => {
        const lines: string[] = [];
        for (let index = 0; index < maxSymbolsPerFile + 10; index++)
            lines.push(`def function_${index}():`, `    raise ValueError("failure number ${index}")`, `    raise ValueError("failure number ${index}")`);
        const outline = fileOutline("many.py", lines.join("\n"), "names");
        assert.equal(outline.symbols.length, maxSymbolsPerFile);
        assert.equal(outline.symbols[maxSymbolsPerFile - 1], `function_${maxSymbolsPerFile - 1}`);
        assert.equal(outline.messages.length, maxMessagesPerFile);
        assert.deepEqual(outline.messages[maxMessagesPerFile - 1], {message: `failure number ${maxMessagesPerFile - 1}`, enclosing: `function_${maxMessagesPerFile - 1}`});
        // A name defined twice is listed once; a message's enclosing definition is the nearest less indented one.
        assert.deepEqual(fileOutline("twice.py", "def again():\n    pass\ndef again():\n    pass\n", "names").symbols, ["again"]);
    });

    it("writes quotes inside a message as the source does, and takes only the first literal of a line", () => {
        assert.deepEqual(fileOutline("a.py", "raise ValueError(\"say \\\"hi\\\" first\", 'second')\n", "names").messages, [{message: "say \\\"hi\\\" first", enclosing: null}]);
        assert.deepEqual(fileOutline("a.ts", "throw new Error('it\\'s \"quoted\" here');\n", "names").messages, [{message: "it\\'s \"quoted\" here", enclosing: null}]);
        // Single quotes start a literal only in Python and scripts; in C a ' is just a character.
        assert.deepEqual(fileOutline("a.c", "    fprintf(stderr, \"can't open '%s'\", name);\n", "names").messages, [{message: "can't open '%s'", enclosing: null}]);
        // The marker must be outside the literals.
        assert.deepEqual(fileOutline("a.py", "x = \"raise me not\"\nprint(\"throw it away\")\n", "names").messages, []);
        assert.equal(renderWorkspaceOutline([{displayPath: "a.py", content: "def f():\n    raise E(\"say \\\"hi\\\" now\")\n"}], "names"),
            "<workspace-symbols>\n- f: a.py\n</workspace-symbols>\n<workspace-messages>\n- \"say \\\"hi\\\" now\": f in a.py\n</workspace-messages>\n");
    });

    it("writes the path as given: the caller escapes it as the file list does", () => {
        const displayPath = "odd&dir/\"q\".py";
        assert.equal(renderWorkspaceOutline([{displayPath, content: "def odd():\n"}], "names"), `<workspace-symbols>\n- odd: ${displayPath}\n</workspace-symbols>\n`);
    });

    it("knows word characters as Python does (Unicode letters and digits), not as JavaScript's \\b", () => {
        // Python's \b sees no word boundary between "f" and "é": no class, no marker.
        assert.deepEqual(fileOutline("a.py", "class Café:\n    pass\nclass Plain:\n", "names"), {symbols: ["Plain"], messages: []});
        assert.deepEqual(fileOutline("a.go", "type Foo structé\n", "names").symbols, []);
        assert.deepEqual(fileOutline("a.py", "x = éthrow(\"not an error here\")\n", "names").messages, []);
        assert.deepEqual(fileOutline("a.py", "x = $throw(\"an error here\")\n", "names").messages, [{message: "an error here", enclosing: null}]);
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
            fileOutline(displayPath, `${line}\n${line}\n`, "names");
            const elapsedMs = performance.now() - startedAt;
            assert.ok(elapsedMs < 500, `${displayPath}: ${JSON.stringify(line.slice(0, 40))}... took ${elapsedMs.toFixed(0)} ms`);
        }
        // Binary-ish content does not throw.
        let noise = "";
        for (let index = 0; index < 200_000; index++)
            noise += String.fromCharCode((index * 7919) % 0x3000);
        for (const displayPath of ["x.py", "x.ts", "x.go", "x.rs", "x.c", "x.java"])
            assert.doesNotThrow(() => fileOutline(displayPath, noise, "names"));
    });
});

/** A file's detail-"definitions" symbols as [name, detail]. */
function definitionsOf(displayPath: string, content: string): Array<[string, string]> {
    return (fileOutline(displayPath, content, "definitions").definitions ?? []).map(({name, detail}) => [name, detail]);
}

/** A file's detail-"definitions" settings as [key, value]. */
function settingsOf(displayPath: string, content: string): Array<[string, string]> {
    return (fileOutline(displayPath, content, "definitions").settings ?? []).map(({key, value}) => [key, value]);
}

describe("workspace outline, detail \"definitions\"", () => {
    const exampleFiles = [
        {displayPath: "modules/curve/willow_export.py", content: "def record_velvet(lens: str):\n    pass\nTORCH_LEVEL = 55962\n"},
        {displayPath: "src/loader.py", content: "class Loader:\n    def load_island(self):\n        raise KeyError(\"Missing apple for island\")\n"},
        {displayPath: "config/city.yaml", content: "city:\n  frame_size: \"/var/lib/lilac/link\"\n"},
        {displayPath: ".env.feature", content: "DEAL_ENABLED=5.89\n"}
    ];

    it("renders the spec's example: symbols with details, messages, then settings", () => {
        assert.equal(renderWorkspaceOutline(exampleFiles, "definitions"),
            "<workspace-symbols>\n" +
            "- record_velvet(lens: str): modules/curve/willow_export.py\n" +
            "- TORCH_LEVEL = 55962: modules/curve/willow_export.py\n" +
            "- Loader: src/loader.py\n" +
            "- load_island(self): src/loader.py\n" +
            "</workspace-symbols>\n" +
            "<workspace-messages>\n" +
            "- \"Missing apple for island\": load_island in src/loader.py\n" +
            "</workspace-messages>\n" +
            "<workspace-settings>\n" +
            "- frame_size = \"/var/lib/lilac/link\": config/city.yaml\n" +
            "- DEAL_ENABLED = 5.89: .env.feature\n" +
            "</workspace-settings>\n");
    });

    it("leaves detail \"names\" as it was: no details, no constants, no settings", () => {
        const names = renderWorkspaceOutline(exampleFiles, "names");
        assert.equal(names,
            "<workspace-symbols>\n- record_velvet: modules/curve/willow_export.py\n- Loader: src/loader.py\n- load_island: src/loader.py\n</workspace-symbols>\n" +
            "<workspace-messages>\n- \"Missing apple for island\": load_island in src/loader.py\n</workspace-messages>\n");
        assert.deepEqual(fileOutline("a.py", "X = 1\ndef f(a):\n", "names"), {symbols: ["f"], messages: []});
        assert.deepEqual(fileOutline("a.env", "X=1\n", "names"), {symbols: [], messages: []});
    });

    it("will not render outlines taken with detail \"names\" as \"definitions\"", () => {
        assert.throws(() => renderWorkspaceOutline([{displayPath: "a.py", ...fileOutline("a.py", "def f():\n", "names")}], "definitions"), /detail "names"/);
    });

    it("shows the parameter list of functions only, up to the matching parenthesis, whitespace made one space", () => {
        assert.deepEqual(definitionsOf("a.py", "class Foo(Base):\n    async def run(self,  x:\tint = (1 + 2)) -> None:\n    def open(\n        self):\n"),
            [["Foo", ""], ["run", "(self, x: int = (1 + 2))"], ["open", ""]]);
        assert.deepEqual(definitionsOf("a.py", "def  spaced  ( a )  :\ndef none():\ndef unclosed(a, (b):\n"), [["spaced", "(a)"], ["none", "()"], ["unclosed", ""]]);
        assert.deepEqual(definitionsOf("a.ts",
            "export async function load<T extends Base>(path: string, parse: (text: string) => T): Promise<T> {\n" +
            "export class Store {\n" +
            "    private get(key: string): number {\n" +
            "const arrow = (a: number) => a;\n" +
            "function* generate <T> ( n ) {\n"),
        [["load", "(path: string, parse: (text: string) => T)"], ["Store", ""], ["get", "(key: string)"], ["arrow", ""], ["generate", "(n)"]]);
        assert.deepEqual(definitionsOf("a.go", "func (s *Store) Get[K comparable](key K) (V, error) {\ntype Store struct {\nfunc Map[T any, U any](xs []T) []U {\n"),
            [["Get", "(key K)"], ["Store", ""], ["Map", "(xs []T)"]]);
        assert.deepEqual(definitionsOf("a.rs", "pub fn parse<'a>(text: &'a str) -> Result<(), E> {\npub struct Parser {\nfn apply<F: Fn(i32)>(f: F) {\n"),
            [["parse", "(text: &'a str)"], ["Parser", ""], ["apply", ""]]);
        assert.deepEqual(definitionsOf("a.c", "static int read_all(FILE *in, char **out)\n"), [["read_all", "(FILE *in, char **out)"]]);
        assert.deepEqual(definitionsOf("a.java", "public class Cache {\n    public static List<String> copy(List<String> items, int n) {\n"),
            [["Cache", ""], ["copy", "(List<String> items, int n)"]]);
        // A longer list than 120 code points is not shown (the name still is).
        const longest = "a".repeat(maxParameterListLength);
        assert.deepEqual(definitionsOf("a.py", `def fits(${longest}):\ndef over(${longest}b):\ndef padded(  ${longest}  ):\n`),
            [["fits", `(${longest})`], ["over", ""], ["padded", `(${longest})`]]);
        assert.deepEqual(definitionsOf("a.py", `def emoji(${"\u{1f600}".repeat(maxParameterListLength)}):\n`), [["emoji", `(${"\u{1f600}".repeat(maxParameterListLength)})`]]);
    });

    it("lists top-level constants with their literal value, in every language", () => {
        assert.deepEqual(definitionsOf("a.py",
            "MAX_RETRIES = 5\nNAME: str = 'lilac'  # comment\nDEBUG = True\nlower = 1\n_9 = 2\nRATIO = -0.5e3\nBAD = 1e-5\nCALL = f(1)\nWORD = Truex\nJOINED = \"a\" \"b\"\n"),
        [["MAX_RETRIES", " = 5"], ["NAME", " = 'lilac'"], ["DEBUG", " = True"], ["RATIO", " = -0.5e3"]]);
        assert.deepEqual(definitionsOf("a.ts",
            "export const RETRIES = 3;\nconst name: string = \"x\"; // why\nconst flag = false\nlet other = 1;\n  const inner = 2;\nconst list = [1];\nconst handler = (a) => a;\n"),
        [["RETRIES", " = 3"], ["name", " = \"x\""], ["flag", " = false"], ["handler", ""]]);
        // No name is split to make a type of its end ("Ab.c" is not A of type b.c), as in the reference.
        assert.deepEqual(definitionsOf("a.go", "const Answer = 42\nconst Typed int = 7 // note\nconst Word string = \"w\"\n\tconst inner = 1\nconst Ab.c = 5\n"),
            [["Answer", " = 42"], ["Typed", " = 7"], ["Word", " = \"w\""]]);
        assert.deepEqual(definitionsOf("a.rs", "pub const MAX: usize = 10;\nstatic NAME: &str = \"x\"; // c\npub(crate) const ON: bool = true;\nconst NO_SEMI: u8 = 1\n"),
            [["MAX", " = 10"], ["NAME", " = \"x\""], ["ON", " = true"]]);
        assert.deepEqual(definitionsOf("a.c", "#define MAX_LEN 256\n# define GREETING \"hi\" /* greeting */\n#define CHAR 'c'\n#define EXPR (1 + 2)\n"),
            [["MAX_LEN", " = 256"], ["GREETING", " = \"hi\""]]);
        assert.deepEqual(definitionsOf("a.java", "class A {\n    public static final int LIMIT = 3;\n    private static final String NAME = \"n\"; // c\n    static final long BIG = 10L;\n    final int notStatic = 1;\n"),
            [["A", ""], ["LIMIT", " = 3"], ["NAME", " = \"n\""], ["BIG", " = 10L"]]);
        // A value longer than 80 code points is not a constant.
        const longest = "x".repeat(maxValueLength - 2);
        assert.deepEqual(definitionsOf("a.py", `FITS = "${longest}"\nOVER = "${longest}x"\n`), [["FITS", ` = "${longest}"`]]);
    });

    it("shares the once-per-name rule and the cap between definitions and constants, in line order", () => {
        assert.deepEqual(definitionsOf("a.py", "LIMIT = 1\ndef LIMIT():\nLIMIT = 2\n"), [["LIMIT", " = 1"]]);
        const lines: string[] = [];
        for (let index = 0; index < maxSymbolsPerFile; index++)
            lines.push(index % 2 === 0 ? `def function_${index}(x):` : `CONSTANT_${index} = ${index}`);
        lines.push("def one_too_many():", "    raise ValueError(\"still read after the cap\")");
        const outline = fileOutline("many.py", lines.join("\n"), "definitions");
        assert.equal(outline.definitions?.length, maxSymbolsPerFile);
        assert.deepEqual(outline.definitions?.[1], {name: "CONSTANT_1", detail: " = 1"});
        assert.deepEqual(outline.symbols, outline.definitions?.map(({name}) => name));
        assert.deepEqual(outline.messages, [{message: "still read after the cap", enclosing: "one_too_many"}]);
    });

    it("reads no message from a constant line, and a constant does not end the definition around it", () => {
        const content = "def outer():\nMESSAGE = \"it failed\"  # raise\n    raise ValueError(\"inside outer\")\n";
        assert.deepEqual(fileOutline("a.py", content, "names").messages, [{message: "it failed", enclosing: null}, {message: "inside outer", enclosing: "outer"}]);
        assert.deepEqual(fileOutline("a.py", content, "definitions").messages, [{message: "inside outer", enclosing: "outer"}]);
    });

    it("knows config files by name and extension", () => {
        assert.equal(configFileKind(".env"), "env");
        assert.equal(configFileKind("deploy/.env.production"), "env");
        assert.equal(configFileKind("prod.ENV"), "env");
        assert.equal(configFileKind("a/b.YML"), "yaml");
        assert.equal(configFileKind("Cargo.toml"), "toml");
        assert.equal(configFileKind("setup.ini"), "toml");
        assert.equal(configFileKind("app.properties"), "toml");
        assert.equal(configFileKind("package.json"), "json");
        assert.equal(configFileKind("dir/.yaml"), undefined);
        assert.equal(configFileKind(".envrc"), undefined);
        assert.equal(configFileKind("notes.txt"), undefined);
        // A config file has no symbols or messages, a code file no settings.
        assert.deepEqual(fileOutline("x.json", "{\n  \"throw\": \"raise Error(\\\"no\\\")\"\n}\n", "definitions"),
            {symbols: [], messages: [], definitions: [], settings: [["throw", "\"raise Error(\\\"no\\\")\""]].map(([key, value]) => ({key: key!, value: value!}))});
        assert.deepEqual(fileOutline("x.py", "PORT = 1\n", "definitions").settings, []);
        assert.deepEqual(fileOutline("x.md", "PORT=1\n", "definitions"), {symbols: [], messages: [], definitions: [], settings: []});
    });

    it("reads settings: env, toml/ini/properties, yaml, json", () => {
        assert.deepEqual(settingsOf(".env.feature",
            "# comment\nexport API_URL=https://x.test/a#b  # the api\nDEAL_ENABLED=5.89\r\nQUOTED='a #b' rest\nOPEN=\"never closed\nEMPTY=\nSPACED = 1\nDEAL_ENABLED=6\n"),
        [["API_URL", "https://x.test/a#b"], ["DEAL_ENABLED", "5.89"], ["QUOTED", "'a #b'"]]);
        assert.deepEqual(settingsOf("pyproject.toml",
            "[tool.lilac]\nname = \"lilac\"\nversion=\"1.0\" # why\nlist = [1, 2]\ntable = { a = 1 }\n  indented.key-name = yes\nmulti = \"\"\"\n"),
        [["name", "\"lilac\""], ["version", "\"1.0\""], ["indented.key-name", "yes"], ["multi", "\"\""]]);
        assert.deepEqual(settingsOf("config/settings.yaml",
            "server:\n  port: 8080\n  host: 'local' # c\n  items:\n    - a\n  text: |\n  anchor: &base\n  ref: *base\n  colon:value\n  empty: \n  note: a#b # c\n  cut: a #b\n"),
        [["port", "8080"], ["host", "'local'"], ["note", "a#b"], ["cut", "a"]]);
        assert.deepEqual(settingsOf("package.json",
            "{\n  \"name\": \"kv-distill\",\n  \"private\": true,\n  \"scripts\": {\n    \"build\": \"node x.mjs\"\n  },\n  \"files\": [\"a\"],\n  \"count\": 3 ,\n  \"odd\": 'x',\n  \"hash\": 1 #2\n}\n"),
        [["name", "\"kv-distill\""], ["private", "true"], ["build", "\"node x.mjs\""], ["count", "3"], ["odd", "'x'"], ["hash", "1 #2"]]);
    });

    it("caps settings per file and skips values longer than 80 code points", () => {
        const lines = Array.from({length: maxSettingsPerFile + 5}, (_, index) => `KEY_${index}=${index}`);
        const settings = settingsOf(".env", lines.join("\n"));
        assert.equal(settings.length, maxSettingsPerFile);
        assert.deepEqual(settings[maxSettingsPerFile - 1], [`KEY_${maxSettingsPerFile - 1}`, `${maxSettingsPerFile - 1}`]);
        const longest = "v".repeat(maxValueLength);
        assert.deepEqual(settingsOf("a.yaml", `fits: ${longest}\nover: ${longest}v\nemoji: ${"\u{1f600}".repeat(maxValueLength)}\n`),
            [["fits", longest], ["emoji", "\u{1f600}".repeat(maxValueLength)]]);
    });

    it("reads a 100 000-character line of any shape in linear time", () => {
        const length = 100_000;
        const lines: Array<[string, string]> = [
            ["a.py", "def f" + " ".repeat(length) + "x"],
            ["a.py", "def f" + " ".repeat(length) + "<" + " ".repeat(length)],
            ["a.py", "def f(" + "(".repeat(length)],
            ["a.py", "X" + ":".repeat(length)],
            ["a.py", "X = \"" + "\\\"".repeat(length / 2)],
            ["a.py", "X = 1" + " ".repeat(length) + "x"],
            ["a.ts", "const X = 5" + " ".repeat(length) + "x"],
            ["a.ts", "export const X" + " ".repeat(length) + "y"],
            ["a.go", "const " + "a".repeat(length)],
            ["a.go", "const " + "aB".repeat(length / 2) + ".c = \"" + "x".repeat(length)],
            ["a.go", "const X" + " ".repeat(length) + "int" + " ".repeat(length)],
            ["a.go", "func F[" + "T ".repeat(length / 2)],
            ["a.rs", "pub(" + "(".repeat(length)],
            ["a.rs", "static X: " + ":".repeat(length)],
            ["a.c", "#define X " + "1".repeat(length) + " y"],
            ["a.c", "int f(" + "(".repeat(length)],
            ["a.java", "  static final " + "int ".repeat(length / 4) + "= 1"],
            [".env", "A=" + "'".repeat(length)],
            ["a.toml", " ".repeat(length) + "x"],
            ["a.yaml", " ".repeat(length) + "a:" + " ".repeat(length)],
            ["a.json", " ".repeat(length) + "\"a\"" + " ".repeat(length)]
        ];
        for (const [displayPath, line] of lines) {
            const startedAt = performance.now();
            fileOutline(displayPath, `${line}\n${line}\n`, "definitions");
            const elapsedMs = performance.now() - startedAt;
            assert.ok(elapsedMs < 500, `${displayPath}: ${JSON.stringify(line.slice(0, 40))}... took ${elapsedMs.toFixed(0)} ms`);
        }
    });
});

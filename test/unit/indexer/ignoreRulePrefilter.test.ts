import {strict as assert} from "node:assert";
import {describe, it} from "node:test";
import ignore from "ignore";
import {createIgnoreRulePrefilter} from "../../../src/indexer/createIgnoreRulePrefilter";
import {IgnoreRuleStack, type IgnoreRuleSource} from "../../../src/indexer/IgnoreRuleStack";

// Ignore files of the kinds real trees have: extensions, anchored and folder-only rules, `**`,
// character classes, escapes, negations (of files and of folders), a rule matching everything, none.
const ignoreFiles = [
    "*.o\n*.so\n*.log\n/build*\n/.cache/\nmodels/*\n!models/.editorconfig\n!models/ggml-vocab-*.gguf\n__pycache__/\n*.py[co]\n/out/\nexamples/**/tmp/\n",
    "node_modules/\n!keep/\n\\#literal\n\\!bang\nfoo/**/bar\n**/deep/*.txt\ndoc/*.md\n!doc/README.md\n*~\n",
    "*\n!*/\n!*.ts\n",
    "secret\n/only-root.txt\nsub/\n!sub/wanted.ts\n",
    "*.a\n*.gguf.json\n*.DS_Store\n*.d\n!keep.d\n*_test\nlib*.so\n",
    "# no rules at all, as git's own .git/info/exclude\n\n"
];

const paths = [
    "a.o", "src/a.o", "src/a.c", "build", "build/", "build-x/", "src/build/", "build/x.c", ".cache/", ".cache/x", "models/", "models/a.gguf",
    "models/.editorconfig", "models/ggml-vocab-bert.gguf", "models/sub/", "models/sub/x", "pkg/__pycache__/", "pkg/__pycache__/m.pyc", "m.pyc", "m.py",
    "out/", "out/x.js", "src/out/", "examples/a/tmp/", "examples/a/b/tmp/x", "node_modules/", "node_modules/x/y.js", "keep/", "keep/x", "#literal",
    "!bang", "foo/bar", "foo/a/b/bar", "x/deep/y.txt", "deep/z.txt", "doc/a.md", "doc/README.md", "doc/sub/a.md", "file.ts~", "secret", "a/secret",
    "secret/", "only-root.txt", "a/only-root.txt", "sub/", "sub/wanted.ts", "sub/other.ts", "x.ts", "dir/", "dir/x.ts", "dir/x.js", "a/b/c/d/e.txt",
    "a.o/", "a.o/b", "x/y.so/", "x.log/z.txt", "dir/a.o", ".o", "o", "A.O", "dir/SUB.LOG/", "m.gguf.json", "x/.DS_Store", "x/a.d/",
    "keep.d", "dir/keep.d", "unit_test", "dir/unit_test/", "libx.so", "dir/libx.so", "x.a", "dir/x.A"
];

function sourcesOf(text: string, prefilter: boolean, ignoreCase = false): IgnoreRuleSource[] {
    const source = IgnoreRuleStack.createSource(".gitignore", text, ignoreCase);
    return [prefilter ? source : {...source, anyRuleMatches: undefined}];
}

describe("ignore rule prefilter", () => {
    it("exists for the pinned ignore package (its rules' expressions are where the prefilter expects them)", () => {
        const prefilter = createIgnoreRulePrefilter(ignore().add("*.o\n!keep.o\n/build/\n*.gguf.json\n"));
        assert.ok(prefilter !== undefined);
        assert.equal(prefilter("src/a.o"), true);
        assert.equal(prefilter("src/a.o/"), true, "a folder named like a file rule");
        assert.equal(prefilter("a.o/b.c"), false, "the suffix rule matches the last segment only");
        assert.equal(prefilter("keep.o"), true, "a negation is a rule too");
        assert.equal(prefilter("x/m.gguf.json"), true);
        assert.equal(prefilter("build/"), true);
        assert.equal(prefilter("src/a.c"), false);
        assert.equal(prefilter("src/build/"), false, "an anchored rule matches from the start only");
        const none = createIgnoreRulePrefilter(ignore().add("# only a comment\n\n"));
        assert.ok(none !== undefined, "no rules: a prefilter that matches nothing");
        for (const candidate of ["a", "a/b.c", "dir/", ".git/x"])
            assert.equal(none(candidate), false);
    });

    it("gives IgnoreRuleStack exactly the package's own verdicts, for files and folders, at one level and under a deeper one", () => {
        let compared = 0;
        let decided = 0;
        for (const ignoreCase of [false, true]) for (const text of ignoreFiles) {
            for (const deeperText of [undefined, ...ignoreFiles]) {
                const build = (prefilter: boolean): IgnoreRuleStack => {
                    let stack = IgnoreRuleStack.empty().push("", "", sourcesOf(text, prefilter, ignoreCase));
                    if (deeperText !== undefined)
                        stack = stack.push("dir", "", sourcesOf(deeperText, prefilter, ignoreCase));
                    return stack;
                };
                const withPrefilter = build(true);
                const without = build(false);
                for (const candidate of paths) {
                    const isDirectory = candidate.endsWith("/");
                    const relativePath = isDirectory ? candidate.slice(0, -1) : candidate;
                    const expected = without.test(relativePath, isDirectory);
                    assert.deepEqual(withPrefilter.test(relativePath, isDirectory), expected, `ignoreCase ${ignoreCase}, ${JSON.stringify(text)} / ${JSON.stringify(deeperText)}: ${candidate}`);
                    compared++;
                    if (expected !== undefined)
                        decided++;
                }
            }
        }
        // The cases must exercise both answers, so that agreement means something.
        assert.ok(decided > 100 && compared - decided > 100, `${decided} decided of ${compared}`);
    });

    it("answers a file inside an ignored folder with the folder's rule, as the package does", () => {
        const stack = IgnoreRuleStack.empty().push("", "", sourcesOf("build/\n", true));
        assert.deepEqual(stack.test("build/deep/x.c", false), {ignored: true, reason: ".gitignore: build/"});
        assert.equal(stack.test("src/x.c", false), undefined);
    });
});

import {strict as assert} from "node:assert";
import {after, describe, it} from "node:test";
import {indexWorkspace} from "../../../src/indexer/indexWorkspace";
import type {IndexResult} from "../../../src/indexer/indexTypes";
import {compileFilesExcludeGlob} from "../../../src/indexer/compileFilesExcludeGlob";
import {commitAt, createFixtureWorkspace, initGitRepository, removeFixture, snapshotTree, writeFixtureFiles} from "./fixtureWorkspace";

const fixtures: string[] = [];
after(() => fixtures.forEach(removeFixture));

function fixture(files: Record<string, string | Buffer>): string {
    const root = createFixtureWorkspace(files);
    fixtures.push(root);
    return root;
}

function indexedPaths(result: IndexResult): string[] {
    return result.manifest.files.map((file) => file.displayPath).sort();
}

function skippedAs(result: IndexResult, displayPath: string): {reason: string; detail: string} | undefined {
    return result.manifest.skipped.find((skipped) => skipped.displayPath === displayPath);
}

describe("ignore files", () => {
    it("honours nested .gitignore files with negations, deeper files overriding shallower ones", async () => {
        const root = fixture({
            ".gitignore": "*.log\n/secret/\n!keep.log\n",
            "app.ts": "a",
            "debug.log": "x",
            "keep.log": "kept by negation",
            "secret/key.txt": "k",
            "sub/.gitignore": "!debug.log\ngenerated/\n*.tmp\n!important.tmp\n",
            "sub/debug.log": "re-included below sub",
            "sub/trace.log": "still ignored by the root rule",
            "sub/generated/out.ts": "g",
            "sub/scratch.tmp": "t",
            "sub/important.tmp": "i",
            "sub/deeper/.gitignore": "*.ts\n",
            "sub/deeper/a.ts": "ignored by the deepest file",
            "sub/deeper/b.md": "kept"
        });
        const before = snapshotTree(root);
        const result = await indexWorkspace({folders: [{name: "w", path: root}], useGit: false});
        assert.deepEqual(indexedPaths(result), [
            ".gitignore", "app.ts", "keep.log", "sub/.gitignore", "sub/debug.log", "sub/deeper/.gitignore", "sub/deeper/b.md", "sub/important.tmp"
        ]);
        assert.equal(skippedAs(result, "debug.log")?.reason, "ignored");
        assert.match(skippedAs(result, "debug.log")!.detail, /^\.gitignore: \*\.log$/);
        assert.match(skippedAs(result, "secret/")!.detail, /\.gitignore: \/secret\//);
        assert.equal(skippedAs(result, "sub/trace.log")?.reason, "ignored");
        assert.match(skippedAs(result, "sub/generated/")!.detail, /^sub\/\.gitignore: generated\/$/);
        assert.match(skippedAs(result, "sub/deeper/a.ts")!.detail, /^sub\/deeper\/\.gitignore/);
        assert.deepEqual(snapshotTree(root), before, "the workspace is byte-identical after indexing");
    });

    it("honours .ignore and .kvdistillignore, the later overriding .gitignore at the same level", async () => {
        const root = fixture({
            ".gitignore": "*.gen.ts\n",
            ".ignore": "docs/\n!wanted.gen.ts\n",
            ".kvdistillignore": "big-data.csv\n",
            "a.gen.ts": "ignored by .gitignore",
            "wanted.gen.ts": "re-included by .ignore",
            "docs/guide.md": "ignored by .ignore",
            "big-data.csv": "1,2,3",
            "small.csv": "1"
        });
        const result = await indexWorkspace({folders: [{name: "w", path: root}], useGit: false});
        assert.deepEqual(indexedPaths(result), [".gitignore", ".ignore", ".kvdistillignore", "small.csv", "wanted.gen.ts"]);
        assert.match(skippedAs(result, "docs/")!.detail, /^\.ignore: docs\/$/);
        assert.match(skippedAs(result, "big-data.csv")!.detail, /^\.kvdistillignore: big-data\.csv$/);
    });

    it("applies files.exclude globs with VS Code semantics and extra excludes with gitignore semantics", async () => {
        const root = fixture({
            "src/a.ts": "a",
            "src/a.spec.ts": "s",
            "lib/b.ts": "b",
            "top.txt": "t",
            "nested/top.txt": "n",
            "coverage/x.json": "{}"
        });
        const result = await indexWorkspace({
            folders: [{name: "w", path: root}],
            useGit: false,
            filesExclude: ["**/*.spec.ts", "top.txt", "{coverage,lib}"],
            extraExcludes: ["*.json", "!keep.json"]
        });
        assert.deepEqual(indexedPaths(result), ["nested/top.txt", "src/a.ts"]);
        assert.match(skippedAs(result, "src/a.spec.ts")!.detail, /files\.exclude pattern #1/);
        assert.match(skippedAs(result, "top.txt")!.detail, /files\.exclude pattern #2/);
        assert.match(skippedAs(result, "lib/")!.detail, /files\.exclude pattern #3/);
    });

    it("skips VCS, dependency and cache folders and lockfiles by default, and build output only outside git", async () => {
        const files = {
            ".git/HEAD": "ref: refs/heads/main\n",
            ".hg/store": "x",
            "node_modules/pkg/index.js": "module.exports = 1;",
            "deep/node_modules/pkg/index.js": "module.exports = 2;",
            "__pycache__/m.cpython-312.pyc.txt": "x",
            "env/pyvenv.cfg": "home = /usr/bin",
            "env/lib/site.py": "x",
            "cachedir/CACHEDIR.TAG": "Signature: 8a477f597d28d172789f06886806bc55",
            "cachedir/data.txt": "x",
            "dist/bundle.js": "built",
            "build/script.js": "hand-written",
            "package-lock.json": "{}",
            "app.min.js": "x",
            "src/index.ts": "export {};"
        };
        const outside = fixture(files);
        const outsideResult = await indexWorkspace({folders: [{name: "w", path: outside}], useGit: false});
        assert.deepEqual(indexedPaths(outsideResult), ["src/index.ts"]);
        for (const [displayPath, detail] of [
            [".git/", /version-control/], [".hg/", /version-control/], ["node_modules/", /dependency/], ["deep/node_modules/", /dependency/],
            ["__pycache__/", /cache/], ["env/", /pyvenv\.cfg/], ["cachedir/", /CACHEDIR\.TAG/], ["dist/", /build-output/],
            ["build/", /build-output/], ["package-lock.json", /lockfile/], ["app.min.js", /minified/]
        ] as const) {
            assert.equal(skippedAs(outsideResult, displayPath)?.reason, "default-excluded", displayPath);
            assert.match(skippedAs(outsideResult, displayPath)!.detail, detail, displayPath);
        }

        // Inside git, the repository's .gitignore decides about dist/ and build/.
        const {[".git/HEAD"]: _fakeGitFolder, ...filesWithoutGit} = files;
        const inside = fixture(filesWithoutGit);
        initGitRepository(inside);
        writeFixtureFiles(inside, {".gitignore": "dist/\n"});
        commitAt(inside, ["."], "2024-01-01T00:00:00Z");
        const insideResult = await indexWorkspace({folders: [{name: "w", path: inside}]});
        assert.ok(indexedPaths(insideResult).includes("build/script.js"));
        assert.equal(skippedAs(insideResult, "dist/")?.reason, "ignored");
        assert.equal(skippedAs(insideResult, ".git/")?.reason, "default-excluded");

        const noDefaults = await indexWorkspace({folders: [{name: "w", path: outside}], useGit: false, useDefaultExcludes: false});
        assert.ok(indexedPaths(noDefaults).includes("node_modules/pkg/index.js"));
        assert.ok(indexedPaths(noDefaults).includes("package-lock.json"));
    });

    it("lets an explicit negation bring a default-excluded folder back, but never a VCS folder", async () => {
        const root = fixture({
            ".kvdistillignore": "!node_modules/\n!.git/\n",
            "node_modules/local-fork/index.js": "fork",
            ".git/config": "[core]",
            "a.ts": "a"
        });
        const result = await indexWorkspace({folders: [{name: "w", path: root}], useGit: false});
        assert.deepEqual(indexedPaths(result), [".kvdistillignore", "a.ts", "node_modules/local-fork/index.js"]);
        assert.equal(skippedAs(result, ".git/")?.reason, "default-excluded");
    });

    it("reads ignore files above a folder that is a subfolder of a repository, unless they ignore the folder itself", async () => {
        const repository = fixture({".gitignore": "*.secret\nignored-folder/\n", "project/a.ts": "a", "project/b.secret": "s", "ignored-folder/c.ts": "c"});
        initGitRepository(repository);
        commitAt(repository, ["."], "2024-01-01T00:00:00Z");
        const result = await indexWorkspace({folders: [{name: "project", path: `${repository}/project`}]});
        assert.deepEqual(indexedPaths(result), ["a.ts"]);
        assert.match(skippedAs(result, "b.secret")!.detail, /^\.\.\/\.gitignore: \*\.secret$/);
        assert.ok(result.manifest.rules?.ignoreFiles.some((file) => file.displayPath === "../.gitignore"));

        const opened = await indexWorkspace({folders: [{name: "ignored-folder", path: `${repository}/ignored-folder`}]});
        assert.deepEqual(indexedPaths(opened), ["c.ts"], "a folder opened on purpose is indexed although its repository ignores it");
    });

    it("records every ignore file and setting in the rules digest", async () => {
        const root = fixture({".gitignore": "*.log\n", "a.ts": "a"});
        const first = await indexWorkspace({folders: [{name: "w", path: root}], useGit: false});
        const same = await indexWorkspace({folders: [{name: "w", path: root}], useGit: false});
        assert.equal(first.manifest.rulesDigest, same.manifest.rulesDigest);
        const otherSetting = await indexWorkspace({folders: [{name: "w", path: root}], useGit: false, filesExclude: ["**/*.md"]});
        assert.notEqual(otherSetting.manifest.rulesDigest, first.manifest.rulesDigest);
        writeFixtureFiles(root, {".gitignore": "*.log\n*.tmp\n"});
        const changedFile = await indexWorkspace({folders: [{name: "w", path: root}], useGit: false});
        assert.notEqual(changedFile.manifest.rulesDigest, first.manifest.rulesDigest);
        assert.deepEqual(first.manifest.rules?.ignoreFiles.map((file) => file.displayPath), [".gitignore"]);
    });
});

describe("compileFilesExcludeGlob", () => {
    const cases: Array<[string, string, boolean]> = [
        ["**/node_modules", "node_modules", true],
        ["**/node_modules", "a/b/node_modules", true],
        ["**/node_modules", "a/node_modules_x", false],
        ["dist", "dist", true],
        ["dist", "src/dist", false],
        ["dist/", "dist", true],
        ["*.js", "a.js", true],
        ["*.js", "src/a.js", false],
        ["**/*.js", "src/deep/a.js", true],
        ["src/**", "src/a/b.ts", true],
        ["src/**/test", "src/test", true],
        ["src/**/test", "src/x/y/test", true],
        ["**/*.{ts,tsx}", "a/b.tsx", true],
        ["**/*.{ts,tsx}", "a/b.js", false],
        ["file?.txt", "file1.txt", true],
        ["file?.txt", "file10.txt", false],
        ["[abc].md", "b.md", true],
        ["[!abc].md", "d.md", true],
        ["[!abc].md", "a.md", false],
        ["a+b (1).txt", "a+b (1).txt", true],
        ["**/.DS_Store", "x/.DS_Store", true]
    ];
    for (const [pattern, candidate, expected] of cases)
        it(`${pattern} ${expected ? "matches" : "does not match"} ${candidate}`, () => {
            assert.equal(compileFilesExcludeGlob(pattern, false)(candidate, `/ws/${candidate}`), expected);
        });

    it("matches absolute patterns against the absolute path", () => {
        assert.equal(compileFilesExcludeGlob("/ws/secret/**", false)("secret/a", "/ws/secret/a"), true);
        assert.equal(compileFilesExcludeGlob("/ws/secret/**", false)("other/a", "/ws/other/a"), false);
    });

    it("is case-insensitive only when asked", () => {
        assert.equal(compileFilesExcludeGlob("README.md", false)("readme.md", "/readme.md"), false);
        assert.equal(compileFilesExcludeGlob("README.md", true)("readme.md", "/readme.md"), true);
    });
});

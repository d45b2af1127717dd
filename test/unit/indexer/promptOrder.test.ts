import {strict as assert} from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import {after, describe, it} from "node:test";
import {indexWorkspace} from "../../../src/indexer/indexWorkspace";
import {renderPromptToSink, type PromptChunk} from "../../../src/indexer/renderPromptToSink";
import {renderFileListTail} from "../../../src/indexer/renderPromptTail";
import {asyncNodeIndexerFileSystem, type IndexerFileSystem} from "../../../src/indexer/indexerFileSystem";
import {waitForProcessesToEnd} from "../../fixtures/processLiveness";
import {commitAt, createFixtureWorkspace, createTemporaryFolder, git, initGitRepository, removeFixture, writeFixtureFiles} from "./fixtureWorkspace";

const fixtures: string[] = [];
after(() => fixtures.forEach(removeFixture));

function fixture(files: Record<string, string | Buffer>): string {
    const root = createFixtureWorkspace(files);
    fixtures.push(root);
    return root;
}

/** A git wrapper that records each invocation's arguments, to count processes. */
function countingGit(): {command: string; invocations(): string[]} {
    const folder = createTemporaryFolder("kvd-git-");
    fixtures.push(folder);
    const log = path.join(folder, "calls.log");
    const command = path.join(folder, "git");
    fs.writeFileSync(command, `#!/bin/sh\necho "$*" >> '${log}'\nexec git "$@"\n`, {mode: 0o755});
    return {command, invocations: () => (fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n") : [])};
}

describe("prompt order", () => {
    it("orders by last commit time (oldest first), uncommitted and untracked files last, ties by path, with one git log per repository", async () => {
        const root = fixture({"old.ts": "1", "b-tie.ts": "2", "a-tie.ts": "3", "recent.ts": "4", "middle.ts": "5", "edited.ts": "6"});
        initGitRepository(root);
        commitAt(root, ["old.ts", "recent.ts", "edited.ts"], "2020-01-01T00:00:00Z");
        commitAt(root, ["a-tie.ts", "b-tie.ts"], "2021-01-01T00:00:00Z");
        commitAt(root, ["middle.ts"], "2022-01-01T00:00:00Z");
        writeFixtureFiles(root, {"recent.ts": "4 changed"});
        commitAt(root, ["recent.ts"], "2023-06-01T00:00:00Z");
        writeFixtureFiles(root, {"edited.ts": "6 changed, not committed", "untracked.ts": "new"});
        // mtimes are set so that the untracked file is older on disk than the edited one.
        fs.utimesSync(path.join(root, "untracked.ts"), new Date("2019-01-01"), new Date("2019-01-01"));
        fs.utimesSync(path.join(root, "edited.ts"), new Date("2024-01-01"), new Date("2024-01-01"));

        const gitCommand = countingGit();
        const result = await indexWorkspace({folders: [{name: "w", path: root}], gitCommand: gitCommand.command});
        assert.deepEqual(result.manifest.files.map((file) => file.displayPath),
            ["old.ts", "a-tie.ts", "b-tie.ts", "middle.ts", "recent.ts", "untracked.ts", "edited.ts"]);
        const byPath = new Map(result.manifest.files.map((file) => [file.displayPath, file]));
        assert.equal(byPath.get("recent.ts")!.lastChangedMs, Date.parse("2023-06-01T00:00:00Z"));
        assert.equal(byPath.get("old.ts")!.uncommitted, false);
        assert.equal(byPath.get("edited.ts")!.uncommitted, true);
        assert.equal(byPath.get("untracked.ts")!.uncommitted, true);
        const invocations = gitCommand.invocations();
        assert.equal(invocations.filter((args) => / log /.test(` ${args} `)).length, 1, invocations.join("\n"));
        assert.equal(invocations.filter((args) => / status /.test(` ${args} `)).length, 1, invocations.join("\n"));
        assert.equal(invocations.filter((args) => / ls-files /.test(` ${args} `)).length, 1, invocations.join("\n"));
        assert.equal(invocations.filter((args) => / rev-parse --show-toplevel --show-prefix --git-path index /.test(` ${args} `)).length, 1, invocations.join("\n"));
        assert.equal(invocations.length, 4, `one rev-parse for the repository and its index (status runs on a copy), one status, one ls-files, one log: ${invocations.join(" | ")}`);
    });

    it("uses each repository's own history: a nested repository and a second folder of the same repository", async () => {
        const outer = fixture({"project/a.ts": "a", "project/b.ts": "b", "other/c.ts": "c", "project/vendor-repo/x.ts": "x", "project/vendor-repo/y.ts": "y"});
        initGitRepository(path.join(outer, "project", "vendor-repo"));
        commitAt(path.join(outer, "project", "vendor-repo"), ["y.ts"], "2018-01-01T00:00:00Z");
        commitAt(path.join(outer, "project", "vendor-repo"), ["x.ts"], "2019-01-01T00:00:00Z");
        initGitRepository(outer);
        fs.writeFileSync(path.join(outer, ".gitignore"), "vendor-repo/\n");
        commitAt(outer, ["project/b.ts", "other/c.ts"], "2020-01-01T00:00:00Z");
        commitAt(outer, ["project/a.ts"], "2021-01-01T00:00:00Z");
        commitAt(outer, [".gitignore"], "2021-06-01T00:00:00Z");
        // The outer repository ignores vendor-repo; a .kvdistillignore negation indexes it anyway.
        fs.writeFileSync(path.join(outer, "project", ".kvdistillignore"), "!vendor-repo/\n");
        commitAt(outer, ["project/.kvdistillignore"], "2022-01-01T00:00:00Z");

        const gitCommand = countingGit();
        const result = await indexWorkspace({
            folders: [{name: "project", path: path.join(outer, "project")}, {name: "other", path: path.join(outer, "other")}],
            gitCommand: gitCommand.command
        });
        assert.deepEqual(result.manifest.files.map((file) => `${file.displayPath}@${new Date(file.lastChangedMs).getUTCFullYear()}`),
            ["project/vendor-repo/y.ts@2018", "project/vendor-repo/x.ts@2019", "other/c.ts@2020", "project/b.ts@2020", "project/a.ts@2021", "project/.kvdistillignore@2022"]);
        const logs = gitCommand.invocations().filter((args) => / log /.test(` ${args} `));
        assert.equal(logs.length, 2, "one git log per repository (outer, nested), not per folder or file");
    });

    it("starts a nested repository's git status while the walk goes on, with the same answer as before", async () => {
        const outer = fixture({"a-vendor/x.ts": "x", "a-vendor/y.ts": "y", "b.ts": "b", "z-later/c.ts": "c"});
        initGitRepository(path.join(outer, "a-vendor"));
        commitAt(path.join(outer, "a-vendor"), ["y.ts"], "2018-01-01T00:00:00Z");
        commitAt(path.join(outer, "a-vendor"), ["x.ts"], "2019-01-01T00:00:00Z");
        writeFixtureFiles(outer, {"a-vendor/x.ts": "x edited"});
        fs.utimesSync(path.join(outer, "a-vendor", "x.ts"), new Date("2024-01-01"), new Date("2024-01-01"));
        initGitRepository(outer);
        fs.writeFileSync(path.join(outer, ".gitignore"), "a-vendor/\n");
        commitAt(outer, ["b.ts", "z-later/c.ts", ".gitignore"], "2020-01-01T00:00:00Z");
        fs.writeFileSync(path.join(outer, ".kvdistillignore"), "!a-vendor/\n");
        fs.utimesSync(path.join(outer, ".kvdistillignore"), new Date("2023-01-01"), new Date("2023-01-01"));

        // The walk lists z-later (after a-vendor) only once the nested repository's git status has
        // started, or after 5 s: before the change, status ran after the walk, so it waited in vain.
        const gitCommand = countingGit();
        const statusCount = (): number => gitCommand.invocations().filter((args) => / status /.test(` ${args} `)).length;
        let statusSeenDuringWalk: boolean | undefined;
        const fileSystem: IndexerFileSystem = {
            ...asyncNodeIndexerFileSystem,
            readDirectory: async (folder) => {
                if (path.basename(folder) === "z-later") {
                    const deadline = Date.now() + 5000;
                    while (statusCount() < 2 && Date.now() < deadline)
                        await new Promise((resolve) => setTimeout(resolve, 10));
                    statusSeenDuringWalk = statusCount() >= 2;
                }
                return asyncNodeIndexerFileSystem.readDirectory(folder);
            }
        };
        const early = await indexWorkspace({folders: [{name: "w", path: outer}], gitCommand: gitCommand.command, fileSystem});
        assert.equal(statusSeenDuringWalk, true, "the nested repository's status (the second status) started before the walk listed z-later");
        const expected = ["a-vendor/y.ts@2018", ".gitignore@2020", "b.ts@2020", "z-later/c.ts@2020", ".kvdistillignore@2023", "a-vendor/x.ts@2024"];
        assert.deepEqual(early.manifest.files.map((file) => `${file.displayPath}@${new Date(file.lastChangedMs).getUTCFullYear()}`), expected);
        assert.deepEqual(early.manifest.files.filter((file) => file.uncommitted).map((file) => file.displayPath), [".kvdistillignore", "a-vendor/x.ts"]);
        const plain = await indexWorkspace({folders: [{name: "w", path: outer}]});
        assert.equal(plain.prompt, early.prompt);
        assert.deepEqual(plain.manifest, early.manifest);
    });

    it("falls back to modification times in a nested repository whose git queries fail, and says so", async () => {
        const outer = fixture({"vendor/x.ts": "x", "vendor/y.ts": "y", "a.ts": "a"});
        initGitRepository(outer);
        commitAt(outer, ["a.ts"], "2020-01-01T00:00:00Z");
        // A submodule-style .git file whose repository is gone: every git command there fails.
        fs.writeFileSync(path.join(outer, "vendor", ".git"), "gitdir: ../no-such-git-dir\n");
        fs.utimesSync(path.join(outer, "vendor", "x.ts"), new Date("2022-02-02T00:00:00Z"), new Date("2022-02-02T00:00:00Z"));
        fs.utimesSync(path.join(outer, "vendor", "y.ts"), new Date("2021-01-01T00:00:00Z"), new Date("2021-01-01T00:00:00Z"));
        const result = await indexWorkspace({folders: [{name: "w", path: outer}]});
        assert.deepEqual(result.manifest.files.map((file) => [file.displayPath, file.lastChangedMs, file.uncommitted]), [
            ["a.ts", Date.parse("2020-01-01T00:00:00Z"), false],
            ["vendor/y.ts", Date.parse("2021-01-01T00:00:00Z"), false],
            ["vendor/x.ts", Date.parse("2022-02-02T00:00:00Z"), false]
        ]);
        const warnings = result.manifest.warnings ?? [];
        assert.equal(warnings.length, 1, warnings.join("\n"));
        assert.match(warnings[0]!, /vendor: git (status|log) failed: .*; ordering by modification time there$/);
    });

    it("restarts a repository's queries with the whole repository when a folder inside it is also met as a nested repository", async () => {
        const outer = fixture({"project/a.ts": "a", "project/vendor/lib/x.ts": "x", "project/vendor/y.ts": "y"});
        const vendor = path.join(outer, "project", "vendor");
        initGitRepository(vendor);
        commitAt(vendor, ["y.ts"], "2018-01-01T00:00:00Z");
        commitAt(vendor, ["lib/x.ts"], "2019-01-01T00:00:00Z");
        initGitRepository(outer);
        commitAt(outer, ["project/a.ts"], "2020-01-01T00:00:00Z");
        const gitCommand = countingGit();
        // The second folder lies inside the nested repository: its queries start with pathspec "lib"
        // before the walk of the first folder meets the repository and needs all of it.
        const result = await indexWorkspace({folders: [{name: "project", path: path.join(outer, "project")}, {name: "lib", path: path.join(vendor, "lib")}], gitCommand: gitCommand.command});
        assert.deepEqual(result.manifest.files.map((file) => `${file.displayPath}@${new Date(file.lastChangedMs).getUTCFullYear()}`),
            ["project/vendor/y.ts@2018", "lib/x.ts@2019", "project/vendor/lib/x.ts@2019", "project/a.ts@2020"]);
        assert.deepEqual(result.manifest.warnings ?? [], []);
        const logs = gitCommand.invocations().filter((args) => / log /.test(` ${args} `));
        assert.equal(logs.length, 2, `one git log per repository: ${logs.join(" | ")}`);
        assert.ok(logs.some((args) => [" -- lib .", " -- . lib"].some((tail) => args.endsWith(tail))), `the nested repository's log covers both pathspecs: ${logs.join(" | ")}`);
    });

    it("leaves no git process running when the index is aborted during the walk", async () => {
        const outer = fixture({"a-vendor/x.ts": "x", "b.ts": "b", "z-later/c.ts": "c"});
        initGitRepository(path.join(outer, "a-vendor"));
        commitAt(path.join(outer, "a-vendor"), ["x.ts"], "2019-01-01T00:00:00Z");
        initGitRepository(outer);
        commitAt(outer, ["b.ts", "z-later/c.ts"], "2020-01-01T00:00:00Z");
        // A git whose status never answers and records its process id.
        const folder = createTemporaryFolder("kvd-git-");
        fixtures.push(folder);
        const pids = path.join(folder, "pids");
        const slowGit = path.join(folder, "git");
        fs.writeFileSync(slowGit, `#!/bin/sh\ncase " $* " in *" status "*) echo $$ >> '${pids}'; exec sleep 30;; esac\nexec git "$@"\n`, {mode: 0o755});
        const controller = new AbortController();
        const fileSystem: IndexerFileSystem = {
            ...asyncNodeIndexerFileSystem,
            readDirectory: async (listed) => {
                if (path.basename(listed) === "z-later") {
                    // Both statuses (outer and nested) have started by now: abort in the middle of the walk.
                    const deadline = Date.now() + 5000;
                    while ((fs.existsSync(pids) ? fs.readFileSync(pids, "utf8").trim().split("\n").length : 0) < 2 && Date.now() < deadline)
                        await new Promise((resolve) => setTimeout(resolve, 10));
                    controller.abort();
                }
                return asyncNodeIndexerFileSystem.readDirectory(listed);
            }
        };
        await assert.rejects(indexWorkspace({folders: [{name: "w", path: outer}], gitCommand: slowGit, fileSystem}, controller.signal), {name: "AbortError"});
        const started = fs.readFileSync(pids, "utf8").trim().split("\n").map(Number);
        assert.equal(started.length, 2, "the outer and the nested repository's status had started");
        assert.deepEqual(await waitForProcessesToEnd(started, 5000), [], "every git status was killed");
    });

    it("orders by modification time outside git", async () => {
        const root = fixture({"newest.ts": "n", "oldest.ts": "o", "middle.ts": "m"});
        fs.utimesSync(path.join(root, "oldest.ts"), new Date("2001-01-01"), new Date("2001-01-01"));
        fs.utimesSync(path.join(root, "middle.ts"), new Date("2002-01-01"), new Date("2002-01-01"));
        fs.utimesSync(path.join(root, "newest.ts"), new Date("2003-01-01"), new Date("2003-01-01"));
        const result = await indexWorkspace({folders: [{name: "w", path: root}]});
        assert.deepEqual(result.manifest.files.map((file) => file.displayPath), ["oldest.ts", "middle.ts", "newest.ts"]);
        assert.ok(result.manifest.files.every((file) => !file.uncommitted));
        const byPath = await indexWorkspace({folders: [{name: "w", path: root}], order: "path"});
        assert.deepEqual(byPath.manifest.files.map((file) => file.displayPath), ["middle.ts", "newest.ts", "oldest.ts"]);
    });

    it("falls back to modification times when the repository is broken or git is missing", async () => {
        const root = fixture({"a.ts": "a"});
        initGitRepository(root);
        commitAt(root, ["a.ts"], "2020-01-01T00:00:00Z");
        assert.match(git(root, ["log", "--format=%ct"]), /^\d+/);
        fs.writeFileSync(path.join(root, ".git", "HEAD"), "garbage\n");
        fs.utimesSync(path.join(root, "a.ts"), new Date("2005-05-05T00:00:00Z"), new Date("2005-05-05T00:00:00Z"));
        const broken = await indexWorkspace({folders: [{name: "w", path: root}]});
        assert.deepEqual(broken.manifest.files.map((file) => [file.displayPath, file.lastChangedMs]), [["a.ts", Date.parse("2005-05-05T00:00:00Z")]]);
        const noGit = await indexWorkspace({folders: [{name: "w", path: root}], gitCommand: path.join(root, "no-such-git")});
        assert.deepEqual(noGit.manifest.files.map((file) => file.lastChangedMs), [Date.parse("2005-05-05T00:00:00Z")]);
    });
});

describe("prompt rendering", () => {
    it("records spans that cut the prompt into header + content sections followed by the tail", async () => {
        const root = fixture({"src/a.ts": "export const a = 1;\n", "README.md": "# Title", "empty.txt": ""});
        // Detail "names": no file has an outline entry (a constant is one only with "definitions"), so the tail is the file list.
        const result = await indexWorkspace({folders: [{name: "w", path: root}], useGit: false, order: "path", outlineDetail: "names"});
        const {files, tailStart, promptChars} = result.manifest;
        assert.equal(promptChars, result.prompt.length);
        assert.equal(files[0]!.charStart, 0);
        for (let index = 1; index < files.length; index++)
            assert.equal(files[index]!.charStart, files[index - 1]!.charEnd, "sections are contiguous");
        assert.equal(tailStart, files.at(-1)!.charEnd);
        assert.equal(result.prompt.slice(files[2]!.charStart, files[2]!.headerEnd), "<file path=\"src/a.ts\" language=\"typescript\">\n");
        assert.equal(result.prompt.slice(files[2]!.headerEnd, files[2]!.charEnd), "export const a = 1;\n</file>\n");
        assert.equal(result.prompt.slice(files[1]!.charStart, files[1]!.charEnd), "<file path=\"empty.txt\" language=\"plaintext\">\n</file>\n");
        assert.equal(result.prompt.slice(tailStart), "<workspace-files count=\"3\">\nREADME.md\nempty.txt\nsrc/a.ts\n</workspace-files>\n");
        assert.equal(result.manifest.promptFormat, "kv-distill-prompt/1");
    });

    it("lists the tail's paths in UTF-16 code-unit order, escaped", () => {
        const tail = renderFileListTail(["b", "\uffff", "\u{1f600}", "B", "a/b", "\u00e9", "a-b", "q\"<x>"]);
        assert.equal(tail, "<workspace-files count=\"8\">\nB\na-b\na/b\nb\nq&#34;&#60;x&#62;\n\u00e9\n\u{1f600}\n\uffff\n</workspace-files>\n");
    });

    it("escapes a path whose only odd character is in a folder's name, or in a workspace folder's name, in its header and in the tail", async () => {
        const root = createFixtureWorkspace({"we&rd/x.ts": "x\n", "plain/y.ts": "y\n"});
        const second = createFixtureWorkspace({"z.ts": "z\n"});
        fixtures.push(root, second);
        for (const folders of [[{name: "w", path: root}], [{name: "w", path: root}, {name: "q<\"2\">", path: second}]]) {
            const {prompt, manifest} = await indexWorkspace({folders, useGit: false});
            for (const file of manifest.files) {
                const escaped = file.displayPath.replace(/[&"<>\r\n]/g, (char) => `&#${char.charCodeAt(0)};`);
                assert.equal(prompt.slice(file.charStart, file.headerEnd), `<file path="${escaped}" language="typescript">\n`);
                assert.ok(prompt.slice(manifest.tailStart).includes(`\n${escaped}\n`), escaped);
            }
            assert.ok(prompt.includes("we&#38;rd/x.ts") && !prompt.includes("we&rd"));
            if (folders.length === 2)
                assert.ok(prompt.includes("q&#60;&#34;2&#34;&#62;/z.ts") && !prompt.includes("q<"));
        }
    });

    it("keeps the prompt's prefix unchanged when a file is added (the file list is in the tail)", async () => {
        const root = fixture({"a.ts": "a", "b.ts": "b"});
        initGitRepository(root);
        commitAt(root, ["."], "2020-01-01T00:00:00Z");
        const before = await indexWorkspace({folders: [{name: "w", path: root}]});
        writeFixtureFiles(root, {"0-new-file-sorting-first.ts": "new"});
        const afterAdding = await indexWorkspace({folders: [{name: "w", path: root}]});
        assert.ok(afterAdding.prompt.startsWith(before.prompt.slice(0, before.manifest.tailStart)));
        assert.equal(afterAdding.manifest.files.at(-1)!.displayPath, "0-new-file-sorting-first.ts");
    });

    it("renders the same prompt to a sink, file by file, as indexWorkspace returns", async () => {
        const root = fixture({"a.ts": "a", "b/c.md": "c", "d.json": "{}"});
        const whole = await indexWorkspace({folders: [{name: "w", path: root}], useGit: false});
        const chunks: PromptChunk[] = [];
        const manifest = await renderPromptToSink({folders: [{name: "w", path: root}], useGit: false}, async (chunk) => {
            chunks.push(chunk);
            await new Promise((resolve) => setImmediate(resolve));
        });
        assert.equal(chunks.map((chunk) => (chunk.kind === "file" ? chunk.header + chunk.body : chunk.text)).join(""), whole.prompt);
        assert.deepEqual(chunks.filter((chunk) => chunk.kind === "file").map((chunk) => chunk.kind === "file" && chunk.file.displayPath), manifest.files.map((file) => file.displayPath));
        const tail = chunks.at(-1)!;
        assert.ok(tail.kind === "tail" && tail.charStart === manifest.tailStart);
        const withoutTail = await indexWorkspace({folders: [{name: "w", path: root}], useGit: false, fileListTail: false});
        assert.equal(withoutTail.manifest.tailStart, withoutTail.manifest.promptChars);
        assert.equal(withoutTail.prompt, whole.prompt.slice(0, whole.manifest.tailStart));
    });
});

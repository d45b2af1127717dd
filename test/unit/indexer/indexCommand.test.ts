import {strict as assert} from "node:assert";
import {spawnSync} from "node:child_process";
import * as path from "node:path";
import {after, describe, it} from "node:test";
import {createFixtureWorkspace, createTemporaryFolder, removeFixture, snapshotTree} from "./fixtureWorkspace";

// The command line as built by tsc next to this test (out/src/cli/main.js).
const cliMain = path.resolve(__dirname, "../../../src/cli/main.js");

const fixtures: string[] = [];
after(() => fixtures.forEach(removeFixture));

function runCli(args: readonly string[]): {status: number | null; stdout: string; stderr: string} {
    const result = spawnSync(process.execPath, [cliMain, ...args], {encoding: "utf8"});
    return {status: result.status, stdout: result.stdout, stderr: result.stderr};
}

describe("kv-distill index", () => {
    const root = createFixtureWorkspace({"src/a.ts": "export const a = 1;\n", "notes.md": "# notes\n", "logo.dat": Buffer.from([0, 1, 2, 3]), ".gitignore": "*.log\n", "debug.log": "x"});
    fixtures.push(root);

    it("prints the files in order with bytes, and the skipped files with reasons", () => {
        const before = snapshotTree(root);
        const {status, stdout, stderr} = runCli(["index", root, "--no-git"]);
        assert.equal(status, 0, stderr);
        assert.match(stdout, /^3 files, \d+ bytes, \d+ prompt characters/);
        assert.match(stdout, /\n +20 {2}src\/a\.ts\n/);
        assert.match(stdout, /\n {2}binary +logo\.dat {2}\(contains NUL bytes\)\n/);
        assert.match(stdout, /\n {2}ignored +debug\.log {2}\(\.gitignore: \*\.log\)\n/);
        assert.deepEqual(snapshotTree(root), before);
    });

    it("prints one JSON object with --json, honouring --max-file-bytes", () => {
        const {status, stdout} = runCli(["index", "--json", "--max-file-bytes", "10", root, "--no-git"]);
        assert.equal(status, 0);
        const report = JSON.parse(stdout) as {files: Array<{displayPath: string; sizeBytes: number}>; skipped: Array<{displayPath: string; reason: string}>; totals: {files: number}};
        assert.deepEqual(report.files.map((file) => file.displayPath).sort(), [".gitignore", "notes.md"]);
        assert.equal(report.totals.files, 2);
        assert.deepEqual(report.skipped.find((file) => file.displayPath === "src/a.ts")?.reason, "too-large");
    });

    it("prefixes display paths with folder names when given several folders", () => {
        const other = createFixtureWorkspace({"src/a.ts": "other\n"});
        fixtures.push(other);
        const {status, stdout} = runCli(["index", "--json", root, other, "--no-git"]);
        assert.equal(status, 0);
        const paths = (JSON.parse(stdout) as {files: Array<{displayPath: string}>}).files.map((file) => file.displayPath);
        assert.ok(paths.includes(`${path.basename(root)}/src/a.ts`));
        assert.ok(paths.includes(`${path.basename(other)}/src/a.ts`));
    });

    it("names a missing folder on stderr and exits non-zero", () => {
        const parent = createTemporaryFolder();
        fixtures.push(parent);
        const missing = path.join(parent, "missing folder");
        const {status, stdout, stderr} = runCli(["index", missing]);
        assert.equal(status, 1);
        assert.equal(stdout, "");
        assert.ok(stderr.includes(missing), stderr);
    });

    it("rejects bad usage with exit code 2", () => {
        assert.equal(runCli(["index"]).status, 2);
        assert.match(runCli(["index", root, "--max-file-bytes", "lots"]).stderr, /whole number/);
        assert.match(runCli(["index", root, "--frobnicate"]).stderr, /unknown option "--frobnicate"/);
        const withModel = runCli(["index", root, "--model", "model.gguf"]);
        assert.equal(withModel.status, 2);
        assert.match(withModel.stderr, /--model needs the engine/);
    });

    it("prints the rendered prompt with --prompt", () => {
        const {status, stdout} = runCli(["index", "--prompt", root, "--no-git"]);
        assert.equal(status, 0);
        assert.match(stdout, /<file path="src\/a\.ts" language="typescript">\nexport const a = 1;\n<\/file>\n/);
        assert.match(stdout, /<workspace-files count="3">\n[^]*<\/workspace-files>\n$/);
    });

    it("ends the prompt with the workspace outline, then the file list, unless --no-outline", () => {
        const code = createFixtureWorkspace({"app.py": "def main():\n    raise SystemExit(\"no arguments given\")\n"});
        fixtures.push(code);
        const fileList = "<workspace-files count=\"1\">\napp.py\n</workspace-files>\n";
        const outline = "<workspace-symbols>\n- main: app.py\n</workspace-symbols>\n<workspace-messages>\n- \"no arguments given\": main in app.py\n</workspace-messages>\n";
        const withOutline = runCli(["index", "--prompt", code, "--no-git"]);
        assert.equal(withOutline.status, 0, withOutline.stderr);
        assert.ok(withOutline.stdout.endsWith(`</file>\n${outline}${fileList}`), withOutline.stdout);
        const withoutOutline = runCli(["index", "--prompt", code, "--no-git", "--no-outline"]);
        assert.equal(withoutOutline.status, 0, withoutOutline.stderr);
        assert.ok(withoutOutline.stdout.endsWith(`</file>\n${fileList}`), withoutOutline.stdout);
        const report = JSON.parse(runCli(["index", "--json", code, "--no-git", "--no-outline"]).stdout) as {tail: {outline: boolean; fileList: boolean}};
        assert.deepEqual([report.tail.outline, report.tail.fileList], [false, true]);
    });

    it("shows definitions in the outline with --outline-detail definitions, and refuses other details", () => {
        const code = createFixtureWorkspace({"app.py": "RETRIES = 3\ndef main(argv):\n    raise SystemExit(\"no arguments given\")\n"});
        fixtures.push(code);
        const definitions = runCli(["index", "--prompt", code, "--no-git", "--outline-detail", "definitions"]);
        assert.equal(definitions.status, 0, definitions.stderr);
        assert.ok(definitions.stdout.endsWith("</file>\n<workspace-symbols>\n- RETRIES = 3: app.py\n- main(argv): app.py\n</workspace-symbols>\n" +
            "<workspace-messages>\n- \"no arguments given\": main in app.py\n</workspace-messages>\n<workspace-files count=\"1\">\napp.py\n</workspace-files>\n"), definitions.stdout);
        const report = JSON.parse(runCli(["index", "--json", code, "--no-git", "--outline-detail", "definitions"]).stdout) as {tail: {outlineDetail?: string}};
        assert.equal(report.tail.outlineDetail, "definitions");
        const names = runCli(["index", "--prompt", code, "--no-git", "--outline-detail", "names"]);
        assert.equal(names.stdout, runCli(["index", "--prompt", code, "--no-git"]).stdout);
        const refused = runCli(["index", code, "--no-git", "--outline-detail", "all"]);
        assert.notEqual(refused.status, 0);
        assert.match(refused.stderr, /--outline-detail must be names or definitions, got "all"/);
        assert.match(runCli(["index", "--help"]).stdout, /--outline-detail D +names \| definitions/);
    });
});

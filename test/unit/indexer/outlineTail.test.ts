import {strict as assert} from "node:assert";
import {createHash} from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import {after, describe, it} from "node:test";
import {applyTokenBudget} from "../../../src/indexer/applyTokenBudget";
import {diffManifests} from "../../../src/indexer/diffManifests";
import {indexWorkspace, type IndexWorkspaceOptions} from "../../../src/indexer/indexWorkspace";
import type {IndexResult} from "../../../src/indexer/indexTypes";
import {createFixtureWorkspace, removeFixture} from "./fixtureWorkspace";

const fixtures: string[] = [];
after(() => fixtures.forEach(removeFixture));

const countTokens = (text: string): number => [...text.matchAll(/\w+|[^\s\w]/g)].length;
const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

/** Four files, oldest first: the prompt's order (outside git) is old.py, middle.go, new.ts, notes.md. */
function codeWorkspace(): string {
    const root = createFixtureWorkspace({
        "zz/old.py": "class Store:\n    def put(self, item):\n        raise KeyError(\"store is full\")\n",
        "middle.go": "package main\n\nfunc Start(port int) error {\n\treturn errors.New(\"port must not be zero\")\n}\n",
        "aa/new.ts": "export function serve(): void {\n    throw new Error(\"Port is required\");\n}\n",
        "notes.md": "def not_code():\n    raise X(\"not an entry\")\n"
    });
    fixtures.push(root);
    ["zz/old.py", "middle.go", "aa/new.ts", "notes.md"].forEach((name, index) =>
        fs.utimesSync(path.join(root, name), new Date(`${2001 + index}-01-01`), new Date(`${2001 + index}-01-01`)));
    return root;
}

async function index(root: string, options: Partial<IndexWorkspaceOptions> = {}): Promise<IndexResult> {
    return indexWorkspace({folders: [{name: "w", path: root}], useGit: false, ...options});
}

const codeWorkspaceOutline =
    "<workspace-symbols>\n" +
    "- Store: zz/old.py\n" +
    "- put: zz/old.py\n" +
    "- Start: middle.go\n" +
    "- serve: aa/new.ts\n" +
    "</workspace-symbols>\n" +
    "<workspace-messages>\n" +
    "- \"store is full\": put in zz/old.py\n" +
    "- \"port must not be zero\": Start in middle.go\n" +
    "- \"Port is required\": serve in aa/new.ts\n" +
    "</workspace-messages>\n";
const codeWorkspaceFileList = "<workspace-files count=\"4\">\naa/new.ts\nmiddle.go\nnotes.md\nzz/old.py\n</workspace-files>\n";

describe("the prompt's tail: workspace outline, then file list", () => {
    it("outlines the included files in prompt order (not path order), before the sorted file list", async () => {
        const {prompt, manifest} = await index(codeWorkspace());
        assert.deepEqual(manifest.files.map((file) => file.displayPath), ["zz/old.py", "middle.go", "aa/new.ts", "notes.md"]);
        const tail = prompt.slice(manifest.tailStart);
        assert.equal(tail, codeWorkspaceOutline + codeWorkspaceFileList);
        assert.equal(manifest.tailStart, manifest.files.at(-1)!.charEnd);
        assert.equal(manifest.promptChars, prompt.length);
        assert.deepEqual(manifest.tail, {outline: true, fileList: true, outlineChars: codeWorkspaceOutline.length, sha256: sha256(tail)});
    });

    it("can be the file list alone, the outline alone, or nothing", async () => {
        const root = codeWorkspace();
        const withoutOutline = await index(root, {workspaceOutline: false});
        assert.equal(withoutOutline.prompt.slice(withoutOutline.manifest.tailStart), codeWorkspaceFileList);
        assert.deepEqual(withoutOutline.manifest.tail, {outline: false, fileList: true, outlineChars: 0, sha256: sha256(codeWorkspaceFileList)});
        const outlineOnly = await index(root, {fileListTail: false});
        assert.equal(outlineOnly.prompt.slice(outlineOnly.manifest.tailStart), codeWorkspaceOutline);
        assert.equal(outlineOnly.manifest.tail?.outlineChars, codeWorkspaceOutline.length);
        const neither = await index(root, {fileListTail: false, workspaceOutline: false});
        assert.equal(neither.manifest.tailStart, neither.manifest.promptChars);
        assert.deepEqual(neither.manifest.tail, {outline: false, fileList: false, outlineChars: 0, sha256: sha256("")});
        // The file sections are the same text in all of them.
        assert.equal(withoutOutline.prompt.slice(0, withoutOutline.manifest.tailStart), neither.prompt);
        assert.equal(outlineOnly.prompt.slice(0, outlineOnly.manifest.tailStart), neither.prompt);
    });

    it("adds nothing for a workspace without entries", async () => {
        const root = createFixtureWorkspace({"a.ts": "export const a = 1;\n", "b.txt": "def not_code():\n"});
        fixtures.push(root);
        const {prompt, manifest} = await index(root);
        assert.equal(prompt.slice(manifest.tailStart), "<workspace-files count=\"2\">\na.ts\nb.txt\n</workspace-files>\n");
    });

    it("reads each file as the prompt shows it (no byte-order mark, LF line ends), and names it as the file list does", async () => {
        const root = createFixtureWorkspace({
            // With the mark, a reader of the raw text would not see a definition on the first line.
            "we&rd/bom.py": "\ufeffdef first():\r\n    raise ValueError(\"first failed\")\r\n",
            "plain.py": "def second():\n    pass\n"
        });
        fixtures.push(root);
        const {prompt, manifest} = await index(root, {order: "path"});
        assert.equal(prompt.slice(manifest.tailStart),
            "<workspace-symbols>\n- second: plain.py\n- first: we&#38;rd/bom.py\n</workspace-symbols>\n" +
            "<workspace-messages>\n- \"first failed\": first in we&#38;rd/bom.py\n</workspace-messages>\n" +
            "<workspace-files count=\"2\">\nplain.py\nwe&#38;rd/bom.py\n</workspace-files>\n");
    });

    it("is counted by the token budget, and re-rendered for exactly the kept files when files are left out", async () => {
        const result = await index(codeWorkspace());
        const full = await applyTokenBudget(result, countTokens, Number.MAX_SAFE_INTEGER);
        assert.equal(full.tailTokens, countTokens(codeWorkspaceOutline + codeWorkspaceFileList));
        assert.equal(full.totalTokens, full.fileTokens.reduce((sum, file) => sum + file.tokens, 0) + full.tailTokens);
        assert.deepEqual(full.result.manifest.tail, result.manifest.tail);

        // Room for all but the oldest file: its section, its outline entries and its list line go.
        const budgeted = await applyTokenBudget(result, countTokens, full.totalTokens - 1);
        assert.deepEqual(budgeted.leftOut.map((file) => file.displayPath), ["zz/old.py"]);
        const {prompt, manifest} = budgeted.result;
        const tail = prompt.slice(manifest.tailStart);
        const keptOutline = "<workspace-symbols>\n- Start: middle.go\n- serve: aa/new.ts\n</workspace-symbols>\n" +
            "<workspace-messages>\n- \"port must not be zero\": Start in middle.go\n- \"Port is required\": serve in aa/new.ts\n</workspace-messages>\n";
        assert.equal(tail, keptOutline + "<workspace-files count=\"3\">\naa/new.ts\nmiddle.go\nnotes.md\n</workspace-files>\n");
        assert.equal(budgeted.tailTokens, countTokens(tail));
        assert.deepEqual(manifest.tail, {outline: true, fileList: true, outlineChars: keptOutline.length, sha256: sha256(tail)});
        // A manifest from before the outline's length was recorded gets it once its tail is re-rendered.
        const {outlineChars: _unrecorded, ...oldTail} = result.manifest.tail!;
        const fromOld = await applyTokenBudget({...result, manifest: {...result.manifest, tail: oldTail}}, countTokens, full.totalTokens - 1);
        assert.deepEqual(fromOld.result.manifest.tail, manifest.tail);
        assert.equal(manifest.promptChars, prompt.length);

        // Without the outline, the budget leaves out the same way but counts a shorter tail.
        const listOnly = await applyTokenBudget(await index(codeWorkspace(), {workspaceOutline: false}), countTokens, full.totalTokens - 1);
        assert.deepEqual(listOnly.leftOut, []);
        assert.equal(listOnly.tailTokens, countTokens(codeWorkspaceFileList));
    });

    it("makes diffManifests see a tail that changed, even at the same length", async () => {
        const root = codeWorkspace();
        const withOutline = await index(root);
        const withoutOutline = await index(root, {workspaceOutline: false});
        for (const [previous, current] of [[withOutline, withoutOutline], [withoutOutline, withOutline]] as const) {
            const diff = diffManifests(previous.manifest, current.manifest);
            assert.equal(diff.identical, false);
            assert.equal(diff.firstInvalidatedFileIndex, previous.manifest.files.length);
            assert.equal(diff.firstInvalidatedChar, previous.manifest.tailStart);
            assert.deepEqual(diff.changes, []);
        }
        assert.equal(diffManifests(withOutline.manifest, (await index(root)).manifest).identical, true);

        // A tail of the same length with other text: only the digest tells.
        const sameLength = {...withOutline.manifest, tail: {...withOutline.manifest.tail!, sha256: sha256("another tail")}};
        const diff = diffManifests(withOutline.manifest, sameLength);
        assert.equal(diff.identical, false);
        assert.equal(diff.firstInvalidatedChar, withOutline.manifest.tailStart);
        // A manifest from before the digest: the lengths tell.
        const {tail: _tail, ...older} = withoutOutline.manifest;
        assert.equal(diffManifests(older, withOutline.manifest).firstInvalidatedChar, older.tailStart);
        assert.equal(diffManifests(older, withoutOutline.manifest).identical, true);
    });

    it("shows definitions with detail \"definitions\": parameter lists, constants, config settings; the manifest records the detail", async () => {
        const root = codeWorkspace();
        fs.writeFileSync(path.join(root, ".env"), "PORT=8080\n");
        fs.utimesSync(path.join(root, ".env"), new Date("2000-01-01"), new Date("2000-01-01"));
        fs.appendFileSync(path.join(root, "aa/new.ts"), "export const DEFAULT_PORT = 80;\n");
        fs.utimesSync(path.join(root, "aa/new.ts"), new Date("2003-01-01"), new Date("2003-01-01"));
        const definitionsOutline =
            "<workspace-symbols>\n" +
            "- Store: zz/old.py\n" +
            "- put(self, item): zz/old.py\n" +
            "- Start(port int): middle.go\n" +
            "- serve(): aa/new.ts\n" +
            "- DEFAULT_PORT = 80: aa/new.ts\n" +
            "</workspace-symbols>\n" +
            "<workspace-messages>\n" +
            "- \"store is full\": put in zz/old.py\n" +
            "- \"port must not be zero\": Start in middle.go\n" +
            "- \"Port is required\": serve in aa/new.ts\n" +
            "</workspace-messages>\n" +
            "<workspace-settings>\n" +
            "- PORT = 8080: .env\n" +
            "</workspace-settings>\n";
        const fileList = "<workspace-files count=\"5\">\n.env\naa/new.ts\nmiddle.go\nnotes.md\nzz/old.py\n</workspace-files>\n";
        const result = await index(root, {outlineDetail: "definitions"});
        assert.deepEqual(result.manifest.files.map((file) => file.displayPath), [".env", "zz/old.py", "middle.go", "aa/new.ts", "notes.md"]);
        const tail = result.prompt.slice(result.manifest.tailStart);
        assert.equal(tail, definitionsOutline + fileList);
        assert.deepEqual(result.manifest.tail, {outline: true, outlineDetail: "definitions", fileList: true, outlineChars: definitionsOutline.length, sha256: sha256(tail)});

        // Detail "names" (the default, said or not) records no detail; without the outline there is none to record.
        const names = await index(root, {outlineDetail: "names"});
        assert.deepEqual(names.manifest, (await index(root)).manifest);
        assert.equal(names.manifest.tail?.outlineDetail, undefined);
        assert.equal("outlineDetail" in names.manifest.tail!, false);
        assert.equal((await index(root, {outlineDetail: "definitions", workspaceOutline: false})).manifest.tail?.outlineDetail, undefined);
        assert.equal(names.prompt.slice(0, names.manifest.tailStart), result.prompt.slice(0, result.manifest.tailStart), "the file sections are the same text");

        // The token budget re-renders the tail with the manifest's detail.
        const full = await applyTokenBudget(result, countTokens, Number.MAX_SAFE_INTEGER);
        const budgeted = await applyTokenBudget(result, countTokens, full.totalTokens - 1);
        assert.deepEqual(budgeted.leftOut.map((file) => file.displayPath), [".env"]);
        const keptTail = budgeted.result.prompt.slice(budgeted.result.manifest.tailStart);
        const keptOutline = definitionsOutline.slice(0, definitionsOutline.indexOf("<workspace-settings>"));
        assert.equal(keptTail, keptOutline + "<workspace-files count=\"4\">\naa/new.ts\nmiddle.go\nnotes.md\nzz/old.py\n</workspace-files>\n");
        assert.deepEqual(budgeted.result.manifest.tail, {outline: true, outlineDetail: "definitions", fileList: true, outlineChars: keptOutline.length, sha256: sha256(keptTail)});

        // Changing the detail changes the tail, and only the tail.
        for (const [previous, current] of [[names, result], [result, names]] as const) {
            const diff = diffManifests(previous.manifest, current.manifest);
            assert.equal(diff.identical, false);
            assert.equal(diff.firstInvalidatedChar, previous.manifest.tailStart);
            assert.deepEqual(diff.changes, []);
        }
    });
});

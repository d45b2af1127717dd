import {strict as assert} from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import {after, describe, it} from "node:test";
import {indexWorkspace} from "../../../src/indexer/indexWorkspace";
import {diffManifests} from "../../../src/indexer/diffManifests";
import type {IndexResult} from "../../../src/indexer/indexTypes";
import {createFixtureWorkspace, removeFixture, writeFixtureFiles} from "./fixtureWorkspace";

const fixtures: string[] = [];
after(() => fixtures.forEach(removeFixture));

/** Four files with distinct modification times, so that their order (outside git) is a, b, c, d. */
function orderedFixture(): string {
    const root = createFixtureWorkspace({"a.ts": "alpha\n", "b.ts": "bravo\n", "c.ts": "charlie\n", "d.ts": "delta\n"});
    fixtures.push(root);
    ["a.ts", "b.ts", "c.ts", "d.ts"].forEach((name, index) => setModified(root, name, 2001 + index));
    return root;
}

function setModified(root: string, name: string, year: number): void {
    fs.utimesSync(path.join(root, name), new Date(`${year}-01-01T00:00:00Z`), new Date(`${year}-01-01T00:00:00Z`));
}

async function index(root: string, extra: {extraExcludes?: string[]} = {}): Promise<IndexResult> {
    return indexWorkspace({folders: [{name: "w", path: root}], useGit: false, ...extra});
}

function commonPrefixLength(a: string, b: string): number {
    let length = 0;
    while (length < a.length && length < b.length && a[length] === b[length])
        length++;
    return length;
}

describe("diffManifests", () => {
    it("finds no change between two indexes of the same workspace", async () => {
        const root = orderedFixture();
        const previous = await index(root);
        const diff = diffManifests(previous.manifest, (await index(root)).manifest);
        assert.deepEqual(diff, {identical: true, firstInvalidatedChar: previous.manifest.promptChars, firstInvalidatedFileIndex: 4, changes: []});
    });

    it("invalidates from an edited file's section on", async () => {
        const root = orderedFixture();
        const previous = await index(root);
        writeFixtureFiles(root, {"c.ts": "charlie, edited\n"});
        setModified(root, "c.ts", 2003); // keep its place: the edit alone is measured
        const current = await index(root);
        const diff = diffManifests(previous.manifest, current.manifest);
        assert.deepEqual(diff.changes, [{kind: "edited", displayPath: "c.ts"}]);
        assert.equal(diff.firstInvalidatedFileIndex, 2);
        assert.equal(diff.firstInvalidatedChar, previous.manifest.files[2]!.charStart);
        assert.equal(diff.identical, false);
        // The offset is exactly where the prompts part (the header is the same, the content differs).
        assert.equal(commonPrefixLength(previous.prompt, current.prompt), previous.manifest.files[2]!.headerEnd + "charlie".length);
        assert.ok(diff.firstInvalidatedChar <= commonPrefixLength(previous.prompt, current.prompt));
    });

    it("reports an added file, invalidating only the tail when it sorts last", async () => {
        const root = orderedFixture();
        const previous = await index(root);
        writeFixtureFiles(root, {"e.ts": "echo\n"});
        setModified(root, "e.ts", 2010);
        const diff = diffManifests(previous.manifest, (await index(root)).manifest);
        assert.deepEqual(diff.changes, [{kind: "added", displayPath: "e.ts"}]);
        assert.equal(diff.firstInvalidatedFileIndex, 4);
        assert.equal(diff.firstInvalidatedChar, previous.manifest.tailStart);
    });

    it("reports a deleted file, invalidating from its old place", async () => {
        const root = orderedFixture();
        const previous = await index(root);
        fs.rmSync(path.join(root, "b.ts"));
        const diff = diffManifests(previous.manifest, (await index(root)).manifest);
        assert.deepEqual(diff.changes, [{kind: "deleted", displayPath: "b.ts"}]);
        assert.equal(diff.firstInvalidatedFileIndex, 1);
        assert.equal(diff.firstInvalidatedChar, previous.manifest.files[1]!.charStart);
    });

    it("reports a rename (same content, new path)", async () => {
        const root = orderedFixture();
        const previous = await index(root);
        fs.renameSync(path.join(root, "a.ts"), path.join(root, "z-renamed.ts"));
        const diff = diffManifests(previous.manifest, (await index(root)).manifest);
        assert.deepEqual(diff.changes, [{kind: "renamed", previousDisplayPath: "a.ts", displayPath: "z-renamed.ts"}]);
        assert.equal(diff.firstInvalidatedFileIndex, 0);
        assert.equal(diff.firstInvalidatedChar, 0);
    });

    it("reports an ignore-rule change along with the files it adds or removes", async () => {
        const root = orderedFixture();
        const previous = await index(root);
        const current = await index(root, {extraExcludes: ["d.ts"]});
        const diff = diffManifests(previous.manifest, current.manifest);
        assert.deepEqual(diff.changes, [
            {kind: "rules-changed", previousRulesDigest: previous.manifest.rulesDigest, rulesDigest: current.manifest.rulesDigest},
            {kind: "deleted", displayPath: "d.ts"}
        ]);
        assert.equal(diff.firstInvalidatedFileIndex, 3);

        // A rule change that changes no file leaves the prompt valid.
        const harmless = await index(root, {extraExcludes: ["*.nothing"]});
        const harmlessDiff = diffManifests(previous.manifest, harmless.manifest);
        assert.equal(harmlessDiff.identical, true);
        assert.deepEqual(harmlessDiff.changes.map((change) => change.kind), ["rules-changed"]);
    });

    it("invalidates everything when the prompt format changed", async () => {
        const root = orderedFixture();
        const previous = await index(root);
        const diff = diffManifests({...previous.manifest, promptFormat: "kv-distill-prompt/0"}, previous.manifest);
        assert.equal(diff.firstInvalidatedChar, 0);
        assert.equal(diff.firstInvalidatedFileIndex, 0);
        assert.equal(diff.changes[0]!.kind, "format-changed");
    });
});

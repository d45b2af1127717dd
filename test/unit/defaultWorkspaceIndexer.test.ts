import {strict as assert} from "node:assert";
import {mkdtemp, rm, writeFile} from "node:fs/promises";
import {tmpdir} from "node:os";
import * as path from "node:path";
import {after, before, describe, it} from "node:test";
import {defaultWorkspaceIndexer} from "../../src/engine/defaultWorkspaceIndexer";

describe("defaultWorkspaceIndexer", () => {
    let folder: string;

    before(async () => {
        folder = await mkdtemp(path.join(tmpdir(), "kvd-default-indexer-"));
        await writeFile(path.join(folder, "main.ts"), "export const answer = 42;\n");
        await writeFile(path.join(folder, "notes.log"), "a log line\n");
        await writeFile(path.join(folder, "draft.md"), "# draft\n");
    });

    after(async () => {
        await rm(folder, {recursive: true, force: true});
    });

    it("passes files.exclude globs and .gitignore-syntax excludes to the indexer, each as its own kind", async () => {
        const result = await defaultWorkspaceIndexer.indexWorkspace({folders: [folder], filesExclude: ["**/*.log"], extraExcludes: ["draft.md"]});
        assert.deepEqual(result.manifest.files.map((file) => file.relativePath), ["main.ts"]);
        const skipped = new Map(result.manifest.skipped.map((file) => [file.displayPath, file.reason]));
        assert.equal(skipped.get("notes.log"), "ignored");
        assert.equal(skipped.get("draft.md"), "ignored");
    });

    it("names a single folder's files without a folder prefix", async () => {
        const result = await defaultWorkspaceIndexer.indexWorkspace({folders: [folder]});
        assert.deepEqual(result.manifest.files.map((file) => file.displayPath).sort(), ["draft.md", "main.ts", "notes.log"]);
    });
});

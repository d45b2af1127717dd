// The workspace outline in the prompt's tail, with the real indexer: a cache built with it is never
// reused for a prompt without it (or the other way), yet the segments of the files, which are the
// same text either way, are kept when the setting changes.
import assert from "node:assert/strict";
import {rm} from "node:fs/promises";
import {after, before, describe, test} from "node:test";
import {defaultWorkspaceIndexer} from "../../src/engine/defaultWorkspaceIndexer";
import type {DistillOptions} from "../../src/engine/engineApi";
import {createTestEngine, distillOptions, makeTemporaryFolder, writeSampleWorkspace} from "./helpers/engineTestKit";
import type {TestEngine} from "./helpers/engineTestKit";

const timeout = 300_000;

describe("the workspace outline and the saved cache", {timeout}, () => {
    let kit: TestEngine;
    let workspace: string;
    let cacheDir: string;
    let options: DistillOptions;

    before(async () => {
        kit = await createTestEngine({indexer: defaultWorkspaceIndexer});
        workspace = await makeTemporaryFolder("ws");
        cacheDir = await makeTemporaryFolder("cache");
        // TypeScript and Python files: their functions make outline entries.
        await writeSampleWorkspace(workspace, {files: 6, linesPerFile: 10});
        options = distillOptions(workspace, cacheDir, kit.modelPath, {scorer: "recent", keepRatio: 0.25, segmentTokens: 192});
    });

    after(async () => {
        await kit?.engine.dispose();
        await rm(workspace, {recursive: true, force: true});
        await rm(cacheDir, {recursive: true, force: true});
    });

    test("turning the outline off or on refreshes the cache from the tail; the same setting again reuses it", {timeout}, async () => {
        const withOutline = await kit.engine.distillForTesting(options);
        assert.equal(withOutline.result.cacheOutcome, "built");
        const outlinedIndex = withOutline.manifest.index;
        assert.equal(outlinedIndex.tail?.outline, true);
        assert.equal(outlinedIndex.tail?.fileList, true);

        const withoutOutline = await kit.engine.distillForTesting({...options, workspaceOutline: false});
        const plainIndex = withoutOutline.manifest.index;
        assert.equal(plainIndex.tail?.outline, false);
        assert.equal(plainIndex.tailStart, outlinedIndex.tailStart, "the file sections are the same text");
        assert.ok(outlinedIndex.promptChars - outlinedIndex.tailStart > plainIndex.promptChars - plainIndex.tailStart + 200, "the outline makes the tail longer");
        assert.equal(withoutOutline.result.cacheOutcome, "refreshed", "never reused for a prompt without the outline");
        assert.ok(withoutOutline.result.evaluatedTokens > 0);
        assert.ok(withoutOutline.result.evaluatedTokens < withoutOutline.result.promptTokens / 2, "the files' segments are kept");
        assert.ok(withoutOutline.result.promptTokens < withOutline.result.promptTokens);

        const again = await kit.engine.distillForTesting(options);
        assert.equal(again.result.cacheOutcome, "refreshed", "never reused for a prompt with the outline either");
        assert.deepEqual(again.manifest.segments.map((segment) => segment.tokensDigest), withOutline.manifest.segments.map((segment) => segment.tokensDigest));
        assert.equal(again.manifest.keptTokens, withOutline.manifest.keptTokens);

        const unchanged = await kit.engine.distill(options);
        assert.equal(unchanged.cacheOutcome, "reused");
        assert.equal(unchanged.evaluatedTokens, 0);
        assert.ok(kit.logLines.some((line) => /^index: \d+ file\(s\), .*\(workspace outline off\)/.test(line)), kit.logLines.join("\n"));
    });
});

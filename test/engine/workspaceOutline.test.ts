// The workspace outline in the prompt's tail, with the real indexer: a cache built with it is never
// reused for a prompt without it (or the other way, or with its other detail), yet the segments of
// the files, which are the same text either way, are kept when the setting changes. Its tokens are
// scored and compressed within the keep ratio like file content; only the file list after it is
// always kept.
import assert from "node:assert/strict";
import {rm} from "node:fs/promises";
import {after, before, describe, test} from "node:test";
import {decodeBitmap} from "../../src/engine/cacheManifest";
import {defaultWorkspaceIndexer} from "../../src/engine/defaultWorkspaceIndexer";
import {defaultAlwaysKeepRules} from "../../src/engine/selection/buildAlwaysKeepMask";
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

    test("changing the outline's detail refreshes the cache from the tail; the same detail again reuses it", {timeout}, async () => {
        const detailCacheDir = await makeTemporaryFolder("cache");
        try {
            const namesOptions = {...options, cacheDir: detailCacheDir};
            const names = await kit.engine.distillForTesting(namesOptions);
            assert.equal(names.result.cacheOutcome, "built");
            const namesIndex = names.manifest.index;
            assert.equal(namesIndex.tail?.outline, true);
            assert.equal(namesIndex.tail?.outlineDetail, undefined, "names is the default and not recorded");

            const definitions = await kit.engine.distillForTesting({...namesOptions, outlineDetail: "definitions"});
            const definitionsIndex = definitions.manifest.index;
            assert.equal(definitionsIndex.tail?.outlineDetail, "definitions");
            assert.equal(definitionsIndex.tailStart, namesIndex.tailStart, "the file sections are the same text");
            assert.ok(definitionsIndex.promptChars > namesIndex.promptChars, "parameter lists make the outline longer");
            assert.notEqual(definitionsIndex.tail?.sha256, namesIndex.tail?.sha256);
            assert.equal(definitions.result.cacheOutcome, "refreshed", "never reused for a prompt with the other detail");
            assert.ok(definitions.result.evaluatedTokens > 0);
            assert.ok(definitions.result.evaluatedTokens < definitions.result.promptTokens / 2, "the files' segments are kept");

            const sameDetail = await kit.engine.distill({...namesOptions, outlineDetail: "definitions"});
            assert.equal(sameDetail.cacheOutcome, "reused");
            assert.equal(sameDetail.evaluatedTokens, 0);

            const namesAgain = await kit.engine.distillForTesting({...namesOptions, outlineDetail: "names"});
            assert.equal(namesAgain.result.cacheOutcome, "refreshed", "back to names refreshes the tail too");
            assert.deepEqual(namesAgain.manifest.segments.map((segment) => segment.tokensDigest), names.manifest.segments.map((segment) => segment.tokensDigest));
            assert.ok(kit.logLines.some((line) => /^index: \d+ file\(s\), .*\(workspace outline on, detail definitions\)/.test(line)), kit.logLines.join("\n"));
        } finally {
            await rm(detailCacheDir, {recursive: true, force: true});
        }
    });

    test("the outline is compressed within the keep ratio; the file list is kept whole", {timeout}, async () => {
        const surprisalCacheDir = await makeTemporaryFolder("cache");
        try {
            const keepRatio = 0.25;
            const {layout, manifest} = await kit.engine.distillForTesting({...options, cacheDir: surprisalCacheDir, scorer: "surprisal", keepRatio});
            const total = layout.tokens.length;
            const outlineTokens = layout.fileListTokenStart - layout.tailTokenStart;
            const fileListTokens = total - layout.fileListTokenStart;
            assert.ok(manifest.index.tail?.outlineChars !== undefined && manifest.index.tail.outlineChars > 200, "the manifest says where the outline ends");
            assert.ok(outlineTokens > total * 0.1, `an outline of ${outlineTokens} of ${total} tokens`);
            assert.ok(fileListTokens > 0);
            const kept = new Uint8Array(total);
            for (const segment of manifest.segments)
                kept.set(decodeBitmap(segment.keptBitmap, segment.tokenEnd - segment.tokenStart), segment.tokenStart);
            const keptOutline = kept.subarray(layout.tailTokenStart, layout.fileListTokenStart).reduce((sum, bit) => sum + bit, 0);
            assert.ok(keptOutline < outlineTokens, `kept ${keptOutline} of the outline's ${outlineTokens} tokens`);
            assert.ok(kept.subarray(layout.fileListTokenStart).every((bit) => bit === 1), "the file list is kept whole");
            // Over the budget by at most what is always kept at the end: the file list and the last tokens.
            const allowedExcess = fileListTokens + defaultAlwaysKeepRules.tailTokens;
            assert.ok(manifest.keptTokens <= Math.round(keepRatio * total) + allowedExcess, `kept ${manifest.keptTokens} of ${total}`);
        } finally {
            await rm(surprisalCacheDir, {recursive: true, force: true});
        }
    });
});

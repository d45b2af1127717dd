// A saved cache of an older state of the workspace is refreshed: its segments before the first
// change are kept and only the rest is evaluated again (counted in tokens llama.cpp decoded).
import assert from "node:assert/strict";
import {appendFile, readFile, rm, writeFile} from "node:fs/promises";
import path from "node:path";
import {after, before, describe, test} from "node:test";
import type {DistillPromptOutput} from "../../src/engine/distillPrompt";
import type {DistillOptions} from "../../src/engine/engineApi";
import {AnswerSession} from "../../src/engine/AnswerSession";
import {workspaceSystemPreamble} from "../../src/engine/distillPrompt";
import {createTestEngine, distillOptions, makeTemporaryFolder, maxAbsoluteDifference, writeSampleWorkspace} from "./helpers/engineTestKit";
import type {TestEngine} from "./helpers/engineTestKit";

const timeout = 300_000;

/**
 * Tokens from the first segment that must be evaluated again to the end: the first that reaches
 * past the changed character, or the first whose tokens differ from the previous plan's (a segment
 * that used to end with the tail holds other tokens once a file follows it).
 */
function tokensFromChange(previous: DistillPromptOutput, output: DistillPromptOutput, changedChar: number): {firstSegment: number; tokens: number} {
    const reachingChange = output.manifest.segments.findIndex((segment) => segment.charEnd > changedChar);
    const firstDifferent = output.manifest.segments.findIndex((segment, index) => segment.tokensDigest !== previous.manifest.segments[index]?.tokensDigest);
    const firstSegment = Math.min(reachingChange, firstDifferent < 0 ? reachingChange : firstDifferent);
    return {firstSegment, tokens: output.manifest.promptTokens - output.manifest.segments[firstSegment]!.tokenStart};
}

describe("refreshing a saved cache after edits", {timeout}, () => {
    let kit: TestEngine;
    let workspace: string;
    let cacheDir: string;
    let options: DistillOptions;
    let files: string[];

    before(async () => {
        kit = await createTestEngine();
        workspace = await makeTemporaryFolder("ws");
        cacheDir = await makeTemporaryFolder("cache");
        files = await writeSampleWorkspace(workspace, {files: 6, linesPerFile: 10});
        options = distillOptions(workspace, cacheDir, kit.modelPath, {scorer: "recent", keepRatio: 0.25, segmentTokens: 192});
    });

    after(async () => {
        await kit?.engine.dispose();
        await rm(workspace, {recursive: true, force: true});
        await rm(cacheDir, {recursive: true, force: true});
    });

    test("a first distill evaluates everything; an unchanged workspace reuses the cache without evaluating", {timeout}, async () => {
        const built = await kit.engine.distillForTesting(options);
        assert.equal(built.result.cacheOutcome, "built");
        assert.equal(built.result.evaluatedTokens, built.result.promptTokens);
        assert.ok(built.result.segments >= 5, `${built.result.segments} segments`);
        const reused = await kit.engine.distill(options);
        assert.equal(reused.cacheOutcome, "reused");
        assert.equal(reused.evaluatedTokens, 0);
        assert.equal(reused.stateBytes, built.result.stateBytes);
    });

    test("editing the last file re-evaluates only the last segments, and equals a fresh build", {timeout}, async () => {
        // The test indexer orders files by path: find the last one in the prompt.
        const before = await kit.engine.distillForTesting(options);
        const lastFile = before.manifest.index.files[before.manifest.index.files.length - 1]!;
        await appendFile(lastFile.absolutePath, "Appended: the final answer is 42.\n");
        const refreshed = await kit.engine.distillForTesting(options);
        assert.equal(refreshed.result.cacheOutcome, "refreshed");
        const expected = tokensFromChange(before, refreshed, lastFile.charStart);
        assert.ok(expected.firstSegment >= refreshed.manifest.segments.length - 2, `re-processing starts at segment ${expected.firstSegment}`);
        assert.equal(refreshed.result.evaluatedTokens, expected.tokens);
        assert.ok(refreshed.result.evaluatedTokens < refreshed.result.promptTokens / 2,
            `${refreshed.result.evaluatedTokens} of ${refreshed.result.promptTokens} tokens evaluated`);

        // The refreshed cache is the one a rebuild from scratch makes.
        const freshCacheDir = await makeTemporaryFolder("fresh");
        try {
            const fresh = await kit.engine.distillForTesting({...options, cacheDir: freshCacheDir});
            assert.equal(fresh.result.cacheOutcome, "built");
            assert.deepEqual(refreshed.manifest.segments.map((segment) => segment.keptBitmap), fresh.manifest.segments.map((segment) => segment.keptBitmap));
            // Not byte-identical files (llama.cpp writes cells in cell order, which differs), but the same cache.
            const {model} = await kit.engine.loadModelForTesting(kit.modelPath);
            const suffix = model.renderConversation({systemPreamble: workspaceSystemPreamble, history: [], question: "What is the final answer?"}).suffixTokens;
            const predictions: Float64Array[] = [];
            const prefixes: Array<readonly number[]> = [];
            for (const output of [refreshed, fresh]) {
                const session = await AnswerSession.open({model, manifest: output.manifest, statePath: output.statePath, roomTokens: 64, batchSize: 64, threads: 1, log: () => undefined});
                try {
                    prefixes.push(session.prefixTokens);
                    predictions.push(await session.nextTokenProbabilities(suffix));
                } finally {
                    await session.dispose();
                }
            }
            assert.deepEqual(prefixes[0], prefixes[1]);
            // Segments after the change were evaluated on compact cells here, on cells with holes there:
            // float sums in another order, so tiny differences.
            assert.ok(maxAbsoluteDifference(predictions[0]!, predictions[1]!) < 1e-3, `difference ${maxAbsoluteDifference(predictions[0]!, predictions[1]!)}`);
        } finally {
            await rm(freshCacheDir, {recursive: true, force: true});
        }
    });

    test("adding a file at the end re-evaluates only the end", {timeout}, async () => {
        const before = await kit.engine.distillForTesting(options);
        await writeFile(path.join(workspace, "zz_last.md"), "A new file at the end of the prompt.\n");
        const after = await kit.engine.distillForTesting(options);
        assert.equal(after.result.cacheOutcome, "refreshed");
        const added = after.manifest.index.files.find((file) => file.relativePath === "zz_last.md")!;
        const expected = tokensFromChange(before, after, added.charStart);
        assert.ok(expected.firstSegment >= after.manifest.segments.length - 2, `re-processing starts at segment ${expected.firstSegment}`);
        assert.equal(after.result.evaluatedTokens, expected.tokens);
        assert.ok(after.result.evaluatedTokens < before.result.promptTokens / 2);
    });

    test("the cache report, unloading the model and clearing the workspace's caches", {timeout}, async () => {
        const distilled = await kit.engine.distill(options);
        const report = await kit.engine.getCacheReport(options);
        assert.deepEqual(report, distilled.report);
        assert.equal(report!.keptTokens, distilled.keptTokens);
        assert.equal(report!.files.length, distilled.files);
        assert.equal(report!.files.reduce((sum, file) => sum + file.keptTokens, 0) <= distilled.keptTokens, true);
        assert.equal(await kit.engine.getCacheReport({...options, keepRatio: 0.5}), undefined, "no cache for other settings");

        await kit.engine.unloadModel();
        const mark = kit.logLines.length;
        assert.equal((await kit.engine.distill(options)).cacheOutcome, "reused");
        assert.match(kit.logLines.slice(mark).join("\n"), /model .*: llama/, "the model was loaded again");

        await kit.engine.clearCache({folders: options.folders, cacheDir});
        assert.equal(await kit.engine.getCacheReport(options), undefined);
        assert.equal((await kit.engine.distill(options)).cacheOutcome, "built");
    });

    test("editing the first file re-evaluates everything", {timeout}, async () => {
        const first = (await kit.engine.distillForTesting(options)).manifest.index.files[0]!;
        const text = await readFile(first.absolutePath, "utf8");
        await writeFile(first.absolutePath, "Edited first line.\n" + text);
        const rebuilt = await kit.engine.distillForTesting(options);
        assert.equal(rebuilt.result.cacheOutcome, "built");
        assert.equal(rebuilt.result.evaluatedTokens, rebuilt.result.promptTokens);
        assert.ok(files.length > 0);
    });
});

// The engine on the patched build: one-pass compaction in both modes (holes, renumber). The compressed cache
// restored into a smaller context predicts like the one in place, an edit of the last file re-evaluates only
// the last segments, the mode and the build are recorded in the manifest, and the cache size cap of a request
// reaches the cache store.
import assert from "node:assert/strict";
import {appendFile, readdir, rm} from "node:fs/promises";
import {after, before, describe, test} from "node:test";
import {AnswerSession} from "../../src/engine/AnswerSession";
import {workspaceSystemPreamble} from "../../src/engine/distillPrompt";
import type {DistillPromptOutput} from "../../src/engine/distillPrompt";
import type {DistillCompactionMode, DistillOptions} from "../../src/engine/engineApi";
import type {LoadedModel} from "../../src/engine/llamaBinding";
import {argmax, disposeDistilledSample, distillSampleWorkspace, createTestEngine, distillOptions, makeTemporaryFolder, maxAbsoluteDifference, snapshotFolder, writeSampleWorkspace} from "./helpers/engineTestKit";
import type {DistilledSample, TestEngine} from "./helpers/engineTestKit";

const timeout = 300_000;

async function restoredProbabilities(model: LoadedModel, output: DistillPromptOutput, suffix: readonly number[]): Promise<{probabilities: Float64Array; contextSize: number; prefixTokens: readonly number[]}> {
    const session = await AnswerSession.open({model, manifest: output.manifest, statePath: output.statePath, roomTokens: 64, batchSize: 64, threads: 1, log: () => undefined});
    try {
        return {probabilities: await session.nextTokenProbabilities(suffix), contextSize: session.contextSize, prefixTokens: session.prefixTokens.slice()};
    } finally {
        await session.dispose();
    }
}

for (const mode of ["holes", "renumber"] as const satisfies readonly DistillCompactionMode[]) {
    describe(`one-pass compaction, ${mode} (patched build)`, {timeout}, () => {
        let sample: DistilledSample | undefined;
        let kit: TestEngine;
        let workspace: string;
        let options: DistillOptions;
        let distilled: DistillPromptOutput;
        let model: LoadedModel;
        let snapshotBefore: Record<string, string>;

        before(async () => {
            sample = await distillSampleWorkspace({llamaBuild: "patched"}, {keepRatio: 0.2, scorer: "surprisal", segmentTokens: 256, compaction: mode});
            ({kit, workspace, options, distilled, model, snapshotBefore} = sample);
        });

        after(() => disposeDistilledSample(sample));

        test("the patched build runs; the build and the compaction mode are reported and recorded", () => {
            assert.equal(distilled.result.build.patched, true, distilled.result.build.description);
            assert.match(distilled.result.build.description, /^patched local build, cpu/);
            assert.equal(distilled.result.compaction, mode);
            assert.equal(distilled.manifest.settings.compaction, mode);
            assert.equal(distilled.manifest.build.patched, true);
            assert.equal(distilled.result.report.compaction, mode);
            assert.match(distilled.result.report.build, /patched local build/);
            assert.ok(kit.logLines.some((line) => line.startsWith("llama.cpp: patched local build, cpu")), "the log names the build and backend");
        });

        test("cells hold the kept tokens; positions keep their gaps only with holes", () => {
            const sequence = distilled.sequence!;
            assert.ok(distilled.result.segments > 2, `${distilled.result.segments} segments`);
            assert.equal(sequence.tokenCount, distilled.manifest.keptTokens);
            const positions = Array.from(sequence.tokenPositions());
            assert.equal(positions.length, distilled.manifest.keptTokens);
            for (let index = 1; index < positions.length; index++)
                assert.ok(positions[index]! > positions[index - 1]!, `ascending at ${index}`);
            if (mode === "renumber")
                assert.deepEqual(positions, positions.map((_, index) => index));
            else
                assert.ok(positions[positions.length - 1]! > positions.length * 2, `holes: last position ${positions[positions.length - 1]} for ${positions.length} cells`);
        });

        test("restored into a smaller context, the cache predicts like the compressed one in place (1e-3)", {timeout}, async () => {
            const inPlace = distilled.sequence!;
            const suffix = model.renderConversation({systemPreamble: workspaceSystemPreamble, history: [], question: "Which function multiplies by 7?"}).suffixTokens;
            const restored = await restoredProbabilities(model, distilled, suffix);
            const inPlaceProbabilities = await inPlace.nextTokenProbabilities(suffix);
            await inPlace.truncate(distilled.manifest.keptTokens);
            assert.ok(restored.contextSize < inPlace.contextSize, `restored context ${restored.contextSize} vs ${inPlace.contextSize}`);
            assert.deepEqual(restored.prefixTokens, inPlace.tokens.slice(0, distilled.manifest.keptTokens));
            assert.equal(argmax(restored.probabilities), argmax(inPlaceProbabilities));
            const difference = maxAbsoluteDifference(restored.probabilities, inPlaceProbabilities);
            assert.ok(difference <= 1e-3, `max abs difference ${difference}`);
            assert.ok(Math.max(...restored.probabilities) > 0.01, "a peaked distribution, so 1e-3 is a real tolerance");
        });

        test("editing the last file re-evaluates only the last segments; the refreshed cache equals a fresh build", {timeout}, async () => {
            const lastFile = distilled.manifest.index.files[distilled.manifest.index.files.length - 1]!;
            await appendFile(lastFile.absolutePath, "Appended: the final answer is 42.\n");
            const refreshed = await kit.engine.distillForTesting(options);
            assert.equal(refreshed.result.cacheOutcome, "refreshed");
            const firstReprocessed = refreshed.manifest.segments.findIndex((segment) => segment.charEnd > lastFile.charStart);
            assert.ok(firstReprocessed >= refreshed.manifest.segments.length - 2, `re-processing starts at segment ${firstReprocessed}`);
            assert.ok(refreshed.result.evaluatedTokens > 0 && refreshed.result.evaluatedTokens < refreshed.result.promptTokens / 2,
                `${refreshed.result.evaluatedTokens} of ${refreshed.result.promptTokens} tokens evaluated`);

            const freshCacheDir = await makeTemporaryFolder("fresh");
            try {
                const fresh = await kit.engine.distillForTesting({...options, cacheDir: freshCacheDir});
                assert.equal(fresh.result.cacheOutcome, "built");
                assert.equal(fresh.result.evaluatedTokens, fresh.result.promptTokens);
                assert.deepEqual(refreshed.manifest.segments.map((segment) => segment.keptBitmap), fresh.manifest.segments.map((segment) => segment.keptBitmap));
                const suffix = model.renderConversation({systemPreamble: workspaceSystemPreamble, history: [], question: "What is the final answer?"}).suffixTokens;
                const fromRefreshed = await restoredProbabilities(model, refreshed, suffix);
                const fromFresh = await restoredProbabilities(model, fresh, suffix);
                const difference = maxAbsoluteDifference(fromRefreshed.probabilities, fromFresh.probabilities);
                assert.ok(difference <= 1e-3, `refreshed vs fresh: max abs difference ${difference}`);
            } finally {
                await rm(freshCacheDir, {recursive: true, force: true});
            }
        });

        test("a cache made with the other compaction mode is not reused", {timeout}, async () => {
            const other: DistillCompactionMode = mode === "holes" ? "renumber" : "holes";
            const result = await kit.engine.distill({...options, compaction: other});
            assert.equal(result.cacheOutcome, "built");
            assert.equal(result.compaction, other);
            assert.ok(kit.logLines.some((line) => line.includes(`compaction was "${mode}", now "${other}"`)), "the reason is logged");
        });

        test("the workspace's files are byte-identical afterwards (except the test's own edit)", async () => {
            const after = await snapshotFolder(workspace);
            const changed = Object.keys(after).filter((file) => after[file] !== snapshotBefore[file]);
            assert.equal(changed.length, 1, `changed: ${changed.join(", ")}`);
        });
    });
}

describe("the cache size cap of a request reaches the cache store", {timeout}, () => {
    test("beyond the cap the least recently used cache is evicted, the new one kept", {timeout}, async () => {
        const kit = await createTestEngine({llamaBuild: "patched"});
        const workspace = await makeTemporaryFolder("ws");
        const cacheDir = await makeTemporaryFolder("cache");
        try {
            await writeSampleWorkspace(workspace, {files: 2, linesPerFile: 6});
            const first = await kit.engine.distill(distillOptions(workspace, cacheDir, kit.modelPath, {keepRatio: 0.3, scorer: "recent"}));
            const second = await kit.engine.distill(distillOptions(workspace, cacheDir, kit.modelPath, {keepRatio: 0.5, scorer: "recent", cacheSizeCapBytes: first.stateBytes + 1}));
            const entries = (await readdir(cacheDir, {withFileTypes: true})).filter((entry) => entry.isDirectory()).map((entry) => entry.name);
            assert.ok(entries.includes(second.cacheId), "the new cache stays");
            assert.ok(!entries.includes(first.cacheId), "the older cache was evicted");
            assert.ok(kit.logLines.some((line) => line.includes(`cache ${first.cacheId} evicted`)));

            // Without a cap in the request the engine's default (8 GiB) keeps both.
            const third = await kit.engine.distill(distillOptions(workspace, cacheDir, kit.modelPath, {keepRatio: 0.3, scorer: "recent"}));
            const entriesAfter = (await readdir(cacheDir, {withFileTypes: true})).filter((entry) => entry.isDirectory()).map((entry) => entry.name);
            assert.ok(entriesAfter.includes(third.cacheId) && entriesAfter.includes(second.cacheId));
        } finally {
            await kit.engine.dispose();
            await rm(workspace, {recursive: true, force: true});
            await rm(cacheDir, {recursive: true, force: true});
        }
    });
});

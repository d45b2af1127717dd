// Degraded mode: node-llama-cpp's stock CPU binary (loaded on purpose with llamaBuild "stock"; one process holds
// one binary, so this file runs in its own process). The engine still distills (erasing ranges), saves, restores
// and refreshes; the adapter scorer is refused with the reason; a cache of the patched build is rejected with
// the reason and rebuilt.
import assert from "node:assert/strict";
import {appendFile, readFile, writeFile} from "node:fs/promises";
import path from "node:path";
import {after, before, describe, test} from "node:test";
import {AnswerSession} from "../../src/engine/AnswerSession";
import {manifestFileName} from "../../src/engine/CacheStore";
import {workspaceSystemPreamble} from "../../src/engine/distillPrompt";
import type {DistillPromptOutput} from "../../src/engine/distillPrompt";
import type {DistillOptions} from "../../src/engine/engineApi";
import {UnsupportedScorerError} from "../../src/engine/engineErrors";
import type {LoadedModel} from "../../src/engine/llamaBinding";
import {argmax, disposeDistilledSample, distillSampleWorkspace, maxAbsoluteDifference, snapshotFolder} from "./helpers/engineTestKit";
import type {DistilledSample, TestEngine} from "./helpers/engineTestKit";
import {writeScoringAdapterFixture} from "../fixtures/scoringAdapterFixture";

const timeout = 300_000;

describe("degraded mode: the stock binary", {timeout}, () => {
    let sample: DistilledSample | undefined;
    let kit: TestEngine;
    let workspace: string;
    let cacheDir: string;
    let options: DistillOptions;
    let distilled: DistillPromptOutput;
    let model: LoadedModel;
    let snapshotBefore: Record<string, string>;

    before(async () => {
        // The compaction option is the patched build's; the stock build erases ranges whatever it says.
        sample = await distillSampleWorkspace({llamaBuild: "stock"}, {keepRatio: 0.2, scorer: "surprisal", segmentTokens: 256, compaction: "holes"});
        ({kit, workspace, cacheDir, options, distilled, model, snapshotBefore} = sample);
    });

    after(() => disposeDistilledSample(sample));

    test("the degraded build is reported with its reason and erases ranges", () => {
        assert.equal(distilled.result.build.patched, false);
        assert.match(distilled.result.build.description, /^degraded: /);
        assert.equal(distilled.result.compaction, "erase-ranges");
        assert.equal(distilled.manifest.settings.compaction, "erase-ranges");
        assert.equal(distilled.manifest.build.patched, false);
        assert.equal(distilled.manifest.build.buildType, "prebuilt");
        assert.ok(kit.logLines.some((line) => line.startsWith("llama.cpp: degraded: ")), "the log says degraded and why");
    });

    test("restored into a smaller context, the cache predicts like the compressed one in place (1e-3)", {timeout}, async () => {
        const inPlace = distilled.sequence!;
        const suffix = model.renderConversation({systemPreamble: workspaceSystemPreamble, history: [], question: "Which function multiplies by 7?"}).suffixTokens;
        const inPlaceProbabilities = await inPlace.nextTokenProbabilities(suffix);
        const session = await AnswerSession.open({model, manifest: distilled.manifest, statePath: distilled.statePath, roomTokens: 64, batchSize: 64, threads: 1, log: () => undefined});
        try {
            assert.ok(session.contextSize < inPlace.contextSize);
            const restored = await session.nextTokenProbabilities(suffix);
            assert.equal(argmax(restored), argmax(inPlaceProbabilities));
            const difference = maxAbsoluteDifference(restored, inPlaceProbabilities);
            assert.ok(difference <= 1e-3, `max abs difference ${difference}`);
        } finally {
            await session.dispose();
        }
    });

    test("the adapter scorer is refused with the reason", {timeout}, async () => {
        const adapterPath = path.join(cacheDir, "scorer.gguf");
        await writeScoringAdapterFixture(kit.modelPath, adapterPath, {seed: 5, eta: 1, hidden: 16});
        await assert.rejects(kit.engine.distill({...options, scorer: "adapter", adapterPath}),
            (error: unknown) => error instanceof UnsupportedScorerError && /"adapter" scorer is not available: it needs the patched llama.cpp build/.test(error.message) &&
                /degraded: /.test(error.message));
    });

    test("editing the last file re-evaluates only the last segments", {timeout}, async () => {
        const lastFile = distilled.manifest.index.files[distilled.manifest.index.files.length - 1]!;
        await appendFile(lastFile.absolutePath, "Appended: the final answer is 42.\n");
        const refreshed = await kit.engine.distillForTesting(options);
        assert.equal(refreshed.result.cacheOutcome, "refreshed");
        assert.ok(refreshed.result.evaluatedTokens > 0 && refreshed.result.evaluatedTokens < refreshed.result.promptTokens / 2,
            `${refreshed.result.evaluatedTokens} of ${refreshed.result.promptTokens} tokens evaluated`);
    });

    test("a cache of the patched build is rejected with the reason and rebuilt", {timeout}, async () => {
        const manifestPath = path.join(cacheDir, distilled.result.cacheId, manifestFileName);
        const manifest = JSON.parse(await readFile(manifestPath, "utf8")) as {build: {patched: boolean; buildType: string}};
        manifest.build.patched = true;
        manifest.build.buildType = "localBuild";
        await writeFile(manifestPath, JSON.stringify(manifest));
        const rebuilt = await kit.engine.distill(options);
        assert.equal(rebuilt.cacheOutcome, "built");
        assert.ok(kit.logLines.some((line) => line.includes("rejected: made by another llama.cpp build (the patched build, now the stock build)")), "the reason is logged");
    });

    test("the workspace's files are unchanged except the test's own edit", async () => {
        const after = await snapshotFolder(workspace);
        assert.equal(Object.keys(after).filter((file) => after[file] !== snapshotBefore[file]).length, 1);
    });
});

// Distill -> save -> restore -> answer on the CPU fixture model (one model load for the file).
import assert from "node:assert/strict";
import {after, before, describe, test} from "node:test";
import {AnswerSession} from "../../src/engine/AnswerSession";
import {decodeBitmap} from "../../src/engine/cacheManifest";
import {CacheStore} from "../../src/engine/CacheStore";
import {workspaceSystemPreamble} from "../../src/engine/distillPrompt";
import type {DistillPromptOutput} from "../../src/engine/distillPrompt";
import type {DistillOptions} from "../../src/engine/engineApi";
import {buildAlwaysKeepMask, defaultAlwaysKeepRules} from "../../src/engine/selection/buildAlwaysKeepMask";
import type {LoadedModel} from "../../src/engine/llamaBinding";
import {argmax, disposeDistilledSample, distillSampleWorkspace, maxAbsoluteDifference, snapshotFolder} from "./helpers/engineTestKit";
import type {DistilledSample, TestEngine} from "./helpers/engineTestKit";

const timeout = 300_000;
const keepRatio = 0.2;

describe("distill, save, restore, answer", {timeout}, () => {
    let sample: DistilledSample | undefined;
    let kit: TestEngine;
    let workspace: string;
    let cacheDir: string;
    let options: DistillOptions;
    let snapshotBefore: Record<string, string>;
    let distilled: DistillPromptOutput;
    let model: LoadedModel;

    before(async () => {
        sample = await distillSampleWorkspace({}, {keepRatio, scorer: "surprisal", segmentTokens: 512});
        ({kit, workspace, cacheDir, options, distilled, model, snapshotBefore} = sample);
    });

    after(() => disposeDistilledSample(sample));

    test("restored into a smaller context, the cache predicts like the compressed one in place", {timeout}, async () => {
        const inPlace = distilled.sequence!;
        assert.equal(distilled.result.cacheOutcome, "built");
        assert.ok(distilled.result.segments > 2, `${distilled.result.segments} segments`);
        const suffix = model.renderConversation({systemPreamble: workspaceSystemPreamble, history: [], question: "Which function multiplies by 7?"}).suffixTokens;
        const inPlaceProbabilities = await inPlace.nextTokenProbabilities(suffix);

        const session = await AnswerSession.open({model, manifest: distilled.manifest, statePath: distilled.statePath, roomTokens: 64, batchSize: 64, threads: 1, log: () => undefined});
        try {
            assert.ok(session.contextSize < inPlace.contextSize, `restored context ${session.contextSize} vs distill context ${inPlace.contextSize}`);
            assert.deepEqual(session.prefixTokens, inPlace.tokens.slice(0, distilled.manifest.keptTokens), "same tokens in the same cells");
            const restoredProbabilities = await session.nextTokenProbabilities(suffix);
            assert.equal(argmax(restoredProbabilities), argmax(inPlaceProbabilities));
            const difference = maxAbsoluteDifference(restoredProbabilities, inPlaceProbabilities);
            assert.ok(difference <= 1e-3, `max abs difference ${difference}`);

            // The comparison is sensitive: the uncompressed prompt predicts measurably differently.
            const full = await model.createSequence({contextSize: 4096, batchSize: 256, flashAttention: distilled.manifest.kv.flashAttention, threads: 1});
            try {
                await full.evaluate(distilled.layout.tokens);
                const fullProbabilities = await full.nextTokenProbabilities(suffix);
                assert.ok(maxAbsoluteDifference(fullProbabilities, inPlaceProbabilities) > 1e-3, "compression changed the prediction");
            } finally {
                await full.dispose();
            }
            assert.ok(Math.max(...restoredProbabilities) > 0.01, "a peaked distribution, so 1e-3 is a real tolerance");
        } finally {
            await session.dispose();
        }
    });

    test("the kept set honours the budget and the always-keep rules; cells hold the kept tokens in order", {timeout}, () => {
        const {layout, manifest} = distilled;
        const total = layout.tokens.length;
        const kept = new Uint8Array(total);
        for (const segment of manifest.segments)
            kept.set(decodeBitmap(segment.keptBitmap, segment.tokenEnd - segment.tokenStart), segment.tokenStart);
        const mask = buildAlwaysKeepMask(layout, defaultAlwaysKeepRules);
        let alwaysKept = 0;
        for (let index = 0; index < total; index++) {
            if (mask[index] === 1) {
                alwaysKept++;
                assert.equal(kept[index], 1, `always-kept token ${index} was evicted`);
            }
        }
        const keptCount = kept.reduce((sum, bit) => sum + bit, 0);
        assert.equal(keptCount, manifest.keptTokens);
        // The budget is met, exceeded at most by always-kept tokens of the last segment (the tail).
        const lastSegment = manifest.segments[manifest.segments.length - 1]!;
        let alwaysKeptInLast = 0;
        for (let index = lastSegment.tokenStart; index < lastSegment.tokenEnd; index++)
            alwaysKeptInLast += mask[index]!;
        assert.ok(keptCount >= Math.round(keepRatio * total), `kept ${keptCount} of ${total}`);
        assert.ok(keptCount <= Math.round(keepRatio * total) + alwaysKeptInLast, `kept ${keptCount} of ${total}`);
        assert.ok(alwaysKept < keptCount, "the scorer chose tokens beyond the always-kept ones");
        assert.equal(manifest.effectiveKeepRatio, keptCount / total);
        assert.ok(Math.abs(manifest.effectiveKeepRatio - keepRatio) < 0.05, `effective ratio ${manifest.effectiveKeepRatio}`);

        const expectedCells = layout.tokens.filter((_token, index) => kept[index] === 1);
        assert.deepEqual(distilled.sequence!.tokens.slice(0, keptCount), expectedCells);

        // File spans: headers fully kept, counts add up.
        distilled.result.report.files.forEach((file, fileIndex) => {
            const span = layout.files[fileIndex]!;
            assert.equal(file.tokens, span.tokenEnd - span.tokenStart);
            assert.ok(file.keptTokens >= span.headerTokenEnd - span.tokenStart, `${file.displayPath} keeps its header`);
            assert.ok(file.keptTokens < file.tokens, `${file.displayPath} was compressed`);
        });
        const fileTokens = distilled.result.report.files.reduce((sum, file) => sum + file.tokens, 0);
        assert.equal(fileTokens + layout.openingTokenCount + (total - layout.tailTokenStart), total);
    });

    test("answers stream, questions in a row reuse the loaded cache, follow-ups never touch the saved cache", {timeout}, async () => {
        const store = new CacheStore(cacheDir, () => undefined);
        const stateBefore = distilled.manifest.state;
        const streamed: string[] = [];
        const first = await kit.engine.ask({...options, question: "What is the retry limit?", maxAnswerTokens: 12}, {onToken: (text) => streamed.push(text)});
        assert.equal(first.cacheLoaded, true);
        assert.equal(first.distill.cacheOutcome, "reused");
        assert.equal(first.distill.evaluatedTokens, 0);
        assert.equal(streamed.join(""), first.answer);
        assert.ok(first.answerTokens > 0 && first.answerTokens <= 12);
        assert.ok(first.answer.length > 0);

        const second = await kit.engine.ask({...options, question: "What is the retry limit?", maxAnswerTokens: 12});
        assert.equal(second.cacheLoaded, false, "the loaded cache was reused");
        assert.equal(second.timings.loadMs, 0);
        assert.equal(second.answer, first.answer, "greedy answers repeat exactly from the same cache");

        const followUp = await kit.engine.ask({
            ...options,
            question: "And the timeout?",
            maxAnswerTokens: 8,
            history: [{role: "user", text: "What is the retry limit?"}, {role: "assistant", text: first.answer}]
        });
        assert.equal(followUp.historyTurnsUsed, 2);
        assert.equal(followUp.cacheLoaded, false);
        const alone = await kit.engine.ask({...options, question: "And the timeout?", maxAnswerTokens: 8});
        assert.ok(followUp.questionTokens > alone.questionTokens, "earlier turns were appended");

        const read = await store.read(distilled.result.cacheId);
        assert.equal(read.kind, "found");
        if (read.kind === "found") {
            assert.deepEqual(read.manifest.state, stateBefore);
            assert.equal(await store.verifyState(read.statePath, read.manifest.state), undefined);
        }
    });

    test("the answer length is capped and an abort stops generation", {timeout}, async () => {
        const capped = await kit.engine.ask({...options, question: "List every function.", maxAnswerTokens: 3});
        assert.ok(capped.answerTokens <= 3);
        const controller = new AbortController();
        let pieces = 0;
        const aborted = await kit.engine.ask({...options, question: "List every function.", maxAnswerTokens: 40}, {
            signal: controller.signal,
            onToken: () => {
                pieces++;
                if (pieces === 2)
                    controller.abort();
            }
        });
        assert.equal(aborted.stopReason, "aborted");
        assert.ok(aborted.answerTokens < 40);
    });

    test("the workspace's files are byte-identical afterwards", {timeout}, async () => {
        assert.deepEqual(await snapshotFolder(workspace), snapshotBefore);
    });
});

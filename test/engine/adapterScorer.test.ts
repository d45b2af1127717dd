// The `adapter` scorer on the patched build: the scoring adapter is attached before the prefill, each segment's
// scores are taken after its prefill, and the kept set is their top-k. Scores are checked against an independent
// evaluation of the same prompt through the binding; foreign and missing adapters are refused with the reason;
// the adapter's hash is part of the cache's settings.
import assert from "node:assert/strict";
import {createHash} from "node:crypto";
import {readFile, rm} from "node:fs/promises";
import path from "node:path";
import {after, before, describe, test} from "node:test";
import {decodeBitmap} from "../../src/engine/cacheManifest";
import {CacheStore} from "../../src/engine/CacheStore";
import type {SegmentScoredEvent} from "../../src/engine/distillPrompt";
import type {DistillOptions} from "../../src/engine/engineApi";
import {ScoringAdapterError} from "../../src/engine/engineErrors";
import {buildAlwaysKeepMask, defaultAlwaysKeepRules} from "../../src/engine/selection/buildAlwaysKeepMask";
import {createTestEngine, distillOptions, makeTemporaryFolder, snapshotFolder, writeSampleWorkspace} from "./helpers/engineTestKit";
import type {TestEngine} from "./helpers/engineTestKit";
import {writeScoringAdapterFixture} from "../fixtures/scoringAdapterFixture";

const timeout = 300_000;

/** Always-kept tokens plus the highest-scoring others up to `kept` (ties to the earlier token): computed here, not by the engine. */
function expectedKeptBits(scores: ArrayLike<number>, alwaysKeep: Uint8Array, kept: number): Uint8Array {
    const bits = Uint8Array.from(alwaysKeep);
    const alwaysKept = alwaysKeep.reduce((sum, bit) => sum + bit, 0);
    const others = Array.from({length: scores.length}, (_, index) => index).filter((index) => alwaysKeep[index] === 0);
    others.sort((left, right) => scores[right]! - scores[left]! || left - right);
    for (const index of others.slice(0, Math.max(0, kept - alwaysKept)))
        bits[index] = 1;
    return bits;
}

describe("the adapter scorer (patched build)", {timeout}, () => {
    let kit: TestEngine;
    let workspace: string;
    let cacheDir: string;
    let adapterFolder: string;
    let adapterPath: string;
    let otherAdapterPath: string;
    let foreignAdapterPath: string;
    let options: DistillOptions;
    let snapshotBefore: Record<string, string>;

    before(async () => {
        kit = await createTestEngine({llamaBuild: "patched"});
        workspace = await makeTemporaryFolder("ws");
        cacheDir = await makeTemporaryFolder("cache");
        adapterFolder = await makeTemporaryFolder("adapters");
        await writeSampleWorkspace(workspace, {files: 4, linesPerFile: 10});
        snapshotBefore = await snapshotFolder(workspace);
        adapterPath = path.join(adapterFolder, "scorer.gguf");
        otherAdapterPath = path.join(adapterFolder, "other-scorer.gguf");
        foreignAdapterPath = path.join(adapterFolder, "foreign-scorer.gguf");
        await writeScoringAdapterFixture(kit.modelPath, adapterPath, {seed: 5, eta: 1, hidden: 16});
        await writeScoringAdapterFixture(kit.modelPath, otherAdapterPath, {seed: 99, eta: 1, hidden: 16});
        await writeScoringAdapterFixture(kit.modelPath, foreignAdapterPath, {seed: 5, eta: 1, hidden: 16, vocabularyFingerprintOverride: "0123456789abcdef"});
        options = distillOptions(workspace, cacheDir, kit.modelPath, {keepRatio: 0.25, scorer: "adapter", segmentTokens: 256, adapterPath});
    });

    after(async () => {
        await kit?.engine.dispose();
        await rm(workspace, {recursive: true, force: true});
        await rm(cacheDir, {recursive: true, force: true});
        await rm(adapterFolder, {recursive: true, force: true});
    });

    test("one segment: the scores equal an independent evaluation's, and the kept set is their top-k", {timeout}, async () => {
        const events: SegmentScoredEvent[] = [];
        const oneSegmentCache = await makeTemporaryFolder("cache-one");
        try {
            const output = await kit.engine.distillForTesting({...options, segmentTokens: 0, cacheDir: oneSegmentCache}, {onSegmentScored: (event) => events.push(event)});
            assert.equal(output.result.segments, 1);
            assert.equal(events.length, 1);
            const event = events[0]!;
            assert.equal(event.tokens.length, output.layout.tokens.length);

            // Reference: a fresh context with the same adapter, the same prompt, taken through the binding.
            const {model} = await kit.engine.loadModelForTesting(kit.modelPath);
            const reference = await model.createSequence({contextSize: output.result.contextSize, batchSize: 128, flashAttention: false, threads: 1});
            let referenceScores: Float64Array;
            try {
                assert.equal((await reference.attachScoringAdapter(adapterPath)).eta, 1);
                await reference.evaluate(output.layout.tokens);
                const taken = reference.takeScores();
                assert.deepEqual(Array.from(taken.tokenIndexes), output.layout.tokens.map((_, index) => index));
                referenceScores = Float64Array.from(taken.scores);
            } finally {
                await reference.dispose();
            }
            for (let index = 0; index < referenceScores.length; index++) {
                const difference = Math.abs(event.scores[index]! - referenceScores[index]!);
                assert.ok(difference <= 1e-3 * (Math.abs(referenceScores[index]!) + 1e-3), `token ${index}: ${event.scores[index]} vs ${referenceScores[index]}`);
            }
            assert.ok(new Set(referenceScores).size > referenceScores.length / 2, "the scores vary from token to token");

            const mask = buildAlwaysKeepMask(output.layout, defaultAlwaysKeepRules);
            const segment = output.manifest.segments[0]!;
            const kept = decodeBitmap(segment.keptBitmap, segment.tokenEnd - segment.tokenStart);
            assert.deepEqual(kept, expectedKeptBits(referenceScores, mask, segment.keptTokens));
            assert.ok(segment.keptTokens > mask.reduce((sum, bit) => sum + bit, 0), "the adapter chose tokens beyond the always-kept ones");
        } finally {
            await rm(oneSegmentCache, {recursive: true, force: true});
        }
    });

    test("several segments: each keeps the top-k of its adapter scores; the adapter's hash is recorded; answers come from the cache", {timeout}, async () => {
        const events: SegmentScoredEvent[] = [];
        const output = await kit.engine.distillForTesting(options, {onSegmentScored: (event) => events.push(event)});
        assert.equal(output.result.cacheOutcome, "built");
        assert.ok(output.result.segments > 2, `${output.result.segments} segments`);
        assert.equal(events.length, output.result.segments);
        const mask = buildAlwaysKeepMask(output.layout, defaultAlwaysKeepRules);
        events.forEach((event, index) => {
            const segment = output.manifest.segments[index]!;
            assert.ok(event.scores.every(Number.isFinite), `segment ${index} has a score for every token`);
            const kept = decodeBitmap(segment.keptBitmap, segment.tokenEnd - segment.tokenStart);
            assert.deepEqual(kept, expectedKeptBits(event.scores, mask.subarray(segment.tokenStart, segment.tokenEnd), segment.keptTokens), `segment ${index}`);
        });
        const sha256 = createHash("sha256").update(await readFile(adapterPath)).digest("hex");
        assert.equal(output.manifest.settings.adapterSha256, sha256);
        assert.equal(output.result.report.adapterSha256, sha256);
        assert.equal(output.manifest.settings.scorer, "adapter");

        const answer = await kit.engine.ask({...options, question: "What is the retry limit?", maxAnswerTokens: 6});
        assert.equal(answer.distill.cacheOutcome, "reused");
        assert.ok(answer.answerTokens > 0);
    });

    test("a cache made with another adapter is not reused", {timeout}, async () => {
        const result = await kit.engine.distill({...options, adapterPath: otherAdapterPath});
        assert.equal(result.cacheOutcome, "built");
        assert.ok(kit.logLines.some((line) => /not reused: adapterSha256 was "[0-9a-f]{64}", now "[0-9a-f]{64}"/.test(line)), "the reason is logged");
        const store = new CacheStore(cacheDir, () => undefined);
        const read = await store.read(result.cacheId);
        assert.equal(read.kind, "found");
        if (read.kind === "found")
            assert.equal(read.manifest.settings.adapterSha256, createHash("sha256").update(await readFile(otherAdapterPath)).digest("hex"));
    });

    test("an adapter made for another model, a missing file and no file are refused with the reason; nothing is cached", {timeout}, async () => {
        const refusalCache = await makeTemporaryFolder("cache-refused");
        try {
            await assert.rejects(kit.engine.distill({...options, cacheDir: refusalCache, adapterPath: foreignAdapterPath}),
                (error: unknown) => error instanceof ScoringAdapterError && error.message.includes(foreignAdapterPath) &&
                    /made for another model/.test(error.message) && /vocabulary 0123456789abcdef/.test(error.message));
            await assert.rejects(kit.engine.distill({...options, cacheDir: refusalCache, adapterPath: path.join(adapterFolder, "missing.gguf")}),
                (error: unknown) => error instanceof ScoringAdapterError && /missing\.gguf cannot be used: the file does not exist/.test(error.message));
            const {adapterPath: _dropped, ...withoutAdapter} = options;
            await assert.rejects(kit.engine.distill({...withoutAdapter, cacheDir: refusalCache}),
                (error: unknown) => error instanceof ScoringAdapterError && /needs an adapter file/.test(error.message));
            const store = new CacheStore(refusalCache, () => undefined);
            assert.equal((await store.read(CacheStore.keyFor(options))).kind, "missing");
        } finally {
            await rm(refusalCache, {recursive: true, force: true});
        }
    });

    test("the workspace's files are byte-identical afterwards", async () => {
        assert.deepEqual(await snapshotFolder(workspace), snapshotBefore);
    });
});

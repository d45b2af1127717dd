// The TypeScript adapter writer (test/fixtures/scoringAdapterFixture.ts) against the patched loader:
// its vocabulary fingerprint is the one llama.cpp computes, so adapters for the TypeScript fixture
// models (the speed fixture of the benchmarks included) are accepted, and an override is refused.
import {after, before, describe, test} from "node:test";
import assert from "node:assert/strict";
import {mkdtemp, rm} from "node:fs/promises";
import {tmpdir} from "node:os";
import path from "node:path";
import type * as NodeLlamaCpp from "node-llama-cpp";
import {PatchedBuildError, loadPatchedLlama, setContextScoringAdapter, takeContextSequenceScores} from "../../src/engine/llamaBinding";
import {ensureFixtureModel} from "../fixtures/fixtureModel";
import {writeScoringAdapterFixture} from "../fixtures/scoringAdapterFixture";
import {exactContextOptions, seededTokens, tinyModelPath} from "./nativeTestSupport";

describe("scoring adapters written from TypeScript", {timeout: 120_000}, () => {
    let llama: NodeLlamaCpp.Llama;
    let folder: string;

    before(async () => {
        llama = await loadPatchedLlama(false);
        folder = await mkdtemp(path.join(tmpdir(), "kvd-adapter-"));
    });

    after(async () => {
        await llama?.dispose();
        await rm(folder, {recursive: true, force: true});
    });

    async function scoresWith(modelPath: string, adapterPath: string, tokenCount: number): Promise<{eta: number; scores: Float32Array; indexes: Uint32Array}> {
        const model = await llama.loadModel({modelPath});
        try {
            const context = await model.createContext({...exactContextOptions, contextSize: 256, batchSize: 64, sequences: 1});
            const {eta} = await setContextScoringAdapter(context, adapterPath);
            const sequence = context.getSequence();
            await sequence.evaluateWithoutGeneratingNewTokens(seededTokens(tokenCount, 200, 5));
            const taken = takeContextSequenceScores(sequence);
            await context.dispose();
            return {eta, scores: taken.scores, indexes: taken.tokenIndexes};
        } finally {
            await model.dispose();
        }
    }

    test("an adapter for the TypeScript fixture model loads and scores every token", async () => {
        const modelPath = await ensureFixtureModel({layers: 4});
        const adapterPath = path.join(folder, "fixture.scorer.gguf");
        const written = await writeScoringAdapterFixture(modelPath, adapterPath);
        assert.equal(written.eta, 1, "a quarter of 4 layers");
        const {eta, scores, indexes} = await scoresWith(modelPath, adapterPath, 100);
        assert.equal(eta, 1);
        assert.deepEqual(Array.from(indexes), Array.from({length: 100}, (_, index) => index));
        assert.ok(scores.every(Number.isFinite));
        assert.ok(new Set(scores).size > 50, "the scores vary from token to token");
    });

    test("the fingerprint matches llama.cpp's on the C++ tests' model too; another vocabulary is refused", async () => {
        const adapterPath = path.join(folder, "tiny.scorer.gguf");
        await writeScoringAdapterFixture(tinyModelPath(), adapterPath, {eta: 1});
        assert.equal((await scoresWith(tinyModelPath(), adapterPath, 20)).scores.length, 20);

        const foreignPath = path.join(folder, "tiny.foreign.gguf");
        await writeScoringAdapterFixture(tinyModelPath(), foreignPath, {eta: 1, vocabularyFingerprintOverride: "00000000deadbeef"});
        await assert.rejects(scoresWith(tinyModelPath(), foreignPath, 20),
            (error: unknown) => error instanceof PatchedBuildError && /another model/.test(error.message) && /00000000deadbeef/.test(error.message));
    });
});

// Patch 0005 (the decode worker waits for the device only for batches whose logits are read) and the lazy scores
// of patches 0003/0004, through node-llama-cpp on the patched CPU build. The CPU backend computes synchronously,
// so these tests prove that results are unchanged, not that the prefill got faster (that is the GPU benchmark's job).
// Reference: the same prefill with logits requested for every token, so every batch waits for the device as before.
import {after, before, describe, test} from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import type * as NodeLlamaCpp from "node-llama-cpp";
import {compactContextSequence, loadPatchedLlama, setContextScoringAdapter, takeContextSequenceScores} from "../../src/engine/llamaBinding";
import {exactContextOptions, maxAbsoluteDifference, nextTokenProbabilities, seededTokens, tinyModelPath, topToken} from "./nativeTestSupport";

const vocabularySize = 256;
const batchSize = 16;
const prompt = seededTokens(150, vocabularySize, 41); // 10 batches of 16 tokens, the last one partial
const probe = seededTokens(3, vocabularySize, 42);
const keptIndexes = prompt.map((_, index) => index).filter((index) => index < 4 || index % 7 === 3 || index >= prompt.length - 5);

function relativeDifference(actual: number, expected: number): number {
    return Math.abs(actual - expected) / (Math.abs(expected) + 1e-3);
}

describe("decode without a synchronize per batch (patched build)", {timeout: 120_000}, () => {
    let llama: NodeLlamaCpp.Llama;
    let model: NodeLlamaCpp.LlamaModel;

    before(async () => {
        llama = await loadPatchedLlama(false);
        model = await llama.loadModel({modelPath: tinyModelPath()});
    });

    after(async () => {
        await model?.dispose();
        await llama?.dispose();
    });

    /** Prefills `prompt` in batches of 16: without logits (no wait per batch) or with logits for every token (a wait per batch). */
    async function prefilled(withLogitsPerToken: boolean, scored: boolean) {
        const context = await model.createContext({...exactContextOptions, contextSize: 512, batchSize, sequences: 1});
        if (scored)
            await setContextScoringAdapter(context, path.join(path.dirname(tinyModelPath()), "tiny-llama.scorer.gguf"));
        const sequence = context.getSequence();
        if (withLogitsPerToken) {
            const input: NodeLlamaCpp.ControlledEvaluateInputItem[] = prompt.map((token) => [token, {generateNext: {logits: true}}]);
            const results = await sequence.controlledEvaluate(input);
            assert.equal(results.filter((result) => result?.next.logits !== undefined).length, prompt.length, "logits for every token");
        } else {
            const results = await sequence.controlledEvaluate([...prompt]);
            assert.equal(results.filter((result) => result?.next.logits !== undefined).length, 0, "no logits");
        }
        assert.equal(sequence.nextTokenIndex, prompt.length);
        return {context, sequence};
    }

    function assertProbabilitiesEqual(actual: Map<number, number>, expected: Map<number, number>, what: string): void {
        const difference = maxAbsoluteDifference(actual, expected);
        assert.ok(difference <= 1e-6, `${what}: max |dp| = ${difference}`);
        assert.equal(topToken(actual), topToken(expected), `${what}: top token`);
    }

    test("a prefill of several batches without logits, then a generation: the same next-token probabilities", async () => {
        const unsynchronized = await prefilled(false, false);
        const synchronized = await prefilled(true, false);

        // one probe token at a time, each a decode with logits right after the prefill's last batch
        for (let length = 1; length <= probe.length; length++) {
            const actual = await nextTokenProbabilities(unsynchronized.sequence, probe.slice(length - 1, length));
            const expected = await nextTokenProbabilities(synchronized.sequence, probe.slice(length - 1, length));
            assertProbabilitiesEqual(actual, expected, `probe token ${length}`);
        }

        // greedy generation through node-llama-cpp's sampler gives the same tokens
        const generate = async (sequence: NodeLlamaCpp.LlamaContextSequence) => {
            const tokens: NodeLlamaCpp.Token[] = [];
            for await (const token of sequence.evaluate([probe[0]], {temperature: 0})) {
                tokens.push(token);
                if (tokens.length === 5)
                    break;
            }
            return tokens;
        };
        assert.deepEqual(await generate(unsynchronized.sequence), await generate(synchronized.sequence));

        // sensitivity: a different prefix gives clearly different probabilities, so the comparison above can fail
        const other = await model.createContext({...exactContextOptions, contextSize: 512, batchSize, sequences: 1});
        const otherSequence = other.getSequence();
        await otherSequence.controlledEvaluate(seededTokens(prompt.length, vocabularySize, 43));
        const fresh = await prefilled(false, false);
        assert.ok(maxAbsoluteDifference(await nextTokenProbabilities(otherSequence, probe), await nextTokenProbabilities(fresh.sequence, probe)) > 1e-3,
            "another prompt should give other probabilities");

        await Promise.all([unsynchronized.context.dispose(), synchronized.context.dispose(), other.dispose(), fresh.context.dispose()]);
    });

    test("scores and compaction after a prefill without logits are the same", async () => {
        const unsynchronized = await prefilled(false, true);
        const synchronized = await prefilled(true, true);

        // all ten batches' scores were left in llama.cpp and are read by one take
        const actual = takeContextSequenceScores(unsynchronized.sequence);
        const expected = takeContextSequenceScores(synchronized.sequence);
        assert.deepEqual(Array.from(actual.tokenIndexes), prompt.map((_, index) => index));
        assert.deepEqual(Array.from(expected.tokenIndexes), prompt.map((_, index) => index));
        assert.ok(new Set(actual.scores).size > prompt.length / 2, "the scores vary from token to token");
        for (let index = 0; index < prompt.length; index++)
            assert.ok(relativeDifference(actual.scores[index], expected.scores[index]) <= 1e-6, `token ${index}: ${actual.scores[index]} vs ${expected.scores[index]}`);

        await Promise.all([unsynchronized.context.dispose(), synchronized.context.dispose()]);

        // compaction with the prefill's scores still pending: they are collected with the positions before the
        // compaction (with holes, token index != position afterwards), then the probe's continue the kept indexes
        for (const mode of ["holes", "renumber"] as const) {
            const compacted = await prefilled(false, true);
            const reference = await prefilled(true, true);
            await compactContextSequence(compacted.sequence, keptIndexes, mode);
            await compactContextSequence(reference.sequence, keptIndexes, mode);
            assertProbabilitiesEqual(await nextTokenProbabilities(compacted.sequence, probe),
                await nextTokenProbabilities(reference.sequence, probe), `${mode} compaction`);

            const taken = takeContextSequenceScores(compacted.sequence);
            assert.deepEqual(Array.from(taken.tokenIndexes),
                [...prompt.map((_, index) => index), ...probe.map((_, index) => keptIndexes.length + index)], mode);
            for (let index = 0; index < prompt.length; index++)
                assert.ok(relativeDifference(taken.scores[index], expected.scores[index]) <= 1e-6, `${mode}: token ${index}`);
            await Promise.all([compacted.context.dispose(), reference.context.dispose()]);
        }
    });

    test("scores of several evaluations accumulate until taken, also with re-evaluated tokens", async () => {
        const context = await model.createContext({...exactContextOptions, contextSize: 512, batchSize, sequences: 1});
        await setContextScoringAdapter(context, path.join(path.dirname(tinyModelPath()), "tiny-llama.scorer.gguf"));
        const sequence = context.getSequence();
        await sequence.evaluateWithoutGeneratingNewTokens(prompt.slice(0, 40));
        await sequence.evaluateWithoutGeneratingNewTokens(prompt.slice(40, 100));
        // erasing the last 10 tokens maps the pending scores before the cells go; the re-evaluated tokens score again
        await sequence.eraseContextTokenRanges([{start: 90, end: 100}]);
        await sequence.evaluateWithoutGeneratingNewTokens(prompt.slice(90, 100));
        const taken = takeContextSequenceScores(sequence);
        const expectedIndexes = [...prompt.slice(0, 100).map((_, index) => index), ...Array.from({length: 10}, (_, index) => 90 + index)];
        assert.deepEqual(Array.from(taken.tokenIndexes), expectedIndexes);
        for (let index = 90; index < 100; index++)
            assert.ok(relativeDifference(taken.scores[index + 10], taken.scores[index]) <= 1e-3, `re-evaluated token ${index}`);
        assert.equal(takeContextSequenceScores(sequence).scores.length, 0);
        await context.dispose();
    });
});

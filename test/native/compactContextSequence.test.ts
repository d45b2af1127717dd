// The one-pass compaction patch through node-llama-cpp (native/patches/0001 and 0002), on the patched CPU build.
import {after, before, describe, test} from "node:test";
import assert from "node:assert/strict";
import {mkdtemp, rm} from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type * as NodeLlamaCpp from "node-llama-cpp";
import {compactContextSequence, getContextSequenceTokenPositions, loadPatchedLlama} from "../../src/engine/llamaBinding";
import {exactContextOptions, maxAbsoluteDifference, nextTokenProbabilities, seededTokens, tinyModelPath, topToken} from "./nativeTestSupport";

const maximumProbabilityDifference = 1e-3;
const vocabularySize = 256;
const promptLength = 300;

// the first tokens, every fifth token, a run in the middle and the last tokens: the shape a selection has
const keptIndexes = Array.from({length: promptLength}, (_, index) => index)
    .filter((index) => index < 4 || index % 5 === 2 || (index >= 120 && index < 130) || index >= promptLength - 6);
const prompt = seededTokens(promptLength, vocabularySize, 11);
const probe = seededTokens(4, vocabularySize, 12);

function droppedRanges(kept: readonly number[], length: number): {start: number, end: number}[] {
    const keptSet = new Set(kept);
    const ranges: {start: number, end: number}[] = [];
    for (let index = 0; index < length; index++) {
        if (keptSet.has(index))
            continue;
        const last = ranges[ranges.length - 1];
        if (last !== undefined && last.end === index)
            last.end++;
        else
            ranges.push({start: index, end: index + 1});
    }
    return ranges;
}

function assertSameDistribution(actual: Map<number, number>, expected: Map<number, number>, what: string): void {
    const difference = maxAbsoluteDifference(actual, expected);
    assert.ok(difference <= maximumProbabilityDifference, `${what}: max |dp| = ${difference}`);
    assert.equal(topToken(actual), topToken(expected), `${what}: top token`);
}

describe("compactContextSequence (patched build)", {timeout: 120_000}, () => {
    let llama: NodeLlamaCpp.Llama;
    let model: NodeLlamaCpp.LlamaModel;
    let temporaryDirectory: string;

    before(async () => {
        llama = await loadPatchedLlama(false);
        model = await llama.loadModel({modelPath: tinyModelPath()});
        temporaryDirectory = await mkdtemp(path.join(os.tmpdir(), "kv-distill-native-"));
    });

    after(async () => {
        await model?.dispose();
        await llama?.dispose();
        if (temporaryDirectory !== undefined)
            await rm(temporaryDirectory, {recursive: true, force: true});
    });

    async function prefilledSequence(contextSize = 512): Promise<{context: NodeLlamaCpp.LlamaContext, sequence: NodeLlamaCpp.LlamaContextSequence}> {
        const context = await model.createContext({...exactContextOptions, contextSize, batchSize: 512, sequences: 1});
        const sequence = context.getSequence();
        await sequence.evaluateWithoutGeneratingNewTokens(prompt);
        return {context, sequence};
    }

    test("renumber gives the same next-token probabilities as node-llama-cpp's per-range erase", async () => {
        const compacted = await prefilledSequence();
        const result = await compactContextSequence(compacted.sequence, keptIndexes, "renumber");
        assert.equal(result.keptTokenCount, keptIndexes.length);
        assert.equal(result.nextPosition, keptIndexes.length);
        assert.deepEqual(Array.from(getContextSequenceTokenPositions(compacted.sequence)), keptIndexes.map((_, index) => index));
        assert.deepEqual(compacted.sequence.contextTokens, keptIndexes.map((index) => prompt[index]));
        assert.equal(compacted.sequence.nextTokenIndex, keptIndexes.length);

        const reference = await prefilledSequence();
        await reference.sequence.eraseContextTokenRanges(droppedRanges(keptIndexes, promptLength));
        assert.deepEqual(reference.sequence.contextTokens, compacted.sequence.contextTokens);

        const actual = await nextTokenProbabilities(compacted.sequence, probe);
        const expected = await nextTokenProbabilities(reference.sequence, probe);
        assertSameDistribution(actual, expected, "renumbered vs erased per range");

        // the full cache gives a clearly different distribution, so the comparison above can fail
        const full = await prefilledSequence();
        assert.ok(maxAbsoluteDifference(await nextTokenProbabilities(full.sequence, probe), actual) > 10 * maximumProbabilityDifference,
            "the uncompacted cache should differ, else the test proves nothing");

        await Promise.all([compacted.context.dispose(), reference.context.dispose(), full.context.dispose()]);
    });

    test("holes keep the positions; new tokens go after the last kept position", async () => {
        const {context, sequence} = await prefilledSequence();
        const result = await compactContextSequence(sequence, keptIndexes, "holes");
        assert.equal(result.keptTokenCount, keptIndexes.length);
        assert.equal(result.nextPosition, keptIndexes[keptIndexes.length - 1] + 1);
        assert.deepEqual(Array.from(getContextSequenceTokenPositions(sequence)), keptIndexes);
        assert.equal(sequence.nextTokenIndex, keptIndexes.length);

        const probabilities = await nextTokenProbabilities(sequence, probe);
        const lastPosition = keptIndexes[keptIndexes.length - 1];
        assert.deepEqual(Array.from(getContextSequenceTokenPositions(sequence)),
            [...keptIndexes, ...probe.map((_, index) => lastPosition + 1 + index)]);

        // erasing the appended tokens and evaluating them again gives the same result
        await sequence.eraseContextTokenRanges([{start: keptIndexes.length, end: sequence.nextTokenIndex}]);
        assert.deepEqual(Array.from(getContextSequenceTokenPositions(sequence)), keptIndexes);
        assertSameDistribution(await nextTokenProbabilities(sequence, probe), probabilities, "after erasing and re-adding the probe");

        // the same cells reached in two compactions (token indexes of the second refer to the first's result)
        const twoSteps = await prefilledSequence();
        const superset = Array.from({length: promptLength}, (_, index) => index).filter((index) => index % 2 === 0 || keptIndexes.includes(index));
        await compactContextSequence(twoSteps.sequence, superset, "holes");
        await compactContextSequence(twoSteps.sequence, keptIndexes.map((index) => superset.indexOf(index)), "holes");
        assert.deepEqual(Array.from(getContextSequenceTokenPositions(twoSteps.sequence)), keptIndexes);
        assertSameDistribution(await nextTokenProbabilities(twoSteps.sequence, probe), probabilities, "one compaction vs two");

        await Promise.all([context.dispose(), twoSteps.context.dispose()]);
    });

    for (const mode of ["holes", "renumber"] as const) {
        test(`${mode}: the saved state restores into a context smaller than the original positions`, async () => {
            const {context, sequence} = await prefilledSequence();
            await compactContextSequence(sequence, keptIndexes, mode);
            const statePath = path.join(temporaryDirectory, `${mode}.state`);
            await sequence.saveStateToFile(statePath);
            const positions = Array.from(getContextSequenceTokenPositions(sequence));
            const probabilities = await nextTokenProbabilities(sequence, probe);

            const small = await model.createContext({...exactContextOptions, contextSize: 128, batchSize: 128, sequences: 1});
            assert.ok(small.contextSize < promptLength, `the small context holds ${small.contextSize} cells`);
            const restored = small.getSequence();
            await restored.loadStateFromFile(statePath, {acceptRisk: true});
            assert.deepEqual(restored.contextTokens, keptIndexes.map((index) => prompt[index]));
            assert.deepEqual(Array.from(getContextSequenceTokenPositions(restored)), positions);
            assertSameDistribution(await nextTokenProbabilities(restored, probe), probabilities, "restored vs compacted");

            await Promise.all([context.dispose(), small.dispose()]);
        });
    }

    test("refuses indexes that are not strictly ascending or out of range, and changes nothing", async () => {
        const {context, sequence} = await prefilledSequence();
        await assert.rejects(compactContextSequence(sequence, [0, 5, 5], "holes"), RangeError);
        await assert.rejects(compactContextSequence(sequence, [0, promptLength], "holes"), RangeError);
        assert.equal(sequence.nextTokenIndex, promptLength);
        assert.equal(getContextSequenceTokenPositions(sequence).length, promptLength);
        await context.dispose();
    });
});

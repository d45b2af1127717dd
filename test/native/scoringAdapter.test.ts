// The scoring-adapter patch through node-llama-cpp (native/patches/0003 and 0004), on the patched CPU build.
// The C++ test (test-adapter-scorer) compares the graph's scores with a host reference computed from the
// layer's input hidden states; here: the scores reach TypeScript for every token, by token index, independent
// of how the prompt is cut into batches, and a foreign adapter is refused with a clear error.
import {after, before, describe, test} from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import type * as NodeLlamaCpp from "node-llama-cpp";
import {
    PatchedBuildError, compactContextSequence, loadPatchedLlama, removeContextScoringAdapter, setContextScoringAdapter,
    takeContextSequenceScores
} from "../../src/engine/llamaBinding";
import {exactContextOptions, seededTokens, tinyModelPath} from "./nativeTestSupport";

const prompt = seededTokens(120, 256, 31);

function relativeDifference(actual: number, expected: number): number {
    return Math.abs(actual - expected) / (Math.abs(expected) + 1e-3);
}

describe("scoring adapter (patched build)", {timeout: 120_000}, () => {
    let llama: NodeLlamaCpp.Llama;
    let model: NodeLlamaCpp.LlamaModel;
    const fixtures = () => path.dirname(tinyModelPath());

    before(async () => {
        llama = await loadPatchedLlama(false);
        model = await llama.loadModel({modelPath: tinyModelPath()});
    });

    after(async () => {
        await model?.dispose();
        await llama?.dispose();
    });

    async function scoredPrompt(batchSize: number, tokens: readonly NodeLlamaCpp.Token[]) {
        const context = await model.createContext({...exactContextOptions, contextSize: 256, batchSize, sequences: 1});
        const adapter = await setContextScoringAdapter(context, path.join(fixtures(), "tiny-llama.scorer.gguf"));
        const sequence = context.getSequence();
        await sequence.evaluateWithoutGeneratingNewTokens([...tokens]);
        return {context, sequence, adapter, scores: takeContextSequenceScores(sequence)};
    }

    test("every evaluated token gets a score, by token index, whatever the batch size", async () => {
        const whole = await scoredPrompt(256, prompt);
        assert.equal(whole.adapter.eta, 1);
        assert.deepEqual(Array.from(whole.scores.tokenIndexes), prompt.map((_, index) => index));
        assert.ok(whole.scores.scores.every(Number.isFinite));
        assert.ok(new Set(whole.scores.scores).size > prompt.length / 2, "the scores vary from token to token");

        // cut into batches of 16 tokens: the same hidden states, so the same scores
        const batched = await scoredPrompt(16, prompt);
        assert.deepEqual(Array.from(batched.scores.tokenIndexes), prompt.map((_, index) => index));
        for (let index = 0; index < prompt.length; index++)
            assert.ok(relativeDifference(batched.scores.scores[index], whole.scores.scores[index]) <= 1e-3, `token ${index}`);

        // causal: a token's score does not depend on later tokens
        const prefix = await scoredPrompt(256, prompt.slice(0, 50));
        for (let index = 0; index < 50; index++)
            assert.ok(relativeDifference(prefix.scores.scores[index], whole.scores.scores[index]) <= 1e-3, `prefix token ${index}`);

        // taken scores are gone; new tokens continue the token indexes, also after a compaction with holes
        assert.equal(takeContextSequenceScores(whole.sequence).scores.length, 0);
        await compactContextSequence(whole.sequence, [0, 1, 2, 3, 60, 61, 119], "holes");
        await whole.sequence.evaluateWithoutGeneratingNewTokens(prompt.slice(0, 5));
        assert.deepEqual(Array.from(takeContextSequenceScores(whole.sequence).tokenIndexes), [7, 8, 9, 10, 11]);

        // without the adapter there are no scores
        await removeContextScoringAdapter(whole.context);
        await whole.sequence.evaluateWithoutGeneratingNewTokens(prompt.slice(0, 3));
        assert.equal(takeContextSequenceScores(whole.sequence).scores.length, 0);

        await Promise.all([whole.context.dispose(), batched.context.dispose(), prefix.context.dispose()]);
    });

    test("an adapter made for another model is refused with the reason", async () => {
        const context = await model.createContext({contextSize: 256, sequences: 1, threads: 2});
        await assert.rejects(setContextScoringAdapter(context, path.join(fixtures(), "tiny-llama.foreign-scorer.gguf")),
            (error: unknown) => error instanceof PatchedBuildError && /made for another model/.test(error.message) &&
                /vocabulary 0123456789abcdef/.test(error.message));
        await assert.rejects(setContextScoringAdapter(context, tinyModelPath()),
            (error: unknown) => error instanceof PatchedBuildError && /not a scoring adapter/.test(error.message));
        await assert.rejects(setContextScoringAdapter(context, path.join(fixtures(), "missing.gguf")), PatchedBuildError);
        await context.dispose();
    });
});

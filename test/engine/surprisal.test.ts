// The surprisal scores computed during the prefill equal -log p(token | prefix) obtained
// independently: a separate node-llama-cpp context, full logits, log-softmax in float64 here.
import assert from "node:assert/strict";
import {rm} from "node:fs/promises";
import {after, before, describe, test} from "node:test";
import type * as NodeLlamaCpp from "node-llama-cpp";
import type {SegmentScoredEvent} from "../../src/engine/distillPrompt";
import {decodeBitmap} from "../../src/engine/cacheManifest";
import {buildAlwaysKeepMask, defaultAlwaysKeepRules} from "../../src/engine/selection/buildAlwaysKeepMask";
import {loadPatchedLlamaOrFallback, loadStockLlama} from "../../src/engine/llamaBinding";
import {ensureFixtureModel} from "../fixtures/fixtureModel";
import {createTestEngine, distillOptions, makeTemporaryFolder, writeSampleWorkspace} from "./helpers/engineTestKit";
import type {TestEngine} from "./helpers/engineTestKit";

const timeout = 300_000;

/** -log p(tokens[i] | tokens[..i]) at the given indexes (each > 0), from a fresh context. */
async function independentSurprisal(model: NodeLlamaCpp.LlamaModel, tokens: readonly number[], indexes: readonly number[]): Promise<Map<number, number>> {
    const context = await model.createContext({contextSize: Math.ceil((tokens.length + 8) / 256) * 256, batchSize: 512, flashAttention: false, threads: 1});
    try {
        const sequence = context.getSequence();
        const wanted = new Set(indexes.map((index) => index - 1));
        const input: NodeLlamaCpp.ControlledEvaluateInputItem[] = tokens.map((token, position) =>
            wanted.has(position) ? [token as NodeLlamaCpp.Token, {generateNext: {logits: true}}] : token as NodeLlamaCpp.Token);
        const outputs = await sequence.controlledEvaluate(input);
        const result = new Map<number, number>();
        for (const index of indexes) {
            const logits = outputs[index - 1]!.next.logits!;
            let max = -Infinity;
            for (const logit of logits.values())
                max = Math.max(max, logit);
            let sum = 0;
            for (const logit of logits.values())
                sum += Math.exp(logit - max);
            result.set(index, -(logits.get(tokens[index]! as NodeLlamaCpp.Token)! - max - Math.log(sum)));
        }
        return result;
    } finally {
        await context.dispose();
    }
}

describe("surprisal scores", {timeout}, () => {
    let kit: TestEngine;
    let workspace: string;
    let cacheDir: string;
    let llama: NodeLlamaCpp.Llama;
    let independentModel: NodeLlamaCpp.LlamaModel;

    before(async () => {
        kit = await createTestEngine();
        workspace = await makeTemporaryFolder("ws");
        cacheDir = await makeTemporaryFolder("cache");
        await writeSampleWorkspace(workspace, {files: 4, linesPerFile: 8});
        // The binary the engine runs (one process holds one): the patched build, or the stock one in test:engine:stock.
        llama = (process.env.KV_DISTILL_TEST_LLAMA_BUILD === "stock" ? await loadStockLlama() : await loadPatchedLlamaOrFallback(false)).llama;
        independentModel = await llama.loadModel({modelPath: kit.modelPath});
    });

    after(async () => {
        await kit?.engine.dispose();
        await llama?.dispose();
        await rm(workspace, {recursive: true, force: true});
        await rm(cacheDir, {recursive: true, force: true});
    });

    test("one segment: every score is -log p of the token given the whole prefix before it", {timeout}, async () => {
        const events: SegmentScoredEvent[] = [];
        const output = await kit.engine.distillForTesting(
            distillOptions(workspace, cacheDir, kit.modelPath, {segmentTokens: 0, keepRatio: 0.5, scorer: "surprisal"}),
            {onSegmentScored: (event) => events.push(event)}
        );
        assert.equal(events.length, 1);
        const {tokens, scores, keptIndexes} = events[0]!;
        assert.deepEqual(tokens, output.layout.tokens);
        assert.equal(scores[0], Infinity, "the first token has no prediction");
        const indexes = tokens.map((_token, index) => index).filter((index) => index > 0 && (index % 7 === 0 || index > tokens.length - 4));
        const expected = await independentSurprisal(independentModel, tokens, indexes);
        let maxDifference = 0;
        for (const index of indexes)
            maxDifference = Math.max(maxDifference, Math.abs(scores[index]! - expected.get(index)!));
        // Both come from float32 logits of about 20 in magnitude, computed in differently sized batches.
        assert.ok(maxDifference < 1e-3, `max difference ${maxDifference}`);
        const spread = Math.max(...indexes.map((index) => expected.get(index)!)) - Math.min(...indexes.map((index) => expected.get(index)!));
        assert.ok(spread > 1, "scores vary, so the comparison is meaningful");

        // The kept tokens are the always-kept ones plus the most surprising others.
        const keptBits = decodeBitmap(output.manifest.segments[0]!.keptBitmap, tokens.length);
        assert.deepEqual([...keptIndexes], [...keptBits.keys()].filter((index) => keptBits[index] === 1));
        const alwaysKeep = buildAlwaysKeepMask(output.layout, defaultAlwaysKeepRules);
        let lowestChosen = Infinity;
        let highestDropped = -Infinity;
        for (let index = 0; index < tokens.length; index++) {
            if (keptBits[index] === 1 && alwaysKeep[index] === 0)
                lowestChosen = Math.min(lowestChosen, scores[index]!);
            else if (keptBits[index] === 0)
                highestDropped = Math.max(highestDropped, scores[index]!);
        }
        assert.ok(Number.isFinite(lowestChosen) && Number.isFinite(highestDropped));
        assert.ok(highestDropped <= lowestChosen, `a dropped token scored ${highestDropped}, above a chosen one at ${lowestChosen}`);
    });

    test("segments: later segments are scored on top of the compressed earlier ones", {timeout}, async () => {
        // With ONE layer, a token's key and value depend only on the token and its position, so the
        // kept tokens re-evaluated at their renumbered positions reproduce the compacted cache (up to
        // the f16 rounding of the K-shift): an independent check of compaction + renumber + score. (The
        // reference evaluates at contiguous positions, so the cache is compacted with "renumber"; the
        // stock build's erase-ranges renumbers too.)
        const oneLayerModelPath = await ensureFixtureModel({layers: 1, name: "kv-distill-fixture-one-layer"});
        const independentModel = await llama.loadModel({modelPath: oneLayerModelPath});
        const events: SegmentScoredEvent[] = [];
        const output = await kit.engine.distillForTesting(
            distillOptions(workspace, cacheDir, oneLayerModelPath, {segmentTokens: 128, keepRatio: 0.4, scorer: "surprisal", compaction: "renumber"}),
            {onSegmentScored: (event) => events.push(event)}
        );
        assert.ok(events.length >= 3, `${events.length} segments`);
        const allTokens = output.layout.tokens;
        // Segment 0 and the first token of segment 1 see the uncompressed prefix.
        const firstIndexes = [...Array(events[0]!.tokens.length + 1).keys()].filter((index) => index > 0 && index % 3 === 0).concat(events[1]!.tokenStart);
        const plain = await independentSurprisal(independentModel, allTokens.slice(0, events[1]!.tokenStart + 1), firstIndexes);
        for (const index of firstIndexes) {
            const event = index < events[1]!.tokenStart ? events[0]! : events[1]!;
            const score = event.scores[index - event.tokenStart]!;
            assert.ok(Math.abs(score - plain.get(index)!) < 1e-3, `token ${index}: ${score} vs ${plain.get(index)}`);
        }
        // The rest of segment 1 sees segment 0's kept tokens (renumbered 0..k-1) and then itself.
        const keptOfFirst = [...events[0]!.keptIndexes].map((index) => allTokens[index]!);
        const second = events[1]!;
        const compressedPrefix = [...keptOfFirst, ...second.tokens];
        const secondIndexes = [...Array(second.tokens.length).keys()].slice(1).map((offset) => keptOfFirst.length + offset);
        const compressed = await independentSurprisal(independentModel, compressedPrefix, secondIndexes);
        let maxDifference = 0;
        for (const index of secondIndexes)
            maxDifference = Math.max(maxDifference, Math.abs(second.scores[index - keptOfFirst.length]! - compressed.get(index)!));
        // Keys of kept tokens were moved by a K-shift (rotated in f16), not recomputed: small differences.
        assert.ok(maxDifference < 1e-2, `max difference ${maxDifference}`);
        const uncompressed = await independentSurprisal(independentModel, allTokens.slice(0, second.tokenStart + second.tokens.length),
            secondIndexes.map((index) => index - keptOfFirst.length + second.tokenStart));
        let differenceFromUncompressed = 0;
        for (const index of secondIndexes)
            differenceFromUncompressed = Math.max(differenceFromUncompressed,
                Math.abs(second.scores[index - keptOfFirst.length]! - uncompressed.get(index - keptOfFirst.length + second.tokenStart)!));
        assert.ok(differenceFromUncompressed > 0.1, `compression matters: ${differenceFromUncompressed} vs ${maxDifference}`);
        await independentModel.dispose();
    });
});

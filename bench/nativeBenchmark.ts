// The patched build's two speed goals (issue 5), side by side in one run, on the patched build:
// 1. prefill with the scoring adapter on against off (same model, context, batch; median of
//    interleaved runs; the goal: at most 3% more time with the scorer);
// 2. compacting a long sequence to a tenth of its tokens with `llama_seq_compact` (holes and
//    renumber) against node-llama-cpp's per-range erase (the goal: under 50 ms for 130k -> 13k).
// Usage (after `npm run compile-tests`, with a current patched build):
//   node out/bench/nativeBenchmark.js [--model M | --shape tiny|qwen2.5-1.5b] [--gpu cpu|cuda|vulkan]
//        [--tokens 2048] [--batch 512] [--runs 5] [--compact-tokens 8192] [--keep-every 10]
//        [--flash-attention on|off] [--threads N] [--json FILE]
import {mkdtemp, rm, writeFile} from "node:fs/promises";
import {tmpdir} from "node:os";
import path from "node:path";
import type * as NodeLlamaCpp from "node-llama-cpp";
import {compactContextSequence, loadPatchedLlama, setContextScoringAdapter, takeContextSequenceScores} from "../src/engine/llamaBinding";
import type {PatchedLlamaGpu} from "../src/engine/llamaBinding";
import {ensureFixtureModel, speedFixtureShapes} from "../test/fixtures/fixtureModel";
import {flagValuePairs} from "../test/fixtures/flagValuePairs";
import {randomPromptTokens} from "../test/fixtures/randomPromptTokens";
import {writeScoringAdapterFixture} from "../test/fixtures/scoringAdapterFixture";
import {median} from "./median";

const shapes = speedFixtureShapes;

type NativeBenchOptions = {
    modelPath?: string;
    shape: string;
    gpu: PatchedLlamaGpu;
    tokens: number;
    batch: number;
    runs: number;
    compactTokens: number;
    keepEvery: number;
    flashAttention: boolean;
    threads?: number;
    jsonPath?: string;
};

function parseOptions(args: readonly string[]): NativeBenchOptions {
    const options: NativeBenchOptions = {shape: "tiny", gpu: false, tokens: 2048, batch: 512, runs: 5, compactTokens: 8192, keepEvery: 10, flashAttention: false};
    for (const [flag, value] of flagValuePairs(args)) {
        switch (flag) {
            case "--model": options.modelPath = path.resolve(value); break;
            case "--shape": options.shape = value; break;
            case "--gpu": options.gpu = value === "cpu" ? false : value as PatchedLlamaGpu; break;
            case "--tokens": options.tokens = Number(value); break;
            case "--batch": options.batch = Number(value); break;
            case "--runs": options.runs = Number(value); break;
            case "--compact-tokens": options.compactTokens = Number(value); break;
            case "--keep-every": options.keepEvery = Number(value); break;
            case "--flash-attention": options.flashAttention = value === "on"; break;
            case "--threads": options.threads = Number(value); break;
            case "--json": options.jsonPath = path.resolve(value); break;
            default: throw new Error(`unknown option ${flag}`);
        }
    }
    if (shapes[options.shape] === undefined)
        throw new Error(`unknown --shape ${options.shape} (${Object.keys(shapes).join(", ")})`);
    return options;
}

function randomTokens(count: number, vocabularySize: number): NodeLlamaCpp.Token[] {
    return randomPromptTokens(count, vocabularySize, 4242) as NodeLlamaCpp.Token[];
}

async function clearSequence(sequence: NodeLlamaCpp.LlamaContextSequence): Promise<void> {
    if (sequence.contextTokens.length > 0)
        await sequence.eraseContextTokenRanges([{start: 0, end: sequence.contextTokens.length}]);
}

async function timed(run: () => Promise<unknown>): Promise<number> {
    const startedAt = performance.now();
    await run();
    return performance.now() - startedAt;
}

type ScorerCost = {offMs: number[]; onMs: number[]; medianOffMs: number; medianOnMs: number; extraTime: number; scoredTokens: number};

/** Prefill with the adapter off and on, interleaved (the order alternates per run), on two identical contexts. */
async function benchScorerCost(model: NodeLlamaCpp.LlamaModel, options: NativeBenchOptions, adapterPath: string, vocabularySize: number): Promise<ScorerCost> {
    const contextOptions = {contextSize: Math.ceil((options.tokens + 64) / 256) * 256, batchSize: options.batch, sequences: 1,
        flashAttention: options.flashAttention, threads: options.threads};
    const plain = await model.createContext(contextOptions);
    const scored = await model.createContext(contextOptions);
    try {
        await setContextScoringAdapter(scored, adapterPath);
        const tokens = randomTokens(options.tokens, vocabularySize);
        const plainSequence = plain.getSequence();
        const scoredSequence = scored.getSequence();
        let scoredTokens = 0;
        const prefillOff = async (): Promise<number> => {
            await clearSequence(plainSequence);
            return timed(() => plainSequence.evaluateWithoutGeneratingNewTokens(tokens));
        };
        const prefillOn = async (): Promise<number> => {
            await clearSequence(scoredSequence);
            return timed(async () => {
                await scoredSequence.evaluateWithoutGeneratingNewTokens(tokens);
                scoredTokens = takeContextSequenceScores(scoredSequence).scores.length;
            });
        };
        await prefillOff();
        await prefillOn(); // warm-up of both
        const offMs: number[] = [];
        const onMs: number[] = [];
        for (let run = 0; run < options.runs; run++) {
            if (run % 2 === 0) {
                offMs.push(await prefillOff());
                onMs.push(await prefillOn());
            } else {
                onMs.push(await prefillOn());
                offMs.push(await prefillOff());
            }
        }
        if (scoredTokens !== tokens.length)
            throw new Error(`the scorer scored ${scoredTokens} of ${tokens.length} tokens`);
        const medianOffMs = median(offMs);
        const medianOnMs = median(onMs);
        return {offMs, onMs, medianOffMs, medianOnMs, extraTime: medianOnMs / medianOffMs - 1, scoredTokens};
    } finally {
        await scored.dispose();
        await plain.dispose();
    }
}

type CompactionTimes = {
    tokens: number; kept: number; prefillMs: number; deviceWaitMs: number; holesMs: number; renumberMs: number;
    perRangeEraseMs: number; erasedRanges: number; firstDecodeAfterHolesMs: number;
};

async function benchCompaction(model: NodeLlamaCpp.LlamaModel, options: NativeBenchOptions, vocabularySize: number): Promise<CompactionTimes> {
    const context = await model.createContext({contextSize: Math.ceil((options.compactTokens + 64) / 256) * 256, batchSize: options.batch, sequences: 1,
        flashAttention: options.flashAttention, threads: options.threads});
    try {
        const sequence = context.getSequence();
        const tokens = randomTokens(options.compactTokens, vocabularySize);
        // The first 4 tokens (attention sinks) and then one token in `keepEvery`.
        const keep = tokens.map((_, index) => index).filter((index) => index < 4 || index % options.keepEvery === 0);
        const everything = tokens.map((_, index) => index);
        const prefillMs = await timed(() => sequence.evaluateWithoutGeneratingNewTokens(tokens));
        // A prefill without logits returns once its last batches are queued (patch 0005); the first call that
        // needs the device's results waits for them. A compaction that keeps everything is that wait, so the
        // compaction below is timed on its own.
        const deviceWaitMs = await timed(() => compactContextSequence(sequence, everything, "holes"));
        const holesMs = await timed(() => compactContextSequence(sequence, keep, "holes"));
        if (sequence.contextTokens.length !== keep.length)
            throw new Error(`holes compaction left ${sequence.contextTokens.length} tokens, expected ${keep.length}`);
        const firstDecodeAfterHolesMs = await timed(() => sequence.evaluateWithoutGeneratingNewTokens([tokens[1]!]));

        await clearSequence(sequence);
        await sequence.evaluateWithoutGeneratingNewTokens(tokens);
        await compactContextSequence(sequence, everything, "holes");
        const renumberMs = await timed(() => compactContextSequence(sequence, keep, "renumber"));
        if (sequence.contextTokens.length !== keep.length)
            throw new Error(`renumber compaction left ${sequence.contextTokens.length} tokens, expected ${keep.length}`);

        // The baseline: node-llama-cpp's erase of every dropped range (the K-shift is applied at the next decode).
        await clearSequence(sequence);
        await sequence.evaluateWithoutGeneratingNewTokens(tokens);
        const ranges: Array<{start: number; end: number}> = [];
        for (let index = 0; index < keep.length; index++) {
            const start = keep[index]! + 1;
            const end = index + 1 < keep.length ? keep[index + 1]! : tokens.length;
            if (end > start)
                ranges.push({start, end});
        }
        const perRangeEraseMs = await timed(() => sequence.eraseContextTokenRanges(ranges));
        return {tokens: tokens.length, kept: keep.length, prefillMs, deviceWaitMs, holesMs, renumberMs, perRangeEraseMs, erasedRanges: ranges.length, firstDecodeAfterHolesMs};
    } finally {
        await context.dispose();
    }
}

export async function runNativeBenchmark(args: readonly string[]): Promise<void> {
    const options = parseOptions(args);
    const modelPath = options.modelPath ?? await ensureFixtureModel(shapes[options.shape]);
    const scratch = await mkdtemp(path.join(tmpdir(), "kvd-native-bench-"));
    const llama = await loadPatchedLlama(options.gpu);
    try {
        const adapterPath = path.join(scratch, "bench.scorer.gguf");
        const adapter = await writeScoringAdapterFixture(modelPath, adapterPath, {hidden: 256});
        const model = await llama.loadModel({modelPath, gpuLayers: options.gpu === false ? 0 : "max"});
        try {
            const scorer = await benchScorerCost(model, options, adapterPath, adapter.vocabularySize);
            const compaction = await benchCompaction(model, options, adapter.vocabularySize);
            const device = options.gpu === false ? "CPU" : `GPU ${String(options.gpu)} (${llama.gpu === false ? "not loaded" : llama.gpu})`;
            const lines = [
                `patched build (${llama.buildType}), model ${path.basename(modelPath)}, ${device}, flash attention ${options.flashAttention ? "on" : "off"}, batch ${options.batch}`,
                "",
                `## Prefill of ${options.tokens} tokens, scoring adapter off vs on (eta ${adapter.eta}, hidden 256), ${options.runs} interleaved runs`,
                "",
                "| | median ms | tokens/s | runs (ms) |",
                "| --- | ---: | ---: | --- |",
                `| scorer off | ${scorer.medianOffMs.toFixed(1)} | ${(options.tokens / scorer.medianOffMs * 1000).toFixed(0)} | ${scorer.offMs.map((ms) => ms.toFixed(1)).join(", ")} |`,
                `| scorer on | ${scorer.medianOnMs.toFixed(1)} | ${(options.tokens / scorer.medianOnMs * 1000).toFixed(0)} | ${scorer.onMs.map((ms) => ms.toFixed(1)).join(", ")} |`,
                "",
                `scorer on / off: ${(1 + scorer.extraTime).toFixed(4)}x (${(scorer.extraTime * 100).toFixed(2)}% extra; goal: at most 3%)`,
                "",
                `## Compaction of ${compaction.tokens} tokens to ${compaction.kept} (sinks + 1 in ${options.keepEvery})`,
                "",
                "| what | ms |",
                "| --- | ---: |",
                `| prefill (for reference; returns when its last batches are queued) | ${compaction.prefillMs.toFixed(1)} |`,
                `| waiting for the device to finish the prefill (a keep-everything compaction) | ${compaction.deviceWaitMs.toFixed(1)} |`,
                `| llama_seq_compact, holes | ${compaction.holesMs.toFixed(2)} |`,
                `| first decode after holes (1 token) | ${compaction.firstDecodeAfterHolesMs.toFixed(2)} |`,
                `| llama_seq_compact, renumber (K-shift applied) | ${compaction.renumberMs.toFixed(2)} |`,
                `| node-llama-cpp eraseContextTokenRanges, ${compaction.erasedRanges} ranges (K-shift pending) | ${compaction.perRangeEraseMs.toFixed(1)} |`,
                "",
                `holes vs per-range erase: ${(compaction.perRangeEraseMs / compaction.holesMs).toFixed(0)}x faster (goal: under 50 ms)`
            ];
            process.stdout.write(lines.join("\n") + "\n");
            if (options.jsonPath !== undefined)
                await writeFile(options.jsonPath, JSON.stringify({options: {...options, modelPath}, buildType: llama.buildType, gpu: llama.gpu, scorer, compaction, date: new Date().toISOString()}, null, 2));
        } finally {
            await model.dispose();
        }
    } finally {
        await llama.dispose();
        await rm(scratch, {recursive: true, force: true});
    }
}

if (require.main === module) {
    runNativeBenchmark(process.argv.slice(2)).catch((error: unknown) => {
        process.stderr.write(`native benchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
        process.exitCode = 1;
    });
}

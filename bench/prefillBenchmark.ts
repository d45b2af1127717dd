// Prefill speed through the engine (scoring off) against stock llama-bench's prompt processing on
// the same model, context and batch sizes, side by side in one run; and the extra cost of the
// `surprisal` scorer. Usage (after `npm run compile-tests`):
//   node out/bench/prefillBenchmark.js [--model M | --shape tiny|qwen2.5-1.5b] [--tokens 2048]
//        [--batch-sizes 512,2048] [--threads N] [--gpu cpu|auto|cuda|vulkan] [--flash-attention on|off]
//        [--reps 3] [--llama-bench auto|none|PATH] [--surprisal on|off] [--json FILE]
// --llama-bench auto uses .cache/llama-bench/build-*/bin/llama-bench (bench/buildLlamaBench.sh).
import {execFile} from "node:child_process";
import {existsSync, readdirSync} from "node:fs";
import {writeFile} from "node:fs/promises";
import path from "node:path";
import {promisify} from "node:util";
import {LlamaRuntime} from "../src/engine/llamaBinding";
import type {ContextSequence, GpuChoice, LoadedModel} from "../src/engine/llamaBinding";
import {ensureFixtureModel, speedFixtureShapes} from "../test/fixtures/fixtureModel";
import {flagValuePairs} from "../test/fixtures/flagValuePairs";
import {randomPromptTokens} from "../test/fixtures/randomPromptTokens";
import {findRepositoryRoot} from "../test/fixtures/repositoryPaths";

const execFileAsync = promisify(execFile);

const shapes = speedFixtureShapes;

type BenchOptions = {
    modelPath?: string;
    shape: string;
    tokens: number;
    batchSizes: number[];
    threads?: number;
    gpu: GpuChoice;
    flashAttention: boolean;
    reps: number;
    llamaBench: string;
    surprisal: boolean;
    jsonPath?: string;
};

type Row = {what: string; batch: number; ubatch: number; tokensPerSecond: number; seconds: number; note?: string};

function parseOptions(args: readonly string[]): BenchOptions {
    const options: BenchOptions = {shape: "tiny", tokens: 2048, batchSizes: [512], gpu: false, flashAttention: false, reps: 3, llamaBench: "auto", surprisal: true};
    for (const [flag, value] of flagValuePairs(args)) {
        switch (flag) {
            case "--model": options.modelPath = path.resolve(value); break;
            case "--shape": options.shape = value; break;
            case "--tokens": options.tokens = Number(value); break;
            case "--batch-sizes": options.batchSizes = value.split(",").map(Number); break;
            case "--threads": options.threads = Number(value); break;
            case "--gpu": options.gpu = value === "cpu" ? false : value as GpuChoice; break;
            case "--flash-attention": options.flashAttention = value === "on"; break;
            case "--reps": options.reps = Number(value); break;
            case "--llama-bench": options.llamaBench = value; break;
            case "--surprisal": options.surprisal = value === "on"; break;
            case "--json": options.jsonPath = path.resolve(value); break;
            default: throw new Error(`unknown option ${flag}`);
        }
    }
    if (shapes[options.shape] === undefined)
        throw new Error(`unknown --shape ${options.shape} (${Object.keys(shapes).join(", ")})`);
    return options;
}

async function timeRuns(reps: number, prepare: () => Promise<void>, run: () => Promise<void>): Promise<number> {
    const times: number[] = [];
    for (let rep = 0; rep < reps; rep++) {
        await prepare();
        const startedAt = performance.now();
        await run();
        times.push(performance.now() - startedAt);
    }
    return times.reduce((sum, time) => sum + time, 0) / times.length / 1000;
}

async function benchEngine(model: LoadedModel, options: BenchOptions, batch: number, tokens: number[]): Promise<Row[]> {
    const contextSize = Math.ceil((tokens.length + 2) / 256) * 256;
    const sequence: ContextSequence = await model.createSequence({contextSize, batchSize: batch, flashAttention: options.flashAttention, threads: options.threads});
    const rows: Row[] = [];
    try {
        // Warm-up, as llama-bench does.
        await sequence.evaluate(tokens.slice(0, Math.min(tokens.length, batch)));
        const clear = (): Promise<void> => sequence.truncate(0);
        const chunked = await timeRuns(options.reps, clear, () => sequence.evaluate(tokens));
        rows.push({what: "engine prefill (scoring off; a decode per batch)", batch, ubatch: batch, seconds: chunked, tokensPerSecond: tokens.length / chunked});
        const oneCall = await timeRuns(options.reps, clear, () => sequence.evaluate(tokens, {chunkTokens: tokens.length}));
        rows.push({what: "node-llama-cpp evaluateWithoutGeneratingNewTokens, one call", batch, ubatch: batch, seconds: oneCall, tokensPerSecond: tokens.length / oneCall});
        if (options.surprisal) {
            const surprisal = await timeRuns(1, clear, async () => {
                await sequence.evaluateWithLogProbabilities(tokens, undefined);
            });
            rows.push({what: "engine prefill + surprisal (log p of every token)", batch, ubatch: batch, seconds: surprisal, tokensPerSecond: tokens.length / surprisal,
                note: `${(surprisal / chunked).toFixed(2)}x the time of the prefill alone`});
        }
    } finally {
        await sequence.dispose();
    }
    return rows;
}

function findLlamaBench(setting: string): string | undefined {
    if (setting === "none")
        return undefined;
    if (setting !== "auto")
        return setting;
    const folder = path.join(findRepositoryRoot(), ".cache", "llama-bench");
    if (!existsSync(folder))
        return undefined;
    for (const name of readdirSync(folder).filter((entry) => entry.startsWith("build-")).sort()) {
        const binary = path.join(folder, name, "bin", "llama-bench");
        if (existsSync(binary))
            return binary;
    }
    return undefined;
}

async function benchLlamaBench(binary: string, modelPath: string, options: BenchOptions, batch: number, ubatch: number): Promise<Row> {
    const args = ["-m", modelPath, "-p", String(options.tokens), "-n", "0", "-b", String(batch), "-ub", String(ubatch),
        "-r", String(options.reps), "-fa", options.flashAttention ? "1" : "0", "-o", "json"];
    if (options.threads !== undefined)
        args.push("-t", String(options.threads));
    if (options.gpu === false)
        args.push("-ngl", "0");
    const {stdout} = await execFileAsync(binary, args, {maxBuffer: 16 * 1024 * 1024});
    const results = JSON.parse(stdout) as Array<{avg_ts: number; avg_ns: number}>;
    const result = results[0]!;
    return {what: "llama-bench pp (stock llama.cpp, same release)", batch, ubatch, tokensPerSecond: result.avg_ts, seconds: result.avg_ns / 1e9};
}

export async function runPrefillBenchmark(args: readonly string[]): Promise<void> {
    const options = parseOptions(args);
    const modelPath = options.modelPath ?? await ensureFixtureModel(shapes[options.shape]);
    const runtime = await LlamaRuntime.open({gpu: options.gpu, log: (line) => process.stderr.write(`[engine] ${line}\n`)});
    const rows: Row[] = [];
    const build = runtime.build;
    try {
        const model = await runtime.loadModel(modelPath);
        const tokens = randomPromptTokens(options.tokens, model.summary.vocabularySize, 12345);
        for (const batch of options.batchSizes)
            rows.push(...await benchEngine(model, options, batch, tokens));
        await model.dispose();
    } finally {
        await runtime.dispose();
    }
    const llamaBench = findLlamaBench(options.llamaBench);
    if (llamaBench === undefined)
        process.stderr.write("llama-bench not found: build it with bench/buildLlamaBench.sh (or pass --llama-bench PATH); engine figures only\n");
    else {
        for (const batch of options.batchSizes) {
            rows.push(await benchLlamaBench(llamaBench, modelPath, options, batch, batch));
            if (batch > 512)
                rows.push(await benchLlamaBench(llamaBench, modelPath, options, batch, 512));
        }
    }
    const reference = (batch: number): Row | undefined => rows.find((row) => row.what.startsWith("llama-bench") && row.batch === batch && row.ubatch === batch);
    const lines = [
        `node-llama-cpp ${build.nodeLlamaCppVersion} (${build.buildType} build of llama.cpp ${build.llamaCppRelease}), llama-bench ${llamaBench ?? "not run"}`,
        `model ${path.basename(modelPath)}, ${options.tokens} tokens, ${options.gpu === false ? "CPU" : `GPU ${String(options.gpu)}`}, ` +
        `flash attention ${options.flashAttention ? "on" : "off"}, threads ${options.threads ?? "default"}, ${options.reps} reps`,
        "",
        "| what | batch | ubatch | tokens/s | vs llama-bench (same batch & ubatch) | note |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
        ...rows.map((row) => {
            const base = reference(row.batch);
            const ratio = base === undefined ? "" : `${(row.tokensPerSecond / base.tokensPerSecond).toFixed(2)}x`;
            return `| ${row.what} | ${row.batch} | ${row.ubatch} | ${row.tokensPerSecond.toFixed(0)} | ${ratio} | ${row.note ?? ""} |`;
        })
    ];
    process.stdout.write(lines.join("\n") + "\n");
    if (options.jsonPath !== undefined)
        await writeFile(options.jsonPath, JSON.stringify({options: {...options, modelPath}, build, llamaBench, rows, date: new Date().toISOString()}, null, 2));
}

if (require.main === module) {
    runPrefillBenchmark(process.argv.slice(2)).catch((error: unknown) => {
        process.stderr.write(`prefill benchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
        process.exitCode = 1;
    });
}

// The options shared by `kv-distill distill` and `kv-distill ask`.
import {statSync} from "node:fs";
import path from "node:path";
import {UsageError} from "../common/errors";
import type {KvDistillEnvironment} from "../common/environment";
import type {EngineOptions} from "../engine/Engine";
import type {DistillOptions} from "../engine/engineApi";
import type {GpuChoice} from "../engine/llamaBinding";
import {isScorerName, scorerNames} from "../engine/scorerNames";
import {parseCommandArguments} from "./parseCommandArguments";
import type {FlagSpec} from "./parseCommandArguments";
import {parseOutlineDetail} from "./parseOutlineDetail";
import {resolveCacheDirectory} from "./resolveCacheDirectory";

export const engineCommandOptionsHelp = `Options:
  --model M             GGUF model file (required)
  --keep R              fraction of the workspace's tokens to keep, in (0, 1] (default 0.2)
  --scorer S            surprisal | adapter | recent | random (default surprisal)
  --segment-tokens N    tokens per prefill segment; 0 = one segment when it fits (default 4096)
  --cache-dir D         cache folder (default $KV_DISTILL_CACHE_DIR, $XDG_CACHE_HOME/kv-distill, ~/.cache/kv-distill)
  --gpu G               auto | cpu | cuda | vulkan: which patched llama.cpp build to load (default auto:
                        CUDA, then Vulkan, then CPU; node-llama-cpp's stock CPU binary, degraded, without one)
  --compaction M        holes | renumber: how the patched build drops evicted tokens (default holes)
  --adapter FILE        scoring adapter (GGUF) of the adapter scorer
  --threads N           CPU threads for llama.cpp (default: node-llama-cpp's choice)
  --batch-size N        tokens per llama.cpp batch (default 512 on CPU, 2048 with a GPU)
  --flash-attention X   on | off (default: on with a GPU, off on CPU)
  --seed N              seed of the random scorer (default 0)
  --no-outline          end the prompt with the file list alone, without the workspace outline
                        (where functions and classes are defined, where error messages come from)
  --outline-detail D    names | definitions: what the outline shows (default names; definitions adds
                        parameter lists, top-level constants and config files' settings)
  --json                print one JSON object instead of text
  --verbose             print the engine's decisions to stderr`;

const flags: Record<string, FlagSpec> = {
    "model": {kind: "string"},
    "keep": {kind: "number"},
    "scorer": {kind: "string"},
    "segment-tokens": {kind: "number"},
    "cache-dir": {kind: "string"},
    "gpu": {kind: "string"},
    "compaction": {kind: "string"},
    "adapter": {kind: "string"},
    "threads": {kind: "number"},
    "batch-size": {kind: "number"},
    "flash-attention": {kind: "string"},
    "seed": {kind: "number"},
    "no-outline": {kind: "boolean"},
    "outline-detail": {kind: "string"},
    "max-answer-tokens": {kind: "number"},
    "json": {kind: "boolean"},
    "verbose": {kind: "boolean"},
    "help": {kind: "boolean"}
};

export type EngineCommandArguments = {
    help: boolean;
    positionals: string[];
    distillOptions: DistillOptions;
    engineOptions: Omit<EngineOptions, "indexer" | "log">;
    maxAnswerTokens?: number;
    json: boolean;
    verbose: boolean;
};


/** Parses the shared options; `folders` are the positionals the caller says are folders. */
export function readEngineCommandArguments(args: readonly string[], environment: KvDistillEnvironment, folderCount: (positionals: string[]) => number): EngineCommandArguments {
    const parsed = parseCommandArguments(args, flags);
    const help = parsed.booleans.has("help");
    const positionals = parsed.positionals;
    const placeholder: EngineCommandArguments = {
        help, positionals, json: false, verbose: false, engineOptions: {},
        distillOptions: {modelPath: "", folders: [], keepRatio: 0.2, scorer: "surprisal", segmentTokens: 4096, cacheDir: ""}
    };
    if (help)
        return placeholder;
    const folders = positionals.slice(0, folderCount(positionals)).map((folder) => path.resolve(folder));
    if (folders.length === 0)
        throw new UsageError("missing the workspace folder");
    for (const folder of folders) {
        if (!isExistingFolder(folder))
            throw new UsageError(`${folder} is not a folder`);
    }
    const modelPath = parsed.strings.get("model");
    if (modelPath === undefined || modelPath === "")
        throw new UsageError("missing --model (a GGUF model file)");
    const keepRatio = parsed.numbers.get("keep") ?? 0.2;
    if (!(keepRatio > 0 && keepRatio <= 1))
        throw new UsageError(`--keep must be in (0, 1], got ${keepRatio}`);
    const scorer = parsed.strings.get("scorer") ?? "surprisal";
    if (!isScorerName(scorer))
        throw new UsageError(`unknown scorer "${scorer}" (${scorerNames.join(", ")})`);
    const compaction = parsed.strings.get("compaction");
    if (compaction !== undefined && compaction !== "holes" && compaction !== "renumber")
        throw new UsageError(`--compaction must be holes or renumber, got "${compaction}"`);
    const adapterPath = parsed.strings.get("adapter");
    if (scorer === "adapter" && (adapterPath === undefined || adapterPath === ""))
        throw new UsageError("the adapter scorer needs --adapter FILE (a scoring adapter GGUF)");
    const segmentTokens = parsed.numbers.get("segment-tokens") ?? 4096;
    if (!Number.isInteger(segmentTokens) || segmentTokens < 0)
        throw new UsageError(`--segment-tokens must be a whole number >= 0, got ${segmentTokens}`);
    const engineOptions: EngineCommandArguments["engineOptions"] = {gpu: parseGpu(parsed.strings.get("gpu") ?? "auto")};
    const threads = parsed.numbers.get("threads");
    if (threads !== undefined) {
        if (!Number.isInteger(threads) || threads < 1)
            throw new UsageError(`--threads must be a whole number >= 1, got ${threads}`);
        engineOptions.threads = threads;
    }
    const batchSize = parsed.numbers.get("batch-size");
    if (batchSize !== undefined) {
        if (!Number.isInteger(batchSize) || batchSize < 1)
            throw new UsageError(`--batch-size must be a whole number >= 1, got ${batchSize}`);
        engineOptions.batchSize = batchSize;
    }
    const flashAttention = parsed.strings.get("flash-attention");
    if (flashAttention !== undefined) {
        if (flashAttention !== "on" && flashAttention !== "off")
            throw new UsageError(`--flash-attention must be on or off, got "${flashAttention}"`);
        engineOptions.flashAttention = flashAttention === "on";
    }
    const outlineDetailText = parsed.strings.get("outline-detail");
    const outlineDetail = outlineDetailText === undefined ? undefined : parseOutlineDetail(outlineDetailText);
    const maxAnswerTokens = parsed.numbers.get("max-answer-tokens");
    if (maxAnswerTokens !== undefined && (!Number.isInteger(maxAnswerTokens) || maxAnswerTokens < 1))
        throw new UsageError(`--max-answer-tokens must be a whole number >= 1, got ${maxAnswerTokens}`);
    return {
        help,
        positionals,
        json: parsed.booleans.has("json"),
        verbose: parsed.booleans.has("verbose"),
        engineOptions,
        maxAnswerTokens,
        distillOptions: {
            modelPath: path.resolve(modelPath),
            folders,
            keepRatio,
            scorer,
            segmentTokens,
            cacheDir: resolveCacheDirectory(parsed.strings.get("cache-dir"), environment),
            seed: parsed.numbers.get("seed") ?? 0,
            ...(compaction === undefined ? {} : {compaction}),
            // Only when turned off: otherwise the engine's default (on).
            ...(parsed.booleans.has("no-outline") ? {workspaceOutline: false} : {}),
            ...(outlineDetail === undefined ? {} : {outlineDetail}),
            ...(adapterPath === undefined || adapterPath === "" ? {} : {adapterPath: path.resolve(adapterPath)})
        }
    };
}

function isExistingFolder(folder: string): boolean {
    try {
        return statSync(folder).isDirectory();
    } catch {
        return false;
    }
}

function parseGpu(value: string): GpuChoice {
    switch (value) {
        case "auto": return "auto";
        case "cpu": case "false": case "off": return false;
        case "cuda": case "vulkan": return value;
        default: throw new UsageError(`unknown --gpu "${value}" (auto, cpu, cuda, vulkan)`);
    }
}

// `kv-distill distill <folder>... --model M [options]`: distills the workspace into a saved cache.
import type {Writable} from "node:stream";
import {UsageError} from "../common/errors";
import {readEnvironment} from "../common/environment";
import type {KvDistillEnvironment} from "../common/environment";
import {Engine} from "../engine/Engine";
import type {DistillProgress} from "../engine/engineApi";
import type {WorkspaceIndexer} from "../engine/workspaceIndexer";
import {loadDefaultWorkspaceIndexer} from "../engine/defaultWorkspaceIndexer";
import {engineCommandOptionsHelp, readEngineCommandArguments, type EngineCommandArguments} from "./readEngineCommandArguments";

/** What the distill and ask commands need from outside; tests pass their own. */
export type EngineCommandDependencies = {
    indexer?: WorkspaceIndexer;
    stdout?: Writable;
    stderr?: Writable;
    environment?: KvDistillEnvironment;
};

const help = `Usage: kv-distill distill <folder>... --model M [options]

Distills the workspace folder(s) into a compressed KV cache saved in the cache folder (reused or
refreshed when a cache of an older state exists).

${engineCommandOptionsHelp}`;

export async function runDistillCommand(args: readonly string[], dependencies: EngineCommandDependencies = {}): Promise<number> {
    const stdout = dependencies.stdout ?? process.stdout;
    const stderr = dependencies.stderr ?? process.stderr;
    const parsed = readEngineCommandArguments(args, dependencies.environment ?? readEnvironment(), (positionals) => positionals.length);
    if (parsed.help) {
        stdout.write(help + "\n");
        return 0;
    }
    if (parsed.maxAnswerTokens !== undefined)
        throw new UsageError("--max-answer-tokens is an option of `ask`");
    return withCommandEngine(parsed, dependencies, stderr, async (engine, signal) => {
        const result = await engine.distill(parsed.distillOptions, {
            signal,
            onProgress: parsed.json ? undefined : progressPrinter(stderr)
        });
        if (parsed.json)
            stdout.write(JSON.stringify({command: "distill", keepRatio: parsed.distillOptions.keepRatio, scorer: parsed.distillOptions.scorer, ...result}) + "\n");
        else {
            const seconds = (result.timings.totalMs / 1000).toFixed(1);
            stdout.write(
                `${result.cacheOutcome === "reused" ? "Reused" : result.cacheOutcome === "refreshed" ? "Refreshed" : "Built"} the cache of ` +
                `${result.files} file(s) (${result.skippedFiles} skipped): ${result.promptTokens} tokens -> ${result.keptTokens} kept ` +
                `(${(result.effectiveKeepRatio * 100).toFixed(1)}%), ${result.evaluatedTokens} evaluated in ${result.segments} segment(s), ${seconds} s\n` +
                `Cache: ${result.cachePath} (${formatBytes(result.stateBytes)})\n`
            );
        }
        return 0;
    });
}

/**
 * Runs a command's work on an in-process Engine: Ctrl+C cancels the work, and the engine is
 * disposed whatever happens.
 */
export async function withCommandEngine<T>(
    parsed: EngineCommandArguments,
    dependencies: EngineCommandDependencies,
    stderr: Writable,
    work: (engine: Engine, signal: AbortSignal) => Promise<T>
): Promise<T> {
    const engine = new Engine({
        ...parsed.engineOptions,
        indexer: dependencies.indexer ?? await loadDefaultWorkspaceIndexer(),
        log: parsed.verbose ? (line) => stderr.write(`[engine] ${line}\n`) : undefined
    });
    const controller = new AbortController();
    const onInterrupt = (): void => controller.abort();
    process.once("SIGINT", onInterrupt);
    try {
        return await work(engine, controller.signal);
    } finally {
        process.removeListener("SIGINT", onInterrupt);
        await engine.dispose();
    }
}

/** Progress on stderr, one line rewritten in place when stderr is a terminal. */
export function progressPrinter(stderr: Writable): (progress: DistillProgress) => void {
    const interactive = (stderr as {isTTY?: boolean}).isTTY === true;
    let lastPhase = "";
    return (progress) => {
        if (progress.phase === "prefilling") {
            if (!interactive)
                return;
            const rate = progress.tokensPerSecond === undefined ? "" : `, ${progress.tokensPerSecond.toFixed(0)} tokens/s`;
            const eta = progress.etaSeconds === undefined ? "" : `, ${progress.etaSeconds.toFixed(0)} s left`;
            stderr.write(`\rprefilling ${progress.doneTokens}/${progress.totalTokens} tokens${rate}${eta}   `);
            return;
        }
        if (progress.phase !== lastPhase) {
            if (interactive && lastPhase === "prefilling")
                stderr.write("\n");
            if (interactive)
                stderr.write(`${progress.phase}${progress.message === undefined ? "" : ` ${progress.message}`}\n`);
            lastPhase = progress.phase;
        }
    };
}

export function formatBytes(bytes: number): string {
    if (bytes < 1024)
        return `${bytes} B`;
    if (bytes < 1024 ** 2)
        return `${(bytes / 1024).toFixed(1)} KiB`;
    if (bytes < 1024 ** 3)
        return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
    return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

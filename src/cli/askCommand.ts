// `kv-distill ask <folder> "question" --model M [options]`: answers from the saved cache of the
// workspace (distilling it first when there is none or it is stale).
import {UsageError} from "../common/errors";
import {readEnvironment} from "../common/environment";
import {progressPrinter, withCommandEngine} from "./distillCommand";
import type {EngineCommandDependencies} from "./distillCommand";
import {engineCommandOptionsHelp, readEngineCommandArguments} from "./readEngineCommandArguments";

const help = `Usage: kv-distill ask <folder> "question" --model M [options]

Answers a question about the workspace from its saved compressed cache, distilling it first when
there is no valid cache. The answer is streamed to stdout; the figures go to stderr.

${engineCommandOptionsHelp}
  --max-answer-tokens N longest answer in tokens (default 512)`;

export async function runAskCommand(args: readonly string[], dependencies: EngineCommandDependencies = {}): Promise<number> {
    const stdout = dependencies.stdout ?? process.stdout;
    const stderr = dependencies.stderr ?? process.stderr;
    const parsed = readEngineCommandArguments(args, dependencies.environment ?? readEnvironment(), () => 1);
    if (parsed.help) {
        stdout.write(help + "\n");
        return 0;
    }
    if (parsed.positionals.length !== 2)
        throw new UsageError(`expected a folder and a question, got ${parsed.positionals.length} argument(s)`);
    const question = parsed.positionals[1]!;
    if (question.trim() === "")
        throw new UsageError("the question is empty");
    return withCommandEngine(parsed, dependencies, stderr, async (engine, signal) => {
        const startedAt = performance.now();
        const result = await engine.ask({...parsed.distillOptions, question, maxAnswerTokens: parsed.maxAnswerTokens}, {
            signal,
            onProgress: parsed.json ? undefined : progressPrinter(stderr),
            onToken: parsed.json ? undefined : (text) => stdout.write(text)
        });
        const totalMs = performance.now() - startedAt;
        const {distill} = result;
        if (parsed.json) {
            stdout.write(JSON.stringify({
                command: "ask",
                question,
                answer: result.answer,
                answerTokens: result.answerTokens,
                stopReason: result.stopReason,
                cacheReused: distill.cacheOutcome === "reused",
                cacheOutcome: distill.cacheOutcome,
                cacheLoaded: result.cacheLoaded,
                cacheId: distill.cacheId,
                cachePath: distill.cachePath,
                keepRatio: parsed.distillOptions.keepRatio,
                scorer: parsed.distillOptions.scorer,
                promptTokens: distill.promptTokens,
                keptTokens: distill.keptTokens,
                effectiveKeepRatio: distill.effectiveKeepRatio,
                evaluatedTokens: distill.evaluatedTokens,
                questionTokens: result.questionTokens,
                segments: distill.segments,
                files: distill.files,
                skippedFiles: distill.skippedFiles,
                stateBytes: distill.stateBytes,
                contextSize: distill.contextSize,
                timings: {...distill.timings, distillMs: distill.timings.totalMs, ...result.timings, totalMs}
            }) + "\n");
        } else {
            stdout.write("\n");
            stderr.write(
                `-- ${distill.cacheOutcome} cache: ${distill.promptTokens} tokens -> ${distill.keptTokens} kept ` +
                `(${(distill.effectiveKeepRatio * 100).toFixed(1)}%); distill ${(distill.timings.totalMs / 1000).toFixed(1)} s, ` +
                `load ${result.timings.loadMs.toFixed(0)} ms, first token ${result.timings.firstTokenMs.toFixed(0)} ms, ` +
                `${result.answerTokens} answer tokens in ${(result.timings.answerMs / 1000).toFixed(1)} s (${result.stopReason})\n`
            );
        }
        return result.stopReason === "aborted" ? 130 : 0;
    });
}

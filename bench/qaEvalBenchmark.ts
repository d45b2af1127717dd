// Held-out workspace QA through the engine's command line (issue 6's measure): for every question of
// the evaluation fixtures (test/fixtures/qa-eval/<set>/questions.jsonl, written by native/train's
// eval_sets.py), runs `kv-distill ask <workspace> "question" --model M --keep K --json` and counts an
// answer as correct when it contains the expected string whole (answerMatches.ts). The first question of a workspace distills
// it; the others reuse the saved cache, as a user's would.
// Usage (after `npm run build` and `npm run compile-tests`):
//   node out/bench/qaEvalBenchmark.js --model models/small.gguf [--sets 2k,8k,16k] [--keep 1]
//        [--scorer surprisal] [--workspaces 3] [--threads 2] [--outline on|off]
//        [--outline-detail names|definitions] [--json FILE]
// --outline off passes --no-outline to ask (the prompt without the workspace outline, as models
// trained before it saw it); --outline-detail is passed to ask as it is (default names).
import {execFile} from "node:child_process";
import {cp, mkdtemp, readFile, rm, writeFile} from "node:fs/promises";
import {tmpdir} from "node:os";
import path from "node:path";
import {promisify} from "node:util";
import {flagValuePairs} from "../test/fixtures/flagValuePairs";
import {findRepositoryRoot} from "../test/fixtures/repositoryPaths";
import {parseOutlineDetail} from "../src/cli/parseOutlineDetail";
import {answerMatches} from "./answerMatches";
import {defaultOutlineDetail, type OutlineDetail} from "../src/indexer/workspaceOutline";

const execFileAsync = promisify(execFile);

type QaEvalOptions = {modelPath: string; sets: string[]; keep: number; scorer: string; workspaces: number; threads: number; outline: boolean;
    outlineDetail: OutlineDetail; jsonPath?: string};

type Question = {id: string; workspace: string; question: string; expected: string; family: string};

type QuestionResult = Question & {set: string; answer: string; correct: boolean; cacheReused: boolean; seconds: number};

function parseOptions(args: readonly string[]): QaEvalOptions {
    const options: Partial<QaEvalOptions> = {sets: ["2k", "8k", "16k"], keep: 1, scorer: "surprisal", workspaces: 3, threads: 2, outline: true,
        outlineDetail: defaultOutlineDetail};
    for (const [flag, value] of flagValuePairs(args)) {
        switch (flag) {
            case "--model": options.modelPath = path.resolve(value); break;
            case "--sets": options.sets = value.split(","); break;
            case "--keep": options.keep = Number(value); break;
            case "--scorer": options.scorer = value; break;
            case "--workspaces": options.workspaces = Number(value); break;
            case "--threads": options.threads = Number(value); break;
            case "--json": options.jsonPath = path.resolve(value); break;
            case "--outline":
                if (value !== "on" && value !== "off")
                    throw new Error(`--outline must be on or off, got ${value}`);
                options.outline = value === "on";
                break;
            case "--outline-detail": options.outlineDetail = parseOutlineDetail(value); break;
            default: throw new Error(`unknown option ${flag}`);
        }
    }
    if (options.modelPath === undefined)
        throw new Error("--model is required");
    return options as QaEvalOptions;
}

async function readQuestions(setFolder: string): Promise<Question[]> {
    const text = await readFile(path.join(setFolder, "questions.jsonl"), "utf8");
    return text.split("\n").filter((line) => line.trim() !== "").map((line) => JSON.parse(line) as Question);
}

function percent(correct: number, total: number): string {
    return total === 0 ? "-" : `${correct}/${total} (${Math.round(correct / total * 100)}%)`;
}

export async function runQaEvalBenchmark(args: readonly string[]): Promise<void> {
    const options = parseOptions(args);
    const root = findRepositoryRoot();
    const cli = path.join(root, "dist", "cli.js");
    const scratch = await mkdtemp(path.join(tmpdir(), "kvd-qa-eval-"));
    const results: QuestionResult[] = [];
    try {
        for (const set of options.sets) {
            const setFolder = path.join(root, "test", "fixtures", "qa-eval", set);
            const questions = await readQuestions(setFolder);
            const workspaces = [...new Set(questions.map((question) => question.workspace))].slice(0, options.workspaces);
            for (const workspace of workspaces) {
                // A copy, so the fixture's files are never touched and every run starts from the same tree.
                const folder = path.join(scratch, set, workspace);
                await cp(path.join(setFolder, workspace), folder, {recursive: true});
                for (const question of questions.filter((item) => item.workspace === workspace)) {
                    const startedAt = performance.now();
                    const {stdout} = await execFileAsync(process.execPath, [cli, "ask", folder, question.question, "--model", options.modelPath,
                        "--keep", String(options.keep), "--scorer", options.scorer, "--threads", String(options.threads),
                        "--cache-dir", path.join(scratch, "cache"), "--max-answer-tokens", "64", "--json", ...(options.outline ? [] : ["--no-outline"]),
                        "--outline-detail", options.outlineDetail], {maxBuffer: 16 * 1024 * 1024});
                    const output = JSON.parse(stdout) as {answer: string; cacheReused?: boolean};
                    const result: QuestionResult = {...question, set, answer: output.answer, correct: answerMatches(output.answer, question.expected),
                        cacheReused: output.cacheReused === true, seconds: (performance.now() - startedAt) / 1000};
                    results.push(result);
                    process.stderr.write(`${result.correct ? "ok  " : "MISS"} ${question.id} ${question.family}: ${JSON.stringify(result.answer.slice(0, 80))} (expected ${question.expected})\n`);
                }
            }
        }
    } finally {
        await rm(scratch, {recursive: true, force: true});
    }
    const families = [...new Set(results.map((result) => result.family))].sort();
    const lines = [
        `model ${path.basename(options.modelPath)}, keep ${options.keep}, scorer ${options.scorer}, workspace outline ${options.outline ? `on (${options.outlineDetail})` : "off"}, ` +
            `first ${options.workspaces} workspaces per set, greedy, through \`kv-distill ask --json\``,
        "",
        `| set | correct | ${families.join(" | ")} |`,
        `| --- | ---: | ${families.map(() => "---:").join(" | ")} |`,
        ...options.sets.map((set) => {
            const inSet = results.filter((result) => result.set === set);
            const cells = families.map((family) => {
                const inFamily = inSet.filter((result) => result.family === family);
                return inFamily.length === 0 ? "" : `${inFamily.filter((result) => result.correct).length}/${inFamily.length}`;
            });
            return `| ${set} | ${percent(inSet.filter((result) => result.correct).length, inSet.length)} | ${cells.join(" | ")} |`;
        })
    ];
    process.stdout.write(lines.join("\n") + "\n");
    if (options.jsonPath !== undefined)
        await writeFile(options.jsonPath, JSON.stringify({options, results, date: new Date().toISOString()}, null, 2));
}

if (require.main === module) {
    runQaEvalBenchmark(process.argv.slice(2)).catch((error: unknown) => {
        process.stderr.write(`QA evaluation failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
        process.exitCode = 1;
    });
}

// The README's main job: on a fresh machine, `npm run demo` installs what is missing, builds,
// distills samples/workspace with the bundled small model (models/small.gguf, trained by this
// project; a random-weight fixture when it is missing) at full and at 25% keep, asks a sample
// question of each and prints the answers with the figures.
import {execFileSync, spawnSync} from "node:child_process";
import {existsSync} from "node:fs";
import path from "node:path";
import {fileURLToPath} from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const npm = process.platform === "win32" ? "npm.cmd" : "npm";
// A question of a kind the bundled small model was trained on (a value next to a named setting).
// Arguments: [question] [--cache-dir DIR] (the test of this script gives it a fresh cache folder).
let question = "What is the value of retryLimit in config/defaults.json?";
let questionGiven = false;
let cacheDir = path.join(root, ".cache", "demo-cache");
for (let index = 2; index < process.argv.length; index++) {
    const argument = process.argv[index];
    if (argument === "--cache-dir") {
        const value = process.argv[++index];
        if (value !== undefined)
            cacheDir = path.resolve(value);
    } else if (!questionGiven) {
        question = argument;
        questionGiven = true;
    }
}
const trainedModelPath = path.join(root, "models", "small.gguf");
const workspace = path.join(root, "samples", "workspace");

function step(title) {
    process.stderr.write(`\n== ${title}\n`);
}

function run(command, args, options = {}) {
    const result = spawnSync(command, args, {cwd: root, stdio: ["ignore", options.capture ? "pipe" : "inherit", "inherit"], encoding: "utf8"});
    if (result.status !== 0)
        throw new Error(`${command} ${args.join(" ")} failed (exit ${result.status})`);
    return result.stdout;
}

try {
    if (!existsSync(path.join(root, "node_modules", "node-llama-cpp"))) {
        step("installing dependencies");
        const ci = spawnSync(npm, ["ci", "--no-audit", "--no-fund"], {cwd: root, stdio: "inherit"});
        if (ci.status !== 0)
            run(npm, ["install", "--no-audit", "--no-fund", "--package-lock=false"]);
    }
    step("building");
    run(npm, ["run", "--silent", "build"]);
    run(npm, ["run", "--silent", "compile-tests"]);
    let modelPath = trainedModelPath;
    let modelNote = "models/small.gguf: a 14M-parameter demo model trained by this project; it answers simple value questions, often wrongly from a compressed cache (models/small.md)";
    if (!existsSync(trainedModelPath)) {
        step("generating the fixture model (random weights, real tokenizer; cached in .cache/fixture-models)");
        modelPath = run(process.execPath, [path.join(root, "out", "test", "fixtures", "generateFixtureModelCommand.js")], {capture: true}).trim();
        modelNote = "random-weight fixture model: the answer is gibberish";
    }
    process.stderr.write(`model: ${modelPath}\n`);

    const cli = path.join(root, "dist", "cli.js");
    const seconds = (ms) => `${(ms / 1000).toFixed(2)} s`;
    // The full cache first, then a compressed one: the same question from both, side by side.
    for (const keep of ["1", "0.25"]) {
        // One thread: the demo models are small, and more threads only wait on each other.
        const common = ["--model", modelPath, "--keep", keep, "--scorer", "surprisal", "--segment-tokens", "1024", "--cache-dir", cacheDir, "--threads", "1", "--json"];
        step(`distilling ${path.relative(root, workspace)} (keep ${Number(keep) * 100}%)`);
        const distill = JSON.parse(execFileSync(process.execPath, [cli, "distill", workspace, ...common], {cwd: root, encoding: "utf8"}));
        step(`asking: ${question}`);
        const ask = JSON.parse(execFileSync(process.execPath, [cli, "ask", workspace, question, ...common, "--max-answer-tokens", "48"], {cwd: root, encoding: "utf8"}));
        process.stdout.write([
            "",
            `Question: ${question}`,
            `Answer:   ${ask.answer.trim()}`,
            `          (${modelNote})`,
            "",
            `Workspace:        ${distill.files} files, ${distill.promptTokens} tokens`,
            `Kept:             ${distill.keptTokens} tokens (${(distill.effectiveKeepRatio * 100).toFixed(1)}%, asked ${distill.keepRatio * 100}%, scorer ${distill.scorer})`,
            `Distill:          ${seconds(distill.timings.totalMs)} (${distill.cacheOutcome}; prefill ${seconds(distill.timings.prefillMs)} for ${distill.evaluatedTokens} tokens in ${distill.segments} segment(s))`,
            `Saved state:      ${(distill.stateBytes / 1024).toFixed(1)} KiB in ${distill.cachePath}`,
            `Answer:           load ${ask.timings.loadMs.toFixed(0)} ms, first token ${ask.timings.firstTokenMs.toFixed(0)} ms, ${ask.answerTokens} tokens in ${seconds(ask.timings.answerMs)} (cache ${ask.cacheReused ? "reused" : ask.cacheOutcome})`,
            ""
        ].join("\n"));
    }
} catch (error) {
    process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
}

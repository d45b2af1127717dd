// `kv-distill build-backend --gpu cuda|vulkan [--check] [--json]`: builds the patched llama.cpp with a GPU
// backend on this machine (src/native/GpuBackendBuilder.ts). The editor's "KV-Distill: Build GPU Backend"
// runs this command as a child process with --json and reads one JSON object per stdout line.
import * as path from "node:path";
import type {Writable} from "node:stream";
import {readEnvironment} from "../common/environment";
import {UsageError} from "../common/errors";
import {findBuildInstallation} from "../native/findBuildInstallation";
import {GpuBackendBuilder, GpuBackendPrerequisiteError, type GpuBackendBuilderOptions} from "../native/GpuBackendBuilder";
import type {GpuBackendKind} from "../native/detectBuildPrerequisites";
import {parseCommandArguments} from "./parseCommandArguments";

const help = `Usage: kv-distill build-backend --gpu cuda|vulkan [--check] [--json]

Builds kv-distill's patched llama.cpp with a CUDA or Vulkan backend on this machine (node-llama-cpp's
source build; 5 to 30 minutes) into node-llama-cpp's llama/localBuilds, checks in a fresh process that
it loads with the patched functions, and only then marks it usable. The engine loads it the next time
it starts. Needs CMake >= 3.19, a C/C++ compiler and the CUDA toolkit (nvcc) or the Vulkan SDK
(glslc, headers, loader); neither git nor npm is needed. Ctrl+C cancels and leaves no build behind.

Options:
  --gpu cuda|vulkan  the backend to build
  --check            only report the prerequisites (exit 1 when something is missing)
  --json             one JSON object per line on stdout: {"type":"prerequisites"|"progress"|"output"|"done"|"error", ...}`;

export type BuildBackendCommandDependencies = {
    stdout?: Writable;
    stderr?: Writable;
    /** Overrides where node-llama-cpp and the source archive are found (tests). */
    builderOptions?: GpuBackendBuilderOptions;
    /** Cancels the build (tests); the command also cancels on SIGINT and SIGTERM. */
    signal?: AbortSignal;
};

export async function runBuildBackendCommand(args: readonly string[], dependencies: BuildBackendCommandDependencies = {}): Promise<number> {
    const stdout = dependencies.stdout ?? process.stdout;
    const stderr = dependencies.stderr ?? process.stderr;
    const parsed = parseCommandArguments(args, {gpu: {kind: "string"}, check: {kind: "boolean"}, json: {kind: "boolean"}, help: {kind: "boolean"}});
    if (parsed.booleans.has("help")) {
        stdout.write(help + "\n");
        return 0;
    }
    if (parsed.positionals.length > 0)
        throw new UsageError(`unexpected argument "${parsed.positionals[0]}"`);
    const gpuName = parsed.strings.get("gpu");
    if (gpuName !== "cuda" && gpuName !== "vulkan")
        throw new UsageError(gpuName === undefined ? "--gpu cuda|vulkan is required" : `--gpu must be cuda or vulkan, not "${gpuName}"`);
    const gpu: GpuBackendKind = gpuName;
    const json = parsed.booleans.has("json");
    const emit = (event: Record<string, unknown>): void => void stdout.write(JSON.stringify(event) + "\n");

    let builderOptions = dependencies.builderOptions;
    const overriddenNodeLlamaCpp = readEnvironment().nodeLlamaCppDir;
    if (builderOptions === undefined && overriddenNodeLlamaCpp !== undefined) {
        const nodeLlamaCppDirectory = path.resolve(overriddenNodeLlamaCpp);
        builderOptions = {nodeLlamaCppDirectory, sourceArchivePath: path.join(nodeLlamaCppDirectory, "..", "..", "dist", "native", "llama.cpp.tar.br")};
    }
    if (builderOptions === undefined) {
        const installation = findBuildInstallation(__dirname);
        if (installation === undefined)
            throw new UsageError(`node-llama-cpp was not found above ${__dirname}`);
        builderOptions = {nodeLlamaCppDirectory: installation.nodeLlamaCppDirectory, sourceArchivePath: installation.sourceArchivePath};
    }
    const builder = new GpuBackendBuilder(builderOptions);

    if (parsed.booleans.has("check")) {
        const report = await builder.checkPrerequisites(gpu);
        if (json)
            emit({type: "prerequisites", ...report});
        else {
            for (const tool of report.found)
                stdout.write(`found ${tool.name}${tool.version === undefined ? "" : ` ${tool.version}`}: ${tool.path}\n`);
            for (const note of report.notes)
                stdout.write(`note: ${note}\n`);
            for (const missing of report.missing)
                stdout.write(`missing: ${missing}\n`);
            stdout.write(report.ready ? `Ready to build the ${gpu} backend.\n` : `Cannot build the ${gpu} backend yet.\n`);
        }
        return report.ready ? 0 : 1;
    }

    const controller = new AbortController();
    dependencies.signal?.addEventListener("abort", () => controller.abort(), {once: true});
    const onSignal = (): void => controller.abort();
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    let lastPrinted = "";
    try {
        const result = await builder.build({
            gpu,
            signal: controller.signal,
            onProgress: (progress) => {
                if (json) {
                    emit({type: "progress", ...progress});
                    return;
                }
                const text = progress.fraction === undefined || progress.phase !== "compiling" ? progress.phase : `compiling ${Math.floor(progress.fraction * 100)}%`;
                if (text !== lastPrinted && (progress.phase !== "compiling" || text.endsWith("0%") || text.endsWith("5%"))) {
                    lastPrinted = text;
                    stderr.write(`[build-backend] ${text}\n`);
                }
            },
            onOutput: (line) => {
                if (json)
                    emit({type: "output", line});
                else
                    stderr.write(line + "\n");
            }
        });
        if (json)
            emit({type: "done", ...result});
        else
            stdout.write(`Built the patched ${gpu} backend in ${result.buildSeconds} s: ${result.buildFolder} (stamp ${result.stampPath}, log ${result.logPath}).\n` +
                "The engine loads it the next time it starts.\n");
        return 0;
    } catch (error) {
        if (json) {
            emit({
                type: "error",
                kind: error instanceof GpuBackendPrerequisiteError ? "prerequisites" : controller.signal.aborted ? "cancelled" : "failed",
                message: error instanceof Error ? error.message : String(error),
                missing: error instanceof GpuBackendPrerequisiteError ? error.report.missing : undefined
            });
            return controller.signal.aborted ? 130 : 1;
        }
        throw error;
    } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
    }
}

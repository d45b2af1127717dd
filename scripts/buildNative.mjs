// npm run build:native [-- --gpu cuda|vulkan] [--force] [--check]
// Builds node-llama-cpp's own llama.cpp from source with the project's patch series (native/patches), through
// node-llama-cpp's `source download` (offline, from its git bundle) and `source build`, then smoke-checks the result.
// Builds only when the patches, the pinned versions or the build options changed (each build takes minutes).
import {existsSync} from "node:fs";
import {writeFile} from "node:fs/promises";
import path from "node:path";
import {
    NativeBuildError, buildStampPath, checkInstalledUpstream, describeBuild, ensurePatchedSources, nodeLlamaCppDirectory,
    nodeLlamaCppLlamaDirectory, localBuildsDirectory, readJsonIfExists, repositoryRoot, run, supportedGpuTypes
} from "./nativePatches.mjs";

function parseArguments(argv) {
    const options = {gpu: "false", force: false, check: false};
    for (let i = 0; i < argv.length; i++) {
        const argument = argv[i];
        if (argument === "--force")
            options.force = true;
        else if (argument === "--check")
            options.check = true;
        else if (argument === "--gpu" || argument.startsWith("--gpu=")) {
            const value = argument.includes("=") ? argument.slice("--gpu=".length) : argv[++i];
            options.gpu = value === "cpu" ? "false" : value;
        } else
            throw new NativeBuildError(`Unknown argument ${argument}. Usage: npm run build:native -- [--gpu cuda|vulkan] [--force] [--check]`);
    }
    if (!supportedGpuTypes.includes(options.gpu))
        throw new NativeBuildError(`--gpu must be one of cpu, ${supportedGpuTypes.filter((gpu) => gpu !== "false").join(", ")}`);
    return options;
}

function log(message) {
    console.log(`[build:native] ${message}`);
}

// Loads the build in a separate process the way the engine will, and checks that the patched functions are there.
const smokeCheckSource = `
const {getLlama, LlamaLogLevel} = await import(process.argv[1]);
const gpu = process.argv[2] === "false" ? false : process.argv[2];
const llama = await getLlama({gpu, build: "never", usePrebuiltBinaries: false, logLevel: LlamaLogLevel.error, progressLogs: false});
const AddonContext = llama._bindings.AddonContext;
const missing = ["compactSequence", "getSequenceTokenPositions", "setScoringAdapter", "removeScoringAdapter", "takeSequenceScores"].filter((name) => typeof AddonContext.prototype[name] !== "function");
console.log(JSON.stringify({buildType: llama.buildType, gpu: llama.gpu, release: llama.llamaCppRelease.release, missing}));
await llama.dispose();
`;

async function smokeCheck(gpu) {
    const entry = path.join(nodeLlamaCppDirectory, "dist", "index.js");
    const output = await run(process.execPath, ["--input-type=module", "-e", smokeCheckSource, entry, gpu], {cwd: repositoryRoot});
    const report = JSON.parse(output.trim().split("\n").pop());
    if (report.buildType !== "localBuild")
        throw new NativeBuildError(`Smoke check: node-llama-cpp loaded a ${report.buildType} binary instead of the local build`);
    if (String(report.gpu) !== gpu)
        throw new NativeBuildError(`Smoke check: the build runs on ${report.gpu}, expected ${gpu}`);
    if (report.missing.length > 0)
        throw new NativeBuildError(`Smoke check: the addon lacks the patched methods ${report.missing.join(", ")}`);
    return report;
}

async function main() {
    const options = parseArguments(process.argv.slice(2));
    const build = await describeBuild(options.gpu);
    await checkInstalledUpstream(build.upstream);

    if (options.check) {
        if (build.current) {
            log(`Patched ${options.gpu === "false" ? "CPU" : options.gpu} build is current (${build.stamp.buildFolder}, built ${build.stamp.builtAt})`);
            return;
        }
        log(build.stamp == null ? "No patched build" : "The patched build is stale (patches, versions or options changed)");
        process.exitCode = 1;
        return;
    }

    await ensurePatchedSources({...build, log});

    if (build.current && !options.force) {
        log(`Patched build is current (${build.stamp.buildFolder}); nothing to do (use --force to rebuild)`);
        return;
    }

    // node-llama-cpp runs cmake with --parallel set to the number of CPUs when there are at most 4 (CPUs - 2 above)
    log(`Building llama.cpp ${build.upstream.llamaCppRelease} with node-llama-cpp ${build.upstream.nodeLlamaCpp}, gpu: ${options.gpu} ` +
        "(several minutes; node-llama-cpp always builds from scratch)");
    const startedAt = Date.now();
    await run(process.execPath, [path.join(nodeLlamaCppDirectory, "dist", "cli", "cli.js"), "source", "build", "--gpu", options.gpu, "--noUsageExample"],
        {cwd: repositoryRoot, echo: true});
    const buildSeconds = Math.round((Date.now() - startedAt) / 1000);

    const lastBuild = await readJsonIfExists(path.join(nodeLlamaCppLlamaDirectory, "lastBuild.json"));
    if (lastBuild?.folderName == null || !existsSync(path.join(localBuildsDirectory, lastBuild.folderName)))
        throw new NativeBuildError("node-llama-cpp's build finished but its lastBuild.json names no build folder");

    const report = await smokeCheck(options.gpu);
    await writeFile(buildStampPath(options.gpu), JSON.stringify({
        buildHash: build.buildHash,
        seriesHash: build.seriesHash,
        gpu: options.gpu,
        buildFolder: lastBuild.folderName,
        patches: build.manifest.patches.map((patch) => patch.file),
        nodeLlamaCpp: build.upstream.nodeLlamaCpp,
        llamaCppRelease: report.release,
        buildSeconds,
        builtAt: new Date().toISOString()
    }, null, 4) + "\n");
    log(`Done in ${buildSeconds} s: ${lastBuild.folderName} loads as ${report.buildType} (gpu: ${report.gpu}) with the patched functions`);
}

main().catch((error) => {
    console.error(`[build:native] ${error instanceof NativeBuildError ? error.message : error?.stack ?? error}`);
    process.exitCode = 1;
});

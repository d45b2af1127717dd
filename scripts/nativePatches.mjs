// The patched llama.cpp build: where things are, which patches apply, and whether the build is current.
// Shared by scripts/buildNative.mjs (npm run build:native) and scripts/testNative.mjs (npm run test:native).
import {spawn} from "node:child_process";
import {createHash} from "node:crypto";
import {existsSync} from "node:fs";
import {copyFile, cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile} from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {fileURLToPath} from "node:url";

export const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const nativeDirectory = path.join(repositoryRoot, "native");
export const patchesDirectory = path.join(nativeDirectory, "patches");
export const nodeLlamaCppDirectory = path.join(repositoryRoot, "node_modules", "node-llama-cpp");
export const nodeLlamaCppLlamaDirectory = path.join(nodeLlamaCppDirectory, "llama");
export const llamaCppDirectory = path.join(nodeLlamaCppLlamaDirectory, "llama.cpp");
export const addonDirectory = path.join(nodeLlamaCppLlamaDirectory, "addon");
export const localBuildsDirectory = path.join(nodeLlamaCppLlamaDirectory, "localBuilds");
// node-llama-cpp's sources as shipped, so a changed patch series can start again from them
const pristineAddonDirectory = path.join(nodeLlamaCppLlamaDirectory, "addon.kv-distill-pristine");
const llamaCppPatchMarker = path.join(llamaCppDirectory, ".kv-distill-patches.json");
const addonPatchMarker = path.join(nodeLlamaCppLlamaDirectory, ".kv-distill-addon-patches.json");
const nodeLlamaCppCli = path.join(nodeLlamaCppDirectory, "dist", "cli", "cli.js");

// Where each patch target lives; patch paths are relative to it.
export const patchTargets = {
    "llama.cpp": llamaCppDirectory,
    "addon": nodeLlamaCppLlamaDirectory
};

export const supportedGpuTypes = ["false", "cuda", "vulkan"];

export class NativeBuildError extends Error {
    constructor(message, options) {
        super(message, options);
        this.name = "NativeBuildError";
    }
}

export async function readUpstream() {
    return JSON.parse(await readFile(path.join(nativeDirectory, "upstream.json"), "utf8"));
}

export async function readManifest() {
    const manifest = JSON.parse(await readFile(path.join(patchesDirectory, "manifest.json"), "utf8"));
    for (const patch of manifest.patches) {
        if (!(patch.target in patchTargets))
            throw new NativeBuildError(`native/patches/manifest.json: patch ${patch.file} has unknown target "${patch.target}"`);
        if (!existsSync(path.join(patchesDirectory, patch.file)))
            throw new NativeBuildError(`native/patches/manifest.json lists ${patch.file}, which does not exist`);
    }
    const listed = new Set(manifest.patches.map((patch) => patch.file));
    const unlisted = (await readdir(patchesDirectory)).filter((name) => name.endsWith(".patch") && !listed.has(name));
    if (unlisted.length > 0)
        throw new NativeBuildError(`Patches missing from native/patches/manifest.json: ${unlisted.join(", ")}`);
    return manifest;
}

/** Checks that the installed node-llama-cpp is the one the patches were written for. */
export async function checkInstalledUpstream(upstream) {
    if (!existsSync(nodeLlamaCppCli))
        throw new NativeBuildError("node-llama-cpp is not installed: run `npm ci` first");
    const installed = JSON.parse(await readFile(path.join(nodeLlamaCppDirectory, "package.json"), "utf8")).version;
    if (installed !== upstream.nodeLlamaCpp)
        throw new NativeBuildError(`native/upstream.json pins node-llama-cpp ${upstream.nodeLlamaCpp} but ${installed} is installed`);
    const bundled = JSON.parse(await readFile(path.join(nodeLlamaCppLlamaDirectory, "binariesGithubRelease.json"), "utf8")).release;
    if (bundled !== upstream.llamaCppRelease)
        throw new NativeBuildError(`native/upstream.json pins llama.cpp ${upstream.llamaCppRelease} but node-llama-cpp bundles ${bundled}`);
}

// The part of a patch that ends up in the build: llama.cpp's tests/ are not compiled by node-llama-cpp's build,
// so changing a test does not call for a rebuild (a build takes minutes).
function withoutTestFiles(patchText) {
    return patchText.split(/^(?=diff --git )/m).filter((section) => !section.startsWith("diff --git a/tests/")).join("");
}

/** One hash over everything that decides what the built binaries are. */
export async function hashPatchSeries(upstream, manifest) {
    const hash = createHash("sha256");
    hash.update(JSON.stringify({nodeLlamaCpp: upstream.nodeLlamaCpp, llamaCppRelease: upstream.llamaCppRelease}));
    for (const patch of manifest.patches) {
        const text = await readFile(path.join(patchesDirectory, patch.file), "utf8");
        hash.update(`\0${patch.target}\0${patch.file}\0`);
        hash.update(patch.target === "llama.cpp" ? withoutTestFiles(text) : text);
    }
    return hash.digest("hex");
}

/** The build's identity: the patched sources plus the options the build was made with. */
export function hashBuild(seriesHash, gpu) {
    const cmakeOptions = Object.entries(process.env)
        .filter(([name]) => name.startsWith("NODE_LLAMA_CPP_CMAKE_OPTION_"))
        .sort(([a], [b]) => a.localeCompare(b));
    return createHash("sha256").update(JSON.stringify({seriesHash, gpu, cmakeOptions, platform: process.platform, arch: process.arch}))
        .digest("hex");
}

export function buildStampPath(gpu) {
    return path.join(localBuildsDirectory, `kv-distill-build-${gpu === "false" ? "cpu" : gpu}.json`);
}

export async function readJsonIfExists(filePath) {
    try {
        return JSON.parse(await readFile(filePath, "utf8"));
    } catch {
        return undefined;
    }
}

/** Runs a command; resolves with its output, rejects with it on a non-zero exit. */
export function run(command, args, {cwd = repositoryRoot, env = process.env, echo = false} = {}) {
    return new Promise((resolve, reject) => {
        const child = spawn(command, args, {cwd, env, stdio: echo ? ["ignore", "inherit", "inherit"] : ["ignore", "pipe", "pipe"]});
        let output = "";
        child.stdout?.on("data", (chunk) => output += chunk);
        child.stderr?.on("data", (chunk) => output += chunk);
        child.on("error", reject);
        child.on("close", (code) => {
            if (code === 0)
                resolve(output);
            else
                reject(new NativeBuildError(`${command} ${args.join(" ")} exited with ${code}${output ? `:\n${output}` : ""}`));
        });
    });
}

// git apply outside a repository: the ceiling stops git from treating the enclosing checkout as the repository,
// which would make it resolve the patch's paths against the checkout's root and silently skip them.
function gitApply(target, args) {
    const cwd = patchTargets[target];
    const env = {...process.env, GIT_CEILING_DIRECTORIES: path.dirname(cwd)};
    return run("git", ["apply", ...args], {cwd, env});
}

async function succeeds(promise) {
    try {
        await promise;
        return true;
    } catch {
        return false;
    }
}

/** "applied", "applicable" or "conflict" for one patch against its target's current sources. */
export async function patchState(patch) {
    const patchFile = path.join(patchesDirectory, patch.file);
    if (await succeeds(gitApply(patch.target, ["--check", "--reverse", patchFile])))
        return "applied";
    if (await succeeds(gitApply(patch.target, ["--check", patchFile])))
        return "applicable";
    return "conflict";
}

// The paths a patch touches, relative to its target.
async function patchedPaths(patchFile) {
    const paths = new Set();
    for (const line of (await readFile(patchFile, "utf8")).split("\n")) {
        const match = /^diff --git a\/(\S+) b\/(\S+)$/.exec(line);
        if (match != null) {
            paths.add(match[1]);
            paths.add(match[2]);
        }
    }
    return [...paths];
}

/**
 * Whether the sources hold the whole series: every target's patches reverse-apply, last to first, to a scratch
 * copy of the files they touch. (A single patch's `git apply --check --reverse` only works while no later patch
 * touched the same lines, so the series is checked as a whole.)
 */
export async function isSeriesApplied(manifest) {
    for (const target of Object.keys(patchTargets)) {
        const patches = manifest.patches.filter((patch) => patch.target === target);
        if (patches.length === 0)
            continue;
        const scratch = await mkdtemp(path.join(os.tmpdir(), "kv-distill-patch-check-"));
        try {
            for (const patch of patches) {
                for (const relativePath of await patchedPaths(path.join(patchesDirectory, patch.file))) {
                    const source = path.join(patchTargets[target], relativePath);
                    if (existsSync(source)) {
                        await mkdir(path.dirname(path.join(scratch, relativePath)), {recursive: true});
                        await copyFile(source, path.join(scratch, relativePath));
                    }
                }
            }
            for (const patch of [...patches].reverse()) {
                const env = {...process.env, GIT_CEILING_DIRECTORIES: path.dirname(scratch)};
                await run("git", ["apply", "--reverse", path.join(patchesDirectory, patch.file)], {cwd: scratch, env});
            }
        } catch {
            return false;
        } finally {
            await rm(scratch, {recursive: true, force: true});
        }
    }
    return true;
}

/** Clones the bundled llama.cpp offline (node-llama-cpp applies its own patch) and restores the pristine addon. */
async function resetSources(log) {
    log("Cloning node-llama-cpp's bundled llama.cpp (offline, from llama/gitRelease.bundle)");
    await run(process.execPath, [nodeLlamaCppCli, "source", "download", "--skipBuild", "--noUsageExample"], {cwd: repositoryRoot});
    if (!existsSync(path.join(llamaCppDirectory, ".git")))
        throw new NativeBuildError(`node-llama-cpp source download did not create ${llamaCppDirectory}`);
    if (existsSync(pristineAddonDirectory)) {
        await rm(addonDirectory, {recursive: true, force: true});
        await cp(pristineAddonDirectory, addonDirectory, {recursive: true});
    }
}

/**
 * Makes the sources under node_modules/node-llama-cpp/llama hold exactly the patch series.
 * Idempotent: a tree that already holds this series is only checked (git apply --check --reverse).
 * Returns true when the sources changed.
 */
export async function ensurePatchedSources({upstream, manifest, seriesHash, log}) {
    // the sources themselves decide (the markers may be missing where the patched tree was copied to, e.g. a GPU machine)
    if (existsSync(path.join(llamaCppDirectory, ".git")) && await isSeriesApplied(manifest)) {
        log(`Patch series already applied (${manifest.patches.length} patches)`);
        // The sources may have been patched by hand or copied (a GPU machine): the markers must name this series,
        // since the source archive and the GPU builder read them.
        await writeSeriesMarkers(manifest, seriesHash);
        return false;
    }

    const addonMarker = await readJsonIfExists(addonPatchMarker);
    if (!existsSync(pristineAddonDirectory)) {
        if (addonMarker != null)
            throw new NativeBuildError("node-llama-cpp's addon sources are patched but their pristine copy is gone: reinstall node-llama-cpp (npm ci)");
        await cp(addonDirectory, pristineAddonDirectory, {recursive: true});
    }
    if (existsSync(llamaCppDirectory))
        log("The sources do not hold the current patch series; starting again from node-llama-cpp's sources");

    await resetSources(log);
    await rm(addonPatchMarker, {force: true});
    for (const patch of manifest.patches) {
        try {
            await gitApply(patch.target, ["--whitespace=nowarn", path.join(patchesDirectory, patch.file)]);
        } catch (error) {
            const alreadyThere = (await patchState(patch)) === "applied";
            throw new NativeBuildError(alreadyThere
                ? `Patch ${patch.file} is already in node-llama-cpp ${upstream.nodeLlamaCpp}'s ${patch.target} sources: upstream has it ` +
                    `(${patch.upstreamCheck}); remove it from the series`
                : `Patch ${patch.file} does not apply to ${patch.target} of node-llama-cpp ${upstream.nodeLlamaCpp} ` +
                    `(llama.cpp ${upstream.llamaCppRelease}). If upstream already has it: ${patch.upstreamCheck}`, {cause: error});
        }
        log(`Applied ${patch.file} (${patch.target}): ${patch.title}`);
    }
    await writeSeriesMarkers(manifest, seriesHash);
    return true;
}

async function writeSeriesMarkers(manifest, seriesHash) {
    const marker = JSON.stringify({seriesHash, patches: manifest.patches.map((patch) => patch.file)}, null, 4) + "\n";
    for (const markerPath of [llamaCppPatchMarker, addonPatchMarker]) {
        if ((await readFile(markerPath, "utf8").catch(() => "")) !== marker)
            await writeFile(markerPath, marker);
    }
}

/** Whether the patched build for this GPU type exists and matches the current series and options. */
export async function describeBuild(gpu) {
    const upstream = await readUpstream();
    const manifest = await readManifest();
    const seriesHash = await hashPatchSeries(upstream, manifest);
    const buildHash = hashBuild(seriesHash, gpu);
    const stamp = await readJsonIfExists(buildStampPath(gpu));
    const folderExists = stamp?.buildFolder != null && existsSync(path.join(localBuildsDirectory, stamp.buildFolder));
    return {upstream, manifest, seriesHash, buildHash, stamp, current: stamp?.buildHash === buildHash && folderExists};
}

export async function ensureDirectory(directory) {
    await mkdir(directory, {recursive: true});
}

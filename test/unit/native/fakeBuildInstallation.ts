// A fake installation for the GPU backend builder's tests: a node-llama-cpp folder whose
// `source build` is a small Node script that goes through the same steps as the real one (npm ->
// cmake-js -> compiler output with Ninja progress lines, `node -p` from CMake, buildDone.status,
// lastBuild.json), and whose getLlama loads only a finished build; plus a PATH folder of scripts
// standing in for cmake, the compilers, nvcc and glslc.
import {chmodSync, mkdirSync, mkdtempSync, writeFileSync} from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const repositoryRoot = path.resolve(__dirname, "..", "..", "..", "..");

export type FakeInstallation = {
    root: string;
    nodeLlamaCppDirectory: string;
    llamaCppDirectory: string;
    localBuildsDirectory: string;
    /** Folder of fake tools to put on PATH. */
    binDirectory: string;
    /** Where the fake cmake-js writes the pids of its process tree when FAKE_BUILD_HANG is set. */
    pidFile: string;
    /** Where the fake cmake-js records its arguments and the result of `node -p`. */
    cmakeJsRecord: string;
};

export function writeScript(filePath: string, text: string): void {
    mkdirSync(path.dirname(filePath), {recursive: true});
    writeFileSync(filePath, text);
    chmodSync(filePath, 0o755);
}

export function writeFakeTool(binDirectory: string, name: string, versionOutput: string): void {
    writeScript(path.join(binDirectory, name), `#!/bin/sh\necho '${versionOutput}'\n`);
}

const fakeCli = `
// node-llama-cpp's cli.js, reduced to "source build --gpu X": runs npm like the real build
const {spawn} = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");
const args = process.argv.slice(2);
if (args[0] !== "source" || args[1] !== "build") { console.error("unexpected " + args.join(" ")); process.exit(2); }
const gpu = args[args.indexOf("--gpu") + 1];
const llamaDirectory = path.join(__dirname, "..", "..", "llama");
if (!fs.existsSync(path.join(llamaDirectory, "llama.cpp", ".git")) || !fs.existsSync(path.join(llamaDirectory, "llama.cpp.info.json"))) {
    console.log('llama.cpp is not downloaded. Please run "node-llama-cpp source download" first');
    process.exit(1);
}
const folder = "linux-" + process.arch + "-" + gpu;
const out = path.join(llamaDirectory, "localBuilds", folder);
fs.rmSync(out, {recursive: true, force: true});
const child = spawn("npm", ["run", "-s", "cmake-js-llama", "--", "compile", "--out", path.join("localBuilds", folder), "--CDGGML_" + gpu.toUpperCase() + "=1"], {stdio: "inherit", cwd: __dirname});
child.on("exit", (code) => {
    if (code !== 0) process.exit(code ?? 1);
    fs.mkdirSync(path.join(out, "Release"), {recursive: true});
    fs.writeFileSync(path.join(out, "Release", "llama-addon.node"), "fake");
    fs.writeFileSync(path.join(out, "buildDone.status"), "");
    fs.writeFileSync(path.join(llamaDirectory, "lastBuild.json"), JSON.stringify({folderName: folder}));
    console.log("Compiled llama.cpp");
});
`;

const fakeCmakeJs = `#!/usr/bin/env node
// cmake-js, reduced: records how it was called, runs node as CMake does, prints Ninja progress
const {execFileSync, spawn} = require("node:child_process");
const fs = require("node:fs");
const nodeResult = execFileSync("node", ["-p", "6 * 7"], {encoding: "utf8"}).trim();
fs.writeFileSync(process.env.FAKE_CMAKE_JS_RECORD, JSON.stringify({args: process.argv.slice(2), cwd: process.cwd(), nodeResult}));
console.log("-- The C compiler identification is GNU 12.2.0");
if (process.env.FAKE_BUILD_FAIL === "1") { console.error("CMake Error: fake failure"); process.exit(1); }
if (process.env.FAKE_BUILD_HANG === "1") {
    fs.mkdirSync(fs.realpathSync(process.cwd()) + "/localBuilds/linux-" + process.arch + "-" + process.env.FAKE_GPU, {recursive: true});
    console.log("[1/300] Building CXX object ggml/src/ggml.cpp.o");
    const grandchild = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], {stdio: "ignore"});
    // written whole, then renamed: the test reads it as soon as it exists
    fs.writeFileSync(process.env.FAKE_BUILD_PID_FILE + ".partial", JSON.stringify([process.pid, grandchild.pid]));
    fs.renameSync(process.env.FAKE_BUILD_PID_FILE + ".partial", process.env.FAKE_BUILD_PID_FILE);
    setInterval(() => {}, 1000);
} else {
    for (let step = 1; step <= 4; step++)
        console.log("[" + step + "/4] Building CXX object step" + step + ".o");
}
`;

const fakeIndex = `
// node-llama-cpp's entry, reduced to getLlama({gpu, build: "never"}) over the local builds
import fs from "node:fs";
import path from "node:path";
import {fileURLToPath} from "node:url";
export const LlamaLogLevel = {error: "error"};
export async function getLlama({gpu}) {
    const folder = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "llama", "localBuilds", "linux-" + process.arch + "-" + gpu);
    if (!fs.existsSync(path.join(folder, "buildDone.status")))
        throw new Error("no local build for " + gpu);
    class AddonContext {}
    for (const name of (process.env.FAKE_ADDON_METHODS ?? "compactSequence,getSequenceTokenPositions,setScoringAdapter,removeScoringAdapter,takeSequenceScores").split(","))
        AddonContext.prototype[name] = function () {};
    return {buildType: "localBuild", gpu, llamaCppRelease: {release: "v0.5.0"}, _bindings: {AddonContext}, dispose: async () => {}};
}
`;

/** A fake installation; `withSources` puts a patched llama.cpp tree in place (else the builder must unpack the archive). */
export function createFakeInstallation(options: {withSources: boolean}): FakeInstallation {
    const root = mkdtempSync(path.join(os.tmpdir(), "kv-distill-fake-install-"));
    const nodeLlamaCppDirectory = path.join(root, "node_modules", "node-llama-cpp");
    const llamaDirectory = path.join(nodeLlamaCppDirectory, "llama");
    const llamaCppDirectory = path.join(llamaDirectory, "llama.cpp");
    mkdirSync(llamaDirectory, {recursive: true});
    writeFileSync(path.join(nodeLlamaCppDirectory, "package.json"), JSON.stringify({name: "node-llama-cpp", version: "3.22.1", type: "module"}));
    writeFileSync(path.join(llamaDirectory, "binariesGithubRelease.json"), JSON.stringify({release: "v0.5.0"}));
    mkdirSync(path.join(nodeLlamaCppDirectory, "dist", "cli"), {recursive: true});
    // cli.js is CommonJS in a "type: module" package: its own package.json says so
    writeFileSync(path.join(nodeLlamaCppDirectory, "dist", "cli", "package.json"), JSON.stringify({type: "commonjs"}));
    writeFileSync(path.join(nodeLlamaCppDirectory, "dist", "cli", "cli.js"), fakeCli);
    writeFileSync(path.join(nodeLlamaCppDirectory, "dist", "index.js"), fakeIndex);
    writeScript(path.join(root, "node_modules", "cmake-js", "bin", "cmake-js"), fakeCmakeJs);
    if (options.withSources) {
        mkdirSync(path.join(llamaCppDirectory, "ggml"), {recursive: true});
        writeFileSync(path.join(llamaCppDirectory, "CMakeLists.txt"), "project(llama.cpp)\n");
        writeFileSync(path.join(llamaCppDirectory, ".kv-distill-patches.json"), JSON.stringify({seriesHash: "f".repeat(64), patches: ["0001.patch"]}));
    }
    const binDirectory = path.join(root, "bin");
    writeFakeTool(binDirectory, "cmake", "cmake version 3.28.1");
    writeFakeTool(binDirectory, "cc", "cc (Debian 12.2.0-14) 12.2.0");
    writeFakeTool(binDirectory, "c++", "c++ (Debian 12.2.0-14) 12.2.0");
    writeFakeTool(binDirectory, "nvcc", "Cuda compilation tools, release 12.4, V12.4.131");
    writeFakeTool(binDirectory, "nvidia-smi", "GPU 0: NVIDIA H200 (UUID: GPU-0f0e)");
    // nvcc's toolkit is the folder above bin/: its cuBLAS headers
    mkdirSync(path.join(root, "include"), {recursive: true});
    writeFileSync(path.join(root, "include", "cublas_v2.h"), "");
    return {
        root, nodeLlamaCppDirectory, llamaCppDirectory,
        localBuildsDirectory: path.join(llamaDirectory, "localBuilds"),
        binDirectory,
        pidFile: path.join(root, "build-pids.json"),
        cmakeJsRecord: path.join(root, "cmake-js-record.json")
    };
}

import assert from "node:assert/strict";
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {after, describe, test} from "node:test";
import {pathToFileURL} from "node:url";
import {compareVersions, detectBuildPrerequisites} from "../../../src/native/detectBuildPrerequisites";
import {hashPatchedBuild} from "../../../src/native/hashPatchedBuild";
import {parseBuildProgress} from "../../../src/native/parseBuildProgress";
import {repositoryRoot, writeFakeTool, writeScript} from "./fakeBuildInstallation";

describe("parseBuildProgress", () => {
    test("reads Makefile percentages and Ninja step counts", () => {
        assert.equal(parseBuildProgress("[ 42%] Building CXX object src/CMakeFiles/llama.dir/llama.cpp.o"), 0.42);
        assert.equal(parseBuildProgress("[100%] Linking CXX shared library libllama.so"), 1);
        assert.equal(parseBuildProgress("[  3%] Built target ggml-base"), 0.03);
        assert.equal(parseBuildProgress("[17/340] Building CUDA object ggml/src/ggml-cuda/CMakeFiles/ggml-cuda.dir/mmq.cu.o"), 17 / 340);
        assert.equal(parseBuildProgress("  [340/340] Linking CXX shared module Release/llama-addon.node"), 1);
    });

    test("ignores every other line and impossible values", () => {
        for (const line of ["-- The C compiler identification is GNU 12.2.0", "", "warning: [-Wunused] 42%", "[abc] x", "[120%] odd", "[5/0] odd", "[7/3] odd", "see [ 10%] later"])
            assert.equal(parseBuildProgress(line), undefined, line);
    });
});

describe("detectBuildPrerequisites", () => {
    const temporary = mkdtempSync(path.join(os.tmpdir(), "kv-distill-prereq-"));
    after(() => rmSync(temporary, {recursive: true, force: true}));
    // nvcc in temporary/binN belongs to the "toolkit" temporary/, whose include/ has cuBLAS
    mkdirSync(path.join(temporary, "include"), {recursive: true});
    writeFileSync(path.join(temporary, "include", "cublas_v2.h"), "");
    const gpuDeviceFile = path.join(temporary, "nvidia0");
    writeFileSync(gpuDeviceFile, "");
    let counter = 0;
    const folder = (tools: Record<string, string>): string => {
        const directory = path.join(temporary, `bin${counter++}`);
        mkdirSync(directory, {recursive: true});
        for (const [name, output] of Object.entries(tools))
            writeFakeTool(directory, name, output);
        return directory;
    };
    const compilers = {"cc": "cc (Debian 12.2.0-14) 12.2.0", "c++": "c++ (Debian 12.2.0-14) 12.2.0"};
    const noDefaults = {cudaToolkitDirectories: [], includeDirectories: [], libraryDirectories: [], nvidiaDeviceFiles: [gpuDeviceFile]};

    test("CUDA: cmake, compilers and nvcc on PATH make it ready, with their versions", async () => {
        const bin = folder({"cmake": "cmake version 4.4.0", ...compilers, "nvcc": "Cuda compilation tools, release 13.0, V13.0.88"});
        const report = await detectBuildPrerequisites("cuda", {env: {PATH: bin}, ...noDefaults});
        assert.deepEqual(report.missing, []);
        assert.equal(report.ready, true);
        assert.deepEqual(report.found.map((tool) => [tool.name, tool.path, tool.version]), [
            ["cmake", path.join(bin, "cmake"), "4.4.0"],
            ["C compiler", path.join(bin, "cc"), "12.2.0"],
            ["C++ compiler", path.join(bin, "c++"), "12.2.0"],
            ["nvcc", path.join(bin, "nvcc"), "13.0"],
            ["cuBLAS headers", path.join(temporary, "include", "cublas_v2.h"), undefined],
            ["NVIDIA GPU", gpuDeviceFile, undefined]
        ]);
        assert.deepEqual(report.notes, []);
    });

    test("says what is missing: no cmake, no compiler, no CUDA toolkit", async () => {
        const bin = folder({});
        const report = await detectBuildPrerequisites("cuda", {env: {PATH: bin}, ...noDefaults});
        assert.equal(report.ready, false);
        assert.equal(report.missing.length, 4);
        assert.match(report.missing[0]!, /CMake was not found on PATH: install CMake 3\.19 or newer/);
        assert.match(report.missing[1]!, /No C compiler was found \(cc, gcc or clang on PATH\)/);
        assert.match(report.missing[2]!, /No C\+\+ compiler was found/);
        assert.match(report.missing[3]!, /The CUDA toolkit was not found \(no nvcc on PATH, in CUDA_PATH/);
    });

    test("refuses an old cmake and notes one that cannot pick the GPU architecture", async () => {
        const old = await detectBuildPrerequisites("cuda", {env: {PATH: folder({"cmake": "cmake version 3.16.3", ...compilers, "nvcc": "release 12.4"})}, ...noDefaults});
        assert.deepEqual(old.missing.length, 1);
        assert.match(old.missing[0]!, /CMake 3\.16\.3 at .* is too old: the build needs 3\.19 or newer/);
        const middling = await detectBuildPrerequisites("cuda", {env: {PATH: folder({"cmake": "cmake version 3.22.1", ...compilers, "nvcc": "release 12.4"})}, ...noDefaults});
        assert.equal(middling.ready, true);
        assert.match(middling.notes[0]!, /3\.22\.1 is older than 3\.24/);
    });

    test("a cmake that cannot report its version, or a non-executable file, does not count", async () => {
        const bin = folder(compilers);
        writeScript(path.join(bin, "cmake"), "#!/bin/sh\nexit 3\n");
        writeFileSync(path.join(bin, "nvcc"), "not executable");
        const report = await detectBuildPrerequisites("cuda", {env: {PATH: bin}, ...noDefaults});
        assert.match(report.missing[0]!, /did not report its version/);
        assert.match(report.missing[1]!, /CUDA toolkit was not found/);
    });

    test("finds nvcc through CUDA_PATH and puts its folder on the build's PATH; honours CC/CXX", async () => {
        const toolkit = path.join(temporary, "cuda-12.4");
        writeFakeTool(path.join(toolkit, "bin"), "nvcc", "Cuda compilation tools, release 12.4, V12.4.131");
        mkdirSync(path.join(toolkit, "targets", "x86_64-linux", "include"), {recursive: true});
        writeFileSync(path.join(toolkit, "targets", "x86_64-linux", "include", "cublas_v2.h"), "");
        const bin = folder({"cmake": "cmake version 3.28.1", "clang-17": "clang version 17.0.6", "clang++-17": "clang version 17.0.6"});
        const report = await detectBuildPrerequisites("cuda", {env: {PATH: bin, CUDA_PATH: toolkit, CC: "clang-17", CXX: "clang++-17 -stdlib=libc++"}, ...noDefaults});
        assert.equal(report.ready, true, report.missing.join(" "));
        assert.deepEqual(report.extraPathDirectories, [path.join(toolkit, "bin")]);
        assert.equal(report.found.find((tool) => tool.name === "C compiler")?.path, path.join(bin, "clang-17"));
        assert.equal(report.found.find((tool) => tool.name === "nvcc")?.version, "12.4");
        const wrongCc = await detectBuildPrerequisites("cuda", {env: {PATH: bin, CUDA_PATH: toolkit, CC: "gcc-99"}, ...noDefaults});
        assert.match(wrongCc.missing.join(" "), /The C compiler named by CC \(gcc-99\) was not found/);
    });

    test("CUDA needs cuBLAS and a visible GPU (nvidia-smi or a device file), unless the architectures are given", async () => {
        const toolkit = path.join(temporary, "compiler-only");
        writeFakeTool(path.join(toolkit, "bin"), "nvcc", "Cuda compilation tools, release 13.0, V13.0.88");
        const bin = folder({"cmake": "cmake version 4.4.0", ...compilers});
        const env = {PATH: `${bin}${path.delimiter}${path.join(toolkit, "bin")}`};
        const bare = await detectBuildPrerequisites("cuda", {...noDefaults, env, nvidiaDeviceFiles: [path.join(temporary, "no-such-device")]});
        assert.equal(bare.missing.length, 2);
        assert.match(bare.missing[0]!, /cuBLAS was not found \(no cublas_v2\.h in .*compiler-only\/include/);
        assert.match(bare.missing[1]!, /No NVIDIA GPU is visible/);

        const withArchitectures = await detectBuildPrerequisites("cuda", {...noDefaults, env: {...env, NODE_LLAMA_CPP_CMAKE_OPTION_CMAKE_CUDA_ARCHITECTURES: "90"},
            includeDirectories: [path.join(temporary, "include")], nvidiaDeviceFiles: []});
        assert.deepEqual(withArchitectures.missing, []);

        writeFakeTool(bin, "nvidia-smi", "GPU 0: NVIDIA H200 (UUID: GPU-0f0e)");
        const viaSmi = await detectBuildPrerequisites("cuda", {...noDefaults, env, includeDirectories: [path.join(temporary, "include")], nvidiaDeviceFiles: []});
        assert.deepEqual(viaSmi.missing, []);
        assert.deepEqual(viaSmi.found.find((tool) => tool.name === "NVIDIA GPU"), {name: "NVIDIA GPU", path: path.join(bin, "nvidia-smi"), version: "NVIDIA H200"});
    });

    test("refuses a CUDA toolkit older than 11", async () => {
        const report = await detectBuildPrerequisites("cuda", {env: {PATH: folder({"cmake": "cmake version 3.28.1", ...compilers, "nvcc": "Cuda compilation tools, release 10.2, V10.2.89"})}, ...noDefaults});
        assert.match(report.missing.join(" "), /CUDA toolkit 10\.2 .* is too old/);
    });

    test("Vulkan: needs glslc, the headers and the loader, found on PATH, in VULKAN_SDK or the given folders", async () => {
        const bin = folder({"cmake": "cmake version 3.28.1", ...compilers});
        const missingAll = await detectBuildPrerequisites("vulkan", {env: {PATH: bin}, ...noDefaults});
        assert.equal(missingAll.missing.length, 3);
        assert.match(missingAll.missing[0]!, /glslc \(the Vulkan shader compiler\) was not found/);
        assert.match(missingAll.missing[1]!, /Vulkan headers \(vulkan\/vulkan\.h\) were not found/);
        assert.match(missingAll.missing[2]!, /Vulkan loader \(libvulkan\.so\) was not found/);

        const sdk = path.join(temporary, "vulkan-sdk");
        writeFakeTool(path.join(sdk, "bin"), "glslc", "shaderc v2024.1");
        mkdirSync(path.join(sdk, "include", "vulkan"), {recursive: true});
        writeFileSync(path.join(sdk, "include", "vulkan", "vulkan.h"), "");
        mkdirSync(path.join(sdk, "lib"), {recursive: true});
        writeFileSync(path.join(sdk, "lib", "libvulkan.so.1"), "");
        const viaSdk = await detectBuildPrerequisites("vulkan", {env: {PATH: bin, VULKAN_SDK: sdk}, ...noDefaults});
        assert.equal(viaSdk.ready, true, viaSdk.missing.join(" "));
        assert.deepEqual(viaSdk.extraPathDirectories, [path.join(sdk, "bin")]);

        const viaFolders = await detectBuildPrerequisites("vulkan", {env: {PATH: `${bin}${path.delimiter}${path.join(sdk, "bin")}`}, cudaToolkitDirectories: [],
            includeDirectories: [path.join(sdk, "include")], libraryDirectories: [path.join(temporary, "nothing"), path.join(sdk, "lib")]});
        assert.equal(viaFolders.ready, true, viaFolders.missing.join(" "));
        assert.deepEqual(viaFolders.extraPathDirectories, []);
    });

    test("compareVersions", () => {
        assert.ok(compareVersions([3, 19], [3, 19]) === 0);
        assert.ok(compareVersions([3, 18, 9], [3, 19]) < 0);
        assert.ok(compareVersions([4, 0], [3, 24]) > 0);
        assert.ok(compareVersions([3, 19, 1], [3, 19]) > 0);
    });
});

describe("hashPatchedBuild", () => {
    test("gives a build the identity scripts/nativePatches.mjs gives it, custom CMake options included", async () => {
        const nativePatches = await import(pathToFileURL(path.join(repositoryRoot, "scripts", "nativePatches.mjs")).href) as {hashBuild(seriesHash: string, gpu: string): string};
        const saved = process.env.NODE_LLAMA_CPP_CMAKE_OPTION_GGML_CUDA_F16;
        try {
            delete process.env.NODE_LLAMA_CPP_CMAKE_OPTION_GGML_CUDA_F16;
            assert.equal(hashPatchedBuild("a".repeat(64), "cuda", process.env), nativePatches.hashBuild("a".repeat(64), "cuda"));
            const plain = hashPatchedBuild("a".repeat(64), "cuda", process.env);
            process.env.NODE_LLAMA_CPP_CMAKE_OPTION_GGML_CUDA_F16 = "1";
            assert.equal(hashPatchedBuild("a".repeat(64), "cuda", process.env), nativePatches.hashBuild("a".repeat(64), "cuda"));
            assert.notEqual(hashPatchedBuild("a".repeat(64), "cuda", process.env), plain);
            assert.notEqual(hashPatchedBuild("a".repeat(64), "vulkan", process.env), hashPatchedBuild("a".repeat(64), "cuda", process.env));
        } finally {
            if (saved === undefined)
                delete process.env.NODE_LLAMA_CPP_CMAKE_OPTION_GGML_CUDA_F16;
            else
                process.env.NODE_LLAMA_CPP_CMAKE_OPTION_GGML_CUDA_F16 = saved;
        }
    });
});

import assert from "node:assert/strict";
import {execFileSync} from "node:child_process";
import {existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync} from "node:fs";
import * as path from "node:path";
import {Writable} from "node:stream";
import {after, describe, test} from "node:test";
import {setTimeout as delay} from "node:timers/promises";
import {runBuildBackendCommand} from "../../../src/cli/buildBackendCommand";
import {
    GpuBackendBuildCancelledError, GpuBackendBuildError, GpuBackendBuilder, GpuBackendPrerequisiteError, type GpuBackendBuildProgress
} from "../../../src/native/GpuBackendBuilder";
import {isProcessAlive} from "../../fixtures/processLiveness";
import {createFakeInstallation, repositoryRoot, type FakeInstallation} from "./fakeBuildInstallation";

async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
        if (Date.now() > deadline)
            throw new Error(`timed out waiting for ${what}`);
        await delay(25);
    }
}

function collect(): {stream: Writable; text(): string} {
    const chunks: string[] = [];
    return {
        stream: new Writable({write(chunk: Buffer, _encoding, done) {
            chunks.push(chunk.toString("utf8"));
            done();
        }}),
        text: () => chunks.join("")
    };
}

describe("GpuBackendBuilder", () => {
    const installations: FakeInstallation[] = [];
    const fake = (withSources: boolean): FakeInstallation => {
        const installation = createFakeInstallation({withSources});
        installations.push(installation);
        return installation;
    };
    after(() => {
        for (const installation of installations)
            rmSync(installation.root, {recursive: true, force: true});
    });
    const builderFor = (installation: FakeInstallation, extraEnv: NodeJS.ProcessEnv = {}, sourceArchivePath?: string): GpuBackendBuilder => new GpuBackendBuilder({
        nodeLlamaCppDirectory: installation.nodeLlamaCppDirectory,
        sourceArchivePath,
        env: {PATH: installation.binDirectory, FAKE_CMAKE_JS_RECORD: installation.cmakeJsRecord, FAKE_BUILD_PID_FILE: installation.pidFile, ...extraEnv},
        prerequisites: {cudaToolkitDirectories: [], includeDirectories: [], libraryDirectories: [], nvidiaDeviceFiles: []},
        killGraceMs: 500
    });

    test("builds through node-llama-cpp's source build with the npm and node stand-ins, reports progress, smoke-checks, writes the stamp last", async () => {
        const installation = fake(true);
        const progress: GpuBackendBuildProgress[] = [];
        const lines: string[] = [];
        const result = await builderFor(installation).build({gpu: "cuda", onProgress: (event) => progress.push(event), onOutput: (line) => lines.push(line)});

        const folder = `linux-${process.arch}-cuda`;
        assert.equal(result.buildFolder, folder);
        assert.equal(result.stampPath, path.join(installation.localBuildsDirectory, "kv-distill-build-cuda.json"));
        const stamp = JSON.parse(readFileSync(result.stampPath, "utf8")) as Record<string, unknown>;
        assert.equal(stamp.gpu, "cuda");
        assert.equal(stamp.buildFolder, folder);
        assert.equal(stamp.seriesHash, "f".repeat(64));
        assert.equal(stamp.nodeLlamaCpp, "3.22.1");
        assert.equal(stamp.llamaCppRelease, "v0.5.0");
        assert.match(String(stamp.buildHash), /^[0-9a-f]{64}$/);

        // node-llama-cpp's script ran cmake-js through the npm stand-in, from llama/, and CMake's `node -p` worked
        const record = JSON.parse(readFileSync(installation.cmakeJsRecord, "utf8")) as {args: string[]; cwd: string; nodeResult: string};
        assert.deepEqual(record.args, ["compile", "--out", path.join("localBuilds", folder), "--CDGGML_CUDA=1"]);
        assert.equal(record.cwd, path.join(installation.nodeLlamaCppDirectory, "llama"));
        assert.equal(record.nodeResult, "42");
        // what node-llama-cpp checks before building a "cloned" tree
        assert.ok(existsSync(path.join(installation.llamaCppDirectory, ".git")));
        assert.deepEqual(JSON.parse(readFileSync(path.join(installation.nodeLlamaCppDirectory, "llama", "llama.cpp.info.json"), "utf8")), {tag: "v0.5.0", llamaCppGithubRepo: "ggml-org/llama.cpp"});

        assert.deepEqual(progress.map((event) => event.phase), ["checking", "unpacking", "configuring", "compiling", "compiling", "compiling", "compiling", "smoke-check", "done"]);
        assert.deepEqual(progress.filter((event) => event.phase === "compiling").map((event) => event.fraction), [0.25, 0.5, 0.75, 1]);
        const log = readFileSync(result.logPath, "utf8");
        assert.match(log, /found nvcc 12\.4 at /);
        assert.match(log, /\[3\/4\] Building CXX object step3\.o/);
        assert.match(log, /Compiled llama\.cpp/);
        assert.match(log, /done in \d+ s/);
        assert.ok(lines.includes("[3/4] Building CXX object step3.o"));
    });

    test("unpacks the shipped source archive when the installation has no sources", async () => {
        const installation = fake(false);
        const source = path.join(installation.root, "source");
        for (const entry of ["cmake", "common", "ggml", "include", "src", "vendor", "licenses"])
            mkdirSync(path.join(source, entry), {recursive: true});
        writeFileSync(path.join(source, "CMakeLists.txt"), "project(llama.cpp)\n");
        writeFileSync(path.join(source, "LICENSE"), "MIT\n");
        writeFileSync(path.join(source, "src", "llama.cpp"), "int main() {}\n");
        const archive = path.join(installation.root, "dist", "native", "llama.cpp.tar.br");
        execFileSync(process.execPath, [path.join(repositoryRoot, "scripts", "packNativeSource.mjs"), archive, "--source", source], {cwd: repositoryRoot, stdio: "pipe"});

        // no glslc, headers or loader in the fake folders: refused before anything is unpacked
        const result = await builderFor(installation, {}, archive).build({gpu: "vulkan"}).catch((error: unknown) => error);
        assert.ok(result instanceof GpuBackendPrerequisiteError);
        assert.equal(existsSync(installation.llamaCppDirectory), false);

        const built = await builderFor(installation, {}, archive).build({gpu: "cuda"});
        assert.equal(readFileSync(path.join(installation.llamaCppDirectory, "src", "llama.cpp"), "utf8"), "int main() {}\n");
        const marker = JSON.parse(readFileSync(path.join(installation.llamaCppDirectory, ".kv-distill-patches.json"), "utf8")) as {seriesHash: string};
        assert.equal((JSON.parse(readFileSync(built.stampPath, "utf8")) as {seriesHash: string}).seriesHash, marker.seriesHash);
        assert.equal(existsSync(`${installation.llamaCppDirectory}.kv-distill-unpacking`), false);
    });

    test("missing prerequisites are refused with what to install, and an old stamp survives", async () => {
        const installation = fake(true);
        mkdirSync(installation.localBuildsDirectory, {recursive: true});
        writeFileSync(path.join(installation.localBuildsDirectory, "kv-distill-build-cuda.json"), "{\"gpu\":\"cuda\"}");
        rmSync(path.join(installation.binDirectory, "nvcc"));
        rmSync(path.join(installation.binDirectory, "c++"));
        const error = await builderFor(installation).build({gpu: "cuda"}).catch((caught: unknown) => caught);
        assert.ok(error instanceof GpuBackendPrerequisiteError);
        assert.match(error.message, /^Cannot build the CUDA backend: No C\+\+ compiler was found .* The CUDA toolkit was not found/);
        assert.equal(readFileSync(path.join(installation.localBuildsDirectory, "kv-distill-build-cuda.json"), "utf8"), "{\"gpu\":\"cuda\"}");
        assert.equal(existsSync(installation.cmakeJsRecord), false, "nothing was built");
    });

    test("a failing build leaves neither a stamp nor a build folder, and names the log", async () => {
        const installation = fake(true);
        const error = await builderFor(installation, {FAKE_BUILD_FAIL: "1"}).build({gpu: "cuda"}).catch((caught: unknown) => caught);
        assert.ok(error instanceof GpuBackendBuildError);
        assert.ok(!(error instanceof GpuBackendBuildCancelledError));
        assert.match(error.message, /The cuda backend build failed: .* exited with 1 \(log: .*kv-distill-build-cuda\.log\)\. Its last lines:\n[^]*CMake Error: fake failure/);
        assert.match(readFileSync(path.join(installation.localBuildsDirectory, "kv-distill-build-cuda.log"), "utf8"), /CMake Error: fake failure/);
        assert.deepEqual(readdirSync(installation.localBuildsDirectory).sort(), ["kv-distill-build-cuda.log"]);
    });

    test("a build without the patched methods fails its smoke check and is not stamped", async () => {
        const installation = fake(true);
        const error = await builderFor(installation, {FAKE_ADDON_METHODS: "compactSequence"}).build({gpu: "cuda"}).catch((caught: unknown) => caught);
        assert.ok(error instanceof GpuBackendBuildError);
        assert.match(error.message, /lacks the patched methods getSequenceTokenPositions, setScoringAdapter/);
        assert.equal(existsSync(path.join(installation.localBuildsDirectory, "kv-distill-build-cuda.json")), false);
        assert.equal(existsSync(path.join(installation.localBuildsDirectory, `linux-${process.arch}-cuda`)), false);
    });

    test("cancelling kills the whole build process tree and leaves no stamp and no half build", async () => {
        const installation = fake(true);
        const controller = new AbortController();
        const progress: GpuBackendBuildProgress[] = [];
        const building = builderFor(installation, {FAKE_BUILD_HANG: "1", FAKE_GPU: "cuda"}).build({gpu: "cuda", signal: controller.signal, onProgress: (event) => progress.push(event)});
        const settled = building.then(() => undefined, (error: unknown) => error);
        // whatever fails below, the fake build must not outlive the test
        after(() => controller.abort());
        await waitFor(() => existsSync(installation.pidFile), "the fake build to start");
        const pids = JSON.parse(readFileSync(installation.pidFile, "utf8")) as number[];
        assert.equal(pids.length, 2);
        assert.ok(pids.every(isProcessAlive), "cmake-js and its child run");
        assert.ok(existsSync(path.join(installation.localBuildsDirectory, `linux-${process.arch}-cuda`)), "the half build exists while it runs");
        await waitFor(() => progress.some((event) => event.phase === "compiling"), "compiling progress");
        controller.abort();
        const error = await settled;
        assert.ok(error instanceof GpuBackendBuildCancelledError, String(error));
        await waitFor(() => !pids.some(isProcessAlive), "the build's processes to end", 5000);
        assert.equal(existsSync(path.join(installation.localBuildsDirectory, "kv-distill-build-cuda.json")), false);
        assert.equal(existsSync(path.join(installation.localBuildsDirectory, `linux-${process.arch}-cuda`)), false);
        assert.match(readFileSync(path.join(installation.localBuildsDirectory, "kv-distill-build-cuda.log"), "utf8"), /kv-distill: cancelled/);
    });

    test("kv-distill build-backend: --check reports, --json streams events, usage errors are refused", async () => {
        const installation = fake(true);
        const options = {
            nodeLlamaCppDirectory: installation.nodeLlamaCppDirectory, sourceArchivePath: undefined,
            env: {PATH: installation.binDirectory, FAKE_CMAKE_JS_RECORD: installation.cmakeJsRecord},
            prerequisites: {cudaToolkitDirectories: [], includeDirectories: [], libraryDirectories: [], nvidiaDeviceFiles: []}
        };
        const check = collect();
        assert.equal(await runBuildBackendCommand(["--gpu", "cuda", "--check"], {stdout: check.stream, builderOptions: options}), 0);
        assert.match(check.text(), /found nvcc 12\.4: .*\nfound cuBLAS headers: .*\nfound NVIDIA GPU NVIDIA H200: .*\nReady to build the cuda backend\.\n$/);
        const vulkan = collect();
        assert.equal(await runBuildBackendCommand(["--gpu=vulkan", "--check", "--json"], {stdout: vulkan.stream, builderOptions: options}), 1);
        const report = JSON.parse(vulkan.text()) as {type: string; ready: boolean; missing: string[]};
        assert.equal(report.type, "prerequisites");
        assert.equal(report.ready, false);
        assert.equal(report.missing.length, 3);

        const build = collect();
        assert.equal(await runBuildBackendCommand(["--gpu", "cuda", "--json"], {stdout: build.stream, builderOptions: options}), 0);
        const events = build.text().trim().split("\n").map((line) => JSON.parse(line) as {type: string; phase?: string; buildFolder?: string});
        assert.deepEqual([...new Set(events.map((event) => event.type))], ["progress", "output", "done"]);
        assert.equal(events.at(-1)?.buildFolder, `linux-${process.arch}-cuda`);
        assert.ok(events.some((event) => event.type === "progress" && event.phase === "compiling"));

        await assert.rejects(runBuildBackendCommand([], {builderOptions: options}), /--gpu cuda\|vulkan is required/);
        await assert.rejects(runBuildBackendCommand(["--gpu", "metal"], {builderOptions: options}), /--gpu must be cuda or vulkan, not "metal"/);
        await assert.rejects(runBuildBackendCommand(["--gpu", "cuda", "extra"], {builderOptions: options}), /unexpected argument "extra"/);
    });
});

import assert from "node:assert/strict";
import {existsSync, readFileSync, rmSync} from "node:fs";
import * as path from "node:path";
import {after, describe, test} from "node:test";
import {setTimeout as delay} from "node:timers/promises";
import {runGpuBackendBuildFlow, type GpuBackendBuildUi, type GpuBackendChoice} from "../../../src/extension/GpuBackendBuildFlow";
import {ChildProcessGpuBackendBuildRunner, type GpuBackendBuildCallbacks, type GpuBackendBuildRunner} from "../../../src/native/ChildProcessGpuBackendBuildRunner";
import type {BuildPrerequisiteReport, GpuBackendKind} from "../../../src/native/detectBuildPrerequisites";
import {GpuBackendBuildCancelledError, GpuBackendBuildError, type GpuBackendBuildResult} from "../../../src/native/GpuBackendBuilder";
import {waitForProcessesToEnd} from "../../fixtures/processLiveness";
import {createFakeInstallation, repositoryRoot, type FakeInstallation} from "../native/fakeBuildInstallation";

const format = (message: string, ...args: Array<string | number>): string => message.replace(/\{(\d+)\}/g, (_match, index: string) => String(args[Number(index)]));

function report(gpu: GpuBackendKind, missing: string[]): BuildPrerequisiteReport {
    return {gpu, ready: missing.length === 0, found: [{name: "cmake", path: "/usr/bin/cmake", version: "3.28.1"}], missing, notes: [], extraPathDirectories: []};
}

type Recorder = {events: string[]; logs: string[]; restarts: string[]; progress: Array<[string, number | undefined]>};

function fakeUi(recorder: Recorder, answers: {pick?: (choices: readonly GpuBackendChoice[]) => GpuBackendChoice | undefined; confirm?: boolean; cancelAfterMs?: number}): GpuBackendBuildUi {
    return {
        pickBackend: async (choices) => {
            recorder.events.push(`pick: ${choices.map((choice) => `${choice.label}=${choice.ready ? "ready" : "missing"} (${choice.detail})`).join(" | ")}`);
            return answers.pick?.(choices);
        },
        confirm: async (message, detail, agree) => {
            recorder.events.push(`confirm: ${message} / ${agree}`);
            assert.match(detail, /5 to 30 minutes/);
            return answers.confirm ?? true;
        },
        withProgress: async (title, task) => {
            recorder.events.push(`progress: ${title}`);
            const controller = new AbortController();
            if (answers.cancelAfterMs !== undefined)
                setTimeout(() => controller.abort(), answers.cancelAfterMs);
            return task((message, percent) => recorder.progress.push([message, percent]), controller.signal);
        },
        showInformation: (message) => recorder.events.push(`info: ${message}`),
        showError: (message) => recorder.events.push(`error: ${message}`)
    };
}

function fakeRunner(reports: Record<GpuBackendKind, BuildPrerequisiteReport>, build: (gpu: GpuBackendKind, callbacks: GpuBackendBuildCallbacks) => Promise<GpuBackendBuildResult>): GpuBackendBuildRunner & {builds: GpuBackendKind[]} {
    const builds: GpuBackendKind[] = [];
    return {
        builds,
        checkPrerequisites: async (gpu) => reports[gpu],
        build: async (gpu, callbacks) => {
            builds.push(gpu);
            return build(gpu, callbacks);
        }
    };
}

function newRecorder(): Recorder {
    return {events: [], logs: [], restarts: [], progress: []};
}

function dependencies(recorder: Recorder, ui: GpuBackendBuildUi, runner: GpuBackendBuildRunner): Parameters<typeof runGpuBackendBuildFlow>[0] {
    return {
        ui, runner, t: format,
        log: {info: (message) => recorder.logs.push(message), warn: (message) => recorder.logs.push(message), error: (message, error) => recorder.logs.push(`${message}: ${String(error)}`)},
        restartEngine: async (reason) => void recorder.restarts.push(reason)
    };
}

const result: GpuBackendBuildResult = {gpu: "cuda", buildFolder: "linux-x64-cuda", buildSeconds: 321, stampPath: "/x/kv-distill-build-cuda.json", logPath: "/x/kv-distill-build-cuda.log"};

describe("KV-Distill: Build GPU Backend (flow)", () => {
    test("offers both backends, builds the ready one with progress and log lines, then restarts the engine", async () => {
        const recorder = newRecorder();
        const runner = fakeRunner({cuda: report("cuda", []), vulkan: report("vulkan", ["glslc was not found."])}, async (_gpu, callbacks) => {
            callbacks.onProgress?.({phase: "checking", fraction: undefined});
            callbacks.onOutput?.("-- The CUDA compiler identification is NVIDIA 13.0.88");
            callbacks.onProgress?.({phase: "compiling", fraction: 0.101});
            callbacks.onProgress?.({phase: "compiling", fraction: 0.104});
            callbacks.onProgress?.({phase: "compiling", fraction: 0.5});
            return result;
        });
        const outcome = await runGpuBackendBuildFlow(dependencies(recorder, fakeUi(recorder, {pick: (choices) => choices.find((choice) => choice.gpu === "cuda")}), runner));
        assert.equal(outcome, "built");
        assert.deepEqual(runner.builds, ["cuda"]);
        assert.deepEqual(recorder.events, [
            "pick: CUDA=ready (Ready: cmake 3.28.1) | Vulkan=missing (Missing: glslc was not found.)",
            "confirm: Build the CUDA backend of llama.cpp on this machine? / Build CUDA Backend",
            "progress: KV-Distill: Building the CUDA backend",
            "info: The CUDA backend is built (321 s). The engine restarted and uses it from the next request."
        ]);
        // the same whole percent is reported once
        assert.deepEqual(recorder.progress, [["Checking the prerequisites", undefined], ["Compiling", 10], ["Compiling", 50]]);
        assert.deepEqual(recorder.restarts, ["the CUDA backend was built"]);
        assert.ok(recorder.logs.includes("[build cuda] -- The CUDA compiler identification is NVIDIA 13.0.88"));
        assert.ok(recorder.logs.some((line) => /^GPU backend prerequisites, Vulkan: missing; .*glslc was not found/.test(line)));
    });

    test("a backend with missing prerequisites is not built: the user is told what is missing", async () => {
        const recorder = newRecorder();
        const runner = fakeRunner({cuda: report("cuda", ["The CUDA toolkit was not found."]), vulkan: report("vulkan", [])}, async () => result);
        const outcome = await runGpuBackendBuildFlow(dependencies(recorder, fakeUi(recorder, {pick: (choices) => choices[0]}), runner));
        assert.equal(outcome, "not-ready");
        assert.deepEqual(runner.builds, []);
        assert.equal(recorder.events.at(-1), "error: The CUDA backend cannot be built on this machine yet. Missing: The CUDA toolkit was not found.");
        assert.deepEqual(recorder.restarts, []);
    });

    test("dismissing the pick or declining the confirmation builds nothing", async () => {
        for (const [answers, expected] of [[{pick: () => undefined}, "dismissed"], [{pick: (choices: readonly GpuBackendChoice[]) => choices[1], confirm: false}, "declined"]] as const) {
            const recorder = newRecorder();
            const runner = fakeRunner({cuda: report("cuda", []), vulkan: report("vulkan", [])}, async () => result);
            assert.equal(await runGpuBackendBuildFlow(dependencies(recorder, fakeUi(recorder, answers), runner)), expected);
            assert.deepEqual(runner.builds, []);
            assert.deepEqual(recorder.restarts, []);
        }
    });

    test("cancel and failure are reported and leave the engine alone", async () => {
        const cancelled = newRecorder();
        const cancelRunner = fakeRunner({cuda: report("cuda", []), vulkan: report("vulkan", [])}, (_gpu, callbacks) => new Promise((_resolve, reject) => {
            callbacks.signal?.addEventListener("abort", () => reject(new GpuBackendBuildCancelledError("cancelled")));
        }));
        assert.equal(await runGpuBackendBuildFlow(dependencies(cancelled, fakeUi(cancelled, {pick: (choices) => choices[0], cancelAfterMs: 20}), cancelRunner)), "cancelled");
        assert.equal(cancelled.events.at(-1), "info: The CUDA backend build was cancelled; nothing was installed.");
        assert.deepEqual(cancelled.restarts, []);

        const failed = newRecorder();
        const failRunner = fakeRunner({cuda: report("cuda", []), vulkan: report("vulkan", [])}, async () => {
            throw new GpuBackendBuildError("The vulkan backend build failed: cmake exited with 1");
        });
        assert.equal(await runGpuBackendBuildFlow(dependencies(failed, fakeUi(failed, {pick: (choices) => choices[1]}), failRunner)), "failed");
        assert.equal(failed.events.at(-1), "error: The Vulkan backend build failed: The vulkan backend build failed: cmake exited with 1");
        assert.deepEqual(failed.restarts, []);
    });

    test("a prerequisite check that fails counts as missing, with the reason", async () => {
        const recorder = newRecorder();
        const runner: GpuBackendBuildRunner = {
            checkPrerequisites: async (gpu) => {
                if (gpu === "vulkan")
                    throw new Error("spawn ENOENT");
                return report(gpu, []);
            },
            build: async () => result
        };
        await runGpuBackendBuildFlow(dependencies(recorder, fakeUi(recorder, {pick: () => undefined}), runner));
        assert.match(recorder.events[0]!, /Vulkan=missing \(Missing: The prerequisites could not be checked: spawn ENOENT\)/);
    });
});

describe("ChildProcessGpuBackendBuildRunner (kv-distill build-backend --json in a child process)", () => {
    const installations: FakeInstallation[] = [];
    after(() => {
        for (const installation of installations)
            rmSync(installation.root, {recursive: true, force: true});
    });
    const runnerFor = (installation: FakeInstallation, extraEnv: NodeJS.ProcessEnv = {}): ChildProcessGpuBackendBuildRunner => new ChildProcessGpuBackendBuildRunner({
        cliPath: path.join(repositoryRoot, "out", "src", "cli", "main.js"),
        nodeExecutable: process.execPath,
        env: {
            PATH: installation.binDirectory, KV_DISTILL_NODE_LLAMA_CPP_DIR: installation.nodeLlamaCppDirectory,
            FAKE_CMAKE_JS_RECORD: installation.cmakeJsRecord, FAKE_BUILD_PID_FILE: installation.pidFile, FAKE_GPU: "cuda", ...extraEnv
        }
    });

    test("checks, builds with progress and output, and reports the result", async () => {
        const installation = createFakeInstallation({withSources: true});
        installations.push(installation);
        const runner = runnerFor(installation);
        const cuda = await runner.checkPrerequisites("cuda");
        assert.equal(cuda.ready, true, cuda.missing.join(" "));
        const vulkan = await runner.checkPrerequisites("vulkan");
        assert.equal(vulkan.ready, false);
        const phases: string[] = [];
        const lines: string[] = [];
        const built = await runner.build("cuda", {onProgress: (progress) => phases.push(progress.phase), onOutput: (line) => lines.push(line)});
        assert.equal(built.buildFolder, `linux-${process.arch}-cuda`);
        assert.ok(existsSync(built.stampPath));
        assert.ok(phases.includes("compiling") && phases.at(-1) === "done", phases.join(","));
        assert.ok(lines.includes("[4/4] Building CXX object step4.o"));
    });

    test("cancelling stops the command, which kills its build's process tree and installs nothing", async () => {
        const installation = createFakeInstallation({withSources: true});
        installations.push(installation);
        const controller = new AbortController();
        const building = runnerFor(installation, {FAKE_BUILD_HANG: "1"}).build("cuda", {signal: controller.signal}).then(() => undefined, (error: unknown) => error);
        // whatever fails below, the fake build must not outlive the test
        after(() => controller.abort());
        const deadline = Date.now() + 20_000;
        while (!existsSync(installation.pidFile) && Date.now() < deadline)
            await delay(25);
        const pids = JSON.parse(readFileSync(installation.pidFile, "utf8")) as number[];
        controller.abort();
        const error = await building;
        assert.ok(error instanceof GpuBackendBuildCancelledError, String(error));
        assert.deepEqual(await waitForProcessesToEnd(pids, 5000), []);
        assert.equal(existsSync(path.join(installation.localBuildsDirectory, "kv-distill-build-cuda.json")), false);
        assert.equal(existsSync(path.join(installation.localBuildsDirectory, `linux-${process.arch}-cuda`)), false);
    });
});

// "KV-Distill: Build GPU Backend", without the editor: choose CUDA or Vulkan (only a backend whose
// prerequisites are there can be built; the others say what is missing), confirm, build with
// progress and cancel, log every line, then restart the engine so the next request loads the build.
// KvDistillExtension supplies the editor's dialogs; tests supply fakes.
import type {BuildPrerequisiteReport, GpuBackendKind} from "../native/detectBuildPrerequisites";
import type {GpuBackendBuildRunner} from "../native/ChildProcessGpuBackendBuildRunner";
import {GpuBackendBuildCancelledError, type GpuBackendBuildPhase, type GpuBackendBuildResult} from "../native/GpuBackendBuilder";
import type {LogSink} from "./WorkspaceCacheService";

export type GpuBackendChoice = {gpu: GpuBackendKind; label: string; detail: string; ready: boolean};

export type GpuBackendBuildUi = {
    /** Resolves the chosen backend, or undefined when dismissed. */
    pickBackend(choices: readonly GpuBackendChoice[]): Promise<GpuBackendChoice | undefined>;
    /** A modal question; resolves true when the user agrees. */
    confirm(message: string, detail: string, agree: string): Promise<boolean>;
    /** Runs the task under a cancellable progress notification; `report` takes a message and the percent done so far. */
    withProgress<T>(title: string, task: (report: (message: string, percent: number | undefined) => void, signal: AbortSignal) => Promise<T>): Promise<T>;
    showInformation(message: string): void;
    showError(message: string): void;
};

export type GpuBackendBuildFlowDependencies = {
    ui: GpuBackendBuildUi;
    runner: GpuBackendBuildRunner;
    log: LogSink;
    restartEngine(reason: string): Promise<void>;
    /** vscode.l10n.t, or a plain formatter in tests. */
    t(message: string, ...args: Array<string | number>): string;
};

export type GpuBackendBuildOutcome = "built" | "dismissed" | "not-ready" | "declined" | "cancelled" | "failed";

const backendNames: Record<GpuBackendKind, string> = {cuda: "CUDA", vulkan: "Vulkan"};

export async function runGpuBackendBuildFlow(dependencies: GpuBackendBuildFlowDependencies): Promise<GpuBackendBuildOutcome> {
    const {ui, runner, log, t} = dependencies;
    const reports = await Promise.all((["cuda", "vulkan"] as const).map(async (gpu): Promise<BuildPrerequisiteReport> => {
        try {
            return await runner.checkPrerequisites(gpu);
        } catch (error) {
            log.error(`Could not check the ${backendNames[gpu]} build's prerequisites`, error);
            return {gpu, ready: false, found: [], missing: [t("The prerequisites could not be checked: {0}", error instanceof Error ? error.message : String(error))], notes: [], extraPathDirectories: []};
        }
    }));
    for (const report of reports)
        log.info(`GPU backend prerequisites, ${backendNames[report.gpu]}: ${report.ready ? "ready" : "missing"}; ` +
            [...report.found.map((tool) => `${tool.name} ${tool.version ?? ""} at ${tool.path}`), ...report.missing, ...report.notes].join("; "));
    const choices = reports.map((report): GpuBackendChoice => ({
        gpu: report.gpu,
        label: backendNames[report.gpu],
        ready: report.ready,
        detail: report.ready
            ? t("Ready: {0}", report.found.map((tool) => tool.version === undefined ? tool.name : `${tool.name} ${tool.version}`).join(", "))
            : t("Missing: {0}", report.missing.join(" "))
    }));
    const choice = await ui.pickBackend(choices);
    if (choice === undefined)
        return "dismissed";
    if (!choice.ready) {
        ui.showError(t("The {0} backend cannot be built on this machine yet. {1}", choice.label, choice.detail));
        return "not-ready";
    }
    const agree = t("Build {0} Backend", choice.label);
    const confirmed = await ui.confirm(
        t("Build the {0} backend of llama.cpp on this machine?", choice.label),
        t("This compiles kv-distill's patched llama.cpp with {0}: usually 5 to 30 minutes with all processor cores busy. You can cancel at any time; the current backend keeps working until the new one is done, then the engine restarts with it.", choice.label),
        agree
    );
    if (!confirmed)
        return "declined";

    const title = t("KV-Distill: Building the {0} backend", choice.label);
    let result: GpuBackendBuildResult;
    try {
        result = await ui.withProgress(title, async (report, signal) => {
            let lastPercent: number | undefined;
            let lastPhase: GpuBackendBuildPhase | undefined;
            return runner.build(choice.gpu, {
                signal,
                onOutput: (line) => log.info(`[build ${choice.gpu}] ${line}`),
                onProgress: (progress) => {
                    const percent = progress.fraction === undefined ? undefined : Math.floor(progress.fraction * 100);
                    if (progress.phase === lastPhase && percent === lastPercent)
                        return;
                    lastPhase = progress.phase;
                    lastPercent = percent;
                    report(describePhase(progress.phase, t), percent);
                }
            });
        });
    } catch (error) {
        if (error instanceof GpuBackendBuildCancelledError) {
            log.info(`${choice.label} backend build cancelled`);
            ui.showInformation(t("The {0} backend build was cancelled; nothing was installed.", choice.label));
            return "cancelled";
        }
        log.error(`${choice.label} backend build failed`, error);
        ui.showError(t("The {0} backend build failed: {1}", choice.label, error instanceof Error ? error.message : String(error)));
        return "failed";
    }
    log.info(`${choice.label} backend built in ${result.buildSeconds} s: ${result.buildFolder} (stamp ${result.stampPath}, log ${result.logPath})`);
    await dependencies.restartEngine(`the ${choice.label} backend was built`);
    ui.showInformation(t("The {0} backend is built ({1} s). The engine restarted and uses it from the next request.", choice.label, result.buildSeconds));
    return "built";
}

function describePhase(phase: GpuBackendBuildPhase, t: GpuBackendBuildFlowDependencies["t"]): string {
    switch (phase) {
        case "checking":
            return t("Checking the prerequisites");
        case "unpacking":
            return t("Unpacking the llama.cpp sources");
        case "configuring":
            return t("Configuring (CMake)");
        case "compiling":
            return t("Compiling");
        case "smoke-check":
            return t("Loading the new build to check it");
        case "done":
            return t("Done");
    }
}

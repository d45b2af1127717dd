// Turns a failure into a message a person can act on, and the actions to offer with it.
import {
    EngineUnavailableError,
    ModelDownloadDeclinedError,
    ModelFileMissingError,
    ModelNotConfiguredError,
    NoWorkspaceError,
    OperationCancelledError
} from "./editorErrors";
import {formatMessage, type Translate} from "./formatMessage";

export type ErrorAction = "selectModel" | "openSettings" | "showLog" | "openFolder";

export type ErrorAdvice = {
    kind: "cancelled" | "missing-model" | "out-of-memory" | "no-workspace" | "engine-unavailable" | "engine-crashed" | "other";
    message: string;
    actions: ErrorAction[];
};

const outOfMemoryPattern = /out of (device )?memory|\bOOM\b|ErrorOutOfDeviceMemory|cudaMalloc|failed to allocate|insufficient memory|not enough (V?RAM|memory)/i;
const missingModelPattern = /model.*(not found|does not exist|no such file|ENOENT|not a GGUF|invalid GGUF|truncated)|ENOENT.*\.gguf/i;

export function isAbortError(error: unknown): boolean {
    if (error instanceof OperationCancelledError)
        return true;
    if (typeof error !== "object" || error === null)
        return false;
    const name = (error as {name?: unknown}).name;
    return name === "AbortError" || name === "OperationCancelledError" || name === "CancelledError";
}

export function adviseOnError(error: unknown, t: Translate = formatMessage): ErrorAdvice {
    const detail = error instanceof Error ? error.message : String(error);
    if (isAbortError(error))
        return {kind: "cancelled", message: t("Cancelled."), actions: []};
    if (error instanceof NoWorkspaceError)
        return {kind: "no-workspace", message: t("Open a folder first: KV-Distill works on the open workspace."), actions: ["openFolder"]};
    if (error instanceof EngineUnavailableError)
        return {kind: "engine-unavailable", message: t("The KV-Distill engine is not available in this build."), actions: ["showLog"]};
    if (error instanceof ModelNotConfiguredError) {
        const message = error.ignoredUntrustedValue
            ? t("No model selected. This workspace sets a model, but it is not trusted, so its setting is ignored. Select a model?")
            : t("No model selected. Select a GGUF model file, download one, or try the demo model.");
        return {kind: "missing-model", message, actions: ["selectModel"]};
    }
    if (error instanceof ModelDownloadDeclinedError)
        return {kind: "missing-model", message: t("The model {0} is not downloaded. Select Model to download it or pick another.", error.uri), actions: ["selectModel"]};
    if (error instanceof ModelFileMissingError || missingModelPattern.test(detail))
        return {kind: "missing-model", message: t("The model could not be loaded: {0}. Select another model?", detail), actions: ["selectModel", "showLog"]};
    if (outOfMemoryPattern.test(detail)) {
        return {
            kind: "out-of-memory",
            message: t("The GPU ran out of memory. Try a smaller segment size or keep ratio (a smaller context), a smaller model, or run on the CPU. Details are in the log."),
            actions: ["openSettings", "selectModel", "showLog"]
        };
    }
    const name = typeof error === "object" && error !== null ? (error as {name?: unknown}).name : undefined;
    if (typeof name === "string" && /crash|exited|disconnect/i.test(name + detail))
        return {kind: "engine-crashed", message: t("The engine stopped unexpectedly: {0}. It restarts on the next request. Details are in the log.", detail), actions: ["showLog"]};
    return {kind: "other", message: t("KV-Distill failed: {0}", detail), actions: ["showLog"]};
}

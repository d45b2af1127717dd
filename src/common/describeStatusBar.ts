// The status bar item's text for a cache status: idle, working with percent, ready, or stale.
import type {CacheStatus} from "./cacheStatus";
import {formatMessage, type Translate} from "./formatMessage";

export type StatusBarPresentation = {
    text: string;
    tooltip: string;
    /** Which theme background to use. */
    severity: "normal" | "warning" | "error";
    state: "no-workspace" | "no-model" | "idle" | "busy" | "ready" | "stale" | "error";
};

export function formatPercent(fraction: number): string {
    const percent = fraction * 100;
    return `${percent >= 10 || percent === 0 ? Math.round(percent) : percent.toFixed(1)}%`;
}

export function describeStatusBar(status: CacheStatus, t: Translate = formatMessage): StatusBarPresentation {
    const suffix = t("Click for the cache report.");
    if (!status.workspaceOpen)
        return {text: "$(database) KV-Distill", tooltip: t("Open a folder to use KV-Distill."), severity: "normal", state: "no-workspace"};
    if (status.busy !== undefined) {
        const percent = status.busy.fraction === undefined ? "" : ` ${formatPercent(status.busy.fraction)}`;
        const label = status.busy.operation === "distill" ? t("Distilling") :
            status.busy.operation === "ask" ? (status.busy.phase === "answering" ? t("Answering") : t("Preparing")) :
                status.busy.operation === "download" ? t("Downloading") : t("Working");
        const phase = status.busy.phase === "indexing" ? t("Indexing") : label;
        return {text: `$(sync~spin) ${phase}${percent}`, tooltip: status.busy.message ?? phase, severity: "normal", state: "busy"};
    }
    if (!status.model.configured)
        return {text: "$(database) KV-Distill", tooltip: t("No model selected. Run KV-Distill: Select Model."), severity: "normal", state: "no-model"};
    if (status.cache.kind === "error")
        return {text: "$(error) KV-Distill", tooltip: t("Cache error: {0}", status.cache.message), severity: "error", state: "error"};
    if (status.cache.kind === "ready") {
        const summary = status.cache.summary;
        const ratio = formatPercent(summary.effectiveKeepRatio);
        if (status.stale.stale) {
            return {
                text: `$(warning) KV ${t("stale")}`,
                tooltip: t("The cache is stale ({0} changed files). Run KV-Distill: Distill Workspace to refresh. {1}", status.stale.changedCount, suffix),
                severity: "warning",
                state: "stale"
            };
        }
        return {
            text: `$(database) KV ${t("{0} files · {1}", summary.files, ratio)}`,
            tooltip: t("{0} files in the cache, {1} of {2} tokens kept ({3}). {4}", summary.files, summary.keptTokens, summary.promptTokens, ratio, suffix),
            severity: "normal",
            state: "ready"
        };
    }
    return {text: "$(database) KV-Distill", tooltip: t("Not distilled yet. Run KV-Distill: Distill Workspace."), severity: "normal", state: "idle"};
}

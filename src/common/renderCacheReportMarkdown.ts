// The cache report as a Markdown document: what the model has in context, file by file.
import type {CacheReport} from "../engine/engineApi";
import type {StaleSummary} from "./cacheStatus";
import {formatPercent} from "./describeStatusBar";
import {formatMessage, type Translate} from "./formatMessage";

function escapeTableCell(text: string): string {
    return text.replace(/\\/g, "\\\\").replace(/\|/g, "\\|").replace(/[\r\n]+/g, " ").replace(/([`*_[\]<>])/g, "\\$1");
}

export function renderCacheReportMarkdown(report: CacheReport | undefined, stale: StaleSummary, t: Translate = formatMessage): string {
    const lines: string[] = [`# ${t("KV-Distill cache report")}`, ""];
    if (report === undefined) {
        lines.push(t("No cache has been saved for this workspace with the current settings. Run **KV-Distill: Distill Workspace** to build one."));
        return lines.join("\n") + "\n";
    }
    if (stale.stale) {
        lines.push(`> **${t("Stale")}**: ${t("{0} files changed since the cache was made. Run **KV-Distill: Distill Workspace** to refresh it.", stale.changedCount)}`);
        for (const file of stale.changedFiles)
            lines.push(`> - \`${file.replace(/`/g, "'")}\``);
        lines.push("");
    }
    lines.push(
        `| ${t("Model")} | ${escapeTableCell(report.modelPath)} |`,
        "| --- | --- |",
        `| ${t("Scorer")} | ${escapeTableCell(report.scorer)}${report.adapterSha256 === null ? "" : ` (${t("adapter")} ${report.adapterSha256.slice(0, 12)})`} |`,
        `| ${t("llama.cpp build")} | ${escapeTableCell(report.build)} |`,
        `| ${t("Compaction")} | ${escapeTableCell(report.compaction)} |`,
        `| ${t("Keep ratio (asked / effective)")} | ${formatPercent(report.keepRatio)} / ${formatPercent(report.effectiveKeepRatio)} |`,
        `| ${t("Tokens (prompt / kept)")} | ${report.promptTokens} / ${report.keptTokens} |`,
        `| ${t("Files in cache / excluded")} | ${report.files.length} / ${report.skipped.length} |`,
        `| ${t("Created")} | ${escapeTableCell(report.createdAt)} |`,
        "",
        `## ${t("Files in the cache")}`,
        ""
    );
    if (report.files.length === 0) {
        lines.push(t("None."));
    } else {
        lines.push(`| ${t("File")} | ${t("Tokens")} | ${t("Kept")} | ${t("Kept share")} |`, "| --- | ---: | ---: | ---: |");
        for (const file of report.files) {
            const share = file.tokens === 0 ? 0 : file.keptTokens / file.tokens;
            lines.push(`| ${escapeTableCell(file.displayPath)} | ${file.tokens} | ${file.keptTokens} | ${formatPercent(share)} |`);
        }
    }
    lines.push("", `## ${t("Excluded files")}`, "");
    if (report.skipped.length === 0) {
        lines.push(t("None."));
    } else {
        lines.push(`| ${t("File")} | ${t("Reason")} | ${t("Detail")} |`, "| --- | --- | --- |");
        for (const file of report.skipped)
            lines.push(`| ${escapeTableCell(file.displayPath)} | ${escapeTableCell(file.reason)} | ${escapeTableCell(file.detail)} |`);
    }
    return lines.join("\n") + "\n";
}

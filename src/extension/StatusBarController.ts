// The status bar item: idle, working with percent, ready (files, keep ratio) or stale.
// Clicking it opens the cache report.
import * as vscode from "vscode";
import type {CacheStatus} from "../common/cacheStatus";
import {describeStatusBar} from "../common/describeStatusBar";
import type {ExtensionLog} from "./ExtensionLog";

export class StatusBarController implements vscode.Disposable {
    private readonly item: vscode.StatusBarItem;
    private lastState = "";

    public constructor(private readonly log: ExtensionLog) {
        this.item = vscode.window.createStatusBarItem("kvDistill.status", vscode.StatusBarAlignment.Left, 20);
        this.item.name = vscode.l10n.t("KV-Distill");
        this.item.command = "kvDistill.showCacheReport";
    }

    public update(status: CacheStatus): void {
        const presentation = describeStatusBar(status, vscode.l10n.t);
        this.item.text = presentation.text;
        this.item.tooltip = presentation.tooltip;
        this.item.backgroundColor = presentation.severity === "warning"
            ? new vscode.ThemeColor("statusBarItem.warningBackground")
            : presentation.severity === "error" ? new vscode.ThemeColor("statusBarItem.errorBackground") : undefined;
        this.item.accessibilityInformation = {label: `KV-Distill: ${presentation.tooltip}`};
        this.item.show();
        if (presentation.state !== this.lastState) {
            this.lastState = presentation.state;
            this.log.info(`Status bar: ${presentation.state} (${presentation.text})`);
        }
    }

    public dispose(): void {
        this.item.dispose();
    }
}

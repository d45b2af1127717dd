// Shows a failure as an actionable message (Select Model, Open Settings, Show Log...), with the
// details in the log.
import * as vscode from "vscode";
import {adviseOnError, type ErrorAction} from "../common/adviseOnError";
import type {ExtensionLog} from "./ExtensionLog";

const actionCommands: Record<ErrorAction, {label: () => string; run: () => Thenable<unknown>}> = {
    selectModel: {label: () => vscode.l10n.t("Select Model"), run: () => vscode.commands.executeCommand("kvDistill.selectModel")},
    openSettings: {label: () => vscode.l10n.t("Open Settings"), run: () => vscode.commands.executeCommand("workbench.action.openSettings", "kvDistill")},
    showLog: {label: () => vscode.l10n.t("Show Log"), run: () => vscode.commands.executeCommand("kvDistill.showLog")},
    openFolder: {label: () => vscode.l10n.t("Open Folder"), run: () => vscode.commands.executeCommand("workbench.action.files.openFolder")}
};

export async function presentError(log: ExtensionLog, operation: string, error: unknown): Promise<void> {
    const advice = adviseOnError(error, vscode.l10n.t);
    if (advice.kind === "cancelled") {
        log.info(`${operation} cancelled`);
        return;
    }
    log.error(`${operation} failed (${advice.kind})`, error);
    const labels = advice.actions.map((action) => actionCommands[action].label());
    const picked = await vscode.window.showErrorMessage(advice.message, ...labels);
    const index = picked === undefined ? -1 : labels.indexOf(picked);
    if (index >= 0)
        await actionCommands[advice.actions[index]!].run();
}

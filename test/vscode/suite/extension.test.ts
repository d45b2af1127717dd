import {strict as assert} from "node:assert";
import {readFileSync} from "node:fs";
import {describe, it} from "mocha";
import * as vscode from "vscode";

// Runs inside the editor's extension host, against the extension under development.
const extensionId = "kv-distill.kv-distill";

type PackageJson = {
    version: string;
    contributes: {commands: {command: string}[]; views: Record<string, {id: string}[]>};
};

describe("KV-Distill in the extension host", () => {
    it("is installed under its id and activates", async () => {
        const extension = vscode.extensions.getExtension(extensionId);
        assert.ok(extension !== undefined, `${extensionId} is known to the editor`);
        await extension.activate();
        assert.equal(extension.isActive, true);
    });

    it("registers every command it contributes", async () => {
        const packageJson = vscode.extensions.getExtension(extensionId)!.packageJSON as PackageJson;
        const registered = new Set(await vscode.commands.getCommands(true));
        const contributed = packageJson.contributes.commands.map((command) => command.command);
        assert.ok(contributed.includes("kvDistill.showLog"));
        for (const command of contributed)
            assert.ok(registered.has(command), `${command} is registered`);
    });

    it("runs KV-Distill: Show Log", async () => {
        await vscode.commands.executeCommand("kvDistill.showLog");
    });

    it("shows its chat and overview views when asked to", async () => {
        const packageJson = vscode.extensions.getExtension(extensionId)!.packageJSON as PackageJson;
        const viewIds = Object.values(packageJson.contributes.views).flat().map((view) => view.id);
        assert.deepEqual(viewIds, ["kvDistill.chat", "kvDistill.overview"]);
        await vscode.commands.executeCommand("kvDistill.chat.focus");
        await vscode.commands.executeCommand("kvDistill.overview.focus");
    });

    it("logs its activation with its version to KV_DISTILL_LOG_FILE", () => {
        const logFile = process.env.KV_DISTILL_LOG_FILE;
        assert.ok(logFile !== undefined && logFile !== "", "the runner sets KV_DISTILL_LOG_FILE");
        const packageJson = vscode.extensions.getExtension(extensionId)!.packageJSON as PackageJson;
        const log = readFileSync(logFile, "utf8");
        assert.match(log, new RegExp(`\\[info\\] KV-Distill ${packageJson.version.replace(/\./g, "\\.")} activated \\(VS Code ${vscode.version.replace(/\./g, "\\.")}`));
    });
});

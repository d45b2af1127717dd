import {appendFileSync} from "node:fs";
import * as vscode from "vscode";

/** The extension's log channel, optionally mirrored to a file (KV_DISTILL_LOG_FILE) for tests. */
export class ExtensionLog implements vscode.Disposable {
    public readonly channel: vscode.LogOutputChannel;

    public constructor(private readonly mirrorFile: string | undefined) {
        this.channel = vscode.window.createOutputChannel("KV-Distill", {log: true});
    }

    public info(message: string): void {
        this.channel.info(message);
        this.mirror("info", message);
    }

    public warn(message: string): void {
        this.channel.warn(message);
        this.mirror("warn", message);
    }

    public error(message: string, error?: unknown): void {
        const detail = error === undefined ? "" : `: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
        this.channel.error(message + detail);
        this.mirror("error", message + detail);
    }

    public show(): void {
        this.channel.show(true);
    }

    public dispose(): void {
        this.channel.dispose();
    }

    private mirror(level: string, message: string): void {
        if (this.mirrorFile === undefined)
            return;
        try {
            appendFileSync(this.mirrorFile, `${new Date().toISOString()} [${level}] ${message}\n`);
        } catch {
            // A broken mirror must never break the extension; the channel still has the line.
        }
    }
}

import * as vscode from "vscode";
import {readEnvironment} from "../common/environment";
import type {BackendState} from "../common/overviewProtocol";
import {probeBackend} from "./backendProbe";
import {ExtensionLog} from "./ExtensionLog";
import {OverviewViewProvider} from "./OverviewViewProvider";

/** Owns everything the extension creates; `activate` stays tiny and `dispose` undoes it all. */
export class KvDistillExtension {
    private readonly disposables: vscode.Disposable[] = [];

    private constructor(
        private readonly context: vscode.ExtensionContext,
        public readonly log: ExtensionLog
    ) {}

    public static async activate(context: vscode.ExtensionContext): Promise<KvDistillExtension> {
        const log = new ExtensionLog(readEnvironment().logFile);
        const extension = new KvDistillExtension(context, log);
        try {
            extension.start();
            return extension;
        } catch (error) {
            log.error("KV-Distill failed to activate", error);
            void vscode.window.showErrorMessage(`KV-Distill failed to activate: ${error instanceof Error ? error.message : String(error)}`);
            await extension.dispose();
            throw error;
        }
    }

    public async dispose(): Promise<void> {
        for (const disposable of this.disposables.splice(0).reverse())
            disposable.dispose();
    }

    private start(): void {
        const version = String((this.context.extension.packageJSON as {version?: unknown}).version ?? "unknown");
        this.log.info(`KV-Distill ${version} activated (VS Code ${vscode.version}, ${process.platform}-${process.arch}, Node ${process.versions.node})`);
        this.disposables.push(this.log);

        const overview = new OverviewViewProvider(this.context.extensionUri, {extensionVersion: version, backend: {kind: "probing"}}, () => this.log.show());
        this.disposables.push(
            overview,
            vscode.window.registerWebviewViewProvider(OverviewViewProvider.viewId, overview),
            vscode.commands.registerCommand("kvDistill.showLog", () => this.log.show())
        );

        void this.probeBackend().then((backend) => overview.update({extensionVersion: version, backend}));
    }

    private async probeBackend(): Promise<BackendState> {
        const cliPath = vscode.Uri.joinPath(this.context.extensionUri, "dist", "cli.js").fsPath;
        try {
            const report = await probeBackend(cliPath);
            const description = `llama.cpp ${report.llamaCppRelease} (${report.buildType} build, ${report.gpu === false ? "CPU" : report.gpu}) via node-llama-cpp ${report.nodeLlamaCppVersion}`;
            this.log.info(`Backend found: ${description}`);
            return {kind: "found", description, ...report};
        } catch (error) {
            this.log.error("No usable llama.cpp backend", error);
            return {kind: "missing", reason: error instanceof Error ? error.message : String(error)};
        }
    }
}

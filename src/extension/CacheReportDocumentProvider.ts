// "KV-Distill: Show Cache Report": a read-only Markdown document, shown as a preview, that
// lists the files in the cache with the share of each that was kept, and what was excluded.
import * as vscode from "vscode";
import {renderCacheReportMarkdown} from "../common/renderCacheReportMarkdown";
import type {ExtensionLog} from "./ExtensionLog";
import type {WorkspaceCacheService} from "./WorkspaceCacheService";

export class CacheReportDocumentProvider implements vscode.TextDocumentContentProvider, vscode.Disposable {
    public static readonly scheme = "kv-distill-report";
    public static readonly uri = vscode.Uri.from({scheme: CacheReportDocumentProvider.scheme, path: "/KV-Distill Cache Report.md"});
    private readonly changeEmitter = new vscode.EventEmitter<vscode.Uri>();
    public readonly onDidChange = this.changeEmitter.event;

    public constructor(
        private readonly service: WorkspaceCacheService,
        private readonly log: ExtensionLog
    ) {}

    public provideTextDocumentContent(): string {
        return renderCacheReportMarkdown(this.service.lastReport, this.service.status.stale, vscode.l10n.t);
    }

    /** Re-renders an open report (after a distill or when the cache goes stale). */
    public refresh(): void {
        this.changeEmitter.fire(CacheReportDocumentProvider.uri);
    }

    public async show(): Promise<void> {
        if (this.service.lastReport === undefined)
            await this.service.loadSavedReport();
        this.refresh();
        try {
            await vscode.commands.executeCommand("markdown.showPreview", CacheReportDocumentProvider.uri);
        } catch (error) {
            this.log.warn(`Markdown preview unavailable, showing the report as text: ${error instanceof Error ? error.message : String(error)}`);
            const document = await vscode.workspace.openTextDocument(CacheReportDocumentProvider.uri);
            await vscode.window.showTextDocument(document, {preview: true});
        }
        const report = this.service.lastReport;
        this.log.info(report === undefined ? "Cache report opened (no cache)" : `Cache report opened: ${report.files.length} files, ${report.skipped.length} excluded`);
    }

    public dispose(): void {
        this.changeEmitter.dispose();
    }
}

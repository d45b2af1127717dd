// Feeds the stale tracker: file events in the workspace folders, the folders' .git/HEAD (branch
// switches), and settings that change what is indexed. Reads files only with `fs`, never
// through the editor's document API (that would wake language servers).
import {readFile, stat} from "node:fs/promises";
import * as path from "node:path";
import * as vscode from "vscode";
import {ignoreRuleFileNames, type StaleTracker} from "../common/StaleTracker";
import type {WorkspaceExclusionMatcher} from "../common/WorkspaceExclusionMatcher";
import type {WorkspaceFolderLocation} from "../common/workspacePaths";
import type {Config} from "../config/Config";
import type {ExtensionLog} from "./ExtensionLog";

export function currentWorkspaceFolders(): WorkspaceFolderLocation[] {
    return (vscode.workspace.workspaceFolders ?? [])
        .filter((folder) => folder.uri.scheme === "file")
        .map((folder) => ({name: folder.name, path: folder.uri.fsPath}));
}

export class WorkspaceWatcher implements vscode.Disposable {
    private readonly disposables: vscode.Disposable[] = [];
    private headWatchers: vscode.Disposable[] = [];

    public constructor(
        private readonly tracker: StaleTracker,
        private readonly matcher: WorkspaceExclusionMatcher,
        private readonly config: Config,
        private readonly log: ExtensionLog
    ) {}

    public start(): void {
        const watcher = vscode.workspace.createFileSystemWatcher("**/*");
        this.disposables.push(
            watcher,
            watcher.onDidChange((uri) => this.onFileEvent("change", uri)),
            watcher.onDidCreate((uri) => void this.onFileEvent("create", uri)),
            watcher.onDidDelete((uri) => this.onFileEvent("delete", uri)),
            this.config.onDidChange((change) => {
                if (change.indexRules) {
                    this.tracker.rulesChanged("ignore-rules-changed");
                    void this.loadRules();
                }
                if (change.distill || change.model)
                    this.tracker.rulesChanged("settings-changed");
            }),
            vscode.workspace.onDidChangeWorkspaceFolders(() => {
                const folders = currentWorkspaceFolders();
                this.matcher.setFolders(folders);
                this.tracker.setFolders(folders);
                void this.loadRules();
                this.watchHeads();
            })
        );
        void this.loadRules();
        this.watchHeads();
    }

    public dispose(): void {
        for (const disposable of [...this.headWatchers.splice(0), ...this.disposables.splice(0)])
            disposable.dispose();
    }

    private async onFileEvent(kind: "change" | "create" | "delete", uri: vscode.Uri): Promise<void> {
        if (uri.scheme !== "file")
            return;
        const filePath = uri.fsPath;
        // Git rewrites its own files all the time; only HEAD matters and has its own watcher.
        if (filePath.split(path.sep).includes(".git"))
            return;
        if (kind === "delete") {
            this.tracker.fileDeleted(filePath);
        } else if (kind === "change") {
            this.tracker.fileChanged(filePath);
        } else {
            try {
                if ((await stat(filePath)).isDirectory())
                    return;
            } catch {
                return; // Gone again already.
            }
            this.tracker.fileCreated(filePath);
        }
        if (ignoreRuleFileNames.has(path.basename(filePath)))
            void this.loadRules();
    }

    private watchHeads(): void {
        for (const disposable of this.headWatchers.splice(0))
            disposable.dispose();
        for (const folder of currentWorkspaceFolders()) {
            const headWatcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(folder.path), ".git/HEAD"));
            const read = (): void => void this.readHead(folder.path);
            this.headWatchers.push(headWatcher, headWatcher.onDidChange(read), headWatcher.onDidCreate(read));
            read();
        }
    }

    private async readHead(folderPath: string): Promise<void> {
        try {
            const head = await readFile(path.join(folderPath, ".git", "HEAD"), "utf8");
            const before = this.tracker.summary.reasons.includes("branch-switched");
            this.tracker.headObserved(folderPath, head);
            if (!before && this.tracker.summary.reasons.includes("branch-switched"))
                this.log.info(`Branch switch seen in ${folderPath}: ${head.trim()}`);
        } catch {
            // Not a git repository (or HEAD is being rewritten); nothing to compare.
        }
    }

    /** Root ignore files, files.exclude and the extra excludes, for telling new files apart. */
    private async loadRules(): Promise<void> {
        for (const folder of currentWorkspaceFolders()) {
            const patterns: string[] = [];
            for (const name of ignoreRuleFileNames) {
                try {
                    patterns.push(...(await readFile(path.join(folder.path, name), "utf8")).split(/\r?\n/));
                } catch {
                    // No such file.
                }
            }
            patterns.push(...this.config.filesExcludeGlobs(vscode.Uri.file(folder.path)), ...this.config.settings.extraExcludes);
            this.matcher.setRules(folder.path, patterns.filter((line) => line.trim() !== "" && !line.startsWith("#")));
        }
    }
}

// Decides when the saved cache no longer matches the workspace. Fed with file-system events by
// the editor side; pure so that every rule is unit-tested.
import * as path from "node:path";
import {freshStaleSummary, type StaleReason, type StaleSummary} from "./cacheStatus";
import {absolutePathToDisplayPath, isPathInside, type WorkspaceFolderLocation} from "./workspacePaths";

/** The files whose change alters which files are indexed. */
export const ignoreRuleFileNames: ReadonlySet<string> = new Set([".gitignore", ".ignore", ".kvdistillignore"]);

export type StaleTrackerOptions = {
    folders: readonly WorkspaceFolderLocation[];
    /** True for paths the indexer would never index (VCS folders, dependencies, ignored files). */
    isExcluded(absolutePath: string): boolean;
    /** How many changed paths the summary lists. */
    maxListedFiles?: number;
};

export class StaleTracker {
    private folders: readonly WorkspaceFolderLocation[];
    private indexed = new Set<string>();
    private hasBaseline = false;
    private readonly reasons = new Set<StaleReason>();
    private readonly changed = new Set<string>();
    private readonly headByFolder = new Map<string, string>();
    private readonly listeners = new Set<(summary: StaleSummary) => void>();
    private readonly maxListedFiles: number;

    public constructor(private readonly options: StaleTrackerOptions) {
        this.folders = options.folders;
        this.maxListedFiles = options.maxListedFiles ?? 20;
    }

    /** Starts tracking from a fresh cache holding these files (absolute paths). */
    public setBaseline(indexedAbsolutePaths: Iterable<string>): void {
        this.indexed = new Set([...indexedAbsolutePaths].map((filePath) => path.normalize(filePath)));
        this.hasBaseline = true;
        this.reasons.clear();
        this.changed.clear();
        this.emit();
    }

    /** No cache: nothing can be stale. */
    public clearBaseline(): void {
        this.indexed.clear();
        this.hasBaseline = false;
        this.reasons.clear();
        this.changed.clear();
        this.emit();
    }

    public setFolders(folders: readonly WorkspaceFolderLocation[]): void {
        const before = new Set(this.folders.map((folder) => folder.path));
        const after = new Set(folders.map((folder) => folder.path));
        this.folders = folders;
        if (before.size !== after.size || [...before].some((folderPath) => !after.has(folderPath)))
            this.mark("files-added", undefined);
    }

    public fileChanged(absolutePath: string): void {
        const filePath = path.normalize(absolutePath);
        if (this.isIgnoreRuleFile(filePath)) {
            this.mark("ignore-rules-changed", filePath);
            return;
        }
        if (this.indexed.has(filePath))
            this.mark("files-changed", filePath);
    }

    public fileCreated(absolutePath: string): void {
        const filePath = path.normalize(absolutePath);
        if (this.isIgnoreRuleFile(filePath)) {
            this.mark("ignore-rules-changed", filePath);
            return;
        }
        if (this.indexed.has(filePath)) {
            // Saved by writing a new file and renaming it over the old one.
            this.mark("files-changed", filePath);
            return;
        }
        if (!this.isInsideWorkspace(filePath) || this.options.isExcluded(filePath))
            return;
        this.mark("files-added", filePath);
    }

    /** A file or a folder went away. */
    public fileDeleted(absolutePath: string): void {
        const filePath = path.normalize(absolutePath);
        if (this.isIgnoreRuleFile(filePath)) {
            this.mark("ignore-rules-changed", filePath);
            return;
        }
        if (this.indexed.has(filePath)) {
            this.mark("files-deleted", filePath);
            return;
        }
        for (const indexedPath of this.indexed) {
            if (isPathInside(filePath, indexedPath)) {
                this.mark("files-deleted", indexedPath);
                return;
            }
        }
    }

    /** files.exclude, extra excludes or another index setting changed. */
    public rulesChanged(kind: "ignore-rules-changed" | "settings-changed"): void {
        this.mark(kind, undefined);
    }

    /**
     * The content of a folder's .git/HEAD. The first value seen is the reference; any other
     * value later means the branch (or detached commit) changed.
     */
    public headObserved(folderPath: string, headContent: string): void {
        const head = headContent.trim();
        const previous = this.headByFolder.get(folderPath);
        this.headByFolder.set(folderPath, head);
        if (previous !== undefined && previous !== head)
            this.mark("branch-switched", undefined);
    }

    public get summary(): StaleSummary {
        if (this.reasons.size === 0)
            return freshStaleSummary();
        const changedFiles = [...this.changed].slice(0, this.maxListedFiles)
            .map((filePath) => absolutePathToDisplayPath(filePath, this.folders) ?? filePath);
        return {stale: true, reasons: [...this.reasons], changedFiles, changedCount: this.changed.size};
    }

    public onDidChange(listener: (summary: StaleSummary) => void): {dispose(): void} {
        this.listeners.add(listener);
        return {dispose: () => this.listeners.delete(listener)};
    }

    private mark(reason: StaleReason, filePath: string | undefined): void {
        if (!this.hasBaseline)
            return;
        const sizeBefore = this.reasons.size + this.changed.size;
        this.reasons.add(reason);
        if (filePath !== undefined)
            this.changed.add(filePath);
        if (this.reasons.size + this.changed.size !== sizeBefore)
            this.emit();
    }

    private isIgnoreRuleFile(filePath: string): boolean {
        return ignoreRuleFileNames.has(path.basename(filePath)) && this.isInsideWorkspace(filePath) &&
            !filePath.split(path.sep).includes(".git");
    }

    private isInsideWorkspace(filePath: string): boolean {
        return this.folders.some((folder) => isPathInside(folder.path, filePath));
    }

    private emit(): void {
        const summary = this.summary;
        for (const listener of [...this.listeners])
            listener(summary);
    }
}

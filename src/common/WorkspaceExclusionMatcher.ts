// Tells the stale tracker which new files the indexer would leave out anyway, so that creating
// a build output or a dependency does not mark the cache stale. An approximation of the
// indexer's rules (root ignore files, files.exclude and the extra excludes as gitignore patterns,
// the usual VCS and dependency folders); a wrong guess only costs a refresh that changes nothing.
import ignore, {type Ignore} from "ignore";
import * as path from "node:path";
import {isPathInside, type WorkspaceFolderLocation} from "./workspacePaths";

export const defaultExcludedFolderNames: ReadonlySet<string> = new Set([
    ".git", ".hg", ".svn", "node_modules", "bower_components", ".kv-distill", "__pycache__", ".venv", "venv",
    ".tox", ".mypy_cache", ".pytest_cache", ".next", ".nuxt", ".gradle", ".idea", ".vs"
]);

export class WorkspaceExclusionMatcher {
    private readonly rulesByFolder = new Map<string, Ignore>();

    public constructor(private folders: readonly WorkspaceFolderLocation[]) {}

    public setFolders(folders: readonly WorkspaceFolderLocation[]): void {
        this.folders = folders;
        for (const folderPath of [...this.rulesByFolder.keys()]) {
            if (!folders.some((folder) => folder.path === folderPath))
                this.rulesByFolder.delete(folderPath);
        }
    }

    /** Replaces a folder's rules: lines of its root ignore files plus glob excludes. */
    public setRules(folderPath: string, patterns: readonly string[]): void {
        const rules = ignore();
        for (const pattern of patterns) {
            try {
                rules.add(pattern);
            } catch {
                // A pattern `ignore` cannot parse excludes nothing; the indexer reports it.
            }
        }
        this.rulesByFolder.set(folderPath, rules);
    }

    public isExcluded(absolutePath: string): boolean {
        const folder = this.folders.find((candidate) => isPathInside(candidate.path, absolutePath));
        if (folder === undefined)
            return true;
        const relative = path.relative(folder.path, absolutePath).split(path.sep).join("/");
        if (relative === "")
            return false;
        if (relative.split("/").some((segment) => defaultExcludedFolderNames.has(segment)))
            return true;
        const rules = this.rulesByFolder.get(folder.path);
        if (rules === undefined)
            return false;
        try {
            return rules.ignores(relative);
        } catch {
            return false;
        }
    }
}

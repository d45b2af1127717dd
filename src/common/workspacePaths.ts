// Path arithmetic between absolute paths and the indexer's display paths ("folder/relative" in
// multi-root workspaces, "relative" otherwise). Pure: no file system access.
import * as path from "node:path";

export type WorkspaceFolderLocation = {
    /** The folder's name as the indexer uses it for display paths. */
    name: string;
    /** Absolute path of the folder. */
    path: string;
};

/** True when `child` is `parent` or lies below it, lexically (no symlink resolution). */
export function isPathInside(parent: string, child: string): boolean {
    const relative = path.relative(parent, child);
    if (relative === "")
        return true;
    return relative !== ".." && !relative.startsWith(".." + path.sep) && !path.isAbsolute(relative);
}

export function absolutePathToDisplayPath(absolutePath: string, folders: readonly WorkspaceFolderLocation[]): string | undefined {
    const folder = folders.find((candidate) => isPathInside(candidate.path, absolutePath));
    if (folder === undefined)
        return undefined;
    const relative = path.relative(folder.path, absolutePath).split(path.sep).join("/");
    return folders.length > 1 ? `${folder.name}/${relative}` : relative;
}

export function displayPathToAbsolutePath(displayPath: string, folders: readonly WorkspaceFolderLocation[]): string | undefined {
    if (folders.length === 0)
        return undefined;
    let folder = folders[0]!;
    let relative = displayPath;
    if (folders.length > 1) {
        const slash = displayPath.indexOf("/");
        const named = slash < 0 ? undefined : folders.find((candidate) => candidate.name === displayPath.slice(0, slash));
        if (named === undefined)
            return undefined;
        folder = named;
        relative = displayPath.slice(slash + 1);
    }
    const absolutePath = path.join(folder.path, ...relative.split("/"));
    return isPathInside(folder.path, absolutePath) ? absolutePath : undefined;
}

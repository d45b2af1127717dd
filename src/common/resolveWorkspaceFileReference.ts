// Decides whether a file reference from an answer may be opened, and which file it opens.
// Only regular files inside a workspace folder qualify: "..", absolute paths elsewhere and
// symlinks whose target lies outside the folder are refused.
import * as path from "node:path";
import {parseFileReference} from "./fileReferences";
import {isPathInside, type WorkspaceFolderLocation} from "./workspacePaths";

/** The file system questions resolution asks; injected so that the logic stays testable. */
export type FileSystemProbe = {
    /** The path with every symlink resolved, or undefined when it does not exist. */
    realPath(filePath: string): Promise<string | undefined>;
    isFile(filePath: string): Promise<boolean>;
};

export type ResolvedFileReference = {
    /** The path inside the workspace folder (symlinks inside the folder not resolved). */
    absolutePath: string;
    displayPath: string;
    folderName: string;
    line?: number;
    column?: number;
};

export type FileReferenceResolution =
    | {ok: true; file: ResolvedFileReference}
    | {ok: false; reason: "malformed" | "outside-workspace" | "symlink-escape" | "not-found" | "no-workspace"};

export async function resolveWorkspaceFileReference(
    raw: string,
    folders: readonly WorkspaceFolderLocation[],
    probe: FileSystemProbe
): Promise<FileReferenceResolution> {
    if (folders.length === 0)
        return {ok: false, reason: "no-workspace"};
    const parsed = parseFileReference(raw);
    if (parsed === undefined)
        return {ok: false, reason: "malformed"};

    const candidates: Array<{folder: WorkspaceFolderLocation; absolutePath: string}> = [];
    if (path.isAbsolute(parsed.path)) {
        const absolutePath = path.normalize(parsed.path);
        for (const folder of folders) {
            if (isPathInside(folder.path, absolutePath))
                candidates.push({folder, absolutePath});
        }
    } else {
        const normalized = path.posix.normalize(parsed.path.replace(/^(\.\/)+/, ""));
        if (normalized === ".." || normalized.startsWith("../"))
            return {ok: false, reason: "outside-workspace"};
        const slash = normalized.indexOf("/");
        if (folders.length > 1 && slash > 0) {
            const named = folders.find((folder) => folder.name === normalized.slice(0, slash));
            if (named !== undefined)
                candidates.push({folder: named, absolutePath: path.join(named.path, ...normalized.slice(slash + 1).split("/"))});
        }
        for (const folder of folders)
            candidates.push({folder, absolutePath: path.join(folder.path, ...normalized.split("/"))});
    }
    const inside = candidates.filter((candidate) => isPathInside(candidate.folder.path, candidate.absolutePath) && candidate.absolutePath !== candidate.folder.path);
    if (inside.length === 0)
        return {ok: false, reason: "outside-workspace"};

    let sawEscape = false;
    for (const candidate of inside) {
        const realPath = await probe.realPath(candidate.absolutePath);
        if (realPath === undefined)
            continue;
        const realFolder = (await probe.realPath(candidate.folder.path)) ?? candidate.folder.path;
        if (!isPathInside(realFolder, realPath)) {
            sawEscape = true;
            continue;
        }
        if (!(await probe.isFile(realPath)))
            continue;
        const relative = path.relative(candidate.folder.path, candidate.absolutePath).split(path.sep).join("/");
        const file: ResolvedFileReference = {
            absolutePath: candidate.absolutePath,
            displayPath: folders.length > 1 ? `${candidate.folder.name}/${relative}` : relative,
            folderName: candidate.folder.name
        };
        if (parsed.line !== undefined)
            file.line = parsed.line;
        if (parsed.column !== undefined)
            file.column = parsed.column;
        return {ok: true, file};
    }
    return {ok: false, reason: sawEscape ? "symlink-escape" : "not-found"};
}

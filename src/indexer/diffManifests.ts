// Compares the manifest of a cached prompt with a fresh one: which files changed and the earliest
// prompt offset the changes invalidate. Everything before that offset is the same text in both
// prompts, so a KV cache of the previous prompt stays valid up to it.
import type {IndexedFile, IndexManifest} from "./indexTypes";

export type ManifestChange =
    | {kind: "added"; displayPath: string}
    | {kind: "deleted"; displayPath: string}
    /** Same content, different path (matched by content hash). */
    | {kind: "renamed"; previousDisplayPath: string; displayPath: string}
    | {kind: "edited"; displayPath: string}
    /** The ignore files or exclude settings in force changed (their effects show up as added or deleted files). */
    | {kind: "rules-changed"; previousRulesDigest: string; rulesDigest: string}
    /** The prompt rendering changed: nothing of the previous prompt can be reused. */
    | {kind: "format-changed"; previousFormat: string; format: string};

export type ManifestDiff = {
    /** True when the two prompts are the same text (rules may still differ). */
    identical: boolean;
    /** Earliest character offset at which the prompts differ; previous.promptChars when they do not. */
    firstInvalidatedChar: number;
    /** Index (in both file lists) of the first file whose section differs; previous.files.length when all of them are reusable. */
    firstInvalidatedFileIndex: number;
    changes: ManifestChange[];
};

export function diffManifests(previous: IndexManifest, current: IndexManifest): ManifestDiff {
    const changes: ManifestChange[] = [];
    const previousFormat = previous.promptFormat ?? "";
    const currentFormat = current.promptFormat ?? "";
    const formatChanged = previousFormat !== currentFormat;
    if (formatChanged)
        changes.push({kind: "format-changed", previousFormat, format: currentFormat});
    if (previous.rulesDigest !== current.rulesDigest)
        changes.push({kind: "rules-changed", previousRulesDigest: previous.rulesDigest, rulesDigest: current.rulesDigest});
    changes.push(...diffFiles(previous.files, current.files));

    let firstInvalidatedFileIndex = 0;
    let firstInvalidatedChar = 0;
    if (!formatChanged) {
        const common = Math.min(previous.files.length, current.files.length);
        while (firstInvalidatedFileIndex < common && sameSection(previous.files[firstInvalidatedFileIndex]!, current.files[firstInvalidatedFileIndex]!))
            firstInvalidatedFileIndex++;
        if (firstInvalidatedFileIndex < previous.files.length)
            firstInvalidatedChar = previous.files[firstInvalidatedFileIndex]!.charStart;
        else if (firstInvalidatedFileIndex < current.files.length || !sameTail(previous, current))
            firstInvalidatedChar = previous.tailStart;
        else
            firstInvalidatedChar = previous.promptChars;
    }
    return {
        identical: !formatChanged && firstInvalidatedChar === previous.promptChars && previous.promptChars === current.promptChars,
        firstInvalidatedChar,
        firstInvalidatedFileIndex,
        changes
    };
}

function sameSection(a: IndexedFile, b: IndexedFile): boolean {
    return a.displayPath === b.displayPath && a.contentHash === b.contentHash && a.language === b.language &&
        a.charStart === b.charStart && a.headerEnd === b.headerEnd && a.charEnd === b.charEnd;
}

/**
 * Whether the tails are the same text. With the same files they differ when one prompt has a part
 * the other has not (the outline, the file list), which can leave the length the same: the digests
 * tell. A manifest from before the digest had at most a file list, which the same files make the
 * same, so there the lengths tell.
 */
function sameTail(a: IndexManifest, b: IndexManifest): boolean {
    if (a.tail !== undefined && b.tail !== undefined)
        return a.tail.sha256 === b.tail.sha256;
    return a.promptChars - a.tailStart === b.promptChars - b.tailStart;
}

function diffFiles(previous: readonly IndexedFile[], current: readonly IndexedFile[]): ManifestChange[] {
    const changes: ManifestChange[] = [];
    const previousByPath = new Map(previous.map((file) => [file.displayPath, file]));
    const currentByPath = new Map(current.map((file) => [file.displayPath, file]));
    const deleted = previous.filter((file) => !currentByPath.has(file.displayPath));
    const added = current.filter((file) => !previousByPath.has(file.displayPath));
    for (const file of current) {
        const before = previousByPath.get(file.displayPath);
        if (before !== undefined && before.contentHash !== file.contentHash)
            changes.push({kind: "edited", displayPath: file.displayPath});
    }
    // A deleted and an added file with the same content are a rename; with several candidates,
    // pair them in path order so the result is deterministic.
    const deletedByHash = new Map<string, IndexedFile[]>();
    for (const file of [...deleted].sort(byDisplayPath)) {
        const list = deletedByHash.get(file.contentHash) ?? [];
        list.push(file);
        deletedByHash.set(file.contentHash, list);
    }
    const renamedFrom = new Set<string>();
    for (const file of [...added].sort(byDisplayPath)) {
        const source = deletedByHash.get(file.contentHash)?.shift();
        if (source !== undefined) {
            renamedFrom.add(source.displayPath);
            changes.push({kind: "renamed", previousDisplayPath: source.displayPath, displayPath: file.displayPath});
        } else {
            changes.push({kind: "added", displayPath: file.displayPath});
        }
    }
    for (const file of deleted)
        if (!renamedFrom.has(file.displayPath))
            changes.push({kind: "deleted", displayPath: file.displayPath});
    return changes;
}

function byDisplayPath(a: IndexedFile, b: IndexedFile): number {
    return a.displayPath < b.displayPath ? -1 : a.displayPath > b.displayPath ? 1 : 0;
}

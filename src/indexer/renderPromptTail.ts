// The end of the prompt: the workspace outline of the included files (workspaceOutline.ts: where
// things are defined and which function each error message comes from), then an overview of which
// files the prompt contains, sorted by path so that it reads like a tree. Both change whenever a
// file is added, removed or edited, so they come after every file section (the manifest's
// tailStart): a change then never invalidates the cached prefix in front of the changed file.
import {createHash} from "node:crypto";
import {anyNeedsMarkupEscaping, escapeMarkup, fileSectionClosing} from "./renderFileSection";
import type {PromptTailRecord} from "./indexTypes";
import {fileOutline, hasOutlineEntries, type OutlineDetail, type OutlinedFile} from "./workspaceOutline";

export type PromptTailParts = {
    /** The workspace outline (renderWorkspaceOutline of the included files in prompt order); "" for none. */
    outline: string;
    /** The included files' display paths, in any order; undefined when the file list is turned off. */
    fileListPaths: readonly string[] | undefined;
};

/** `displayPathsArePlain`: the caller knows that no path needs escaping (see renderFileHeader). */
export function renderPromptTail(parts: PromptTailParts, displayPathsArePlain = false): string {
    return parts.fileListPaths === undefined ? parts.outline : parts.outline + renderFileListTail(parts.fileListPaths, displayPathsArePlain);
}

/** The list of the included files: `<workspace-files count="N">`, one path a line. */
export function renderFileListTail(displayPaths: readonly string[], displayPathsArePlain = false): string {
    // The default sort compares strings by UTF-16 code units, as `<` does, without a call per comparison.
    const sorted = [...displayPaths].sort();
    // Almost never does a path need escaping: one scan over all (unless the caller knows), then one join.
    const lines = !displayPathsArePlain && anyNeedsMarkupEscaping(sorted) ? sorted.map((displayPath) => escapeMarkup(displayPath) + "\n").join("") : sorted.length === 0 ? "" : sorted.join("\n") + "\n";
    return `<workspace-files count="${sorted.length}">\n${lines}</workspace-files>\n`;
}

/**
 * A file's outline entries, read from its section's body: the content as the prompt shows it (a
 * byte-order mark dropped, CRLF turned into LF), which is what the model reads and what the Python
 * reference is given in training. The body's closing tag is cut off; the line feed the section may
 * add at the end only makes an empty last line, which has no entry. The path is written as the file
 * list writes it (escaped when it holds markup characters). Undefined when the file has no entry.
 * The entries are those of the detail the outline is rendered with.
 */
export function outlineFileSection(displayPath: string, body: string, displayPathIsPlain: boolean, detail: OutlineDetail): OutlinedFile | undefined {
    const content = body.endsWith(fileSectionClosing) ? body.slice(0, body.length - fileSectionClosing.length) : body;
    const outline = fileOutline(displayPath, content, detail);
    if (!hasOutlineEntries(outline))
        return undefined;
    return {...outline, displayPath: displayPathIsPlain ? displayPath : escapeMarkup(displayPath)};
}

/**
 * The detail of a manifest's outline: "definitions" when the tail records it, else "names". Only
 * "definitions" is recorded, as it was when "names" was the default, so a cache saved then (or made
 * with names since) reads as names and differs from a prompt of the default detail.
 */
export function manifestOutlineDetail(tail: Pick<PromptTailRecord, "outlineDetail"> | undefined): OutlineDetail {
    return tail?.outlineDetail ?? "names";
}

/** The manifest's digest of a tail (IndexManifest.tail.sha256): two tails of one length can differ. */
export function promptTailSha256(text: string): string {
    return createHash("sha256").update(text).digest("hex");
}

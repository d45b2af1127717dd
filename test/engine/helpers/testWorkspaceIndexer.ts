// TEST HELPER ONLY: a minimal stand-in for the real workspace indexer (issue 3), producing
// IndexResult objects of the shared types so that engine tests run before the indexer is merged.
// It renders every file of the folders in path order with a header, then a tail listing the files.
// The lead switches the engine's callers to the real indexer at merge.
import {createHash} from "node:crypto";
import {readdir, readFile, stat} from "node:fs/promises";
import path from "node:path";
import type {IndexedFile, IndexManifest, IndexResult} from "../../../src/indexer/indexTypes";
import type {WorkspaceIndexer, WorkspaceIndexRequest} from "../../../src/engine/workspaceIndexer";

export const testWorkspaceIndexer: WorkspaceIndexer = {
    indexWorkspace: (request, signal) => buildTestIndex(request, signal),
    diffManifests: diffTestManifests
};

export async function buildTestIndex(request: WorkspaceIndexRequest, signal?: AbortSignal): Promise<IndexResult> {
    const multiRoot = request.folders.length > 1;
    type Entry = {folder: string; relativePath: string};
    const entries: Entry[] = [];
    for (const folder of request.folders) {
        for (const relativePath of await listFiles(folder, ""))
            entries.push({folder, relativePath});
    }
    let prompt = "";
    const files: IndexedFile[] = [];
    for (const {folder, relativePath} of entries) {
        if (signal?.aborted === true)
            throw new Error("indexing cancelled");
        const absolutePath = path.join(folder, relativePath);
        const bytes = await readFile(absolutePath);
        if (request.maxFileBytes !== undefined && bytes.length > request.maxFileBytes)
            continue;
        const folderName = path.basename(folder);
        const displayPath = multiRoot ? `${folderName}/${relativePath}` : relativePath;
        const language = languageOf(relativePath);
        const header = `=== ${displayPath} (${language}) ===\n`;
        let content = bytes.toString("utf8");
        if (!content.endsWith("\n"))
            content += "\n";
        content += "\n";
        const charStart = prompt.length;
        prompt += header;
        const headerEnd = prompt.length;
        prompt += content;
        const info = await stat(absolutePath);
        files.push({
            folderName,
            absolutePath,
            relativePath,
            displayPath,
            language,
            sizeBytes: bytes.length,
            contentHash: createHash("sha256").update(bytes).digest("hex"),
            lastChangedMs: info.mtimeMs,
            uncommitted: false,
            charStart,
            charEnd: prompt.length,
            headerEnd
        });
    }
    const tailStart = prompt.length;
    prompt += `=== ${files.length} files: ${files.map((file) => file.displayPath).join(", ")} ===\n`;
    const manifest: IndexManifest = {
        formatVersion: 1,
        files,
        skipped: [],
        rulesDigest: "test-indexer",
        promptChars: prompt.length,
        tailStart
    };
    return {prompt, manifest};
}

/** The first prompt character that differs between two manifests' renderings (file by file). */
export function diffTestManifests(previous: IndexManifest, current: IndexManifest): {firstInvalidatedChar: number} {
    const count = Math.min(previous.files.length, current.files.length);
    for (let index = 0; index < count; index++) {
        const before = previous.files[index]!;
        const after = current.files[index]!;
        if (before.displayPath !== after.displayPath || before.contentHash !== after.contentHash ||
            before.charStart !== after.charStart || before.charEnd !== after.charEnd)
            return {firstInvalidatedChar: Math.min(before.charStart, after.charStart)};
    }
    if (previous.files.length !== current.files.length) {
        const firstExtra = previous.files[count] ?? current.files[count]!;
        return {firstInvalidatedChar: firstExtra.charStart};
    }
    if (previous.tailStart !== current.tailStart || previous.promptChars !== current.promptChars || previous.rulesDigest !== current.rulesDigest)
        return {firstInvalidatedChar: Math.min(previous.tailStart, current.tailStart)};
    return {firstInvalidatedChar: current.promptChars};
}

async function listFiles(folder: string, relativeFolder: string): Promise<string[]> {
    const names = (await readdir(path.join(folder, relativeFolder), {withFileTypes: true}))
        .filter((entry) => !entry.name.startsWith("."))
        .sort((left, right) => (left.name < right.name ? -1 : left.name > right.name ? 1 : 0));
    const result: string[] = [];
    for (const entry of names) {
        const relativePath = relativeFolder === "" ? entry.name : `${relativeFolder}/${entry.name}`;
        if (entry.isDirectory())
            result.push(...await listFiles(folder, relativePath));
        else if (entry.isFile())
            result.push(relativePath);
    }
    return result;
}

function languageOf(relativePath: string): string {
    const extension = path.extname(relativePath).slice(1);
    const languages: Record<string, string> = {ts: "typescript", js: "javascript", py: "python", md: "markdown", json: "json", c: "c", h: "c", toml: "toml"};
    return languages[extension] ?? "plaintext";
}

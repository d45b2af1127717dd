// `kv-distill index <folder>...`: shows what the indexer would put into the prompt, in prompt
// order, and what it skipped and why.
import * as path from "node:path";
import {UsageError} from "../common/errors";
import {renderPromptToSink} from "../indexer/renderPromptToSink";
import type {IndexWorkspaceOptions} from "../indexer/indexWorkspace";
import type {IndexManifest} from "../indexer/indexTypes";
import {parseOutlineDetail} from "./parseOutlineDetail";

const usage = `Usage: kv-distill index <folder>... [options]

Prints the files the prompt would contain, in prompt order, with their sizes, then the skipped
files with the reason.

Options:
  --json                 print one JSON object (the manifest and totals) instead of text
  --prompt               print the rendered prompt itself
  --max-file-bytes N     skip files larger than N bytes (default 1048576)
  --exclude PATTERN      exclude more paths (gitignore syntax); repeatable
  --files-exclude GLOB   exclude like the editor's files.exclude (VS Code glob); repeatable
  --no-default-excludes  also index dependency, cache and build-output folders and lockfiles
  --no-git               order by modification time, without reading git
  --no-outline           end the prompt with the file list alone, without the workspace outline
                         (where functions and classes are defined, where error messages come from)
  --outline-detail D     names | definitions: what the outline shows (default names; definitions
                         adds parameter lists, top-level constants and config files' settings)
  --model PATH           add token counts (needs the engine)`;

type IndexCommandArguments = {
    folders: string[];
    json: boolean;
    printPrompt: boolean;
    model: string | undefined;
    options: Omit<IndexWorkspaceOptions, "folders">;
};

export async function runIndexCommand(args: readonly string[]): Promise<number> {
    if (args.includes("--help") || args.includes("-h")) {
        process.stdout.write(usage + "\n");
        return 0;
    }
    const parsed = parseIndexArguments(args);
    if (parsed.model !== undefined) {
        // HOOK(engine): token counts with --model. The engine adds this: load the model's
        // tokenizer through src/engine (never node-llama-cpp here), then call applyTokenBudget or
        // tokenizeFileSections on the result and print tokens per file. Until then it is refused.
        throw new UsageError("--model needs the engine, which is not part of this build yet");
    }
    const folders = parsed.folders.map((folder) => ({name: path.basename(path.resolve(folder)), path: folder}));
    const prompt: string[] = [];
    const manifest = await renderPromptToSink({...parsed.options, folders}, (chunk) => {
        if (!parsed.printPrompt)
            return;
        if (chunk.kind === "file")
            prompt.push(chunk.header, chunk.body);
        else
            prompt.push(chunk.text);
    });
    if (parsed.printPrompt)
        process.stdout.write(prompt.join(""));
    else if (parsed.json)
        process.stdout.write(JSON.stringify(summarize(manifest)) + "\n");
    else
        process.stdout.write(formatText(manifest));
    return 0;
}

function parseIndexArguments(args: readonly string[]): IndexCommandArguments {
    const parsed: IndexCommandArguments = {folders: [], json: false, printPrompt: false, model: undefined, options: {}};
    const extraExcludes: string[] = [];
    const filesExclude: string[] = [];
    for (let index = 0; index < args.length; index++) {
        const arg = args[index]!;
        const value = (): string => {
            const next = args[++index];
            if (next === undefined)
                throw new UsageError(`${arg} needs a value`);
            return next;
        };
        if (arg === "--json")
            parsed.json = true;
        else if (arg === "--prompt")
            parsed.printPrompt = true;
        else if (arg === "--max-file-bytes") {
            const text = value();
            const bytes = Number(text);
            if (!/^\d+$/.test(text) || !Number.isSafeInteger(bytes))
                throw new UsageError(`--max-file-bytes needs a whole number of bytes, got "${text}"`);
            parsed.options.maxFileBytes = bytes;
        } else if (arg === "--exclude")
            extraExcludes.push(value());
        else if (arg === "--files-exclude")
            filesExclude.push(value());
        else if (arg === "--no-default-excludes")
            parsed.options.useDefaultExcludes = false;
        else if (arg === "--no-git")
            parsed.options.useGit = false;
        else if (arg === "--no-outline")
            parsed.options.workspaceOutline = false;
        else if (arg === "--outline-detail")
            parsed.options.outlineDetail = parseOutlineDetail(value());
        else if (arg === "--model")
            parsed.model = value();
        else if (arg.startsWith("-") && arg !== "-")
            throw new UsageError(`unknown option "${arg}"`);
        else
            parsed.folders.push(arg);
    }
    if (parsed.folders.length === 0)
        throw new UsageError("name at least one folder to index");
    if (extraExcludes.length > 0)
        parsed.options.extraExcludes = extraExcludes;
    if (filesExclude.length > 0)
        parsed.options.filesExclude = filesExclude;
    return parsed;
}

function summarize(manifest: IndexManifest): object {
    return {
        files: manifest.files,
        skipped: manifest.skipped,
        totals: {
            files: manifest.files.length,
            bytes: manifest.files.reduce((sum, file) => sum + file.sizeBytes, 0),
            skipped: manifest.skipped.length,
            promptChars: manifest.promptChars
        },
        tailStart: manifest.tailStart,
        tail: manifest.tail,
        rulesDigest: manifest.rulesDigest,
        rules: manifest.rules,
        promptFormat: manifest.promptFormat,
        warnings: manifest.warnings ?? []
    };
}

function formatText(manifest: IndexManifest): string {
    const lines: string[] = [];
    const totalBytes = manifest.files.reduce((sum, file) => sum + file.sizeBytes, 0);
    const bytesWidth = Math.max(5, ...manifest.files.map((file) => String(file.sizeBytes).length));
    lines.push(`${manifest.files.length} files, ${totalBytes} bytes, ${manifest.promptChars} prompt characters (in prompt order: stable first)`);
    for (const file of manifest.files)
        lines.push(`  ${String(file.sizeBytes).padStart(bytesWidth)}  ${file.displayPath}${file.uncommitted ? "  (uncommitted)" : ""}`);
    lines.push(`${manifest.skipped.length} skipped`);
    for (const skipped of manifest.skipped)
        lines.push(`  ${skipped.reason.padEnd(16)}  ${skipped.displayPath}  (${skipped.detail})`);
    for (const warning of manifest.warnings ?? [])
        lines.push(`warning: ${warning}`);
    return lines.join("\n") + "\n";
}

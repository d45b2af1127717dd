// One measured indexer run in its own process, so that its peak RSS is its own:
//   node out/bench/indexerBenchChild.js <sink|string> <folder> <file-list-output>
// Prints one JSON line. "sink" streams the prompt through renderPromptToSink (what the engine
// does); "string" builds the whole prompt with indexWorkspace.
import * as fs from "node:fs";
import {renderPromptToSink} from "../src/indexer/renderPromptToSink";
import {indexWorkspace} from "../src/indexer/indexWorkspace";
import type {IndexManifest} from "../src/indexer/indexTypes";

async function main(): Promise<void> {
    const [mode, folder, listOutput] = process.argv.slice(2);
    if ((mode !== "sink" && mode !== "string") || folder === undefined || listOutput === undefined)
        throw new Error("usage: indexerBenchChild <sink|string> <folder> <file-list-output>");
    const options = {folders: [{name: "bench", path: folder}], useDefaultExcludes: false};
    const started = process.hrtime.bigint();
    let manifest: IndexManifest;
    let promptChars = 0;
    if (mode === "sink") {
        manifest = await renderPromptToSink(options, (chunk) => {
            promptChars += chunk.kind === "file" ? chunk.header.length + chunk.body.length : chunk.text.length;
        });
    } else {
        const result = await indexWorkspace(options);
        manifest = result.manifest;
        promptChars = result.prompt.length;
    }
    const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
    fs.writeFileSync(listOutput, manifest.files.map((file) => file.absolutePath + "\0").join(""));
    const skippedByReason: Record<string, number> = {};
    for (const skipped of manifest.skipped)
        skippedByReason[skipped.reason] = (skippedByReason[skipped.reason] ?? 0) + 1;
    process.stdout.write(JSON.stringify({
        mode,
        nodeVersion: process.version,
        elapsedMs,
        maxRssMiB: process.resourceUsage().maxRSS / 1024,
        files: manifest.files.length,
        bytes: manifest.files.reduce((sum, file) => sum + file.sizeBytes, 0),
        promptChars,
        skippedByReason
    }) + "\n");
}

main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
});

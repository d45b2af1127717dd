// Shared pieces of the engine tests: a deterministic sample workspace, byte snapshots of it, and an
// engine on CPU with the fixture model and the test indexer.
import {createHash} from "node:crypto";
import {mkdir, mkdtemp, readdir, readFile, rm, writeFile} from "node:fs/promises";
import {tmpdir} from "node:os";
import path from "node:path";
import {Engine} from "../../../src/engine/Engine";
import type {EngineOptions} from "../../../src/engine/Engine";
import type {DistillPromptOutput} from "../../../src/engine/distillPrompt";
import type {DistillOptions} from "../../../src/engine/engineApi";
import type {LoadedModel} from "../../../src/engine/llamaBinding";
import {ensureFixtureModel} from "../../fixtures/fixtureModel";
import {testWorkspaceIndexer} from "./testWorkspaceIndexer";

export async function makeTemporaryFolder(prefix: string): Promise<string> {
    return mkdtemp(path.join(tmpdir(), `kvd-${prefix}-`));
}

/** Writes a small multi-file project; `variant` changes nothing but lets tests make distinct copies. */
export async function writeSampleWorkspace(folder: string, options: {files?: number; linesPerFile?: number} = {}): Promise<string[]> {
    const files = options.files ?? 6;
    const linesPerFile = options.linesPerFile ?? 30;
    const written: string[] = [];
    for (let fileIndex = 0; fileIndex < files; fileIndex++) {
        const relativePath = fileIndex % 3 === 0 ? `src/module${fileIndex}.ts` : fileIndex % 3 === 1 ? `lib/helper_${fileIndex}.py` : `docs/note${fileIndex}.md`;
        const lines: string[] = [];
        for (let line = 0; line < linesPerFile; line++) {
            if (relativePath.endsWith(".ts"))
                lines.push(`export function compute${fileIndex}_${line}(value: number): number { return value * ${line + 3} + ${fileIndex}; }`);
            else if (relativePath.endsWith(".py"))
                lines.push(`def helper_${fileIndex}_${line}(items):\n    return [item + ${line} for item in items if item % ${fileIndex + 2} == 0]`);
            else
                lines.push(`Note ${line} of document ${fileIndex}: the retry limit is ${line * 7 + fileIndex} and the timeout is ${line + 11} seconds.`);
        }
        await mkdir(path.dirname(path.join(folder, relativePath)), {recursive: true});
        await writeFile(path.join(folder, relativePath), lines.join("\n") + "\n");
        written.push(relativePath);
    }
    return written;
}

/** sha256 of every file under a folder, by relative path: to check that nothing was written there. */
export async function snapshotFolder(folder: string): Promise<Record<string, string>> {
    const snapshot: Record<string, string> = {};
    const visit = async (relativeFolder: string): Promise<void> => {
        for (const entry of await readdir(path.join(folder, relativeFolder), {withFileTypes: true})) {
            const relativePath = path.join(relativeFolder, entry.name);
            if (entry.isDirectory())
                await visit(relativePath);
            else
                snapshot[relativePath] = createHash("sha256").update(await readFile(path.join(folder, relativePath))).digest("hex");
        }
    };
    await visit("");
    return snapshot;
}

export type TestEngine = {engine: Engine; logLines: string[]; modelPath: string};

/**
 * The suite runs on the patched build with holes by default; KV_DISTILL_TEST_COMPACTION=renumber and
 * KV_DISTILL_TEST_LLAMA_BUILD=stock (npm run test:engine:renumber / test:engine:stock) run it in the other
 * compaction mode and on the stock binary (degraded mode).
 */
const testCompaction = process.env.KV_DISTILL_TEST_COMPACTION === "renumber" ? "renumber" : undefined;
const testLlamaBuild = process.env.KV_DISTILL_TEST_LLAMA_BUILD === "stock" ? "stock" : undefined;

export async function createTestEngine(options: Partial<EngineOptions> = {}): Promise<TestEngine> {
    const logLines: string[] = [];
    const modelPath = await ensureFixtureModel();
    const engine = new Engine({
        indexer: testWorkspaceIndexer,
        gpu: false,
        ...(testLlamaBuild === undefined ? {} : {llamaBuild: testLlamaBuild}),
        batchSize: 128,
        // One thread: this CI machine is shared, and llama.cpp's spinning threads collapse under contention.
        threads: 1,
        log: (line) => logLines.push(line),
        ...options
    });
    return {engine, logLines, modelPath};
}

export function distillOptions(folder: string, cacheDir: string, modelPath: string, overrides: Partial<DistillOptions> = {}): DistillOptions {
    return {
        modelPath,
        folders: [folder],
        keepRatio: 0.3,
        scorer: "surprisal",
        segmentTokens: 256,
        cacheDir,
        ...(testCompaction === undefined ? {} : {compaction: testCompaction}),
        ...overrides
    };
}

/** A sample workspace distilled once for a whole test file, with everything its tests look at. */
export type DistilledSample = {
    kit: TestEngine;
    workspace: string;
    cacheDir: string;
    options: DistillOptions;
    distilled: DistillPromptOutput;
    model: LoadedModel;
    /** The workspace's bytes before anything ran, to check that nothing wrote into it. */
    snapshotBefore: Record<string, string>;
};

/** Writes the 5-file sample workspace, distills it (keeping the sequence) and loads the model for the tests. */
export async function distillSampleWorkspace(engineOptions: Partial<EngineOptions>, overrides: Partial<DistillOptions>): Promise<DistilledSample> {
    const kit = await createTestEngine(engineOptions);
    const workspace = await makeTemporaryFolder("ws");
    const cacheDir = await makeTemporaryFolder("cache");
    try {
        await writeSampleWorkspace(workspace, {files: 5, linesPerFile: 12});
        const snapshotBefore = await snapshotFolder(workspace);
        const options = distillOptions(workspace, cacheDir, kit.modelPath, overrides);
        const distilled = await kit.engine.distillForTesting(options, {}, true);
        const model = (await kit.engine.loadModelForTesting(kit.modelPath)).model;
        return {kit, workspace, cacheDir, options, distilled, model, snapshotBefore};
    } catch (error) {
        await kit.engine.dispose();
        await rm(workspace, {recursive: true, force: true});
        await rm(cacheDir, {recursive: true, force: true});
        throw error;
    }
}

export async function disposeDistilledSample(sample: DistilledSample | undefined): Promise<void> {
    if (sample === undefined)
        return;
    await sample.distilled.sequence?.dispose();
    await sample.kit.engine.dispose();
    await rm(sample.workspace, {recursive: true, force: true});
    await rm(sample.cacheDir, {recursive: true, force: true});
}

export function maxAbsoluteDifference(left: Float64Array, right: Float64Array): number {
    let max = 0;
    for (let index = 0; index < left.length; index++)
        max = Math.max(max, Math.abs(left[index]! - right[index]!));
    return max;
}

export function argmax(values: Float64Array): number {
    let best = 0;
    for (let index = 1; index < values.length; index++)
        if (values[index]! > values[best]!)
            best = index;
    return best;
}

// Broken, foreign and cancelled caches, and bad models: rejected with a reason, rebuilt, never loaded.
import assert from "node:assert/strict";
import {copyFile, readdir, readFile, rm, truncate, writeFile} from "node:fs/promises";
import path from "node:path";
import {after, before, describe, test} from "node:test";
import {CacheStore, manifestFileName} from "../../src/engine/CacheStore";
import type {DistillOptions} from "../../src/engine/engineApi";
import {ModelFileNotFoundError, ModelLoadError, OperationCancelledError} from "../../src/engine/engineErrors";
import {ensureFixtureModel} from "../fixtures/fixtureModel";
import {createTestEngine, distillOptions, makeTemporaryFolder, snapshotFolder, writeSampleWorkspace} from "./helpers/engineTestKit";
import type {TestEngine} from "./helpers/engineTestKit";

const timeout = 300_000;

describe("rejected and cancelled caches, bad models", {timeout}, () => {
    let kit: TestEngine;
    let workspace: string;
    let cacheDir: string;
    let scratch: string;
    let options: DistillOptions;
    let snapshotBefore: Record<string, string>;

    before(async () => {
        kit = await createTestEngine();
        workspace = await makeTemporaryFolder("ws");
        cacheDir = await makeTemporaryFolder("cache");
        scratch = await makeTemporaryFolder("scratch");
        await writeSampleWorkspace(workspace, {files: 4, linesPerFile: 8});
        snapshotBefore = await snapshotFolder(workspace);
        options = distillOptions(workspace, cacheDir, kit.modelPath, {scorer: "recent", keepRatio: 0.3, segmentTokens: 256});
    });

    after(async () => {
        await kit?.engine.dispose();
        for (const folder of [workspace, cacheDir, scratch])
            await rm(folder, {recursive: true, force: true});
    });

    async function statePathOf(distillOptionsToUse: DistillOptions): Promise<string> {
        const store = new CacheStore(distillOptionsToUse.cacheDir, () => undefined);
        const read = await store.read(CacheStore.keyFor(distillOptionsToUse));
        assert.equal(read.kind, "found");
        return read.kind === "found" ? read.statePath : "";
    }

    function logSince(mark: number): string {
        return kit.logLines.slice(mark).join("\n");
    }

    test("a state file failing its checksum is rejected, rebuilt, and the rebuilt cache answers", {timeout}, async () => {
        const built = await kit.engine.distill(options);
        assert.equal(built.cacheOutcome, "built");
        const statePath = await statePathOf(options);
        const bytes = await readFile(statePath);
        bytes[Math.floor(bytes.length / 2)] ^= 0xff;
        await writeFile(statePath, bytes);
        const mark = kit.logLines.length;
        const rebuilt = await kit.engine.distill(options);
        assert.equal(rebuilt.cacheOutcome, "built");
        assert.equal(rebuilt.evaluatedTokens, rebuilt.promptTokens);
        assert.match(logSince(mark), /rejected: its state file fails its checksum/);
        const answer = await kit.engine.ask({...options, question: "What is the timeout?", maxAnswerTokens: 4});
        assert.ok(answer.answerTokens > 0);
    });

    test("a truncated state file is rejected and rebuilt", {timeout}, async () => {
        await kit.engine.distill(options);
        await truncate(await statePathOf(options), 100);
        const mark = kit.logLines.length;
        const rebuilt = await kit.engine.distill(options);
        assert.equal(rebuilt.cacheOutcome, "built");
        assert.match(logSince(mark), /rejected: its state file has 100 bytes/);
    });

    test("a malformed manifest is rejected and rebuilt", {timeout}, async () => {
        await kit.engine.distill(options);
        const manifestPath = path.join(new CacheStore(cacheDir, () => undefined).entryFolder(CacheStore.keyFor(options)), manifestFileName);
        await writeFile(manifestPath, "{\"formatVersion\": 1, \"truncated");
        const mark = kit.logLines.length;
        assert.equal((await kit.engine.distill(options)).cacheOutcome, "built");
        assert.match(logSince(mark), /rejected: malformed manifest/);
    });

    test("a cache made by another model file is rejected, even at the same path", {timeout}, async () => {
        const otherModel = await ensureFixtureModel({seed: 2, name: "kv-distill-fixture-other"});
        const modelPath = path.join(scratch, "model.gguf");
        await copyFile(kit.modelPath, modelPath);
        const sharedPathOptions = {...options, modelPath};
        assert.equal((await kit.engine.distill(sharedPathOptions)).cacheOutcome, "built");
        await copyFile(otherModel, modelPath);
        const mark = kit.logLines.length;
        const rebuilt = await kit.engine.distill(sharedPathOptions);
        assert.equal(rebuilt.cacheOutcome, "built");
        assert.match(logSince(mark), /rejected: made by another model file/);
        assert.match(logSince(mark), /model .*model\.gguf: llama/, "the replaced file was loaded again");
        const answer = await kit.engine.ask({...sharedPathOptions, question: "What is the timeout?", maxAnswerTokens: 4});
        assert.ok(answer.answerTokens > 0);
    });

    test("a cancelled first distill leaves no cache; a cancelled refresh leaves the old cache intact", {timeout}, async () => {
        const freshCacheDir = path.join(scratch, "fresh-cache");
        const freshOptions = {...options, cacheDir: freshCacheDir};
        const controller = new AbortController();
        await assert.rejects(kit.engine.distill(freshOptions, {
            signal: controller.signal,
            onProgress: (progress) => {
                if (progress.phase === "prefilling" && progress.doneTokens > 0)
                    controller.abort();
            }
        }), OperationCancelledError);
        const left = (await readdir(freshCacheDir, {withFileTypes: true})).filter((entry) => entry.isDirectory());
        assert.deepEqual(left.map((entry) => entry.name), [], "no cache folder is left behind");

        const saved = await kit.engine.distill(options);
        const store = new CacheStore(cacheDir, () => undefined);
        const before = await store.read(saved.cacheId);
        await writeFile(path.join(workspace, "zz_new.md"), "Added to force a refresh.\n");
        const refreshController = new AbortController();
        try {
            await assert.rejects(kit.engine.distill(options, {
                signal: refreshController.signal,
                onProgress: (progress) => {
                    if (progress.phase === "prefilling")
                        refreshController.abort();
                }
            }), OperationCancelledError);
        } finally {
            await rm(path.join(workspace, "zz_new.md"));
        }
        const after = await store.read(saved.cacheId);
        assert.ok(before.kind === "found" && after.kind === "found");
        assert.deepEqual(after.manifest, before.manifest);
        assert.equal(await store.verifyState(after.statePath, after.manifest.state), undefined);
        assert.deepEqual((await readdir(store.entryFolder(saved.cacheId))).sort(), [manifestFileName, after.manifest.state.fileName].sort());
        assert.equal((await kit.engine.distill(options)).cacheOutcome, "reused");
    });

    test("a missing model and a file that is not a model give specific errors naming the file", {timeout}, async () => {
        const missing = path.join(scratch, "no-such-model.gguf");
        await assert.rejects(kit.engine.distill({...options, modelPath: missing}), (error: unknown) =>
            error instanceof ModelFileNotFoundError && error.message.includes(missing));
        const notAModel = path.join(scratch, "notes.gguf");
        await writeFile(notAModel, "these are notes, not a model\n");
        await assert.rejects(kit.engine.distill({...options, modelPath: notAModel}), (error: unknown) =>
            error instanceof ModelLoadError && error.message.includes(notAModel));
        // The engine still works afterwards.
        assert.equal((await kit.engine.distill(options)).cacheOutcome !== undefined, true);
    });

    test("the workspace's files are byte-identical afterwards", {timeout}, async () => {
        assert.deepEqual(await snapshotFolder(workspace), snapshotBefore);
    });
});

// Degraded mode: without a patched build the engine runs on node-llama-cpp's stock CPU binary and says so.
// The patched build is hidden by renaming its folder for the duration of one test (the native tests run one
// file at a time, see scripts/testNative.mjs) and always restored.
import {test} from "node:test";
import assert from "node:assert/strict";
import {existsSync} from "node:fs";
import {readFile, rename} from "node:fs/promises";
import path from "node:path";
import {
    PatchedBuildError, compactContextSequence, isPatchedLlama, loadPatchedLlama, loadPatchedLlamaOrFallback
} from "../../src/engine/llamaBinding";
import {repositoryRoot, tinyModelPath} from "./nativeTestSupport";

const localBuildsDirectory = path.join(repositoryRoot, "node_modules", "node-llama-cpp", "llama", "localBuilds");

async function patchedBuildFolder(): Promise<string> {
    const stamp = JSON.parse(await readFile(path.join(localBuildsDirectory, "kv-distill-build-cpu.json"), "utf8")) as {buildFolder: string};
    return path.join(localBuildsDirectory, stamp.buildFolder);
}

test("loads the patched build when it is there", {timeout: 60_000}, async () => {
    const {llama, patched, reason} = await loadPatchedLlamaOrFallback(false);
    try {
        assert.equal(patched, true);
        assert.equal(llama.buildType, "localBuild");
        assert.equal(isPatchedLlama(llama), true);
        assert.match(reason, /patched local build/);
    } finally {
        await llama.dispose();
    }
});

test("falls back to the stock prebuilt CPU binary when the patched build is hidden", {timeout: 60_000}, async () => {
    const folder = await patchedBuildFolder();
    const hidden = `${folder}.hidden-by-test`;
    await rename(folder, hidden);
    try {
        await assert.rejects(loadPatchedLlama(false), PatchedBuildError);

        const {llama, patched, reason} = await loadPatchedLlamaOrFallback(false);
        try {
            assert.equal(patched, false);
            assert.equal(llama.buildType, "prebuilt");
            assert.equal(llama.gpu, false);
            assert.match(reason, /No patched llama\.cpp build/);
            assert.match(reason, /degraded/);

            // the stock binary still evaluates, but the patched calls refuse clearly
            const model = await llama.loadModel({modelPath: tinyModelPath()});
            const context = await model.createContext({contextSize: 256, sequences: 1, threads: 2});
            const sequence = context.getSequence();
            await sequence.evaluateWithoutGeneratingNewTokens(model.tokenize("hello world, hello native"));
            await assert.rejects(compactContextSequence(sequence, [0], "holes"), PatchedBuildError);
            await context.dispose();
            await model.dispose();
        } finally {
            await llama.dispose();
        }
    } finally {
        await rename(hidden, folder);
    }
    assert.ok(existsSync(folder), "the patched build is back in place");
});

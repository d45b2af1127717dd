// The model downloader against a local HTTP server standing in for Hugging Face: consent, progress,
// resume after an interruption, a cut connection, integrity checks, and the same through the engine.
import {strict as assert} from "node:assert";
import {createHash} from "node:crypto";
import {readFileSync, readdirSync, statSync} from "node:fs";
import {mkdtemp, readdir, rm} from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import {afterEach, beforeEach, describe, it} from "node:test";
import type {ModelDownloadProgress} from "../../src/engine/engineApi";
import {DownloadConsentRequiredError, ModelDownloadError, ModelDownloadIntegrityError, ModelUriError, OperationCancelledError} from "../../src/engine/engineProcessErrors";
import {downloadModel, isHuggingFaceModelUri} from "../../src/engine/modelDownloader";
import {llamaTestModel, writeGgufTestFile} from "../helpers/ggufTestWriter";
import {createEngineHarness, waitFor, type EngineHarness} from "./engineHarness";
import {LocalModelServer} from "./LocalModelServer";

const mebibyte = 1024 * 1024;
/** node-llama-cpp's downloader (ipull) saves progress per 5 MiB chunk; the model spans three. */
const chunkBytes = 5 * mebibyte;

function sha256(bytes: Buffer): string {
    return createHash("sha256").update(bytes).digest("hex");
}

/** A valid llama GGUF of about 12 MiB: one big F32 tensor makes the size. */
function bigModel(seed: number): Buffer {
    const model = llamaTestModel({seed});
    model.tensors = [...(model.tensors ?? []), {name: "blk.0.ffn_up.weight", dimensions: [1024, 3 * 1024], ggmlType: 0}];
    return writeGgufTestFile(model);
}

describe("downloadModel", {timeout: 120_000}, () => {
    let server: LocalModelServer;
    let directory: string;
    let model: Buffer;

    beforeEach(async () => {
        server = new LocalModelServer();
        await server.start();
        directory = await mkdtemp(path.join(os.tmpdir(), "kvd-proc-dl-"));
        model = bigModel(11);
        server.addModel("kvtest", "tiny-model-GGUF", "tiny-model.Q4_K_M.gguf", model, "Q4_K_M");
    });

    afterEach(async () => {
        await server.close();
        await rm(directory, {recursive: true, force: true});
    });

    it("accepts only hf: URIs", async () => {
        assert.equal(isHuggingFaceModelUri("hf:user/repo:Q4_K_M"), true);
        assert.equal(isHuggingFaceModelUri("hf:user/repo/sub/model.gguf"), true);
        assert.equal(isHuggingFaceModelUri("hf:user/repo"), true);
        for (const uri of ["https://example.com/m.gguf", "/models/m.gguf", "hf:", "hf:user", "hf:user/repo/notes.txt"])
            assert.equal(isHuggingFaceModelUri(uri), false, uri);
        await assert.rejects(downloadModel({uri: "https://example.com/m.gguf", directory, consent: true}), ModelUriError);
        assert.equal(server.requests.length, 0);
    });

    it("refuses without consent, reporting the size, and writes no model bytes", async () => {
        await assert.rejects(downloadModel({uri: "hf:kvtest/tiny-model-GGUF:Q4_K_M", directory, consent: false, huggingFaceEndpoint: server.endpoint}), (error: unknown) => {
            assert.ok(error instanceof DownloadConsentRequiredError, String(error));
            assert.equal(error.sizeBytes, model.length);
            assert.equal(error.destinationDirectory, directory);
            assert.match(error.message, /12\.\d MiB/);
            return true;
        });
        assert.deepEqual(await readdir(directory), []);
        assert.equal(server.rangeRequests().length, 0, "no range of the model was requested");
        assert.ok(server.requests.some((request) => request.path === "/v2/kvtest/tiny-model-GGUF/manifests/Q4_K_M"), "the tag was resolved through the manifest API");
    });

    it("downloads with consent, reports progress, then finds the file offline", async () => {
        const progress: ModelDownloadProgress[] = [];
        const result = await downloadModel(
            {uri: "hf:kvtest/tiny-model-GGUF:Q4_K_M", directory, consent: true, huggingFaceEndpoint: server.endpoint, expectedSha256: sha256(model)},
            {onProgress: (update) => progress.push(update)}
        );
        assert.equal(result.outcome, "downloaded");
        assert.equal(path.dirname(result.modelPath), directory);
        assert.equal(sha256(readFileSync(result.modelPath)), sha256(model));
        assert.equal(result.sizeBytes, model.length);
        assert.equal(result.metadata.architecture, "llama");
        assert.ok(progress.length >= 2, `progress events: ${progress.length}`);
        for (let index = 1; index < progress.length; index++)
            assert.ok(progress[index]!.downloadedBytes >= progress[index - 1]!.downloadedBytes, "progress never goes back");
        assert.equal(progress.at(-1)?.downloadedBytes, model.length);
        assert.equal(progress.at(-1)?.totalBytes, model.length);

        const requestsBefore = server.requests.length;
        const again = await downloadModel({uri: "hf:kvtest/tiny-model-GGUF:Q4_K_M", directory, consent: false, huggingFaceEndpoint: server.endpoint});
        assert.equal(again.outcome, "present");
        assert.equal(again.modelPath, result.modelPath);
        assert.equal(server.requests.length, requestsBefore, "a complete model is found without the network");
    });

    it("resumes an interrupted download instead of starting over", async () => {
        const uri = "hf:kvtest/tiny-model-GGUF/tiny-model.Q4_K_M.gguf";
        server.holdRangesAfterStart = true;
        const controller = new AbortController();
        let partialPath: string | undefined;
        const first = downloadModel({uri, directory, consent: true, huggingFaceEndpoint: server.endpoint}, {signal: controller.signal});
        // The first chunk arrives; the rest is held. Once its progress is saved, interrupt.
        await waitFor("the partial download to record its first chunk", () => {
            const partial = readdirSafe(directory).find((name) => name.endsWith(".ipull"));
            partialPath = partial === undefined ? undefined : path.join(directory, partial);
            return partialPath !== undefined && statSync(partialPath).size > model.length;
        }, 20_000);
        await new Promise((resolve) => setTimeout(resolve, 300));
        controller.abort();
        await assert.rejects(first, OperationCancelledError);
        assert.ok(statSync(partialPath!).size > 0, "the partial file is kept after the interruption");
        const firstRunRanges = server.rangeRequests().length;
        assert.ok(server.rangeRequests().some((request) => request.rangeStart === 0 && request.bytesSent === chunkBytes), "the first chunk was sent whole");

        server.releaseHeld();
        const result = await downloadModel({uri, directory, consent: true, huggingFaceEndpoint: server.endpoint});
        assert.equal(result.outcome, "resumed");
        assert.equal(sha256(readFileSync(result.modelPath)), sha256(model), "the resumed file is byte-identical");
        const secondRunRanges = server.rangeRequests().slice(firstRunRanges);
        assert.ok(secondRunRanges.length > 0);
        assert.ok(secondRunRanges.every((request) => (request.rangeStart ?? 0) >= chunkBytes), `the saved chunk is not fetched again: ${JSON.stringify(secondRunRanges)}`);
        const secondRunBytes = secondRunRanges.reduce((sum, request) => sum + request.bytesSent, 0);
        assert.equal(secondRunBytes, model.length - chunkBytes);
        assert.deepEqual((await readdir(directory)).filter((name) => name.endsWith(".ipull")), [], "no partial file is left");
    });

    it("continues after the connection is cut mid-file, with a range request", async () => {
        server.cutNextRangeAfterBytes = 2 * mebibyte + 12345;
        const result = await downloadModel({uri: "hf:kvtest/tiny-model-GGUF/tiny-model.Q4_K_M.gguf", directory, consent: true, huggingFaceEndpoint: server.endpoint});
        assert.equal(server.cuts, 1);
        assert.equal(sha256(readFileSync(result.modelPath)), sha256(model));
        const cut = server.rangeRequests().find((request) => request.bytesSent > 0 && request.bytesSent < (request.rangeEnd! - request.rangeStart! + 1));
        assert.ok(cut !== undefined, "one range response was cut short");
        assert.ok(server.rangeRequests().filter((request) => request.rangeStart === cut.rangeStart).length >= 2, "the cut range was requested again");
    });

    it("deletes a download that is not a whole model, or has the wrong checksum", async () => {
        const truncated = writeGgufTestFile(llamaTestModel({seed: 3})).subarray(0, 900);
        server.addModel("kvtest", "broken", "broken.gguf", truncated);
        await assert.rejects(downloadModel({uri: "hf:kvtest/broken/broken.gguf", directory, consent: true, huggingFaceEndpoint: server.endpoint}), (error: unknown) => {
            assert.ok(error instanceof ModelDownloadIntegrityError, String(error));
            assert.match(error.message, /truncated/);
            return true;
        });
        const small = writeGgufTestFile(llamaTestModel({seed: 4}));
        server.addModel("kvtest", "small", "small.gguf", small);
        await assert.rejects(
            downloadModel({uri: "hf:kvtest/small/small.gguf", directory, consent: true, huggingFaceEndpoint: server.endpoint, expectedSha256: "0".repeat(64)}),
            (error: unknown) => error instanceof ModelDownloadIntegrityError && /SHA-256/.test(error.message)
        );
        assert.deepEqual((await readdir(directory)).filter((name) => name.endsWith(".gguf")), [], "bad downloads are not left behind");
    });

    it("reports a model the server does not have", async () => {
        await assert.rejects(
            downloadModel({uri: "hf:kvtest/no-such-model:Q4_K_M", directory, consent: true, huggingFaceEndpoint: server.endpoint}),
            (error: unknown) => error instanceof ModelDownloadError && error.uri === "hf:kvtest/no-such-model:Q4_K_M"
        );
    });
});

describe("downloadModel through the engine process", {skip: process.platform === "win32" ? "Unix sockets" : false, timeout: 120_000}, () => {
    let server: LocalModelServer;
    let harness: EngineHarness;
    let directory: string;

    beforeEach(async () => {
        server = new LocalModelServer();
        await server.start();
        harness = await createEngineHarness();
        directory = path.join(harness.location.directory, "models");
    });

    afterEach(async () => {
        await harness.cleanup();
        await server.close();
    });

    it("brings back the consent error with its size, then downloads with progress", async () => {
        const bytes = writeGgufTestFile(llamaTestModel({seed: 9}));
        server.addModel("kvtest", "engine", "engine.gguf", bytes);
        const client = harness.newClient();
        const uri = "hf:kvtest/engine/engine.gguf";
        await assert.rejects(client.downloadModel({uri, directory, consent: false, huggingFaceEndpoint: server.endpoint}), (error: unknown) => {
            assert.ok(error instanceof DownloadConsentRequiredError, String(error));
            assert.equal(error.sizeBytes, bytes.length);
            return true;
        });
        const progress: ModelDownloadProgress[] = [];
        const result = await client.downloadModel({uri, directory, consent: true, huggingFaceEndpoint: server.endpoint}, {onProgress: (update) => progress.push(update)});
        assert.equal(result.outcome, "downloaded");
        assert.equal(sha256(readFileSync(result.modelPath)), sha256(bytes));
        assert.equal(progress.at(-1)?.downloadedBytes, bytes.length);
    });
});

function readdirSafe(directory: string): string[] {
    try {
        return readdirSync(directory);
    } catch {
        return [];
    }
}

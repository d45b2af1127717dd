// Fetches an "hf:" model into a folder with node-llama-cpp's own downloader, only with the user's
// explicit consent, with progress, resuming an interrupted download, and checking the result
// before handing it out. The network is touched only when the model is not already complete on disk.
import {createHash} from "node:crypto";
import {createReadStream} from "node:fs";
import {access, mkdir, unlink} from "node:fs/promises";
import {raceWithAbort} from "../common/raceWithAbort";
import type {ModelDownloadOptions, ModelDownloadProgress, ModelDownloadResult} from "./engineApi";
import {DownloadConsentRequiredError, ModelDownloadError, ModelDownloadIntegrityError, ModelUriError, OperationCancelledError} from "./engineProcessErrors";
import {createModelFileDownload, findDownloadedModelFile, type ModelFileDownload} from "./llamaBinding";
import {ModelArchitectureUnsupportedError} from "./modelFileErrors";
import {validateModelFile} from "./validateModelFile";

export type ModelDownloadCallbacks = {
    onProgress?(progress: ModelDownloadProgress): void;
    signal?: AbortSignal;
};

/** node-llama-cpp's partial-download file: the target's name plus this suffix. */
const partialDownloadSuffix = ".ipull";

export function isHuggingFaceModelUri(uri: string): boolean {
    return /^hf:[^/\s:#]+\/[^/\s:#]+(:[^/\s]+|\/\S+\.gguf(#\S+)?)?$/i.test(uri);
}

/**
 * Without `consent: true` nothing is downloaded: a model already complete in the folder is returned,
 * otherwise DownloadConsentRequiredError carries the size (one metadata request finds it out).
 */
export async function downloadModel(options: ModelDownloadOptions, callbacks: ModelDownloadCallbacks = {}): Promise<ModelDownloadResult> {
    if (!isHuggingFaceModelUri(options.uri))
        throw new ModelUriError(`"${options.uri}" is not a model URI this extension downloads; use hf:<user>/<repo>:<quant> or hf:<user>/<repo>/<file>.gguf, or a local path`);
    throwIfAborted(callbacks.signal, options.uri);
    await mkdir(options.directory, {recursive: true});

    const existing = await findDownloadedModelFile(options);
    if (existing !== undefined) {
        const metadata = await validateModelFile(existing);
        return {modelPath: existing, outcome: "present", sizeBytes: metadata.fileBytes, metadata};
    }

    let download: ModelFileDownload;
    try {
        download = await createModelFileDownload({
            uri: options.uri,
            directory: options.directory,
            ...(options.huggingFaceEndpoint === undefined ? {} : {huggingFaceEndpoint: options.huggingFaceEndpoint}),
            onProgress: (status) => {
                const progress: ModelDownloadProgress = {downloadedBytes: status.downloadedSize, totalBytes: status.totalSize};
                if (Number.isFinite(status.averageSpeed) && status.averageSpeed > 0)
                    progress.bytesPerSecond = status.averageSpeed;
                if (Number.isFinite(status.estimatedTimeLeft))
                    progress.etaSeconds = status.estimatedTimeLeft / 1000;
                callbacks.onProgress?.(progress);
            }
        });
    } catch (error) {
        throw new ModelDownloadError(`Could not look up ${options.uri}: ${(error as Error).message}`, options.uri, {cause: error});
    }

    try {
        if (!options.consent)
            throw new DownloadConsentRequiredError(options.uri, download.totalSizeBytes > 0 ? download.totalSizeBytes : undefined, options.directory);
        const resumed = await exists(download.entrypointFilePath + partialDownloadSuffix);
        let modelPath: string;
        try {
            // The downloader cannot abort a request still waiting for response headers (a stalled
            // server), so the caller is answered on abort at once; the download settles on its own.
            const signal = callbacks.signal;
            modelPath = await raceWithAbort(download.download(signal), signal, () => (signal?.reason instanceof Error ? signal.reason : new Error("aborted")));
        } catch (error) {
            if (callbacks.signal?.aborted === true)
                throw new OperationCancelledError(`the download of ${options.uri} (running it again resumes it)`, {cause: error});
            throw new ModelDownloadError(`Downloading ${options.uri} failed: ${(error as Error).message}; running it again resumes it`, options.uri, {cause: error});
        }
        const metadata = await checkDownloadedModel(modelPath, options);
        return {modelPath, outcome: resumed ? "resumed" : "downloaded", sizeBytes: metadata.fileBytes, metadata};
    } finally {
        await download.close().catch(() => undefined);
    }
}

/** A download that is not a whole, valid model (or not the expected bytes) is deleted, not handed out. */
async function checkDownloadedModel(modelPath: string, options: ModelDownloadOptions): Promise<ModelDownloadResult["metadata"]> {
    let metadata: ModelDownloadResult["metadata"];
    try {
        metadata = await validateModelFile(modelPath);
    } catch (error) {
        // A whole file of an architecture we do not support is kept: it downloaded fine.
        if (error instanceof ModelArchitectureUnsupportedError)
            throw error;
        await unlink(modelPath).catch(() => undefined);
        throw new ModelDownloadIntegrityError(`The download of ${options.uri} is not a valid model and was deleted: ${(error as Error).message}`, options.uri, modelPath, {cause: error});
    }
    if (options.expectedSha256 !== undefined) {
        const actual = await sha256OfFile(modelPath);
        if (actual !== options.expectedSha256.toLowerCase()) {
            await unlink(modelPath).catch(() => undefined);
            throw new ModelDownloadIntegrityError(`The download of ${options.uri} has SHA-256 ${actual}, expected ${options.expectedSha256}; it was deleted`, options.uri, modelPath);
        }
    }
    return metadata;
}

function sha256OfFile(file: string): Promise<string> {
    return new Promise((resolve, reject) => {
        const hash = createHash("sha256");
        createReadStream(file)
            .on("data", (chunk) => hash.update(chunk))
            .on("error", reject)
            .on("end", () => resolve(hash.digest("hex")));
    });
}


function throwIfAborted(signal: AbortSignal | undefined, uri: string): void {
    if (signal?.aborted === true)
        throw new OperationCancelledError(`the download of ${uri}`);
}

async function exists(file: string): Promise<boolean> {
    try {
        await access(file);
        return true;
    } catch {
        return false;
    }
}

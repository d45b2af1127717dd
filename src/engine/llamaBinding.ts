// The only module that imports node-llama-cpp. It is ESM-only, so it is loaded with a dynamic
// import() that esbuild and tsc leave alone, and only when something needs it.
import type * as NodeLlamaCpp from "node-llama-cpp";

export type NodeLlamaCppModule = typeof NodeLlamaCpp;

let modulePromise: Promise<NodeLlamaCppModule> | undefined;

export function loadNodeLlamaCpp(): Promise<NodeLlamaCppModule> {
    modulePromise ??= import("node-llama-cpp");
    return modulePromise;
}

// ---- Model download ----
// A thin wrapper over node-llama-cpp's downloader (ipull underneath: parallel ranges, a ".ipull"
// progress file next to the target that a later run resumes from). The policy (consent, checks)
// lives in modelDownloader.ts.

export type ModelFileDownload = {
    /** Where the finished model will be (the first part of a split model). */
    entrypointFilePath: string;
    totalSizeBytes: number;
    totalFiles: number;
    /** Downloads what is missing; on abort the partial file stays for a resume. */
    download(signal?: AbortSignal): Promise<string>;
    /** Releases the connections without deleting the partial file. */
    close(): Promise<void>;
};

export type ModelFileDownloadOptions = {
    uri: string;
    directory: string;
    /** node-llama-cpp's `endpoints.huggingFace`; without it node-llama-cpp reads HF_ENDPOINT itself. */
    huggingFaceEndpoint?: string;
    onProgress?(status: {downloadedSize: number; totalSize: number; averageSpeed: number; estimatedTimeLeft: number}): void;
};

/** Resolves the URI and asks the server for the size; no model bytes are written until download(). */
export async function createModelFileDownload(options: ModelFileDownloadOptions): Promise<ModelFileDownload> {
    const binding = await loadNodeLlamaCpp();
    const downloader = await binding.createModelDownloader({
        modelUri: options.uri,
        dirPath: options.directory,
        showCliProgress: false,
        skipExisting: true,
        deleteTempFileOnCancel: false,
        parallelDownloads: 1,
        ...(options.huggingFaceEndpoint === undefined ? {} : {endpoints: {huggingFace: options.huggingFaceEndpoint}}),
        ...(options.onProgress === undefined ? {} : {onProgress: options.onProgress})
    });
    return {
        entrypointFilePath: downloader.entrypointFilePath,
        totalSizeBytes: downloader.totalSize,
        totalFiles: downloader.totalFiles,
        download: (signal) => downloader.download(signal === undefined ? {} : {signal}),
        close: () => downloader.cancel({deleteTempFile: false})
    };
}

/** The path of an already complete download of this URI in the folder, without any network access. */
export async function findDownloadedModelFile(options: {uri: string; directory: string; huggingFaceEndpoint?: string}): Promise<string | undefined> {
    const binding = await loadNodeLlamaCpp();
    try {
        return await binding.resolveModelFile(options.uri, {
            directory: options.directory,
            download: false,
            cli: false,
            ...(options.huggingFaceEndpoint === undefined ? {} : {endpoints: {huggingFace: options.huggingFaceEndpoint}})
        });
    } catch {
        // resolveModelFile throws a plain Error when nothing is there (download: false).
        return undefined;
    }
}

export type BackendReport = {
    /** "localBuild" for a build made from source here, "prebuilt" for node-llama-cpp's stock binary. */
    buildType: string;
    /** The GPU backend in use, or false for CPU only. */
    gpu: string | false;
    llamaCppRelease: string;
    nodeLlamaCppVersion: string;
};

/** Loads whichever llama.cpp build is available without building one, and describes it. */
export async function detectBackend(): Promise<BackendReport> {
    const binding = await loadNodeLlamaCpp();
    const llama = await binding.getLlama({gpu: false, build: "never"});
    try {
        return {
            buildType: llama.buildType,
            gpu: llama.gpu,
            llamaCppRelease: llama.llamaCppRelease.release,
            nodeLlamaCppVersion: await readNodeLlamaCppVersion()
        };
    } finally {
        await llama.dispose();
    }
}

async function readNodeLlamaCppVersion(): Promise<string> {
    // The package's "exports" hide package.json, so find it from the entry point's folder.
    const {readFile} = await import("node:fs/promises");
    const path = await import("node:path");
    const {createRequire} = await import("node:module");
    let folder = path.dirname(createRequire(__filename).resolve("node-llama-cpp"));
    while (path.basename(folder) !== "node-llama-cpp" && path.dirname(folder) !== folder)
        folder = path.dirname(folder);
    const packageJson = JSON.parse(await readFile(path.join(folder, "package.json"), "utf8")) as {version: string};
    return packageJson.version;
}

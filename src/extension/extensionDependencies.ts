// What the extension needs from the other parts of the product, injected at activation so that
// the editor side is built and tested against interfaces only (src/extension.ts wires them).
import type {EngineClientApi} from "../engine/engineApi";
import type {EngineGpuSetting} from "../config/kvDistillSettings";
import type {LogSink} from "./WorkspaceCacheService";

export type ModelDownloadProgress = {
    downloadedBytes: number;
    /** Undefined while the size is not known yet. */
    totalBytes: number | undefined;
};

/**
 * Downloads an "hf:" model URI into the extension's global storage and resolves to the local
 * GGUF path. When the model is already there it resolves at once, whatever `consent` says;
 * otherwise it downloads only with `consent: true` and rejects without it.
 */
export type DownloadModel = (
    uri: string,
    options: {consent: boolean; onProgress?(progress: ModelDownloadProgress): void; signal?: AbortSignal}
) => Promise<string>;

export type EngineClientContext = {
    /** The extension's install folder (dist/engine.js lives below it). */
    extensionPath: string;
    /** The extension's global storage folder (downloaded models, the engine's socket). */
    globalStoragePath: string;
    log: LogSink;
    /**
     * The engine settings in force now (read on every call: they change at run time). The
     * extension itself unloads the model after the idle time through EngineClientApi.unloadModel;
     * the cache size cap reaches the engine's cache store with each request (DistillOptions.cacheSizeCapBytes);
     * `gpu` is passed when the engine process starts.
     */
    engineSettings(): {idleUnloadMinutes: number; cacheMaxBytes: number; gpu?: EngineGpuSetting};
};

export type KvDistillDependencies = {
    /** Creates the engine client on first use; absent in builds without the engine. */
    createEngineClient?: (context: EngineClientContext) => EngineClientApi;
    /** Absent in builds without the downloader: Select Model then offers local files only. */
    downloadModel?: DownloadModel;
};

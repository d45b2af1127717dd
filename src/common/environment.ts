// The one module that reads environment variables, so every knob is listed in one place.
export type KvDistillEnvironment = {
    /** A file the extension mirrors its log to (used by end-to-end tests). */
    logFile: string | undefined;
    /** Overrides where the command line keeps caches. */
    cacheDir: string | undefined;
    /** XDG cache home, for the default cache location. */
    xdgCacheHome: string | undefined;
    home: string | undefined;
    /** Overrides the folder holding the engine's socket and log (KV_DISTILL_ENGINE_DIR). */
    engineDir: string | undefined;
    /** The per-user runtime folder (XDG_RUNTIME_DIR), preferred for the engine's socket. */
    xdgRuntimeDir: string | undefined;
    /** Overrides which node_modules/node-llama-cpp `kv-distill build-backend` builds into (KV_DISTILL_NODE_LLAMA_CPP_DIR; tests). */
    nodeLlamaCppDir: string | undefined;
};

export function readEnvironment(env: NodeJS.ProcessEnv = process.env): KvDistillEnvironment {
    return {
        logFile: nonEmpty(env.KV_DISTILL_LOG_FILE),
        cacheDir: nonEmpty(env.KV_DISTILL_CACHE_DIR),
        xdgCacheHome: nonEmpty(env.XDG_CACHE_HOME),
        home: nonEmpty(env.HOME),
        engineDir: nonEmpty(env.KV_DISTILL_ENGINE_DIR),
        xdgRuntimeDir: nonEmpty(env.XDG_RUNTIME_DIR),
        nodeLlamaCppDir: nonEmpty(env.KV_DISTILL_NODE_LLAMA_CPP_DIR)
    };
}

function nonEmpty(value: string | undefined): string | undefined {
    return value === undefined || value === "" ? undefined : value;
}

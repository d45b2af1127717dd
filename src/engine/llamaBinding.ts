// The only module that imports node-llama-cpp. It is ESM-only, so it is loaded with a dynamic
// import() that esbuild and tsc leave alone, and only when something needs it.
import type * as NodeLlamaCpp from "node-llama-cpp";

export type NodeLlamaCppModule = typeof NodeLlamaCpp;

let modulePromise: Promise<NodeLlamaCppModule> | undefined;

export function loadNodeLlamaCpp(): Promise<NodeLlamaCppModule> {
    modulePromise ??= import("node-llama-cpp");
    return modulePromise;
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

// A patched build's identity: the patch series, the GPU type, node-llama-cpp's custom CMake options
// (NODE_LLAMA_CPP_CMAKE_OPTION_*), platform and architecture. The same formula as hashBuild in
// scripts/nativePatches.mjs (a unit test holds them together), so a build made by the editor's
// command and one made by `npm run build:native` agree on whether they are current.
import {createHash} from "node:crypto";

export function hashPatchedBuild(seriesHash: string, gpu: string, env: NodeJS.ProcessEnv): string {
    const cmakeOptions = Object.entries(env)
        .filter(([name]) => name.startsWith("NODE_LLAMA_CPP_CMAKE_OPTION_"))
        .sort(([a], [b]) => a.localeCompare(b));
    return createHash("sha256").update(JSON.stringify({seriesHash, gpu, cmakeOptions, platform: process.platform, arch: process.arch})).digest("hex");
}

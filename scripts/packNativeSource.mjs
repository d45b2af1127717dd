// node scripts/packNativeSource.mjs [output] [--source DIR]
// Packs the PATCHED llama.cpp source tree (node_modules/node-llama-cpp/llama/llama.cpp, as left by
// `npm run build:native`) into a brotli-compressed tar for the VSIX, so "KV-Distill: Build GPU Backend"
// (src/native/GpuBackendBuilder.ts) can build a CUDA or Vulkan backend on the user's machine without git or
// a download. Only what node-llama-cpp's build compiles goes in (no .git, docs, models, tests, tools).
// Refuses a tree that does not hold the current patch series.
import {Buffer} from "node:buffer";
import {constants, createWriteStream, existsSync} from "node:fs";
import {lstat, mkdir, readdir, readFile, rename, rm} from "node:fs/promises";
import path from "node:path";
import {pipeline} from "node:stream/promises";
import {Readable} from "node:stream";
import zlib from "node:zlib";
import {fileURLToPath} from "node:url";
import {NativeBuildError, hashPatchSeries, isSeriesApplied, llamaCppDirectory, readManifest, readUpstream, repositoryRoot} from "./nativePatches.mjs";

// The top-level entries of llama.cpp that node-llama-cpp's build reads (LLAMA_BUILD_TESTS/TOOLS/EXAMPLES are off).
export const sourceArchiveEntries = ["CMakeLists.txt", "LICENSE", "cmake", "common", "ggml", "include", "src", "vendor", "licenses"];
export const defaultSourceArchivePath = path.join(repositoryRoot, "dist", "native", "llama.cpp.tar.br");
// Written into the archive's root: which series the sources hold (GpuBackendBuilder copies it into its stamp).
const markerName = ".kv-distill-patches.json";

async function listFiles(root, relative, files) {
    const absolute = path.join(root, relative);
    const stat = await lstat(absolute);
    if (stat.isSymbolicLink())
        throw new NativeBuildError(`${absolute} is a symbolic link; the source archive only holds files`);
    if (stat.isDirectory()) {
        for (const name of (await readdir(absolute)).sort())
            await listFiles(root, path.posix.join(relative, name), files);
    } else if (stat.isFile())
        files.push({name: relative, mode: stat.mode & 0o777, size: stat.size});
}

function octal(value, width) {
    return value.toString(8).padStart(width - 1, "0") + "\0";
}

// One ustar header; names over 100 bytes are split into prefix (155) + name (100) at a slash.
function tarHeader({name, mode, size}) {
    let prefix = "";
    let shortName = name;
    if (Buffer.byteLength(name) > 100) {
        const slash = name.lastIndexOf("/", name.length - 1);
        prefix = name.slice(0, slash);
        shortName = name.slice(slash + 1);
        if (slash < 0 || Buffer.byteLength(prefix) > 155 || Buffer.byteLength(shortName) > 100)
            throw new NativeBuildError(`${name} is too long for a ustar archive`);
    }
    const header = Buffer.alloc(512);
    header.write(shortName, 0, 100);
    header.write(octal(mode, 8), 100);
    header.write(octal(0, 8), 108);
    header.write(octal(0, 8), 116);
    header.write(octal(size, 12), 124);
    header.write(octal(0, 12), 136);
    header.write("        ", 148);
    header.write("0", 156);
    header.write("ustar\0", 257);
    header.write("00", 263);
    header.write(prefix, 345, 155);
    let checksum = 0;
    for (const byte of header)
        checksum += byte;
    header.write(checksum.toString(8).padStart(6, "0") + "\0 ", 148);
    return header;
}

async function* tarStream(root, files) {
    for (const file of files) {
        yield tarHeader(file);
        const content = file.content ?? await readFile(path.join(root, file.name));
        if (content.length !== file.size)
            throw new NativeBuildError(`${file.name} changed while it was being packed`);
        yield content;
        if (content.length % 512 !== 0)
            yield Buffer.alloc(512 - content.length % 512);
    }
    yield Buffer.alloc(1024);
}

export async function packNativeSource({source = llamaCppDirectory, output = defaultSourceArchivePath, log = console.log} = {}) {
    const upstream = await readUpstream();
    const manifest = await readManifest();
    if (source === llamaCppDirectory && !(existsSync(path.join(source, ".git")) && await isSeriesApplied(manifest)))
        throw new NativeBuildError(`${source} does not hold the current patch series: run \`npm run build:native\` first`);
    const files = [];
    for (const entry of sourceArchiveEntries)
        await listFiles(source, entry, files);
    const marker = Buffer.from(JSON.stringify({
        seriesHash: await hashPatchSeries(upstream, manifest),
        patches: manifest.patches.map((patch) => patch.file),
        nodeLlamaCpp: upstream.nodeLlamaCpp,
        llamaCppRelease: upstream.llamaCppRelease
    }, null, 4) + "\n");
    files.push({name: markerName, mode: 0o644, size: marker.length, content: marker});

    await mkdir(path.dirname(output), {recursive: true});
    const partial = `${output}.partial`;
    try {
        await pipeline(Readable.from(tarStream(source, files)), zlib.createBrotliCompress({
            params: {[zlib.constants.BROTLI_PARAM_QUALITY]: 9, [zlib.constants.BROTLI_PARAM_LGWIN]: 24}
        }), createWriteStream(partial, {mode: constants.S_IRUSR | constants.S_IWUSR | constants.S_IRGRP | constants.S_IROTH}));
        await rename(partial, output);
    } finally {
        await rm(partial, {force: true});
    }
    const bytes = files.reduce((sum, file) => sum + file.size, 0);
    log(`[pack:native-source] ${files.length} files, ${(bytes / 1048576).toFixed(1)} MiB -> ${path.relative(repositoryRoot, output)} ` +
        `(${((await lstat(output)).size / 1048576).toFixed(1)} MiB)`);
    return output;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
    const args = process.argv.slice(2);
    const sourceIndex = args.indexOf("--source");
    const source = sourceIndex >= 0 ? path.resolve(args.splice(sourceIndex, 2)[1]) : undefined;
    packNativeSource({source, output: args[0] === undefined ? undefined : path.resolve(args[0])}).catch((error) => {
        console.error(`[pack:native-source] ${error instanceof NativeBuildError ? error.message : error?.stack ?? error}`);
        process.exitCode = 1;
    });
}

// Decides from a file's first bytes whether it is text we can put into a prompt. Content decides,
// not the extension: a ".txt" full of NUL bytes is binary, a ".dat" holding CSV is text.
import {isUtf8} from "node:buffer";

/** How many leading bytes the detector looks at (the reader reads only this much of a binary file). */
export const binarySniffBytes = 8192;

/**
 * Returns why `prefix` looks binary, or undefined when it looks like UTF-8 text.
 * `isWholeFile` tells whether the prefix is the whole file: when it is not, a multi-byte UTF-8
 * sequence cut by the end of the prefix is not held against the file. `prefixIsAscii`: the caller
 * has already found every byte of the prefix below 0x80 (the reader checks that first, for the
 * decoding), which makes it valid UTF-8 without a second pass.
 */
export function detectBinaryContent(prefix: Uint8Array, isWholeFile: boolean, prefixIsAscii = false): string | undefined {
    if (prefix.indexOf(0) !== -1)
        return "contains NUL bytes";
    if (prefixIsAscii)
        return undefined;
    const checked = isWholeFile ? prefix : prefix.subarray(0, prefix.length - incompleteTrailingSequenceLength(prefix));
    if (!isUtf8(checked))
        return "not valid UTF-8";
    return undefined;
}

/** Length (0-3) of an unfinished UTF-8 sequence at the end of `bytes`. */
function incompleteTrailingSequenceLength(bytes: Uint8Array): number {
    // Walk back over at most 3 continuation bytes to the lead byte and see if its sequence is complete.
    for (let back = 1; back <= Math.min(4, bytes.length); back++) {
        const byte = bytes[bytes.length - back]!;
        if ((byte & 0xc0) === 0x80)
            continue; // continuation byte
        const expected = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
        return expected > back ? back : 0;
    }
    return 0;
}

// Extensions that are always binary: such files are reported without being opened, which matters
// in dependency-heavy trees full of images, archives and native modules. Anything else is judged
// by content.
const knownBinaryExtensions: ReadonlySet<string> = new Set([
    "png", "jpg", "jpeg", "gif", "bmp", "ico", "icns", "webp", "avif", "tif", "tiff", "psd", "heic",
    "zip", "gz", "tgz", "bz2", "xz", "zst", "7z", "rar", "tar", "jar", "war", "whl", "nupkg", "vsix", "crx",
    "exe", "dll", "so", "dylib", "node", "o", "obj", "a", "lib", "pdb", "wasm", "class", "pyc", "pyo", "bin",
    "gguf", "safetensors", "pt", "pth", "onnx", "npy", "npz", "h5", "pkl", "parquet", "sqlite", "db",
    "pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "odt", "ods", "woff", "woff2", "ttf", "otf", "eot",
    "mp3", "mp4", "m4a", "wav", "flac", "ogg", "webm", "mov", "avi", "mkv"
]);

/** The file's extension when it is one that is always binary, else undefined. */
export function findKnownBinaryExtension(fileName: string): string | undefined {
    const dot = fileName.lastIndexOf(".");
    if (dot <= 0)
        return undefined;
    const extension = fileName.slice(dot + 1).toLowerCase();
    return knownBinaryExtensions.has(extension) ? extension : undefined;
}

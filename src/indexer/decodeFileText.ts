// Decodes a text file's bytes (already checked to be UTF-8) into a string. Most source files are
// pure ASCII, where Latin-1 decoding gives the same string as UTF-8 decoding but is a plain copy:
// a vectorised ASCII check plus that copy is several times faster than the UTF-8 decoder, which on
// a tree of a hundred megabytes was the indexer's largest single cost after the system calls.
//
// A large file with a few non-ASCII characters (a bundle, a generated table) is decoded in blocks:
// its ASCII blocks as Latin-1 copies into one-byte strings, only the others through the UTF-8
// decoder, joined into one string (a rope; whoever flattens it copies each block once). On the
// benchmark tree this halves the decoding of such files and the memory their two-byte strings took.
import * as bufferModule from "node:buffer";

// buffer.isAscii exists from Node 18.15/19.6 on; without it every file takes the UTF-8 decoder.
const nativeIsAscii = (bufferModule as {isAscii?: (input: Uint8Array) => boolean}).isAscii;

/** Whether every byte is below 0x80 (a vectorised check); false where Node lacks buffer.isAscii, which only costs the faster decoding. */
export const isAsciiBytes: (bytes: Uint8Array) => boolean = nativeIsAscii ?? (() => false);

/** Files with non-ASCII bytes larger than this are decoded in blocks of about this size. */
export const decodeBlockBytes = 16 * 1024;

/** `knownAscii`: the reader's answer (IndexableFileRead's isAscii), which spares a second scan; without it the bytes are checked here. */
export function decodeFileText(bytes: Buffer, knownAscii?: boolean): string {
    if (knownAscii ?? isAsciiBytes(bytes))
        return bytes.toString("latin1");
    if (nativeIsAscii === undefined || bytes.length <= decodeBlockBytes)
        return bytes.toString("utf8");
    return decodeInBlocks(bytes, nativeIsAscii);
}

/**
 * The UTF-8 decoding of `bytes` in blocks: each run of ASCII blocks as Latin-1, each run of other
 * blocks through the UTF-8 decoder, joined. This gives exactly the string decoding the whole gives,
 * invalid sequences included: two runs meet only next to an ASCII block, and an ASCII byte is
 * always decoded as itself, with the decoder between characters after it; before it, a character
 * cut short by the end of the previous run becomes one U+FFFD in both decodings (the UTF-8
 * decoder's "maximal subpart" rule, which Node's decoders follow).
 */
function decodeInBlocks(bytes: Buffer, isAsciiBytes: (input: Uint8Array) => boolean): string {
    const end = bytes.length;
    let text = "";
    let runStart = 0;
    let runIsAscii = true;
    for (let from = 0; from < end; from += decodeBlockBytes) {
        const blockIsAscii = isAsciiBytes(bytes.subarray(from, Math.min(end, from + decodeBlockBytes)));
        if (from > runStart && blockIsAscii !== runIsAscii) {
            text += bytes.toString(runIsAscii ? "latin1" : "utf8", runStart, from);
            runStart = from;
        }
        runIsAscii = blockIsAscii;
    }
    return text + bytes.toString(runIsAscii ? "latin1" : "utf8", runStart, end);
}

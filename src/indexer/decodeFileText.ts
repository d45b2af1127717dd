// Decodes a text file's bytes (already checked to be UTF-8) into a string. Most source files are
// pure ASCII, where Latin-1 decoding gives the same string as UTF-8 decoding but is a plain copy:
// a vectorised ASCII check plus that copy is several times faster than the UTF-8 decoder, which on
// a tree of a hundred megabytes was the indexer's largest single cost after the system calls.
import * as bufferModule from "node:buffer";

// buffer.isAscii exists from Node 18.15/19.6 on; without it every file takes the UTF-8 decoder.
const isAscii = (bufferModule as {isAscii?: (input: Uint8Array) => boolean}).isAscii;

/** `knownAscii`: the reader's answer (IndexableFileRead's isAscii), which spares a second scan; without it the bytes are checked here. */
export function decodeFileText(bytes: Buffer, knownAscii?: boolean): string {
    return (knownAscii ?? (isAscii !== undefined && isAscii(bytes))) ? bytes.toString("latin1") : bytes.toString("utf8");
}

// Reads one file for the prompt, or says why it cannot be in it: over the size cap (nothing is
// read), binary (only the first 8 KiB are read), unreadable (the error), a symlink loop.
import type {SkipReason} from "./indexTypes";
import type {IndexerFileSystem} from "./indexerFileSystem";
import {binarySniffBytes, detectBinaryContent} from "./detectBinaryContent";

export type IndexableFileRead =
    | {kind: "text"; bytes: Buffer}
    | {kind: "skip"; reason: SkipReason; detail: string};

export async function readIndexableFile(fileSystem: IndexerFileSystem, absolutePath: string, maxFileBytes: number): Promise<IndexableFileRead> {
    let file;
    try {
        file = await fileSystem.openFile(absolutePath);
    } catch (error) {
        return unreadable(error);
    }
    try {
        if (file.sizeBytes > maxFileBytes)
            return {kind: "skip", reason: "too-large", detail: `${file.sizeBytes} bytes, over the ${maxFileBytes}-byte cap`};
        // One extra byte tells whether the file grew since it was opened.
        const buffer = Buffer.allocUnsafe(file.sizeBytes + 1);
        const sniffLength = Math.min(binarySniffBytes, file.sizeBytes);
        let filled = await readInto(file, buffer, 0, sniffLength);
        const binary = detectBinaryContent(buffer.subarray(0, filled), filled === file.sizeBytes);
        if (binary !== undefined)
            return {kind: "skip", reason: "binary", detail: binary};
        filled = await readInto(file, buffer, filled, buffer.length);
        if (filled > maxFileBytes)
            return {kind: "skip", reason: "too-large", detail: `grew past the ${maxFileBytes}-byte cap while being read`};
        // A file that grew while being read is taken as it was when opened; the next index sees the rest.
        return {kind: "text", bytes: buffer.subarray(0, Math.min(filled, file.sizeBytes))};
    } catch (error) {
        return unreadable(error);
    } finally {
        await file.close();
    }
}

async function readInto(file: {read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number>}, buffer: Buffer, from: number, to: number): Promise<number> {
    let filled = from;
    while (filled < to) {
        const read = await file.read(buffer, filled, to - filled, filled);
        if (read === 0)
            break;
        filled += read;
    }
    return filled;
}

function unreadable(error: unknown): IndexableFileRead {
    const code = typeof error === "object" && error !== null && "code" in error ? String(error.code) : undefined;
    const message = error instanceof Error ? error.message : String(error);
    if (code === "ELOOP")
        return {kind: "skip", reason: "symlink-loop", detail: message};
    return {kind: "skip", reason: "unreadable", detail: code === "ENOENT" ? `vanished before it could be read (${message})` : message};
}

// Reads one file for the prompt, or says why it cannot be in it: over the size cap (nothing is
// read), binary (only the first 8 KiB are read), unreadable (the error), a symlink loop.
// Named imports: a namespace import reads each function through a getter, measurable once per call on tens of thousands of files.
import {closeSync, constants, fstatSync, openSync, readSync} from "node:fs";
import type {SkipReason} from "./indexTypes";
import type {IndexerFileSystem} from "./indexerFileSystem";
import {binarySniffBytes, detectBinaryContent} from "./detectBinaryContent";
import {isAsciiBytes} from "./decodeFileText";

const wholeReadBytes = 64 * 1024;

export type IndexableFileRead =
    /**
     * `bytes` lives in a pooled buffer: call release() once done with it. `isAscii`: every byte is
     * below 0x80, so Latin-1 decoding gives the same string as UTF-8 decoding (decodeFileText).
     */
    | {kind: "text"; bytes: Buffer; isAscii: boolean; release(): void}
    | {kind: "skip"; reason: SkipReason; detail: string};

/**
 * Reuses read buffers: up to 32 of 64 KiB for files up to that size (most source files), and one
 * larger buffer that grows to the largest file read so far (up to 16 MiB). This spares the garbage
 * collector tens of thousands of short-lived allocations on a large tree, and the external-memory
 * pressure of a fresh buffer for every large file.
 */
export type ReadBufferPool = {take(sizeBytes: number): Buffer; give(buffer: Buffer): void};

/**
 * Whether `buffer[0, filled)` (a text file, `sniffed` bytes of it sniffed) is all ASCII, given the
 * answer for the sniffed prefix: only the rest is scanned.
 */
function isAsciiAfterSniff(buffer: Buffer, sniffed: number, filled: number, sniffIsAscii: boolean): boolean {
    return sniffIsAscii && (filled === sniffed || isAsciiBytes(buffer.subarray(sniffed, filled)));
}

const pooledBufferBytes = 64 * 1024;
const maxPooledBuffers = 32;
const maxKeptLargeBufferBytes = 16 * 1024 * 1024;

export function createReadBufferPool(): ReadBufferPool {
    const free: Buffer[] = [];
    let large: Buffer | undefined;
    return {
        take: (sizeBytes) => {
            if (sizeBytes <= pooledBufferBytes)
                return free.pop() ?? Buffer.allocUnsafe(pooledBufferBytes);
            if (large !== undefined && large.length >= sizeBytes) {
                const taken = large;
                large = undefined;
                return taken;
            }
            // Round up so that a run of growing files does not allocate at every step.
            return Buffer.allocUnsafe(sizeBytes <= maxKeptLargeBufferBytes ? Math.min(maxKeptLargeBufferBytes, 2 ** Math.ceil(Math.log2(sizeBytes))) : sizeBytes);
        },
        give: (buffer) => {
            if (buffer.length === pooledBufferBytes) {
                if (free.length < maxPooledBuffers)
                    free.push(buffer);
            } else if (buffer.length > pooledBufferBytes && buffer.length <= maxKeptLargeBufferBytes && (large === undefined || buffer.length > large.length))
                large = buffer;
        }
    };
}

export async function readIndexableFile(fileSystem: IndexerFileSystem, absolutePath: string, maxFileBytes: number, buffers: ReadBufferPool = createReadBufferPool()): Promise<IndexableFileRead> {
    let file;
    try {
        file = await fileSystem.openFile(absolutePath);
    } catch (error) {
        return unreadable(error);
    }
    try {
        if (file.sizeBytes > maxFileBytes)
            return {kind: "skip", reason: "too-large", detail: `${file.sizeBytes} bytes, over the ${maxFileBytes}-byte cap`};
        const buffer = buffers.take(file.sizeBytes);
        // Small files (most source files) are read in one call; only a larger file is sniffed
        // first, so that a large binary costs 8 KiB of reading, not its size.
        let filled: number;
        let sniffIsAscii: boolean;
        let isAscii: boolean;
        try {
            filled = await readInto(file, buffer, 0, file.sizeBytes <= wholeReadBytes ? file.sizeBytes : binarySniffBytes);
            const sniffedBytes = Math.min(filled, binarySniffBytes);
            const sniffed = buffer.subarray(0, sniffedBytes);
            sniffIsAscii = isAsciiBytes(sniffed);
            const binary = detectBinaryContent(sniffed, sniffedBytes === file.sizeBytes, sniffIsAscii);
            if (binary !== undefined) {
                buffers.give(buffer);
                return {kind: "skip", reason: "binary", detail: binary};
            }
            filled = await readInto(file, buffer, filled, file.sizeBytes);
            isAscii = isAsciiAfterSniff(buffer, sniffedBytes, filled, sniffIsAscii);
        } catch (error) {
            buffers.give(buffer);
            throw error;
        }
        // The file is taken as it was when opened: one that grows meanwhile is read up to its size
        // then, one that shrinks up to its new end. The next index sees any later change.
        return {kind: "text", bytes: buffer.subarray(0, filled), isAscii, release: () => buffers.give(buffer)};
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

const openFlags = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

/**
 * readIndexableFile for the real file system, in synchronous calls: the same steps and answers,
 * without the promise per call, which on a tree of tens of thousands of small files costs more
 * than the system calls themselves. `knownSizeBytes` is the size from a stat the caller has just
 * taken (the indexer's modification-time stat): it spares an fstat per file, and the file is then
 * taken as it was at that stat (read up to that size, or up to its end if it has shrunk since).
 */
export function readIndexableFileSync(absolutePath: string, maxFileBytes: number, buffers: ReadBufferPool = createReadBufferPool(), knownSizeBytes?: number): IndexableFileRead {
    let fd;
    try {
        fd = openSync(absolutePath, openFlags);
    } catch (error) {
        return unreadable(error);
    }
    try {
        const sizeBytes = knownSizeBytes ?? fstatSync(fd).size;
        if (sizeBytes > maxFileBytes)
            return {kind: "skip", reason: "too-large", detail: `${sizeBytes} bytes, over the ${maxFileBytes}-byte cap`};
        const buffer = buffers.take(sizeBytes);
        let bytes: Buffer;
        let isAscii: boolean;
        try {
            let filled = readIntoSync(fd, buffer, 0, sizeBytes <= wholeReadBytes ? sizeBytes : binarySniffBytes);
            const sniffedBytes = Math.min(filled, binarySniffBytes);
            const sniffed = buffer.subarray(0, sniffedBytes);
            const sniffIsAscii = isAsciiBytes(sniffed);
            const binary = detectBinaryContent(sniffed, sniffedBytes === sizeBytes, sniffIsAscii);
            if (binary !== undefined) {
                buffers.give(buffer);
                return {kind: "skip", reason: "binary", detail: binary};
            }
            filled = readIntoSync(fd, buffer, filled, sizeBytes);
            isAscii = isAsciiAfterSniff(buffer, sniffedBytes, filled, sniffIsAscii);
            // Most files fit in the sniffed prefix: its view is the file's (one view object less per file).
            bytes = filled === sniffedBytes ? sniffed : buffer.subarray(0, filled);
        } catch (error) {
            buffers.give(buffer);
            throw error;
        }
        return {kind: "text", bytes, isAscii, release: () => buffers.give(buffer)};
    } catch (error) {
        return unreadable(error);
    } finally {
        try {
            closeSync(fd);
        } catch {
            // A failing close of a read-only descriptor loses nothing; it must not fail the index.
        }
    }
}

function readIntoSync(fd: number, buffer: Buffer, from: number, to: number): number {
    let filled = from;
    while (filled < to) {
        const read = readSync(fd, buffer, filled, to - filled, filled);
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

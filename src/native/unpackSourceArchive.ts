// Unpacks the brotli-compressed tar of the patched llama.cpp sources that the VSIX ships
// (written by scripts/packNativeSource.mjs). Plain files and folders only; a damaged or hostile
// archive is refused with a clear error before anything outside the target folder is touched.
import {chmod, mkdir, readFile, writeFile} from "node:fs/promises";
import * as path from "node:path";
import {promisify} from "node:util";
import * as zlib from "node:zlib";
import {KvDistillError} from "../common/errors";

export class SourceArchiveError extends KvDistillError {}

const brotliDecompress = promisify(zlib.brotliDecompress);

/** Unpacks into `targetDirectory` (created; must not hold other files); resolves the count of files written. */
export async function unpackSourceArchive(archivePath: string, targetDirectory: string): Promise<number> {
    let tar: Buffer;
    try {
        tar = await brotliDecompress(await readFile(archivePath));
    } catch (error) {
        throw new SourceArchiveError(`The llama.cpp source archive ${archivePath} cannot be read (${error instanceof Error ? error.message : String(error)}); reinstall the extension`, {cause: error});
    }
    const root = path.resolve(targetDirectory);
    await mkdir(root, {recursive: true});
    let files = 0;
    let offset = 0;
    while (offset + 512 <= tar.length) {
        const header = tar.subarray(offset, offset + 512);
        if (header.every((byte) => byte === 0))
            return files;
        verifyChecksum(header, archivePath, offset);
        const name = readString(header, 0, 100);
        const prefix = readString(header, 345, 155);
        const fullName = prefix === "" ? name : `${prefix}/${name}`;
        const size = readOctal(header, 124, 12, archivePath);
        const mode = readOctal(header, 100, 8, archivePath);
        const type = String.fromCharCode(header[156]!);
        const contentStart = offset + 512;
        if (contentStart + size > tar.length)
            throw new SourceArchiveError(`The llama.cpp source archive ${archivePath} is truncated (${fullName}); reinstall the extension`);
        const destination = safeDestination(root, fullName, archivePath);
        if (type === "5")
            await mkdir(destination, {recursive: true});
        else if (type === "0" || type === "\0") {
            await mkdir(path.dirname(destination), {recursive: true});
            await writeFile(destination, tar.subarray(contentStart, contentStart + size));
            // Keep the executable bit (scripts the build runs); nothing else of the stored mode matters.
            await chmod(destination, (mode & 0o111) !== 0 ? 0o755 : 0o644);
            files++;
        } else
            throw new SourceArchiveError(`The llama.cpp source archive ${archivePath} holds ${fullName} of tar type "${type}"; only files and folders are expected`);
        offset = contentStart + Math.ceil(size / 512) * 512;
    }
    throw new SourceArchiveError(`The llama.cpp source archive ${archivePath} ends without the tar end marker; reinstall the extension`);
}

function safeDestination(root: string, name: string, archivePath: string): string {
    const destination = path.resolve(root, name);
    if (name === "" || path.isAbsolute(name) || name.split("/").includes("..") || !destination.startsWith(root + path.sep))
        throw new SourceArchiveError(`The llama.cpp source archive ${archivePath} holds the unsafe path "${name}"`);
    return destination;
}

function readString(header: Buffer, start: number, length: number): string {
    const field = header.subarray(start, start + length);
    const end = field.indexOf(0);
    return field.subarray(0, end < 0 ? length : end).toString("utf8");
}

function readOctal(header: Buffer, start: number, length: number, archivePath: string): number {
    const text = readString(header, start, length).trim();
    if (!/^[0-7]+$/.test(text))
        throw new SourceArchiveError(`The llama.cpp source archive ${archivePath} has a damaged header; reinstall the extension`);
    return parseInt(text, 8);
}

function verifyChecksum(header: Buffer, archivePath: string, offset: number): void {
    let sum = 0;
    for (let index = 0; index < 512; index++)
        sum += index >= 148 && index < 156 ? 32 : header[index]!;
    if (sum !== readOctal(header, 148, 8, archivePath))
        throw new SourceArchiveError(`The llama.cpp source archive ${archivePath} has a damaged header at byte ${offset}; reinstall the extension`);
}

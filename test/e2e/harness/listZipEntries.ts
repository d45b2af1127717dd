import {readFile} from "node:fs/promises";
import {E2eSetupError} from "./e2eErrors";

export type ZipEntry = {
    name: string;
    uncompressedSize: number;
    compressedSize: number;
    /** 0 stored, 8 deflated. */
    compressionMethod: number;
    /** Where the entry's local header starts. */
    localHeaderOffset: number;
};

/**
 * The entries of a zip file (a VSIX), read from its central directory. Zip64 archives are not
 * supported: a VSIX that needs it (over 4 GiB or 65535 entries) is a failure anyway.
 */
export async function listZipEntries(zipFile: string): Promise<ZipEntry[]> {
    const bytes = await readFile(zipFile);
    const endOfCentralDirectory = findEndOfCentralDirectory(bytes);
    if (endOfCentralDirectory < 0)
        throw new E2eSetupError(`${zipFile} is not a zip file (no end-of-central-directory record)`);
    const entryCount = bytes.readUInt16LE(endOfCentralDirectory + 10);
    let offset = bytes.readUInt32LE(endOfCentralDirectory + 16);
    if (entryCount === 0xffff || offset === 0xffffffff)
        throw new E2eSetupError(`${zipFile} is a zip64 archive, which is not supported`);
    const entries: ZipEntry[] = [];
    for (let index = 0; index < entryCount; index++) {
        if (bytes.readUInt32LE(offset) !== 0x02014b50)
            throw new E2eSetupError(`${zipFile}: bad central directory entry ${index} at offset ${offset}`);
        const nameLength = bytes.readUInt16LE(offset + 28);
        const extraLength = bytes.readUInt16LE(offset + 30);
        const commentLength = bytes.readUInt16LE(offset + 32);
        entries.push({
            name: bytes.toString("utf8", offset + 46, offset + 46 + nameLength),
            compressedSize: bytes.readUInt32LE(offset + 20),
            uncompressedSize: bytes.readUInt32LE(offset + 24),
            compressionMethod: bytes.readUInt16LE(offset + 10),
            localHeaderOffset: bytes.readUInt32LE(offset + 42)
        });
        offset += 46 + nameLength + extraLength + commentLength;
    }
    return entries;
}

function findEndOfCentralDirectory(bytes: Buffer): number {
    // The record is 22 bytes plus a comment of at most 65535 bytes, at the very end.
    const earliest = Math.max(0, bytes.length - 22 - 0xffff);
    for (let offset = bytes.length - 22; offset >= earliest; offset--)
        if (bytes.readUInt32LE(offset) === 0x06054b50)
            return offset;
    return -1;
}

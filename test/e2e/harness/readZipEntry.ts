import {open} from "node:fs/promises";
import {inflateRawSync} from "node:zlib";
import {E2eSetupError} from "./e2eErrors";
import type {ZipEntry} from "./listZipEntries";

/** The bytes of one entry of a zip file, as listed by listZipEntries (stored or deflated). */
export async function readZipEntry(zipFile: string, entry: ZipEntry): Promise<Buffer> {
    const file = await open(zipFile, "r");
    try {
        const header = Buffer.alloc(30);
        await file.read(header, 0, 30, entry.localHeaderOffset);
        if (header.readUInt32LE(0) !== 0x04034b50)
            throw new E2eSetupError(`${zipFile}: bad local header for ${entry.name}`);
        const dataOffset = entry.localHeaderOffset + 30 + header.readUInt16LE(26) + header.readUInt16LE(28);
        const data = Buffer.alloc(entry.compressedSize);
        await file.read(data, 0, entry.compressedSize, dataOffset);
        if (entry.compressionMethod === 0)
            return data;
        if (entry.compressionMethod === 8)
            return inflateRawSync(data);
        throw new E2eSetupError(`${zipFile}: ${entry.name} uses compression method ${entry.compressionMethod}`);
    } finally {
        await file.close();
    }
}

// Reads a small text file (an ignore file) whole through the indexer's file-system layer.
import type {IndexerFileSystem} from "./indexerFileSystem";

/** The file's bytes, or undefined when it does not exist or cannot be read; never more than `maxBytes`. */
export async function readSmallTextFile(fileSystem: IndexerFileSystem, path: string, maxBytes: number): Promise<Buffer | undefined> {
    let file;
    try {
        file = await fileSystem.openFile(path);
    } catch {
        return undefined;
    }
    try {
        const buffer = Buffer.alloc(Math.min(file.sizeBytes, maxBytes));
        let filled = 0;
        while (filled < buffer.length) {
            const read = await file.read(buffer, filled, buffer.length - filled, filled);
            if (read === 0)
                break;
            filled += read;
        }
        return buffer.subarray(0, filled);
    } catch {
        return undefined;
    } finally {
        await file.close();
    }
}

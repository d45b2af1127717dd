// The sha256 of a model file, part of every cache's model fingerprint. Hashing gigabytes takes
// seconds, so results are remembered per (path, size, mtime, inode) in memory and in a small JSON
// file in the cache folder.
import {mkdir, readFile, rename, stat, writeFile} from "node:fs/promises";
import path from "node:path";
import {sha256OfFile} from "./CacheStore";

const memoryMemo = new Map<string, string>();
const memoFileName = "model-digests.json";

export async function computeModelFileDigest(modelPath: string, cacheFolder: string): Promise<{sha256: string; bytes: number}> {
    const resolvedPath = path.resolve(modelPath);
    const info = await stat(resolvedPath);
    const identity = `${resolvedPath}|${info.size}|${Math.round(info.mtimeMs)}|${info.ino}`;
    const remembered = memoryMemo.get(identity);
    if (remembered !== undefined)
        return {sha256: remembered, bytes: info.size};
    const memoPath = path.join(cacheFolder, memoFileName);
    let memo: Record<string, string>;
    try {
        memo = JSON.parse(await readFile(memoPath, "utf8")) as Record<string, string>;
    } catch {
        memo = {};
    }
    const stored = memo[identity];
    if (typeof stored === "string" && /^[0-9a-f]{64}$/.test(stored)) {
        memoryMemo.set(identity, stored);
        return {sha256: stored, bytes: info.size};
    }
    const sha256 = await sha256OfFile(resolvedPath);
    memoryMemo.set(identity, sha256);
    // Keep the memo small: only entries for files that still look the same.
    const kept: Record<string, string> = {[identity]: sha256};
    for (const [key, value] of Object.entries(memo).slice(-32))
        if (key !== identity)
            kept[key] = value;
    try {
        await mkdir(cacheFolder, {recursive: true});
        const temporaryPath = `${memoPath}.tmp-${process.pid}`;
        await writeFile(temporaryPath, JSON.stringify(kept));
        await rename(temporaryPath, memoPath);
    } catch {
        // The memo is an optimisation; failing to write it is harmless.
    }
    return {sha256, bytes: info.size};
}

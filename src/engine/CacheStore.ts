// Saved caches on disk: one subfolder per (workspace folders, model, keep ratio, scorer), holding
// manifest.json and the state file it names. Writes are atomic (temporary file, then rename, the
// manifest last), serialized by a lock file, and the folder is size-capped with least-recently-used
// eviction (a cache's last use is its manifest's mtime).
import {createHash, randomBytes} from "node:crypto";
import {createReadStream} from "node:fs";
import {mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile} from "node:fs/promises";
import path from "node:path";
import {acquireCacheLock, isCacheLockHeld} from "./cacheLock";
import type {CacheLock, CacheLockOptions} from "./cacheLock";
import {parseCacheManifest} from "./cacheManifest";
import type {CacheManifest, CacheStateRecord} from "./cacheManifest";
import type {ScorerName} from "./engineApi";
import type {EngineLog} from "./llamaBinding";

export const manifestFileName = "manifest.json";

export type CacheKeyParts = {folders: readonly string[]; modelPath: string; keepRatio: number; scorer: ScorerName};

export type CacheReadResult =
    | {kind: "missing"}
    | {kind: "rejected"; reason: string}
    | {kind: "found"; manifest: CacheManifest; statePath: string};

/**
 * State files already verified in this process, by path: size, mtime and the sha256 found. Asking
 * several questions in a row then hashes a large state file once, not per question; a file that was
 * rewritten or truncated has another size or mtime and is verified again.
 */
const verifiedStateFiles = new Map<string, {bytes: number; mtimeMs: number; inode: number; sha256: string}>();

export class CacheStore {
    public constructor(public readonly rootFolder: string, private readonly log: EngineLog) {}

    /** `<folders digest>-<settings digest>`: clearing a workspace's caches needs only the prefix. */
    public static keyFor(parts: CacheKeyParts): string {
        return `${CacheStore.foldersDigest(parts.folders)}-${digest(JSON.stringify([parts.modelPath, parts.keepRatio, parts.scorer])).slice(0, 16)}`;
    }

    public static foldersDigest(folders: readonly string[]): string {
        return digest(JSON.stringify(folders.map((folder) => path.resolve(folder)))).slice(0, 16);
    }

    public entryFolder(key: string): string {
        return path.join(this.rootFolder, key);
    }

    /** Reads and validates a manifest (shape only); the caller checks compatibility and the state checksum. */
    public async read(key: string): Promise<CacheReadResult> {
        const folder = this.entryFolder(key);
        let text: string;
        try {
            text = await readFile(path.join(folder, manifestFileName), "utf8");
        } catch (error) {
            if ((error as NodeJS.ErrnoException).code === "ENOENT")
                return {kind: "missing"};
            return {kind: "rejected", reason: `cannot read its manifest: ${(error as Error).message}`};
        }
        let manifest: CacheManifest;
        try {
            manifest = parseCacheManifest(JSON.parse(text));
        } catch (error) {
            return {kind: "rejected", reason: `malformed manifest: ${(error as Error).message}`};
        }
        return {kind: "found", manifest, statePath: path.join(folder, manifest.state.fileName)};
    }

    /** Why the state file does not match its manifest record (size, sha256), or undefined when it does. */
    public async verifyState(statePath: string, record: CacheStateRecord): Promise<string | undefined> {
        let bytes: number;
        let mtimeMs: number;
        let inode: number;
        try {
            ({size: bytes, mtimeMs, ino: inode} = await stat(statePath));
        } catch (error) {
            return `its state file is unreadable: ${(error as Error).message}`;
        }
        if (bytes !== record.bytes)
            return `its state file has ${bytes} bytes, the manifest says ${record.bytes} (truncated or replaced)`;
        const known = verifiedStateFiles.get(statePath);
        const actual = known !== undefined && known.bytes === bytes && known.mtimeMs === mtimeMs && known.inode === inode
            ? known.sha256
            : await sha256OfFile(statePath);
        verifiedStateFiles.set(statePath, {bytes, mtimeMs, inode, sha256: actual});
        if (actual !== record.sha256)
            return `its state file fails its checksum (sha256 ${actual.slice(0, 12)}, expected ${record.sha256.slice(0, 12)})`;
        return undefined;
    }

    /** Takes the entry's write lock; everything written through the writer is invisible until commit. */
    public async beginWrite(key: string, lockOptions: CacheLockOptions = {}): Promise<CacheWriter> {
        const folder = this.entryFolder(key);
        await mkdir(folder, {recursive: true});
        const lock = await acquireCacheLock(folder, lockOptions);
        return new CacheWriter(folder, lock, this.log);
    }

    /** Marks a cache as just used, for least-recently-used eviction. */
    public async markUsed(key: string): Promise<void> {
        const now = new Date();
        await utimes(path.join(this.entryFolder(key), manifestFileName), now, now).catch(() => undefined);
    }

    /** Every entry with its size and last use, most recently used first. */
    public async listEntries(): Promise<Array<{key: string; bytes: number; lastUsedMs: number}>> {
        let names: string[];
        try {
            names = await readdir(this.rootFolder);
        } catch {
            return [];
        }
        const entries: Array<{key: string; bytes: number; lastUsedMs: number}> = [];
        for (const name of names) {
            const folder = this.entryFolder(name);
            let lastUsedMs: number;
            try {
                if (!(await stat(folder)).isDirectory())
                    continue;
                lastUsedMs = (await stat(path.join(folder, manifestFileName))).mtimeMs;
            } catch {
                lastUsedMs = 0; // no manifest: an abandoned or in-progress folder
            }
            entries.push({key: name, bytes: await folderBytes(folder), lastUsedMs});
        }
        return entries.sort((left, right) => right.lastUsedMs - left.lastUsedMs);
    }

    /**
     * Deletes least recently used caches until the total fits `maxBytes`. The protected key and any
     * cache being written are never deleted.
     */
    public async evictToFit(maxBytes: number, protectedKey?: string): Promise<string[]> {
        const entries = await this.listEntries();
        let total = entries.reduce((sum, entry) => sum + entry.bytes, 0);
        const evicted: string[] = [];
        for (const entry of [...entries].reverse()) {
            if (total <= maxBytes)
                break;
            if (entry.key === protectedKey || await isCacheLockHeld(this.entryFolder(entry.key)))
                continue;
            await rm(this.entryFolder(entry.key), {recursive: true, force: true});
            total -= entry.bytes;
            evicted.push(entry.key);
            this.log(`cache ${entry.key} evicted (least recently used; cache folder over ${maxBytes} bytes)`);
        }
        return evicted;
    }

    /** Deletes an entry (when it is not being written). */
    public async remove(key: string): Promise<void> {
        const writer = await this.beginWrite(key, {timeoutMs: 30_000});
        await writer.removeEntry();
    }

    /** Deletes every entry made for these folders, whatever the model or settings. */
    public async removeForFolders(folders: readonly string[]): Promise<number> {
        const prefix = `${CacheStore.foldersDigest(folders)}-`;
        const entries = await this.listEntries();
        let removed = 0;
        for (const entry of entries)
            if (entry.key.startsWith(prefix)) {
                await this.remove(entry.key);
                removed++;
            }
        return removed;
    }
}

/** An entry being (re)written under its lock. */
export class CacheWriter {
    private readonly temporaryFiles = new Set<string>();
    private finished = false;

    public constructor(public readonly folder: string, private readonly lock: CacheLock, private readonly log: EngineLog) {}

    /** A fresh temporary path inside the entry for the state file. */
    public newTemporaryStatePath(): string {
        const temporaryPath = path.join(this.folder, `state.tmp-${process.pid}-${randomBytes(6).toString("hex")}`);
        this.temporaryFiles.add(temporaryPath);
        return temporaryPath;
    }

    /**
     * Publishes a state file and its manifest: the state file is renamed to its content-addressed
     * name, then the manifest replaces the old one atomically, then files no longer referenced go.
     */
    public async commit(temporaryStatePath: string, manifestWithoutState: Omit<CacheManifest, "state">): Promise<CacheManifest> {
        this.ensureOpen();
        const bytes = (await stat(temporaryStatePath)).size;
        const sha256 = await sha256OfFile(temporaryStatePath);
        const fileName = `state-${sha256.slice(0, 16)}.bin`;
        await rename(temporaryStatePath, path.join(this.folder, fileName));
        this.temporaryFiles.delete(temporaryStatePath);
        const manifest: CacheManifest = {...manifestWithoutState, state: {fileName, bytes, sha256}};
        await this.writeManifest(manifest);
        await this.removeUnreferencedFiles(fileName);
        await this.release();
        return manifest;
    }

    /** Rewrites only the manifest (same state file), e.g. when the workspace's metadata changed but not its tokens. */
    public async commitManifestOnly(manifest: CacheManifest): Promise<void> {
        this.ensureOpen();
        await this.writeManifest(manifest);
        await this.release();
    }

    /** Gives up: temporary files go, and a folder that holds no published cache is removed entirely. */
    public async abort(): Promise<void> {
        if (this.finished)
            return;
        for (const temporaryPath of this.temporaryFiles)
            await rm(temporaryPath, {force: true});
        this.temporaryFiles.clear();
        let hasManifest = true;
        try {
            await stat(path.join(this.folder, manifestFileName));
        } catch {
            hasManifest = false;
        }
        await this.release();
        if (!hasManifest)
            await this.removeFolderIfOnlyLeftovers();
    }

    public async removeEntry(): Promise<void> {
        this.ensureOpen();
        await rm(path.join(this.folder, manifestFileName), {force: true});
        await this.release();
        await rm(this.folder, {recursive: true, force: true});
    }

    private async writeManifest(manifest: CacheManifest): Promise<void> {
        const temporaryPath = path.join(this.folder, `manifest.tmp-${process.pid}-${randomBytes(6).toString("hex")}`);
        this.temporaryFiles.add(temporaryPath);
        await writeFile(temporaryPath, JSON.stringify(manifest));
        await rename(temporaryPath, path.join(this.folder, manifestFileName));
        this.temporaryFiles.delete(temporaryPath);
    }

    private async removeUnreferencedFiles(keepStateFileName: string): Promise<void> {
        for (const name of await readdir(this.folder)) {
            // We hold the lock, so temporary files here are leftovers of writers that died.
            if ((name.startsWith("state-") && name !== keepStateFileName) || name.includes(".tmp-")) {
                await rm(path.join(this.folder, name), {force: true});
                this.log(`cache ${path.basename(this.folder)}: removed leftover ${name}`);
            }
        }
    }

    private async removeFolderIfOnlyLeftovers(): Promise<void> {
        try {
            const names = await readdir(this.folder);
            if (names.every((name) => name.includes(".tmp-") || name.startsWith("state-")))
                await rm(this.folder, {recursive: true, force: true});
        } catch {
            // already gone
        }
    }

    private async release(): Promise<void> {
        this.finished = true;
        await this.lock.release();
    }

    private ensureOpen(): void {
        if (this.finished)
            throw new Error("this cache write is already finished");
    }
}

function digest(text: string): string {
    return createHash("sha256").update(text).digest("hex");
}

export function sha256OfFile(filePath: string): Promise<string> {
    return new Promise((resolve, reject) => {
        const hash = createHash("sha256");
        createReadStream(filePath)
            .on("data", (chunk) => hash.update(chunk))
            .on("error", reject)
            .on("end", () => resolve(hash.digest("hex")));
    });
}

async function folderBytes(folder: string): Promise<number> {
    let total = 0;
    try {
        for (const name of await readdir(folder)) {
            try {
                total += (await stat(path.join(folder, name))).size;
            } catch {
                // vanished meanwhile
            }
        }
    } catch {
        // vanished meanwhile
    }
    return total;
}

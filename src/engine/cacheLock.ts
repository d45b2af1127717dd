// A small write lock for one cache folder: a lock file holding the owner's pid and host, created
// atomically with its content (written to a temporary file, then hard-linked into place, which
// fails if the lock exists). The owner touches the file's mtime as a heartbeat. A lock whose owner
// process is gone (same host) or whose heartbeat stopped is stale and taken over.
import {hostname} from "node:os";
import {link, readFile, rm, stat, utimes, writeFile} from "node:fs/promises";
import path from "node:path";
import {CacheLockedError, OperationCancelledError} from "./engineErrors";

export type CacheLock = {
    readonly lockPath: string;
    release(): Promise<void>;
};

type LockContent = {pid: number; host: string; acquiredAt: string};
type LockState = LockContent & {heartbeatAt: number};

export type CacheLockOptions = {
    signal?: AbortSignal;
    /** Give up after waiting this long for a live holder (default 10 minutes). */
    timeoutMs?: number;
    /** A holder whose heartbeat is older than this is considered dead (default 2 minutes). */
    staleMs?: number;
    pollMs?: number;
};

export const cacheLockFileName = "write.lock";

export async function acquireCacheLock(folder: string, options: CacheLockOptions = {}): Promise<CacheLock> {
    const lockPath = path.join(folder, cacheLockFileName);
    const timeoutMs = options.timeoutMs ?? 10 * 60_000;
    const staleMs = options.staleMs ?? 2 * 60_000;
    const pollMs = options.pollMs ?? 200;
    const startedAt = Date.now();
    for (;;) {
        if (options.signal?.aborted === true)
            throw new OperationCancelledError("waiting for the cache lock", {cause: options.signal.reason});
        const content: LockContent = {pid: process.pid, host: hostname(), acquiredAt: new Date().toISOString()};
        const temporaryPath = `${lockPath}.${process.pid}.${Math.random().toString(36).slice(2)}`;
        await writeFile(temporaryPath, JSON.stringify(content));
        try {
            await link(temporaryPath, lockPath);
            return startHeartbeat(lockPath, content, staleMs);
        } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== "EEXIST")
                throw error;
        } finally {
            await rm(temporaryPath, {force: true});
        }
        const holder = await readLock(lockPath);
        if (holder === undefined)
            continue; // released meanwhile
        if (isStale(holder, staleMs)) {
            // Remove only if it is still the same stale lock (another waiter may have taken over).
            const again = await readLock(lockPath);
            if (again !== undefined && again.pid === holder.pid && again.acquiredAt === holder.acquiredAt && isStale(again, staleMs))
                await rm(lockPath, {force: true});
            continue;
        }
        if (Date.now() - startedAt > timeoutMs)
            throw new CacheLockedError(folder, `process ${holder.pid} on ${holder.host} since ${holder.acquiredAt}`);
        await delay(pollMs, options.signal);
    }
}

function startHeartbeat(lockPath: string, content: LockContent, staleMs: number): CacheLock {
    const timer = setInterval(() => {
        const now = new Date();
        utimes(lockPath, now, now).catch(() => undefined);
    }, Math.max(1000, Math.floor(staleMs / 4)));
    timer.unref();
    let released = false;
    return {
        lockPath,
        async release() {
            if (released)
                return;
            released = true;
            clearInterval(timer);
            const current = await readLock(lockPath);
            if (current !== undefined && current.pid === content.pid && current.acquiredAt === content.acquiredAt)
                await rm(lockPath, {force: true});
        }
    };
}

/** The lock's holder, or undefined when there is no lock file. An unreadable lock file counts as held by nobody alive once its mtime is old. */
async function readLock(lockPath: string): Promise<LockState | undefined> {
    let heartbeatAt: number;
    try {
        heartbeatAt = (await stat(lockPath)).mtimeMs;
    } catch {
        return undefined;
    }
    try {
        const parsed = JSON.parse(await readFile(lockPath, "utf8")) as Partial<LockContent>;
        if (typeof parsed.pid === "number" && typeof parsed.host === "string" && typeof parsed.acquiredAt === "string")
            return {pid: parsed.pid, host: parsed.host, acquiredAt: parsed.acquiredAt, heartbeatAt};
    } catch {
        // fall through: malformed
    }
    return {pid: -1, host: "", acquiredAt: "unknown", heartbeatAt};
}

/** Whether a lock file in this folder is held by a live process right now. */
export async function isCacheLockHeld(folder: string, staleMs = 2 * 60_000): Promise<boolean> {
    const holder = await readLock(path.join(folder, cacheLockFileName));
    return holder !== undefined && !isStale(holder, staleMs);
}

function isStale(holder: LockState, staleMs: number): boolean {
    if (holder.host === hostname() && !isProcessAlive(holder.pid))
        return true;
    return Date.now() - holder.heartbeatAt > staleMs;
}

function isProcessAlive(pid: number): boolean {
    if (pid <= 0)
        return true; // unknown holder: rely on the heartbeat
    try {
        process.kill(pid, 0);
        return true;
    } catch (error) {
        return (error as NodeJS.ErrnoException).code === "EPERM";
    }
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
        const timer = setTimeout(done, ms);
        function done(): void {
            clearTimeout(timer);
            signal?.removeEventListener("abort", done);
            resolve();
        }
        signal?.addEventListener("abort", done, {once: true});
    });
}

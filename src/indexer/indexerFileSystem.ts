// The few file-system calls the indexer makes, behind a small interface so that tests can inject
// failures that cannot be produced for real when running as root (EACCES, a file vanishing between
// listing and reading).
//
// Two implementations. The default, nodeIndexerFileSystem, makes synchronous calls: each is one
// short system call on a local disk, and the indexer yields to the event loop at least every
// 10 ms (yieldToEventLoop), so the thread is never held long. For tens of thousands of small
// files this is several times faster than Node's asynchronous calls, whose per-call round trip
// through the thread pool costs more than the system call itself (docs/BENCHMARKS.md).
// asyncNodeIndexerFileSystem never blocks at all: for workspaces on slow network file systems,
// where one synchronous call could stall.
import * as fs from "node:fs";

export type IndexerEntryKind = "file" | "directory" | "symlink" | "other";

export type IndexerDirectoryEntry = {name: string; kind: IndexerEntryKind};

export type IndexerFileStat = {
    kind: IndexerEntryKind;
    sizeBytes: number;
    mtimeMs: number;
};

/** An open file: its size at opening time and positional reads. */
export type IndexerOpenFile = {
    sizeBytes: number;
    /** Reads into `buffer` at `offset`, from file position `position`; resolves to the bytes read (0 at end of file). */
    read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number>;
    close(): Promise<void>;
};

export type IndexerFileSystem = {
    readDirectory(path: string): Promise<IndexerDirectoryEntry[]>;
    /** Follows symlinks. */
    stat(path: string): Promise<IndexerFileStat>;
    realPath(path: string): Promise<string>;
    /** Opens a regular file for reading; never blocks on FIFOs (callers check the kind first, and O_NONBLOCK guards the race). */
    openFile(path: string): Promise<IndexerOpenFile>;
};

function kindOf(entry: {isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean}): IndexerEntryKind {
    if (entry.isFile())
        return "file";
    if (entry.isDirectory())
        return "directory";
    if (entry.isSymbolicLink())
        return "symlink";
    return "other";
}

const openFlags = fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0);

export const asyncNodeIndexerFileSystem: IndexerFileSystem = {
    readDirectory: (path) => new Promise((resolve, reject) => {
        fs.readdir(path, {withFileTypes: true}, (error, entries) => {
            if (error !== null)
                reject(error);
            else
                resolve(entries.map((entry) => ({name: entry.name, kind: kindOf(entry)})));
        });
    }),
    stat: (path) => new Promise((resolve, reject) => {
        fs.stat(path, (error, stats) => {
            if (error !== null)
                reject(error);
            else
                resolve({kind: kindOf(stats), sizeBytes: stats.size, mtimeMs: stats.mtimeMs});
        });
    }),
    realPath: (path) => new Promise((resolve, reject) => {
        fs.realpath(path, (error, resolved) => {
            if (error !== null)
                reject(error);
            else
                resolve(resolved);
        });
    }),
    openFile: (path) => new Promise((resolve, reject) => {
        fs.open(path, openFlags, (openError, fd) => {
            if (openError !== null) {
                reject(openError);
                return;
            }
            fs.fstat(fd, (statError, stats) => {
                if (statError !== null) {
                    fs.close(fd, () => reject(statError));
                    return;
                }
                resolve(openedFile(fd, stats.size));
            });
        });
    })
};

/** nodeIndexerFileSystem.readDirectory without the promise, for the walk's fast path. */
export function listDirectorySync(path: string): IndexerDirectoryEntry[] {
    return fs.readdirSync(path, {withFileTypes: true}).map((entry) => ({name: entry.name, kind: kindOf(entry)}));
}

export const nodeIndexerFileSystem: IndexerFileSystem = {
    readDirectory: async (path) => listDirectorySync(path),
    stat: async (path) => {
        const stats = fs.statSync(path);
        return {kind: kindOf(stats), sizeBytes: stats.size, mtimeMs: stats.mtimeMs};
    },
    realPath: async (path) => fs.realpathSync(path),
    openFile: async (path) => {
        const fd = fs.openSync(path, openFlags);
        let sizeBytes;
        try {
            sizeBytes = fs.fstatSync(fd).size;
        } catch (error) {
            fs.closeSync(fd);
            throw error;
        }
        let closed = false;
        return {
            sizeBytes,
            read: async (buffer, offset, length, position) => fs.readSync(fd, buffer, offset, length, position),
            close: async () => {
                if (closed)
                    return;
                closed = true;
                try {
                    fs.closeSync(fd);
                } catch {
                    // A failing close of a read-only descriptor loses nothing; it must not fail the index.
                }
            }
        };
    }
};

function openedFile(fd: number, sizeBytes: number): IndexerOpenFile {
    let closed = false;
    return {
        sizeBytes,
        read: (buffer, offset, length, position) => new Promise((resolve, reject) => {
            fs.read(fd, buffer, offset, length, position, (error, bytesRead) => {
                if (error !== null)
                    reject(error);
                else
                    resolve(bytesRead);
            });
        }),
        close: () => new Promise((resolve) => {
            if (closed) {
                resolve();
                return;
            }
            closed = true;
            // A failing close of a read-only descriptor loses nothing; it must not fail the index.
            fs.close(fd, () => resolve());
        })
    };
}

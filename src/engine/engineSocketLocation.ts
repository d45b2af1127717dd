// Where the one engine of this user lives: its socket and its log, in a folder only the user can
// enter. Both the client and the engine process resolve it the same way.
import {lstat, mkdir, chmod} from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import type {KvDistillEnvironment} from "../common/environment";
import {EngineSocketDirectoryError} from "./engineProcessErrors";
import {ENGINE_PROTOCOL_VERSION} from "./protocol";

export type EngineSocketLocation = {
    /** The private folder (mode 0700) holding the socket and the log. */
    directory: string;
    socketPath: string;
    logPath: string;
};

/** sun_path holds 108 bytes on Linux and 104 on macOS; stay clear of both. */
export const MAX_SOCKET_PATH_LENGTH = 100;

export type EngineSocketPlatform = {
    platform: NodeJS.Platform;
    tmpDir: string;
    /** The user id (POSIX) or user name (Windows) that makes the location per-user. */
    userKey: string;
};

export function currentEngineSocketPlatform(): EngineSocketPlatform {
    const uid = typeof process.getuid === "function" ? process.getuid() : undefined;
    return {platform: process.platform, tmpDir: os.tmpdir(), userKey: uid === undefined ? safeUserName() : String(uid)};
}

function safeUserName(): string {
    try {
        return os.userInfo().username.replace(/[^A-Za-z0-9_.-]/g, "_");
    } catch {
        return "user";
    }
}

/**
 * Rules, first match wins:
 * 1. KV_DISTILL_ENGINE_DIR (tests, or a user who wants it elsewhere), used as given;
 * 2. $XDG_RUNTIME_DIR/kv-distill when XDG_RUNTIME_DIR is an absolute path (already per-user, 0700);
 * 3. <os.tmpdir()>/kv-distill-<uid>;
 * and if the socket path would be longer than MAX_SOCKET_PATH_LENGTH, /tmp/kv-distill-<uid>.
 * The socket is named engine-p<protocol version>.sock, so engines speaking another protocol never
 * collide. On Windows the socket is a named pipe, per user name.
 */
export function resolveEngineSocketLocation(
    environment: Pick<KvDistillEnvironment, "engineDir" | "xdgRuntimeDir">,
    platform: EngineSocketPlatform = currentEngineSocketPlatform()
): EngineSocketLocation {
    const socketName = `engine-p${ENGINE_PROTOCOL_VERSION}.sock`;
    if (platform.platform === "win32") {
        const directory = environment.engineDir ?? path.win32.join(platform.tmpDir, `kv-distill-${platform.userKey}`);
        return {
            directory,
            socketPath: `\\\\.\\pipe\\kv-distill-${platform.userKey}-p${ENGINE_PROTOCOL_VERSION}`,
            logPath: path.win32.join(directory, "engine.log")
        };
    }
    let directory: string;
    if (environment.engineDir !== undefined)
        directory = path.posix.resolve(environment.engineDir);
    else if (environment.xdgRuntimeDir !== undefined && path.posix.isAbsolute(environment.xdgRuntimeDir))
        directory = path.posix.join(environment.xdgRuntimeDir, "kv-distill");
    else
        directory = path.posix.join(platform.tmpDir, `kv-distill-${platform.userKey}`);
    if (path.posix.join(directory, socketName).length > MAX_SOCKET_PATH_LENGTH)
        directory = `/tmp/kv-distill-${platform.userKey}`;
    return {directory, socketPath: path.posix.join(directory, socketName), logPath: path.posix.join(directory, "engine.log")};
}

/**
 * Creates the folder with mode 0700, or checks an existing one: it must be a real folder (not a
 * link) owned by this user; a too-open mode is tightened. Another user's folder is refused.
 */
export async function ensurePrivateEngineDirectory(directory: string): Promise<void> {
    await mkdir(directory, {recursive: true, mode: 0o700});
    if (process.platform === "win32")
        return;
    const stats = await lstat(directory);
    if (!stats.isDirectory())
        throw new EngineSocketDirectoryError(`The engine folder ${directory} is not a folder`, directory);
    const uid = process.getuid?.();
    if (uid !== undefined && stats.uid !== uid)
        throw new EngineSocketDirectoryError(`The engine folder ${directory} belongs to another user (uid ${stats.uid})`, directory);
    if ((stats.mode & 0o077) !== 0)
        await chmod(directory, 0o700);
}

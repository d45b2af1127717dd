import {strict as assert} from "node:assert";
import {chmod, mkdtemp, rm, stat, writeFile} from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import {after, before, describe, it} from "node:test";
import {readEnvironment} from "../../src/common/environment";
import {UsageError} from "../../src/common/errors";
import {EngineSocketDirectoryError} from "../../src/engine/engineProcessErrors";
import {MAX_SOCKET_PATH_LENGTH, ensurePrivateEngineDirectory, resolveEngineSocketLocation} from "../../src/engine/engineSocketLocation";
import {DEFAULT_ENGINE_EXIT_IDLE_MS, DEFAULT_MODEL_IDLE_UNLOAD_MS, parseEngineProcessArguments} from "../../src/engine/runEngineProcess";

const linux = {platform: "linux" as const, tmpDir: "/tmp", userKey: "1000"};

describe("resolveEngineSocketLocation", () => {
    it("prefers XDG_RUNTIME_DIR", () => {
        const location = resolveEngineSocketLocation({engineDir: undefined, xdgRuntimeDir: "/run/user/1000"}, linux);
        assert.deepEqual(location, {directory: "/run/user/1000/kv-distill", socketPath: "/run/user/1000/kv-distill/engine-p1.sock", logPath: "/run/user/1000/kv-distill/engine.log"});
    });

    it("falls back to a per-user folder in the temporary folder, and ignores a relative XDG_RUNTIME_DIR", () => {
        for (const xdgRuntimeDir of [undefined, "relative/run"]) {
            const location = resolveEngineSocketLocation({engineDir: undefined, xdgRuntimeDir}, {...linux, tmpDir: "/var/tmp"});
            assert.equal(location.socketPath, "/var/tmp/kv-distill-1000/engine-p1.sock");
        }
    });

    it("uses KV_DISTILL_ENGINE_DIR first", () => {
        const environment = readEnvironment({KV_DISTILL_ENGINE_DIR: "/x/engine", XDG_RUNTIME_DIR: "/run/user/1000"});
        assert.equal(resolveEngineSocketLocation(environment, linux).socketPath, "/x/engine/engine-p1.sock");
    });

    it("keeps the socket path short enough for sun_path", () => {
        const longTmp = "/var/folders/" + "x".repeat(90) + "/T";
        const location = resolveEngineSocketLocation({engineDir: undefined, xdgRuntimeDir: undefined}, {...linux, tmpDir: longTmp});
        assert.equal(location.directory, "/tmp/kv-distill-1000");
        assert.ok(location.socketPath.length <= MAX_SOCKET_PATH_LENGTH);
    });

    it("uses a per-user named pipe on Windows", () => {
        const location = resolveEngineSocketLocation({engineDir: undefined, xdgRuntimeDir: undefined}, {platform: "win32", tmpDir: "C:\\Temp", userKey: "ana"});
        assert.equal(location.socketPath, "\\\\.\\pipe\\kv-distill-ana-p1");
        assert.equal(location.logPath, "C:\\Temp\\kv-distill-ana\\engine.log");
    });
});

describe("ensurePrivateEngineDirectory", {skip: process.platform === "win32" ? "POSIX modes" : false}, () => {
    let root: string;
    before(async () => {
        root = await mkdtemp(path.join(os.tmpdir(), "kvd-proc-dir-"));
    });
    after(async () => {
        await rm(root, {recursive: true, force: true});
    });

    it("creates the folder with mode 0700", async () => {
        const directory = path.join(root, "a", "b");
        await ensurePrivateEngineDirectory(directory);
        assert.equal((await stat(directory)).mode & 0o777, 0o700);
    });

    it("tightens an existing folder that others can enter", async () => {
        const directory = path.join(root, "open");
        await ensurePrivateEngineDirectory(directory);
        await chmod(directory, 0o755);
        await ensurePrivateEngineDirectory(directory);
        assert.equal((await stat(directory)).mode & 0o777, 0o700);
    });

    it("refuses a path that is a file", async () => {
        const file = path.join(root, "file");
        await writeFile(file, "x");
        await assert.rejects(ensurePrivateEngineDirectory(file), (error: unknown) => error instanceof EngineSocketDirectoryError || (error as {code?: string}).code === "EEXIST");
    });
});

describe("parseEngineProcessArguments", () => {
    it("has defaults of 10 and 30 minutes", () => {
        const parsed = parseEngineProcessArguments([]);
        assert.equal(parsed.modelIdleUnloadMs, DEFAULT_MODEL_IDLE_UNLOAD_MS);
        assert.equal(DEFAULT_MODEL_IDLE_UNLOAD_MS, 600_000);
        assert.equal(parsed.exitIdleMs, DEFAULT_ENGINE_EXIT_IDLE_MS);
        assert.equal(parsed.socketPath, undefined);
    });

    it("reads values and leaves unknown arguments in order", () => {
        const parsed = parseEngineProcessArguments(["--socket", "/s/e.sock", "--fake", "1", "--model-idle-unload-ms", "250", "--exit-idle-ms", "0", "--ownership-check-ms", "100"]);
        assert.deepEqual(parsed, {socketPath: "/s/e.sock", modelIdleUnloadMs: 250, exitIdleMs: 0, ownershipCheckMs: 100, rest: ["--fake", "1"]});
    });

    it("refuses missing and malformed values", () => {
        assert.throws(() => parseEngineProcessArguments(["--socket"]), UsageError);
        assert.throws(() => parseEngineProcessArguments(["--exit-idle-ms", "soon"]), UsageError);
        assert.throws(() => parseEngineProcessArguments(["--model-idle-unload-ms", "-5"]), UsageError);
    });
});

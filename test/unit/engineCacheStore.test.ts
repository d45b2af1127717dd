import assert from "node:assert/strict";
import {spawn} from "node:child_process";
import {existsSync} from "node:fs";
import {mkdtemp, readdir, readFile, rm, truncate, utimes, writeFile} from "node:fs/promises";
import {hostname, tmpdir} from "node:os";
import path from "node:path";
import {after, describe, test} from "node:test";
import {acquireCacheLock, cacheLockFileName} from "../../src/engine/cacheLock";
import {cacheFormatVersion, decodeBitmap, encodeBitmap, findIncompatibility, findSettingsDifference, parseCacheManifest} from "../../src/engine/cacheManifest";
import type {CacheExpectations, CacheManifest} from "../../src/engine/cacheManifest";
import {CacheStore, manifestFileName} from "../../src/engine/CacheStore";
import {CacheLockedError, OperationCancelledError} from "../../src/engine/engineErrors";

const folders: string[] = [];
async function temporaryFolder(): Promise<string> {
    const folder = await mkdtemp(path.join(tmpdir(), "kvd-unit-cache-"));
    folders.push(folder);
    return folder;
}
after(async () => {
    for (const folder of folders)
        await rm(folder, {recursive: true, force: true});
});

function sampleManifest(overrides: Partial<CacheManifest> = {}): Omit<CacheManifest, "state"> {
    return {
        formatVersion: cacheFormatVersion,
        key: "k",
        createdAt: "2026-01-01T00:00:00.000Z",
        settings: {folders: ["/ws"], keepRatio: 0.2, scorer: "surprisal", segmentTokens: 0, seed: 0, sinkTokens: 4, tailTokens: 16, maxPieceChars: 1024, promptFormat: "p1", compaction: "holes", adapterSha256: null},
        model: {path: "/m.gguf", fileBytes: 10, fileSha256: "a".repeat(64), metadataDigest: "b".repeat(64), architecture: "llama", name: "m"},
        build: {nodeLlamaCppVersion: "3.22.1", llamaCppRelease: "v0.5.0", buildType: "prebuilt", gpu: false, patched: false},
        kv: {flashAttention: true, kvCacheKeyType: "F16", kvCacheValueType: "F16"},
        chatWrapper: "ChatML",
        openingTokens: 3,
        openingDigest: "c",
        promptTokens: 10,
        keptTokens: 4,
        effectiveKeepRatio: 0.4,
        contextSize: 256,
        segments: [{charStart: 0, charEnd: 9, tokenStart: 0, tokenEnd: 10, tokensDigest: "d", keptTokens: 4, keptThrough: 4, keptBitmap: encodeBitmap(Uint8Array.from([1, 1, 1, 0, 0, 0, 0, 0, 0, 1])), nextTokenLogProbability: null, nextToken: null}],
        files: [],
        index: {formatVersion: 1, files: [], skipped: [], rulesDigest: "", promptChars: 9, tailStart: 9},
        ...overrides
    };
}

describe("cache manifest rules", () => {
    const manifest = {...sampleManifest(), state: {fileName: "state-0123.bin", bytes: 5, sha256: "e".repeat(64)}} as CacheManifest;
    const expectations: CacheExpectations = {
        model: {fileSha256: manifest.model.fileSha256, metadataDigest: manifest.model.metadataDigest},
        build: {...manifest.build},
        kv: {...manifest.kv}
    };

    test("a cache of the same model, build and KV settings is accepted", () => {
        assert.equal(findIncompatibility(manifest, expectations), undefined);
    });

    test("another model file, metadata, build or KV setting is rejected with the reason", () => {
        const cases: Array<[CacheExpectations, RegExp]> = [
            [{...expectations, model: {...expectations.model, fileSha256: "f".repeat(64)}}, /another model file/],
            [{...expectations, model: {...expectations.model, metadataDigest: "0"}}, /other GGUF metadata/],
            [{...expectations, build: {...expectations.build, llamaCppRelease: "b9999"}}, /llamaCppRelease/],
            [{...expectations, build: {...expectations.build, gpu: "cuda"}}, /another llama.cpp build \(gpu/],
            [{...expectations, build: {...expectations.build, patched: true}}, /another llama.cpp build \(the stock build, now the patched build\)/],
            [{...expectations, kv: {...expectations.kv, flashAttention: false}}, /flashAttention/],
            [{...expectations, kv: {...expectations.kv, kvCacheKeyType: "Q8_0"}}, /kvCacheKeyType/]
        ];
        for (const [expected, reason] of cases)
            assert.match(findIncompatibility(manifest, expected) ?? "", reason);
    });

    test("settings differences are named", () => {
        assert.equal(findSettingsDifference(manifest.settings, {...manifest.settings}), undefined);
        assert.match(findSettingsDifference(manifest.settings, {...manifest.settings, keepRatio: 0.5}) ?? "", /keepRatio was 0.2, now 0.5/);
        assert.match(findSettingsDifference(manifest.settings, {...manifest.settings, folders: ["/other"]}) ?? "", /folders/);
        assert.match(findSettingsDifference(manifest.settings, {...manifest.settings, compaction: "renumber"}) ?? "", /compaction was "holes", now "renumber"/);
        assert.match(findSettingsDifference(manifest.settings, {...manifest.settings, adapterSha256: "e".repeat(64)}) ?? "", /adapterSha256 was null/);
    });

    test("malformed manifests are refused", () => {
        assert.equal(parseCacheManifest(JSON.parse(JSON.stringify(manifest))).keptTokens, 4);
        assert.throws(() => parseCacheManifest(null), /not a JSON object/);
        assert.throws(() => parseCacheManifest({...manifest, formatVersion: 99}), /format version/);
        assert.throws(() => parseCacheManifest({...manifest, state: {...manifest.state, fileName: "../../etc/passwd"}}), /state record/);
        assert.throws(() => parseCacheManifest({...manifest, keptTokens: 5}), /segments keep 4/);
        assert.throws(() => parseCacheManifest({...manifest, segments: []}), /no segments/);
    });

    test("kept bitmaps round-trip", () => {
        const bits = Uint8Array.from({length: 37}, (_, index) => (index * 7) % 3 === 0 ? 1 : 0);
        assert.deepEqual(decodeBitmap(encodeBitmap(bits), bits.length), bits);
    });
});

describe("cache lock", () => {
    test("a second writer waits until the first releases", async () => {
        const folder = await temporaryFolder();
        const first = await acquireCacheLock(folder);
        let secondAcquired = false;
        const second = acquireCacheLock(folder, {pollMs: 20}).then((lock) => {
            secondAcquired = true;
            return lock;
        });
        await new Promise((resolve) => setTimeout(resolve, 150));
        assert.equal(secondAcquired, false);
        await first.release();
        const lock = await second;
        assert.equal(secondAcquired, true);
        await lock.release();
        assert.equal(existsSync(path.join(folder, cacheLockFileName)), false);
    });

    test("a lock left by a process that died is taken over", async () => {
        const folder = await temporaryFolder();
        const child = spawn(process.execPath, ["-e", "0"]);
        const deadPid = await new Promise<number>((resolve) => child.on("exit", () => resolve(child.pid!)));
        await writeFile(path.join(folder, cacheLockFileName), JSON.stringify({pid: deadPid, host: hostname(), acquiredAt: "then"}));
        const lock = await acquireCacheLock(folder, {timeoutMs: 2000, pollMs: 20});
        const content = JSON.parse(await readFile(lock.lockPath, "utf8")) as {pid: number};
        assert.equal(content.pid, process.pid);
        await lock.release();
    });

    test("a lock whose heartbeat stopped is stale; a live one times out with a specific error", async () => {
        const folder = await temporaryFolder();
        const lockPath = path.join(folder, cacheLockFileName);
        await writeFile(lockPath, JSON.stringify({pid: process.pid, host: "another-host", acquiredAt: "then"}));
        await assert.rejects(acquireCacheLock(folder, {timeoutMs: 100, pollMs: 20, staleMs: 60_000}), CacheLockedError);
        const old = new Date(Date.now() - 120_000);
        await utimes(lockPath, old, old);
        const lock = await acquireCacheLock(folder, {timeoutMs: 1000, pollMs: 20, staleMs: 60_000});
        await lock.release();
    });

    test("waiting is cancellable", async () => {
        const folder = await temporaryFolder();
        const held = await acquireCacheLock(folder);
        const controller = new AbortController();
        const waiting = acquireCacheLock(folder, {signal: controller.signal, pollMs: 20});
        controller.abort();
        await assert.rejects(waiting, OperationCancelledError);
        await held.release();
    });
});

describe("CacheStore", () => {
    async function writeEntry(store: CacheStore, key: string, stateContent: string): Promise<CacheManifest> {
        const writer = await store.beginWrite(key);
        const statePath = writer.newTemporaryStatePath();
        await writeFile(statePath, stateContent);
        return writer.commit(statePath, sampleManifest({key}));
    }

    test("a committed entry reads back, and its state verifies; truncation and corruption are detected", async () => {
        const store = new CacheStore(await temporaryFolder(), () => undefined);
        const manifest = await writeEntry(store, "one", "state bytes here");
        const read = await store.read("one");
        assert.equal(read.kind, "found");
        if (read.kind !== "found")
            return;
        assert.equal(read.manifest.state.sha256, manifest.state.sha256);
        assert.equal(await store.verifyState(read.statePath, read.manifest.state), undefined);
        await writeFile(read.statePath, "state bytes HERE");
        assert.match(await store.verifyState(read.statePath, read.manifest.state) ?? "", /checksum/);
        await truncate(read.statePath, 3);
        assert.match(await store.verifyState(read.statePath, read.manifest.state) ?? "", /3 bytes/);
        const names = await readdir(store.entryFolder("one"));
        assert.deepEqual(names.sort(), [manifestFileName, manifest.state.fileName].sort(), "no temporary files or lock left");
    });

    test("a broken manifest is reported as rejected, a missing one as missing", async () => {
        const store = new CacheStore(await temporaryFolder(), () => undefined);
        assert.equal((await store.read("absent")).kind, "missing");
        await writeEntry(store, "broken", "x");
        await writeFile(path.join(store.entryFolder("broken"), manifestFileName), "{not json");
        const read = await store.read("broken");
        assert.equal(read.kind, "rejected");
    });

    test("an aborted first write leaves no folder behind; an aborted rewrite keeps the published cache", async () => {
        const store = new CacheStore(await temporaryFolder(), () => undefined);
        const writer = await store.beginWrite("fresh");
        await writeFile(writer.newTemporaryStatePath(), "partial");
        await writer.abort();
        assert.equal(existsSync(store.entryFolder("fresh")), false);

        const manifest = await writeEntry(store, "kept", "complete");
        const rewriter = await store.beginWrite("kept");
        await writeFile(rewriter.newTemporaryStatePath(), "partial");
        await rewriter.abort();
        const read = await store.read("kept");
        assert.equal(read.kind, "found");
        assert.deepEqual((await readdir(store.entryFolder("kept"))).sort(), [manifestFileName, manifest.state.fileName].sort());
    });

    test("eviction removes least recently used entries first and spares the protected one", async () => {
        const store = new CacheStore(await temporaryFolder(), () => undefined);
        for (const key of ["a", "b", "c"])
            await writeEntry(store, key, key.repeat(1000));
        const setUsed = (key: string, secondsAgo: number): Promise<void> => {
            const time = new Date(Date.now() - secondsAgo * 1000);
            return utimes(path.join(store.entryFolder(key), manifestFileName), time, time);
        };
        await setUsed("a", 30);
        await setUsed("b", 10);
        await setUsed("c", 20);
        const sizes = await store.listEntries();
        const entryBytes = sizes[0]!.bytes;
        assert.deepEqual(sizes.map((entry) => entry.key), ["b", "c", "a"]);
        const evicted = await store.evictToFit(entryBytes * 2, "a");
        assert.deepEqual(evicted, ["c"], "a is protected, so the next least recently used goes");
        await store.markUsed("a");
        assert.deepEqual(await store.evictToFit(entryBytes, undefined), ["b"]);
    });

    test("keys group caches by folders; clearing a workspace removes all of its caches only", async () => {
        const store = new CacheStore(await temporaryFolder(), () => undefined);
        const keyA1 = CacheStore.keyFor({folders: ["/ws/a"], modelPath: "/m1", keepRatio: 0.2, scorer: "surprisal"});
        const keyA2 = CacheStore.keyFor({folders: ["/ws/a"], modelPath: "/m2", keepRatio: 0.2, scorer: "surprisal"});
        const keyB = CacheStore.keyFor({folders: ["/ws/b"], modelPath: "/m1", keepRatio: 0.2, scorer: "surprisal"});
        assert.notEqual(keyA1, keyA2);
        assert.equal(keyA1.split("-")[0], keyA2.split("-")[0]);
        assert.equal(keyA1, CacheStore.keyFor({folders: ["/ws/a"], modelPath: "/m1", keepRatio: 0.2, scorer: "surprisal"}));
        for (const key of [keyA1, keyA2, keyB])
            await writeEntry(store, key, "x");
        assert.equal(await store.removeForFolders(["/ws/a"]), 2);
        assert.deepEqual((await store.listEntries()).map((entry) => entry.key), [keyB]);
    });
});

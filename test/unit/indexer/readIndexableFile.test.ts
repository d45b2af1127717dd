import {strict as assert} from "node:assert";
import {isAscii} from "node:buffer";
import {createHash} from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import {after, describe, it} from "node:test";
import {createReadBufferPool, readIndexableFile, readIndexableFileSync, type IndexableFileRead} from "../../../src/indexer/readIndexableFile";
import {asyncNodeIndexerFileSystem} from "../../../src/indexer/indexerFileSystem";
import {createFixtureWorkspace, removeFixture} from "./fixtureWorkspace";

const fixtures: string[] = [];
after(() => fixtures.forEach(removeFixture));

function describeRead(read: IndexableFileRead): string {
    if (read.kind === "skip")
        return `skip ${read.reason}: ${read.detail}`;
    // The reader's ASCII answer must be the bytes' own (it picks the decoding).
    assert.equal(read.isAscii, isAscii(read.bytes));
    const text = `text ${read.bytes.length} ${createHash("sha256").update(read.bytes).digest("hex")}${read.isAscii ? " ascii" : ""}`;
    read.release();
    return text;
}

describe("readIndexableFileSync", () => {
    // A large file whose 8 KiB sniff ends inside a multi-byte character: still text.
    const cutAtSniff = Buffer.concat([Buffer.alloc(8191, "a"), Buffer.from("é"), Buffer.alloc(100_000, "b")]);
    const files: Record<string, string | Buffer> = {
        "small.txt": "hello\r\nworld\n",
        "empty.txt": "",
        "nul.dat": Buffer.from([0x61, 0x00, 0x62]),
        "latin1.txt": Buffer.from([0x63, 0x61, 0x66, 0xe9]),
        "large.txt": "x".repeat(200_000) + "\n",
        "larger.txt": "y".repeat(700_000) + "\n",
        "cut-at-sniff.txt": cutAtSniff,
        // ASCII in the sniffed prefix, not after it; and the other way round.
        "late-non-ascii.txt": Buffer.concat([Buffer.alloc(9000, "a"), Buffer.from("é\n")]),
        "early-non-ascii.txt": Buffer.concat([Buffer.from("é"), Buffer.alloc(70_000, "a")]),
        "small-non-ascii.txt": "naïve\n",
        "large-binary.bin": Buffer.concat([Buffer.alloc(5_000, "c"), Buffer.from([0]), Buffer.alloc(70_000, "c")]),
        "too-large.txt": "z".repeat(1_100_000)
    };

    it("answers exactly as readIndexableFile does, file by file, reusing its buffers", async () => {
        const root = createFixtureWorkspace(files);
        fixtures.push(root);
        fs.symlinkSync("loop-b", path.join(root, "loop-a"));
        fs.symlinkSync("loop-a", path.join(root, "loop-b"));
        const names = [...Object.keys(files), "missing.txt", "loop-a"];
        const syncPool = createReadBufferPool();
        const asyncPool = createReadBufferPool();
        // Twice over, so that the second pass reads into buffers the first pass gave back.
        for (const pass of [1, 2])
            for (const name of names) {
                const absolutePath = path.join(root, name);
                const synchronous = describeRead(readIndexableFileSync(absolutePath, 1024 * 1024, syncPool));
                const asynchronous = describeRead(await readIndexableFile(asyncNodeIndexerFileSystem, absolutePath, 1024 * 1024, asyncPool));
                assert.equal(synchronous, asynchronous, `${name}, pass ${pass}`);
            }
        assert.match(describeRead(readIndexableFileSync(path.join(root, "too-large.txt"), 1024 * 1024)), /^skip too-large: 1100000 bytes/);
        assert.match(describeRead(readIndexableFileSync(path.join(root, "large-binary.bin"), 1024 * 1024)), /^skip binary: contains NUL bytes/);
        assert.match(describeRead(readIndexableFileSync(path.join(root, "latin1.txt"), 1024 * 1024)), /^skip binary: not valid UTF-8/);
        assert.match(describeRead(readIndexableFileSync(path.join(root, "loop-a"), 1024 * 1024)), /^skip symlink-loop/);
        assert.match(describeRead(readIndexableFileSync(path.join(root, "missing.txt"), 1024 * 1024)), /^skip unreadable: vanished before it could be read/);
        assert.equal(describeRead(readIndexableFileSync(path.join(root, "cut-at-sniff.txt"), 1024 * 1024)), `text ${cutAtSniff.length} ${createHash("sha256").update(cutAtSniff).digest("hex")}`);
        for (const [name, expected] of [["large.txt", true], ["small.txt", true], ["empty.txt", true], ["late-non-ascii.txt", false], ["early-non-ascii.txt", false], ["small-non-ascii.txt", false]] as const) {
            const read = readIndexableFileSync(path.join(root, name), 1024 * 1024);
            assert.equal(read.kind === "text" && read.isAscii, expected, name);
        }
    });

    it("with the size from the caller's stat, answers as with its own fstat, and takes the file as it was at that stat", () => {
        const root = createFixtureWorkspace(files);
        fixtures.push(root);
        for (const name of Object.keys(files)) {
            const absolutePath = path.join(root, name);
            const known = describeRead(readIndexableFileSync(absolutePath, 1024 * 1024, undefined, fs.statSync(absolutePath).size));
            assert.equal(known, describeRead(readIndexableFileSync(absolutePath, 1024 * 1024)), name);
        }
        // the file changes between the caller's stat and the read
        const readAfterChange = (name: string, atStat: string, atRead: string): string => {
            const filePath = path.join(root, name);
            fs.writeFileSync(filePath, atStat);
            const sizeAtStat = fs.statSync(filePath).size;
            fs.writeFileSync(filePath, atRead);
            const read = readIndexableFileSync(filePath, 1024 * 1024, undefined, sizeAtStat);
            return read.kind === "text" ? read.bytes.toString("utf8") : read.kind;
        };
        assert.equal(readAfterChange("growing.txt", "first line\n", "first line\nappended after the stat\n"), "first line\n");
        assert.equal(readAfterChange("shrinking.txt", "a longer first version\n", "short\n"), "short\n");
        assert.match(describeRead(readIndexableFileSync(path.join(root, "small.txt"), 1024 * 1024, undefined, 2_000_000)), /^skip too-large: 2000000 bytes/);
    });

    it("never hands out a pooled buffer shorter than the file, after a larger one was given back", () => {
        const pool = createReadBufferPool();
        const big = pool.take(300_000);
        assert.ok(big.length >= 300_000);
        pool.give(big);
        assert.equal(pool.take(200_000), big, "the larger buffer is reused");
        const fresh = pool.take(200_000);
        assert.notEqual(fresh, big, "a buffer is never handed out twice at once");
        assert.ok(fresh.length >= 200_000);
        pool.give(fresh);
        pool.give(big);
        assert.ok(pool.take(1_000_000).length >= 1_000_000);
    });
});

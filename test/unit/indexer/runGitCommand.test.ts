import {strict as assert} from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import {after, describe, it} from "node:test";
import {runGitCommand} from "../../../src/indexer/runGitCommand";
import {createTemporaryFolder, removeFixture} from "./fixtureWorkspace";

const fixtures: string[] = [];
after(() => fixtures.forEach(removeFixture));

/**
 * A stand-in for git that writes the given byte chunks to stdout one at a time, each after the
 * previous one was read (so that they arrive as separate chunks), whatever its arguments.
 */
function fakeGit(chunks: readonly Buffer[]): string {
    const folder = createTemporaryFolder("kvd-fake-git-");
    fixtures.push(folder);
    const script = path.join(folder, "fake-git.js");
    fs.writeFileSync(script, `
const chunks = ${JSON.stringify(chunks.map((chunk) => chunk.toString("base64")))}.map((chunk) => Buffer.from(chunk, "base64"));
const next = (index) => { if (index < chunks.length) process.stdout.write(chunks[index], () => setTimeout(() => next(index + 1), 5)); };
next(0);
`);
    const launcher = path.join(folder, "git");
    fs.writeFileSync(launcher, `#!/bin/sh\nexec "${process.execPath}" "${script}" "$@"\n`, {mode: 0o755});
    return launcher;
}

async function records(chunks: readonly Buffer[], stopAt?: string): Promise<{records: string[]; stoppedEarly: boolean}> {
    const seen: string[] = [];
    const outcome = await runGitCommand({
        gitCommand: fakeGit(chunks),
        cwd: process.cwd(),
        args: [],
        onRecord: (record) => {
            seen.push(record);
            return record === stopAt;
        }
    });
    assert.ok(outcome.ok);
    return {records: seen, stoppedEarly: outcome.stoppedEarly};
}

describe("runGitCommand", () => {
    it("hands over each NUL-terminated record exactly as decoding it alone would, however the output is cut into chunks", async () => {
        const recordBytes = Buffer.concat([
            Buffer.from("first\0", "utf8"),
            Buffer.from("naïve café/日本.ts\0", "utf8"),
            Buffer.from([0x62, 0x61, 0x64, 0xff, 0xe2, 0x82, 0x00]), // invalid UTF-8, then a cut character, in one record
            Buffer.from("\0", "utf8"),                                  // an empty record
            Buffer.from("😀 emoji\0", "utf8")
        ]);
        const expected = ["first", "naïve café/日本.ts", Buffer.from([0x62, 0x61, 0x64, 0xff, 0xe2, 0x82]).toString("utf8"), "", "😀 emoji"];
        // The same records again and again, cut at every byte in turn (inside characters, next to the
        // NULs), then one byte per chunk, then a last record without a NUL.
        const chunks: Buffer[] = [];
        for (let cut = 1; cut < recordBytes.length; cut++)
            chunks.push(recordBytes.subarray(0, cut), recordBytes.subarray(cut));
        chunks.push(...Array.from(recordBytes, (byte) => Buffer.from([byte])), Buffer.from("the end", "utf8"));
        const {records: seen} = await records(chunks);
        const rounds = recordBytes.length;
        assert.equal(seen.length, rounds * expected.length + 1);
        for (let round = 0; round < rounds; round++)
            assert.deepEqual(seen.slice(round * expected.length, (round + 1) * expected.length), expected, `round ${round}`);
        assert.equal(seen.at(-1), "the end");
    });

    it("stops at the record the caller asks it to stop at, and reports that it stopped early", async () => {
        const {records: seen, stoppedEarly} = await records([Buffer.from("a\0b\0c\0"), Buffer.from("d\0")], "b");
        assert.deepEqual(seen, ["a", "b"]);
        assert.equal(stoppedEarly, true);
    });
});

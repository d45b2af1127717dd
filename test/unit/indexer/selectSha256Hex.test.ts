import {strict as assert} from "node:assert";
import {randomBytes} from "node:crypto";
import {describe, it} from "node:test";
import {selectSha256Hex} from "../../../src/indexer/selectSha256Hex";

describe("selectSha256Hex", () => {
    it("gives the same lowercase hex digest with crypto.hash and with the Hash-object fallback", () => {
        const oneShot = selectSha256Hex();
        const fallback = selectSha256Hex(undefined);
        // The fallback must really be the other path: a one-shot that is never called proves it.
        let oneShotCalls = 0;
        const counted = selectSha256Hex((algorithm, data, encoding) => {
            oneShotCalls++;
            return fallback(data) + algorithm + encoding;
        });
        assert.equal(counted(Buffer.from("x")).endsWith("sha256hex"), true);
        assert.equal(oneShotCalls, 1);
        const large = randomBytes(256 * 1024);
        const inputs = [Buffer.alloc(0), Buffer.from("abc"), randomBytes(1), randomBytes(64 * 1024), large.subarray(1000, 70_000), new Uint8Array(large.buffer, large.byteOffset + 3, 5000)];
        for (const input of inputs) {
            const digest = fallback(input);
            assert.match(digest, /^[0-9a-f]{64}$/);
            assert.equal(oneShot(input), digest, `${input.length} bytes`);
        }
        assert.equal(fallback(Buffer.from("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    });
});

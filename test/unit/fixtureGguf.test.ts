import assert from "node:assert/strict";
import {mkdtemp, readFile, rm} from "node:fs/promises";
import {tmpdir} from "node:os";
import path from "node:path";
import {test} from "node:test";
import {float32ToFloat16Bits, readGgufMetadata, writeGgufFile} from "../fixtures/ggufFormat";

test("float16 conversion rounds to nearest even and handles the edge cases", () => {
    assert.equal(float32ToFloat16Bits(1), 0x3c00);
    assert.equal(float32ToFloat16Bits(-2), 0xc000);
    assert.equal(float32ToFloat16Bits(0.1), 0x2e66);
    assert.equal(float32ToFloat16Bits(65504), 0x7bff);
    assert.equal(float32ToFloat16Bits(1e6), 0x7c00);
    assert.equal(float32ToFloat16Bits(Number.NaN) & 0x7c00, 0x7c00);
    assert.equal(float32ToFloat16Bits(5.960464477539063e-8), 0x0001, "smallest subnormal");
    assert.equal(float32ToFloat16Bits(1 + 2 ** -11), 0x3c00, "halfway rounds to even");
});

test("a written GGUF file reads back with the same metadata, and tensor data is aligned", async () => {
    const folder = await mkdtemp(path.join(tmpdir(), "kvd-gguf-"));
    try {
        const filePath = path.join(folder, "tiny.gguf");
        const metadata = [
            {key: "general.architecture", value: {type: "string", value: "llama"}},
            {key: "some.count", value: {type: "uint32", value: 7}},
            {key: "some.flag", value: {type: "bool", value: true}},
            {key: "some.list", value: {type: "array", elementType: "string", values: ["a", "<|im_end|>", ""]}},
            {key: "some.ints", value: {type: "array", elementType: "int32", values: [1, -2, 3]}}
        ] as const;
        await writeGgufFile(filePath, metadata.map((entry) => ({...entry, value: {...entry.value}})) as never, [
            {name: "a", dims: [3], type: "f32", fill: (target) => target.set([1, 2, 3])},
            {name: "b", dims: [2, 2], type: "f16", fill: (target) => target.fill(1)}
        ]);
        const readBack = await readGgufMetadata(filePath);
        assert.deepEqual(readBack.map((entry) => entry.key), metadata.map((entry) => entry.key));
        assert.deepEqual(readBack[3]!.value, {type: "array", elementType: "string", values: ["a", "<|im_end|>", ""]});
        assert.deepEqual(readBack[4]!.value, {type: "array", elementType: "int32", values: [1, -2, 3]});
        const bytes = await readFile(filePath);
        // Tensor "b" starts 32 bytes after "a" (12 bytes padded to the alignment); the file ends with b's
        // data padded to the alignment too (ggml's reader reads every tensor's padded size).
        assert.equal(bytes.readUInt16LE(bytes.length - 32 + 6), 0x3c00);
        assert.equal(bytes.readFloatLE(bytes.length - 64), 1);
        assert.equal(bytes.readUInt32LE(bytes.length - 4), 0);
    } finally {
        await rm(folder, {recursive: true, force: true});
    }
});

import {strict as assert} from "node:assert";
import {chmod, mkdir, mkdtemp, rm, writeFile} from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import {after, before, describe, it} from "node:test";
import {
    ModelArchitectureUnsupportedError,
    ModelFileCorruptError,
    ModelFileError,
    ModelFileMissingError,
    ModelFileNotGgufError,
    ModelFileTruncatedError,
    ModelFileUnreadableError,
    ModelFileUnsupportedVersionError
} from "../../src/engine/modelFileErrors";
import {supportedModelArchitectures, validateModelFile} from "../../src/engine/validateModelFile";
import {ggufTensorBytes, llamaTestModel, testGgmlTypes, writeGgufTestFile, type GgufTestFile} from "../helpers/ggufTestWriter";

describe("validateModelFile", () => {
    let folder: string;
    let counter = 0;

    before(async () => {
        folder = await mkdtemp(path.join(os.tmpdir(), "kvd-proc-gguf-"));
    });

    after(async () => {
        await rm(folder, {recursive: true, force: true});
    });

    async function writeModel(bytes: Buffer | string): Promise<string> {
        const file = path.join(folder, `model-${++counter}.gguf`);
        await writeFile(file, bytes);
        return file;
    }

    async function assertRejectsWith<T extends ModelFileError>(file: string, errorClass: new (...args: never[]) => T, check?: (error: T) => void): Promise<void> {
        await assert.rejects(validateModelFile(file), (error: unknown) => {
            assert.ok(error instanceof errorClass, `expected ${errorClass.name}, got ${String(error)}`);
            assert.equal((error as ModelFileError).file, file, "the error names the file");
            check?.(error as T);
            return true;
        });
    }

    it("reads the fingerprint facts of a good llama model", async () => {
        const bytes = writeGgufTestFile(llamaTestModel({tokens: 57, embedding: 96, layers: 3}));
        const file = await writeModel(bytes);
        const metadata = await validateModelFile(file);
        assert.deepEqual(metadata, {
            architecture: "llama",
            name: "kv-distill test model",
            ggufVersion: 3,
            layerCount: 3,
            embeddingWidth: 96,
            vocabularySize: 57,
            trainedContextLength: 4096,
            tensorCount: 3,
            fileBytes: bytes.length,
            fileType: 7
        });
    });

    it("accepts GGUF version 2 and a custom alignment", async () => {
        const model: GgufTestFile = {...llamaTestModel(), version: 2, alignment: 64};
        const file = await writeModel(writeGgufTestFile(model));
        const metadata = await validateModelFile(file);
        assert.equal(metadata.ggufVersion, 2);
    });

    it("computes the data end from quantized tensor sizes: one byte short is truncated", async () => {
        // The last tensor is Q4_K (144 bytes per 256 elements) and ends the file exactly, with no padding after it.
        const model: GgufTestFile = {
            metadata: [["general.architecture", {type: "string", value: "llama"}]],
            tensors: [
                {name: "a", dimensions: [64, 3], ggmlType: testGgmlTypes.Q8_0.id},
                {name: "b", dimensions: [256, 3], ggmlType: testGgmlTypes.Q4_K.id}
            ]
        };
        const full = writeGgufTestFile(model);
        const lastTensorBytes = ggufTensorBytes(model.tensors![1]!);
        assert.equal(lastTensorBytes, 144 * 3);
        // The writer pads after the last tensor too; llama.cpp needs only the tensor's own bytes.
        const exactLength = full.length - 16;
        const exact = await writeModel(full.subarray(0, exactLength));
        assert.equal((await validateModelFile(exact)).fileBytes, exactLength);
        const short = await writeModel(full.subarray(0, exactLength - 1));
        await assertRejectsWith(short, ModelFileTruncatedError, (error) => {
            assert.equal(error.expectedBytes, exactLength);
            assert.equal(error.actualBytes, exactLength - 1);
            assert.match(error.message, /truncated/);
        });
    });

    it("reports a file cut inside its metadata as truncated", async () => {
        const full = writeGgufTestFile(llamaTestModel({tokens: 500}));
        for (const length of [6, 30, 200, 2000]) {
            const file = await writeModel(full.subarray(0, length));
            await assertRejectsWith(file, ModelFileTruncatedError);
        }
    });

    it("reports a missing file, and a folder, as missing", async () => {
        await assertRejectsWith(path.join(folder, "nope.gguf"), ModelFileMissingError);
        const directory = path.join(folder, "a-folder.gguf");
        await mkdir(directory);
        await assertRejectsWith(directory, ModelFileMissingError);
    });

    it("reports an unreadable file", {skip: process.getuid?.() === 0 ? "root reads files whatever their mode" : false}, async () => {
        const file = await writeModel(writeGgufTestFile(llamaTestModel()));
        await chmod(file, 0o000);
        await assertRejectsWith(file, ModelFileUnreadableError);
    });

    it("reports files that are not GGUF", async () => {
        await assertRejectsWith(await writeModel("this is a text file, not a model\n"), ModelFileNotGgufError);
        await assertRejectsWith(await writeModel(Buffer.alloc(0)), ModelFileNotGgufError);
        await assertRejectsWith(await writeModel("GGU"), ModelFileNotGgufError);
    });

    it("reports GGUF versions llama.cpp does not read", async () => {
        for (const version of [1, 4, 0x03000000]) {
            const file = await writeModel(writeGgufTestFile({...llamaTestModel(), version}));
            await assertRejectsWith(file, ModelFileUnsupportedVersionError, (error) => assert.equal(error.version, version));
        }
    });

    it("refuses architectures outside the supported list, and a file without one", async () => {
        const mamba = await writeModel(writeGgufTestFile(llamaTestModel({architecture: "mamba"})));
        await assertRejectsWith(mamba, ModelArchitectureUnsupportedError, (error) => {
            assert.equal(error.architecture, "mamba");
            assert.match(error.message, /llama/, "the message lists what is supported");
        });
        const nameless = await writeModel(writeGgufTestFile({metadata: [["general.name", {type: "string", value: "x"}]]}));
        await assertRejectsWith(nameless, ModelArchitectureUnsupportedError, (error) => assert.equal(error.architecture, undefined));
        assert.ok(supportedModelArchitectures.includes("llama"));
    });

    it("accepts every listed architecture", async () => {
        for (const architecture of supportedModelArchitectures) {
            const file = await writeModel(writeGgufTestFile(llamaTestModel({architecture})));
            assert.equal((await validateModelFile(file)).architecture, architecture);
        }
    });

    it("reports malformed headers as corrupt", async () => {
        const base = llamaTestModel();
        const unknownType = await writeModel(writeGgufTestFile({...base, tensors: [{name: "x", dimensions: [32], ggmlType: 99}]}));
        await assertRejectsWith(unknownType, ModelFileCorruptError, (error) => assert.match(error.message, /unknown type 99/));
        const oddRow = await writeModel(writeGgufTestFile({...base, tensors: [{name: "x", dimensions: [33, 2], ggmlType: testGgmlTypes.Q4_0.id}]}));
        await assertRejectsWith(oddRow, ModelFileCorruptError, (error) => assert.match(error.message, /multiple of Q4_0/));
        const fiveDimensions = await writeModel(writeGgufTestFile({...base, tensors: [{name: "x", dimensions: [1, 1, 1, 1, 1], ggmlType: 0}]}));
        await assertRejectsWith(fiveDimensions, ModelFileCorruptError);
        const badAlignment = await writeModel(writeGgufTestFile({...base, metadata: [...base.metadata, ["general.alignment", {type: "uint32", value: 48}]]}));
        await assertRejectsWith(badAlignment, ModelFileCorruptError, (error) => assert.match(error.message, /alignment/));
    });

    it("treats an absurd string length as truncation instead of reading it", async () => {
        const bytes = writeGgufTestFile(llamaTestModel());
        // The first key's length field sits right after magic, version and the two counts.
        bytes.writeBigUInt64LE(1n << 60n, 24);
        await assertRejectsWith(await writeModel(bytes), ModelFileTruncatedError);
    });
});

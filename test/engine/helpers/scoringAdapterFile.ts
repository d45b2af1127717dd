// Writes scoring-adapter GGUF files (docs/NATIVE.md, format version 1) for a base model, from TypeScript:
// random small weights, bound to the model's architecture, width, depth and vocabulary fingerprint.
import {writeFile} from "node:fs/promises";
import {testGgmlTypes, writeGgufTestFile} from "../../helpers/ggufTestWriter";
import type {GgufTestTensor} from "../../helpers/ggufTestWriter";

export type BaseModelShape = {architecture: string; width: number; layers: number; tokens: string[]};

/** Reads what an adapter binds to from the model's GGUF header (node-llama-cpp's reader, test side only). */
export async function readBaseModelShape(modelPath: string): Promise<BaseModelShape> {
    const {readGgufFileInfo} = await import("node-llama-cpp");
    const info = await readGgufFileInfo(modelPath, {readTensorInfo: false});
    const metadata = info.metadata as unknown as Record<string, Record<string, unknown>>;
    const architecture = String(metadata.general!.architecture);
    const architectureMetadata = metadata[architecture]!;
    const tokens = (metadata.tokenizer!.ggml as {tokens: string[]}).tokens;
    return {architecture, width: Number(architectureMetadata.embedding_length), layers: Number(architectureMetadata.block_count), tokens: Array.from(tokens)};
}

/**
 * FNV-1a 64 over the UTF-8 text of every token in id order, each followed by one 0 byte; 16 hex digits.
 * The offset basis is the one the patched build uses (native/patches/0003: 1469598103934665603, one digit short
 * of the standard 14695981039346656037 that docs/NATIVE.md names): an adapter must match the build's check.
 */
export function vocabularyFingerprint(tokens: readonly string[]): string {
    const prime = 1099511628211n;
    const mask = (1n << 64n) - 1n;
    let hash = 1469598103934665603n;
    for (const token of tokens) {
        for (const byte of Buffer.from(token, "utf8")) {
            hash ^= BigInt(byte);
            hash = (hash * prime) & mask;
        }
        hash = (hash * prime) & mask; // the 0 byte: xor with 0 changes nothing
    }
    return hash.toString(16).padStart(16, "0");
}

function seededFloats(count: number, seed: number, scale: number): Float32Array {
    const values = new Float32Array(count);
    let state = (seed >>> 0) || 0x9e3779b9;
    for (let index = 0; index < count; index++) {
        state ^= state << 13;
        state >>>= 0;
        state ^= state >>> 17;
        state ^= state << 5;
        state >>>= 0;
        values[index] = ((state / 4294967296) * 2 - 1) * scale;
    }
    return values;
}

function f32Tensor(name: string, dimensions: number[], values: Float32Array): GgufTestTensor {
    return {name, dimensions, ggmlType: testGgmlTypes.F32.id, data: Buffer.from(values.buffer, values.byteOffset, values.byteLength)};
}

/**
 * Writes an adapter for `shape` to `targetPath`. `fingerprint` overrides the vocabulary fingerprint (a foreign
 * adapter); the weights depend on `seed` only.
 */
export async function writeScoringAdapter(targetPath: string, shape: BaseModelShape, options: {seed: number; hidden?: number; eta?: number; fingerprint?: string}): Promise<void> {
    const hidden = options.hidden ?? 16;
    const file = writeGgufTestFile({
        metadata: [
            ["general.architecture", {type: "string", value: shape.architecture}],
            ["general.type", {type: "string", value: "adapter"}],
            ["adapter.type", {type: "string", value: "kvd_scorer"}],
            ["kvd_scorer.format_version", {type: "uint32", value: 1}],
            ["kvd_scorer.eta", {type: "uint32", value: options.eta ?? 1}],
            ["kvd_scorer.activation", {type: "string", value: "silu"}],
            ["kvd_scorer.base.architecture", {type: "string", value: shape.architecture}],
            ["kvd_scorer.base.n_embd", {type: "uint32", value: shape.width}],
            ["kvd_scorer.base.n_layer", {type: "uint32", value: shape.layers}],
            ["kvd_scorer.base.n_vocab", {type: "uint32", value: shape.tokens.length}],
            ["kvd_scorer.base.vocab_fingerprint", {type: "string", value: options.fingerprint ?? vocabularyFingerprint(shape.tokens)}]
        ],
        tensors: [
            f32Tensor("kvd_scorer.fc1.weight", [shape.width, hidden], seededFloats(shape.width * hidden, options.seed, 1 / Math.sqrt(shape.width))),
            f32Tensor("kvd_scorer.fc1.bias", [hidden], seededFloats(hidden, options.seed + 1, 0.1)),
            f32Tensor("kvd_scorer.fc2.weight", [hidden, 1], seededFloats(hidden, options.seed + 2, 1 / Math.sqrt(hidden))),
            f32Tensor("kvd_scorer.fc2.bias", [1], Float32Array.of(0.05))
        ]
    });
    await writeFile(targetPath, file);
}

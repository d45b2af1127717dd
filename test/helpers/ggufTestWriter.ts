// A minimal GGUF writer for tests: hand-made headers (any version, metadata, tensor infos) and
// deterministic tensor bytes. Test-only; the fixture models come from the engine's own generator.

export type GgufTestValue =
    | {type: "uint8"; value: number}
    | {type: "uint32"; value: number}
    | {type: "int32"; value: number}
    | {type: "uint64"; value: bigint}
    | {type: "float32"; value: number}
    | {type: "bool"; value: boolean}
    | {type: "string"; value: string}
    | {type: "stringArray"; value: string[]}
    | {type: "int32Array"; value: number[]};

/** `data`: the tensor's bytes (F32 values as little-endian floats); without it, seeded pseudo-random bytes. */
export type GgufTestTensor = {name: string; dimensions: number[]; ggmlType: number; data?: Buffer};

export type GgufTestFile = {
    version?: number;
    metadata: Array<[string, GgufTestValue]>;
    tensors?: GgufTestTensor[];
    /** Written as general.alignment when given; the layout always uses it. */
    alignment?: number;
    /** Seed of the tensor bytes; the same seed gives the same file. */
    seed?: number;
};

/** Bytes per block and elements per block of the ggml types the tests use. */
export const testGgmlTypes = {F32: {id: 0, blockElements: 1, blockBytes: 4}, F16: {id: 1, blockElements: 1, blockBytes: 2}, Q4_0: {id: 2, blockElements: 32, blockBytes: 18}, Q8_0: {id: 8, blockElements: 32, blockBytes: 34}, Q4_K: {id: 12, blockElements: 256, blockBytes: 144}} as const;

export function ggufTensorBytes(tensor: GgufTestTensor): number {
    const layout = Object.values(testGgmlTypes).find((candidate) => candidate.id === tensor.ggmlType);
    if (layout === undefined)
        return 0;
    const [rowElements = 1, ...rest] = tensor.dimensions;
    return (rowElements / layout.blockElements) * layout.blockBytes * rest.reduce((product, extent) => product * extent, 1);
}

class ByteWriter {
    private readonly parts: Buffer[] = [];
    public length = 0;

    public push(buffer: Buffer): void {
        this.parts.push(buffer);
        this.length += buffer.length;
    }

    public uint8(value: number): void {
        const buffer = Buffer.alloc(1);
        buffer.writeUInt8(value);
        this.push(buffer);
    }

    public uint32(value: number): void {
        const buffer = Buffer.alloc(4);
        buffer.writeUInt32LE(value);
        this.push(buffer);
    }

    public int32(value: number): void {
        const buffer = Buffer.alloc(4);
        buffer.writeInt32LE(value);
        this.push(buffer);
    }

    public uint64(value: bigint | number): void {
        const buffer = Buffer.alloc(8);
        buffer.writeBigUInt64LE(BigInt(value));
        this.push(buffer);
    }

    public float32(value: number): void {
        const buffer = Buffer.alloc(4);
        buffer.writeFloatLE(value);
        this.push(buffer);
    }

    public string(value: string): void {
        const bytes = Buffer.from(value, "utf8");
        this.uint64(bytes.length);
        this.push(bytes);
    }

    public padTo(alignment: number): void {
        const padding = (alignment - (this.length % alignment)) % alignment;
        this.push(Buffer.alloc(padding));
    }

    public toBuffer(): Buffer {
        return Buffer.concat(this.parts);
    }
}

function writeValue(writer: ByteWriter, value: GgufTestValue): void {
    switch (value.type) {
        case "uint8":
            writer.uint32(0);
            writer.uint8(value.value);
            return;
        case "uint32":
            writer.uint32(4);
            writer.uint32(value.value);
            return;
        case "int32":
            writer.uint32(5);
            writer.int32(value.value);
            return;
        case "float32":
            writer.uint32(6);
            writer.float32(value.value);
            return;
        case "bool":
            writer.uint32(7);
            writer.uint8(value.value ? 1 : 0);
            return;
        case "string":
            writer.uint32(8);
            writer.string(value.value);
            return;
        case "uint64":
            writer.uint32(10);
            writer.uint64(value.value);
            return;
        case "stringArray":
            writer.uint32(9);
            writer.uint32(8);
            writer.uint64(value.value.length);
            for (const item of value.value)
                writer.string(item);
            return;
        case "int32Array":
            writer.uint32(9);
            writer.uint32(5);
            writer.uint64(value.value.length);
            for (const item of value.value)
                writer.int32(item);
            return;
    }
}

/** Deterministic bytes (xorshift32), so two files of the same seed are identical. */
function pseudoRandomBytes(length: number, seed: number): Buffer {
    const buffer = Buffer.alloc(length);
    let state = seed >>> 0 || 0x9e3779b9;
    for (let index = 0; index < length; index++) {
        state ^= state << 13;
        state >>>= 0;
        state ^= state >>> 17;
        state ^= state << 5;
        state >>>= 0;
        buffer[index] = state & 0xff;
    }
    return buffer;
}

export function writeGgufTestFile(file: GgufTestFile): Buffer {
    const alignment = file.alignment ?? 32;
    const tensors = file.tensors ?? [];
    const writer = new ByteWriter();
    writer.push(Buffer.from("GGUF", "ascii"));
    writer.uint32(file.version ?? 3);
    writer.uint64(tensors.length);
    const metadata: Array<[string, GgufTestValue]> = file.alignment === undefined ? file.metadata : [...file.metadata, ["general.alignment", {type: "uint32", value: alignment}]];
    writer.uint64(metadata.length);
    for (const [key, value] of metadata) {
        writer.string(key);
        writeValue(writer, value);
    }
    let offset = 0;
    const sizes: number[] = [];
    for (const tensor of tensors) {
        writer.string(tensor.name);
        writer.uint32(tensor.dimensions.length);
        for (const extent of tensor.dimensions)
            writer.uint64(extent);
        writer.uint32(tensor.ggmlType);
        writer.uint64(offset);
        const bytes = ggufTensorBytes(tensor);
        sizes.push(bytes);
        offset += Math.ceil(bytes / alignment) * alignment;
    }
    if (tensors.length > 0)
        writer.padTo(alignment);
    sizes.forEach((bytes, index) => {
        const data = tensors[index]!.data;
        if (data !== undefined && data.length !== bytes)
            throw new RangeError(`tensor ${tensors[index]!.name} needs ${bytes} bytes, got ${data.length}`);
        writer.push(data ?? pseudoRandomBytes(bytes, (file.seed ?? 1) + index));
        writer.padTo(alignment);
    });
    return writer.toBuffer();
}

/** A small llama-architecture header with a vocabulary and a few tensors. */
export function llamaTestModel(options: {architecture?: string; tokens?: number; embedding?: number; layers?: number; seed?: number; extraTensorRows?: number} = {}): GgufTestFile {
    const architecture = options.architecture ?? "llama";
    const embedding = options.embedding ?? 64;
    const tokens = options.tokens ?? 40;
    return {
        metadata: [
            ["general.architecture", {type: "string", value: architecture}],
            ["general.name", {type: "string", value: "kv-distill test model"}],
            ["general.file_type", {type: "uint32", value: 7}],
            [`${architecture}.block_count`, {type: "uint32", value: options.layers ?? 2}],
            [`${architecture}.embedding_length`, {type: "uint32", value: embedding}],
            [`${architecture}.context_length`, {type: "uint32", value: 4096}],
            [`${architecture}.rope.freq_base`, {type: "float32", value: 10000}],
            ["tokenizer.ggml.model", {type: "string", value: "llama"}],
            ["tokenizer.ggml.tokens", {type: "stringArray", value: Array.from({length: tokens}, (_, index) => `tok${index}·`)}],
            ["tokenizer.ggml.token_type", {type: "int32Array", value: Array.from({length: tokens}, () => 1)}],
            ["tokenizer.ggml.add_bos_token", {type: "bool", value: true}]
        ],
        tensors: [
            {name: "token_embd.weight", dimensions: [embedding, tokens], ggmlType: testGgmlTypes.Q8_0.id},
            {name: "output_norm.weight", dimensions: [embedding], ggmlType: testGgmlTypes.F32.id},
            {name: "blk.0.attn_q.weight", dimensions: [256, 2 + (options.extraTensorRows ?? 0)], ggmlType: testGgmlTypes.Q4_K.id}
        ],
        seed: options.seed ?? 7
    };
}

// Checks a GGUF model file before anything loads it, with plain Node fs: it exists and is readable,
// really is GGUF, has a version llama.cpp reads, is not truncated (the header is parsed and the end
// of the tensor data computed from tensor offsets, shapes and types), and has a supported
// architecture. Returns the header facts a cache fingerprint needs.
import {open, stat, type FileHandle} from "node:fs/promises";
import type {ModelFileMetadata} from "./engineApi";
import {
    ModelArchitectureUnsupportedError,
    ModelFileCorruptError,
    ModelFileMissingError,
    ModelFileNotGgufError,
    ModelFileTruncatedError,
    ModelFileUnreadableError,
    ModelFileUnsupportedVersionError
} from "./modelFileErrors";

/**
 * Architectures the extension accepts: dense transformers with an ordinary attention KV cache, whose
 * cells can be removed one token at a time (the compression needs that), all known to the bundled
 * llama.cpp. `llama` is the one the project tests (fixture models). The others load through the
 * same code paths but are untested here. Left out on purpose: sliding-window models (gemma2/3,
 * their cache drops tokens by itself), recurrent and hybrid models (mamba, jamba, qwen3next, lfm2:
 * no per-token cells) and encoder-only models (bert and kin).
 */
export const supportedModelArchitectures: readonly string[] = ["llama", "qwen2", "qwen3", "mistral3", "phi3", "gemma"];

/** GGUF versions the bundled llama.cpp reads (it refuses version 1 and anything above 3). */
export const supportedGgufVersions: readonly number[] = [2, 3];

const ggufMagic = 0x46554747; // "GGUF" read as a little-endian uint32
const defaultAlignment = 32;
const maxTensorDimensions = 4;
const readChunkBytes = 1 << 20;

/** Block size (elements) and bytes per block of each ggml tensor type, from ggml-common.h. */
const ggmlTypeLayouts: ReadonlyMap<number, {name: string; blockElements: number; blockBytes: number}> = new Map([
    [0, {name: "F32", blockElements: 1, blockBytes: 4}],
    [1, {name: "F16", blockElements: 1, blockBytes: 2}],
    [2, {name: "Q4_0", blockElements: 32, blockBytes: 18}],
    [3, {name: "Q4_1", blockElements: 32, blockBytes: 20}],
    [6, {name: "Q5_0", blockElements: 32, blockBytes: 22}],
    [7, {name: "Q5_1", blockElements: 32, blockBytes: 24}],
    [8, {name: "Q8_0", blockElements: 32, blockBytes: 34}],
    [9, {name: "Q8_1", blockElements: 32, blockBytes: 36}],
    [10, {name: "Q2_K", blockElements: 256, blockBytes: 84}],
    [11, {name: "Q3_K", blockElements: 256, blockBytes: 110}],
    [12, {name: "Q4_K", blockElements: 256, blockBytes: 144}],
    [13, {name: "Q5_K", blockElements: 256, blockBytes: 176}],
    [14, {name: "Q6_K", blockElements: 256, blockBytes: 210}],
    [15, {name: "Q8_K", blockElements: 256, blockBytes: 292}],
    [16, {name: "IQ2_XXS", blockElements: 256, blockBytes: 66}],
    [17, {name: "IQ2_XS", blockElements: 256, blockBytes: 74}],
    [18, {name: "IQ3_XXS", blockElements: 256, blockBytes: 98}],
    [19, {name: "IQ1_S", blockElements: 256, blockBytes: 50}],
    [20, {name: "IQ4_NL", blockElements: 32, blockBytes: 18}],
    [21, {name: "IQ3_S", blockElements: 256, blockBytes: 110}],
    [22, {name: "IQ2_S", blockElements: 256, blockBytes: 82}],
    [23, {name: "IQ4_XS", blockElements: 256, blockBytes: 136}],
    [24, {name: "I8", blockElements: 1, blockBytes: 1}],
    [25, {name: "I16", blockElements: 1, blockBytes: 2}],
    [26, {name: "I32", blockElements: 1, blockBytes: 4}],
    [27, {name: "I64", blockElements: 1, blockBytes: 8}],
    [28, {name: "F64", blockElements: 1, blockBytes: 8}],
    [29, {name: "IQ1_M", blockElements: 256, blockBytes: 56}],
    [30, {name: "BF16", blockElements: 1, blockBytes: 2}],
    [34, {name: "TQ1_0", blockElements: 256, blockBytes: 54}],
    [35, {name: "TQ2_0", blockElements: 256, blockBytes: 66}],
    [39, {name: "MXFP4", blockElements: 32, blockBytes: 17}],
    [40, {name: "NVFP4", blockElements: 64, blockBytes: 36}],
    [41, {name: "Q1_0", blockElements: 128, blockBytes: 18}],
    [42, {name: "Q2_0", blockElements: 64, blockBytes: 18}]
]);

/** GGUF metadata value types and the byte size of the fixed-size ones. */
const ggufValueType = {uint8: 0, int8: 1, uint16: 2, int16: 3, uint32: 4, int32: 5, float32: 6, bool: 7, string: 8, array: 9, uint64: 10, int64: 11, float64: 12} as const;
const fixedValueBytes: ReadonlyMap<number, number> = new Map([[0, 1], [1, 1], [2, 2], [3, 2], [4, 4], [5, 4], [6, 4], [7, 1], [10, 8], [11, 8], [12, 8]]);

type MetadataValue = number | bigint | boolean | string | {arrayType: number; length: number};

export type ValidateModelFileOptions = {
    /** Defaults to supportedModelArchitectures. */
    supportedArchitectures?: readonly string[];
};

/** Throws a ModelFileError subclass naming the file, or returns the model's header facts. */
export async function validateModelFile(file: string, options: ValidateModelFileOptions = {}): Promise<ModelFileMetadata> {
    let fileBytes: number;
    try {
        const stats = await stat(file);
        if (!stats.isFile())
            throw new ModelFileMissingError(`The model path ${file} is not a file`, file);
        fileBytes = stats.size;
    } catch (error) {
        if (error instanceof ModelFileMissingError)
            throw error;
        const code = (error as {code?: string}).code;
        if (code === "ENOENT" || code === "ENOTDIR")
            throw new ModelFileMissingError(`No model file at ${file}`, file, {cause: error});
        throw new ModelFileUnreadableError(`Cannot read the model file ${file}: ${(error as Error).message}`, file, {cause: error});
    }
    let handle: FileHandle;
    try {
        handle = await open(file, "r");
    } catch (error) {
        throw new ModelFileUnreadableError(`Cannot open the model file ${file}: ${(error as Error).message}`, file, {cause: error});
    }
    try {
        const reader = new GgufReader(handle, fileBytes, file);
        const metadata = await parseGgufHeader(reader, file, fileBytes);
        const supported = options.supportedArchitectures ?? supportedModelArchitectures;
        if (!supported.includes(metadata.architecture))
            throw new ModelArchitectureUnsupportedError(
                `The model ${file} has architecture "${metadata.architecture}", which is not supported (supported: ${supported.join(", ")})`,
                file,
                metadata.architecture
            );
        return metadata;
    } finally {
        await handle.close();
    }
}

async function parseGgufHeader(reader: GgufReader, file: string, fileBytes: number): Promise<ModelFileMetadata> {
    if (fileBytes < 4 || (await reader.uint32()) !== ggufMagic)
        throw new ModelFileNotGgufError(`The file ${file} is not a GGUF model (it does not start with "GGUF")`, file);
    const version = await reader.uint32();
    if (!supportedGgufVersions.includes(version)) {
        const hint = (version & 0xffff) === 0 ? " (a big-endian file?)" : version === 1 ? " (GGUF version 1 is obsolete; convert the model again)" : "";
        throw new ModelFileUnsupportedVersionError(`The model ${file} is GGUF version ${version}; supported: ${supportedGgufVersions.join(", ")}${hint}`, file, version);
    }
    const tensorCount = await reader.count("tensor count");
    const metadataCount = await reader.count("metadata count");
    const values = new Map<string, MetadataValue>();
    for (let index = 0; index < metadataCount; index++) {
        const key = await reader.string();
        const type = await reader.uint32();
        values.set(key, await readMetadataValue(reader, type, key, 0));
    }
    const alignment = values.get("general.alignment") ?? defaultAlignment;
    if (typeof alignment !== "number" || alignment <= 0 || (alignment & (alignment - 1)) !== 0)
        throw new ModelFileCorruptError(`The model ${file} has an invalid general.alignment (${String(alignment)})`, file);

    const tensors: Array<{name: string; offset: bigint; bytes: bigint}> = [];
    for (let index = 0; index < tensorCount; index++) {
        const name = await reader.string();
        const dimensionCount = await reader.uint32();
        if (dimensionCount > maxTensorDimensions)
            throw new ModelFileCorruptError(`Tensor "${name}" of ${file} has ${dimensionCount} dimensions (at most ${maxTensorDimensions})`, file);
        const dimensions: bigint[] = [];
        for (let dimension = 0; dimension < dimensionCount; dimension++)
            dimensions.push(await reader.uint64());
        const type = await reader.uint32();
        const offset = await reader.uint64();
        const layout = ggmlTypeLayouts.get(type);
        if (layout === undefined)
            throw new ModelFileCorruptError(`Tensor "${name}" of ${file} has an unknown type ${type}`, file);
        const rowElements = dimensions[0] ?? 1n;
        if (rowElements % BigInt(layout.blockElements) !== 0n)
            throw new ModelFileCorruptError(`Tensor "${name}" of ${file} has rows of ${rowElements} elements, not a multiple of ${layout.name}'s block of ${layout.blockElements}`, file);
        let bytes = (rowElements / BigInt(layout.blockElements)) * BigInt(layout.blockBytes);
        for (const extent of dimensions.slice(1))
            bytes *= extent;
        if (offset % BigInt(alignment) !== 0n)
            throw new ModelFileCorruptError(`Tensor "${name}" of ${file} starts at offset ${offset}, not aligned to ${alignment}`, file);
        tensors.push({name, offset, bytes});
    }

    const dataStart = BigInt(alignUp(reader.position, alignment));
    let dataEnd = tensorCount > 0 ? dataStart : BigInt(reader.position);
    const byOffset = [...tensors].sort((a, b) => (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0));
    for (let index = 0; index < byOffset.length; index++) {
        const tensor = byOffset[index]!;
        const next = byOffset[index + 1];
        if (next !== undefined && tensor.offset + tensor.bytes > next.offset)
            throw new ModelFileCorruptError(`Tensors "${tensor.name}" and "${next.name}" of ${file} overlap`, file);
        const end = dataStart + tensor.offset + tensor.bytes;
        if (end > dataEnd)
            dataEnd = end;
    }
    if (dataEnd > BigInt(fileBytes))
        throw new ModelFileTruncatedError(
            `The model ${file} is truncated: its tensors need ${dataEnd} bytes but the file has ${fileBytes} (an interrupted download or copy?)`,
            file,
            Number(dataEnd),
            fileBytes
        );

    const architecture = values.get("general.architecture");
    if (typeof architecture !== "string")
        throw new ModelArchitectureUnsupportedError(`The model ${file} does not name its architecture (general.architecture)`, file, undefined);
    const metadata: ModelFileMetadata = {architecture, ggufVersion: version, tensorCount, fileBytes};
    const name = values.get("general.name");
    if (typeof name === "string")
        metadata.name = name;
    const numberValue = (key: string): number | undefined => {
        const value = values.get(key);
        if (typeof value === "number")
            return value;
        if (typeof value === "bigint" && value <= BigInt(Number.MAX_SAFE_INTEGER))
            return Number(value);
        return undefined;
    };
    const assign = <K extends keyof ModelFileMetadata>(key: K, value: ModelFileMetadata[K] | undefined): void => {
        if (value !== undefined)
            metadata[key] = value;
    };
    assign("layerCount", numberValue(`${architecture}.block_count`));
    assign("embeddingWidth", numberValue(`${architecture}.embedding_length`));
    assign("trainedContextLength", numberValue(`${architecture}.context_length`));
    assign("fileType", numberValue("general.file_type"));
    const tokens = values.get("tokenizer.ggml.tokens");
    assign("vocabularySize", typeof tokens === "object" ? tokens.length : numberValue(`${architecture}.vocab_size`));
    return metadata;
}

async function readMetadataValue(reader: GgufReader, type: number, key: string, depth: number): Promise<MetadataValue> {
    switch (type) {
        case ggufValueType.uint8:
            return reader.uint8();
        case ggufValueType.int8:
            return (await reader.uint8()) << 24 >> 24;
        case ggufValueType.uint16:
            return reader.uint16();
        case ggufValueType.int16:
            return (await reader.uint16()) << 16 >> 16;
        case ggufValueType.uint32:
            return reader.uint32();
        case ggufValueType.int32:
            return (await reader.uint32()) | 0;
        case ggufValueType.float32:
            return reader.float32();
        case ggufValueType.bool:
            return (await reader.uint8()) !== 0;
        case ggufValueType.string:
            return reader.string();
        case ggufValueType.uint64:
            return reader.uint64();
        case ggufValueType.int64:
            return BigInt.asIntN(64, await reader.uint64());
        case ggufValueType.float64:
            return reader.float64();
        case ggufValueType.array: {
            if (depth > 4)
                throw new ModelFileCorruptError(`Metadata "${key}" of ${reader.file} nests arrays too deeply`, reader.file);
            const elementType = await reader.uint32();
            const length = await reader.count(`length of "${key}"`);
            const elementBytes = fixedValueBytes.get(elementType);
            // Only the length of arrays is kept (token lists hold hundreds of thousands of strings).
            if (elementBytes !== undefined)
                await reader.skip(length * elementBytes);
            else if (elementType === ggufValueType.string)
                for (let index = 0; index < length; index++)
                    await reader.skip(await reader.count(`a string in "${key}"`));
            else if (elementType === ggufValueType.array)
                for (let index = 0; index < length; index++)
                    await readMetadataValue(reader, ggufValueType.array, key, depth + 1);
            else
                throw new ModelFileCorruptError(`Metadata "${key}" of ${reader.file} is an array of unknown type ${elementType}`, reader.file);
            return {arrayType: elementType, length};
        }
        default:
            throw new ModelFileCorruptError(`Metadata "${key}" of ${reader.file} has an unknown value type ${type}`, reader.file);
    }
}

function alignUp(value: number, alignment: number): number {
    return Math.ceil(value / alignment) * alignment;
}

/** Sequential little-endian reads through a window of the file; reading past the end is truncation. */
class GgufReader {
    public position = 0;
    private window = Buffer.alloc(0);
    private windowStart = 0;

    public constructor(private readonly handle: FileHandle, private readonly fileBytes: number, public readonly file: string) {}

    public async uint8(): Promise<number> {
        return (await this.take(1)).readUInt8(0);
    }

    public async uint16(): Promise<number> {
        return (await this.take(2)).readUInt16LE(0);
    }

    public async uint32(): Promise<number> {
        return (await this.take(4)).readUInt32LE(0);
    }

    public async uint64(): Promise<bigint> {
        return (await this.take(8)).readBigUInt64LE(0);
    }

    public async float32(): Promise<number> {
        return (await this.take(4)).readFloatLE(0);
    }

    public async float64(): Promise<number> {
        return (await this.take(8)).readDoubleLE(0);
    }

    /** A uint64 count or length; one larger than the file is truncation (or garbage), never a loop. */
    public async count(what: string): Promise<number> {
        const value = await this.uint64();
        if (value > BigInt(this.fileBytes))
            throw this.truncated(`the ${what} is ${value}, more than the file's ${this.fileBytes} bytes`, Number.MAX_SAFE_INTEGER);
        return Number(value);
    }

    public async string(): Promise<string> {
        const length = await this.count("a string length");
        return (await this.take(length)).toString("utf8");
    }

    public async skip(bytes: number): Promise<void> {
        if (this.position + bytes > this.fileBytes)
            throw this.truncated(this.headerEndsPastFile(), this.position + bytes);
        this.position += bytes;
    }

    private async take(bytes: number): Promise<Buffer> {
        const end = this.position + bytes;
        if (end > this.fileBytes)
            throw this.truncated(this.headerEndsPastFile(), end);
        if (this.position < this.windowStart || end > this.windowStart + this.window.length) {
            const length = Math.min(Math.max(bytes, readChunkBytes), this.fileBytes - this.position);
            const buffer = Buffer.alloc(length);
            const {bytesRead} = await this.handle.read(buffer, 0, length, this.position);
            if (bytesRead < bytes)
                throw this.truncated(this.headerEndsPastFile(), end);
            this.window = buffer.subarray(0, bytesRead);
            this.windowStart = this.position;
        }
        const offset = this.position - this.windowStart;
        this.position = end;
        return this.window.subarray(offset, offset + bytes);
    }

    private headerEndsPastFile(): string {
        return `its header goes on past the end of the file (${this.fileBytes} bytes)`;
    }

    private truncated(detail: string, expectedBytes: number): ModelFileTruncatedError {
        return new ModelFileTruncatedError(`The model ${this.file} is truncated or corrupt: ${detail}`, this.file, expectedBytes, this.fileBytes);
    }
}

// What a saved cache says about itself, and the rules for whether it may be loaded. Pure: no file
// access, no native code.
import type {IndexManifest} from "../indexer/indexTypes";
import type {CacheCompaction, CacheReport, ScorerName} from "./engineApi";

// 2: the build's patched flag, the compaction mode and the adapter's hash.
export const cacheFormatVersion = 2;

/** Everything that shapes the kept tokens. A cache is reused only when all of these match. */
export type CacheSettings = {
    /** Absolute workspace folder paths, in the caller's order. */
    folders: string[];
    keepRatio: number;
    scorer: ScorerName;
    /** The segment size in force (after resolving 0 to "one segment" or to the fallback size). */
    segmentTokens: number;
    seed: number;
    sinkTokens: number;
    tailTokens: number;
    maxPieceChars: number;
    /** Bumped when the system preamble or the prompt layout rules change. */
    promptFormat: string;
    /** How evicted tokens were dropped (positions differ between modes, so the caches differ). */
    compaction: CacheCompaction;
    /** sha256 of the scoring adapter file for the `adapter` scorer, else null: another adapter keeps other tokens. */
    adapterSha256: string | null;
};

export type CacheModelIdentity = {
    path: string;
    fileBytes: number;
    fileSha256: string;
    metadataDigest: string;
    architecture: string;
    name: string;
};

export type CacheBuildIdentity = {
    nodeLlamaCppVersion: string;
    llamaCppRelease: string;
    buildType: string;
    gpu: string | false;
    /** The project's patched llama.cpp (true) or node-llama-cpp's stock binary (false, degraded mode). */
    patched: boolean;
    /** Human-readable, for reports only (never compared). */
    description?: string;
};

export type CacheKvSettings = {flashAttention: boolean; kvCacheKeyType: string; kvCacheValueType: string};

export type CacheSegmentRecord = {
    /** Character span in the workspace prompt. */
    charStart: number;
    charEnd: number;
    /** Token span in the uncompressed prefix. */
    tokenStart: number;
    tokenEnd: number;
    /** sha256 over this segment's token ids chained with the previous segment's digest. */
    tokensDigest: string;
    keptTokens: number;
    /** Kept tokens of this segment and every segment before it: the sequence length after it. */
    keptThrough: number;
    /** Which of the segment's tokens were kept: a bitmap (bit i of byte i>>3, LSB first), base64. */
    keptBitmap: string;
    /** log p of the first token of the next segment given this one (surprisal carries it over); null when not computed. */
    nextTokenLogProbability: number | null;
    nextToken: number | null;
};

export type CacheStateRecord = {fileName: string; bytes: number; sha256: string};

export type CacheManifest = {
    formatVersion: typeof cacheFormatVersion;
    key: string;
    createdAt: string;
    settings: CacheSettings;
    model: CacheModelIdentity;
    build: CacheBuildIdentity;
    kv: CacheKvSettings;
    chatWrapper: string;
    openingTokens: number;
    openingDigest: string;
    promptTokens: number;
    keptTokens: number;
    effectiveKeepRatio: number;
    contextSize: number;
    segments: CacheSegmentRecord[];
    files: Array<{displayPath: string; tokens: number; keptTokens: number}>;
    index: IndexManifest;
    state: CacheStateRecord;
};

/** What the current run expects of a cache before it may be loaded at all. */
export type CacheExpectations = {
    model: Pick<CacheModelIdentity, "fileSha256" | "metadataDigest">;
    build: CacheBuildIdentity;
    kv: CacheKvSettings;
};

/**
 * Why this manifest may not be loaded into the current model and build (a reason for the log), or
 * undefined when it may. Settings are compared separately: a cache with other settings is not
 * broken, just not the one asked for.
 */
export function findIncompatibility(manifest: CacheManifest, expected: CacheExpectations): string | undefined {
    if (manifest.model.fileSha256 !== expected.model.fileSha256)
        return `made by another model file (sha256 ${manifest.model.fileSha256.slice(0, 12)}, now ${expected.model.fileSha256.slice(0, 12)})`;
    if (manifest.model.metadataDigest !== expected.model.metadataDigest)
        return "made by a model with other GGUF metadata";
    if (manifest.build.patched !== expected.build.patched)
        return `made by another llama.cpp build (${manifest.build.patched ? "the patched build" : "the stock build"}, now ${expected.build.patched ? "the patched build" : "the stock build"})`;
    for (const field of ["nodeLlamaCppVersion", "llamaCppRelease", "buildType", "gpu"] as const)
        if (manifest.build[field] !== expected.build[field])
            return `made by another llama.cpp build (${field} ${String(manifest.build[field])}, now ${String(expected.build[field])})`;
    for (const field of ["flashAttention", "kvCacheKeyType", "kvCacheValueType"] as const)
        if (manifest.kv[field] !== expected.kv[field])
            return `made with other KV settings (${field} ${String(manifest.kv[field])}, now ${String(expected.kv[field])})`;
    return undefined;
}

/** Which setting differs, or undefined when the settings are the same. */
export function findSettingsDifference(stored: CacheSettings, wanted: CacheSettings): string | undefined {
    for (const field of Object.keys(wanted) as Array<keyof CacheSettings>) {
        const left = JSON.stringify(stored[field]);
        const right = JSON.stringify(wanted[field]);
        if (left !== right)
            return `${field} was ${left}, now ${right}`;
    }
    return undefined;
}

/** Validates the shape of a parsed manifest.json; throws an Error naming the first bad field. */
export function parseCacheManifest(value: unknown): CacheManifest {
    const manifest = value as Partial<CacheManifest> | null;
    if (manifest === null || typeof manifest !== "object")
        throw new Error("the manifest is not a JSON object");
    if (manifest.formatVersion !== cacheFormatVersion)
        throw new Error(`unknown cache format version ${String(manifest.formatVersion)}`);
    const requireObject = (name: keyof CacheManifest): void => {
        if (manifest[name] === null || typeof manifest[name] !== "object")
            throw new Error(`the manifest has no ${name}`);
    };
    for (const name of ["settings", "model", "build", "kv", "index", "state"] as const)
        requireObject(name);
    if (!Array.isArray(manifest.segments) || manifest.segments.length === 0)
        throw new Error("the manifest has no segments");
    if (!Array.isArray(manifest.files))
        throw new Error("the manifest has no files");
    const state = manifest.state!;
    if (typeof state.fileName !== "string" || !/^state-[0-9a-f]+\.bin$/.test(state.fileName) || typeof state.sha256 !== "string" || typeof state.bytes !== "number")
        throw new Error("the manifest's state record is malformed");
    let keptThrough = 0;
    for (const [index, segment] of manifest.segments.entries()) {
        if (typeof segment.tokensDigest !== "string" || typeof segment.keptBitmap !== "string" ||
            !Number.isInteger(segment.keptTokens) || segment.keptThrough !== keptThrough + segment.keptTokens)
            throw new Error(`segment ${index} of the manifest is malformed`);
        keptThrough = segment.keptThrough;
    }
    if (keptThrough !== manifest.keptTokens)
        throw new Error(`the segments keep ${keptThrough} tokens but the manifest says ${String(manifest.keptTokens)}`);
    return manifest as CacheManifest;
}

export function cacheReportFromManifest(manifest: CacheManifest): CacheReport {
    return {
        modelPath: manifest.model.path,
        scorer: manifest.settings.scorer,
        keepRatio: manifest.settings.keepRatio,
        effectiveKeepRatio: manifest.effectiveKeepRatio,
        createdAt: manifest.createdAt,
        promptTokens: manifest.promptTokens,
        keptTokens: manifest.keptTokens,
        files: manifest.files.map((file) => ({...file})),
        build: manifest.build.description ?? `${manifest.build.patched ? "patched" : "stock"} ${manifest.build.buildType} build, ${manifest.build.gpu === false ? "cpu" : manifest.build.gpu}`,
        compaction: manifest.settings.compaction,
        adapterSha256: manifest.settings.adapterSha256,
        skipped: manifest.index.skipped.map(({displayPath, reason, detail}) => ({displayPath, reason, detail}))
    };
}

export function encodeBitmap(bits: Uint8Array): string {
    const bytes = Buffer.alloc(Math.ceil(bits.length / 8));
    for (let index = 0; index < bits.length; index++)
        if (bits[index] === 1)
            bytes[index >> 3]! |= 1 << (index & 7);
    return bytes.toString("base64");
}

export function decodeBitmap(encoded: string, length: number): Uint8Array {
    const bytes = Buffer.from(encoded, "base64");
    const bits = new Uint8Array(length);
    for (let index = 0; index < length; index++)
        bits[index] = (bytes[index >> 3]! >> (index & 7)) & 1;
    return bits;
}

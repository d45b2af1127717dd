// Distills an indexed workspace into a compressed, saved KV cache, segment by segment: prefill a
// segment on top of the compressed earlier ones, score its tokens, keep the segment's share of the
// budget, erase the rest, go on. A saved cache of the same settings is reused when its tokens are
// unchanged, or refreshed: its segments before the first change are kept and the rest re-processed.
import {createHash} from "node:crypto";
import path from "node:path";
import type {IndexResult} from "../indexer/indexTypes";
import {CacheStore} from "./CacheStore";
import type {CacheLockOptions} from "./cacheLock";
import {cacheFormatVersion, cacheReportFromManifest, decodeBitmap, encodeBitmap, findIncompatibility, findSettingsDifference} from "./cacheManifest";
import type {CacheExpectations, CacheManifest, CacheSegmentRecord, CacheSettings} from "./cacheManifest";
import type {CacheCompaction, CacheReport, DistillOptions, DistillProgress, DistillResult} from "./engineApi";
import {InvalidEngineOptionsError, OperationCancelledError, ScoringAdapterError, WorkspaceTooLargeError} from "./engineErrors";
import type {BuildInfo, ContextSequence, EngineLog, LoadedModel} from "./llamaBinding";
import {buildPromptLayout} from "./prompt/buildPromptLayout";
import type {PromptLayout} from "./prompt/buildPromptLayout";
import {planSegments} from "./prompt/planSegments";
import type {SegmentPlan} from "./prompt/planSegments";
import {createTokenScorer} from "./scorers/createTokenScorer";
import {buildAlwaysKeepMask} from "./selection/buildAlwaysKeepMask";
import type {AlwaysKeepRules} from "./selection/buildAlwaysKeepMask";
import {planKeepSchedule} from "./selection/planKeepSchedule";
import type {SegmentKeepPlan} from "./selection/planKeepSchedule";
import {evictedRanges, selectKeptTokens} from "./selection/selectKeptTokens";
import type {WorkspaceIndexer} from "./workspaceIndexer";

/** The start of the system message; the workspace follows it. Part of the cached opening. */
export const workspaceSystemPreamble =
    "You are a coding assistant with the user's whole workspace below, file by file; each file starts with a header giving its path.\n\n";

/** Bump when the preamble or the layout rules change, so that old caches are rebuilt. */
export const promptFormat = "kv-distill-prompt-1";

export type DistillEngineSettings = {
    batchSize: number;
    /** CPU threads for llama.cpp; undefined leaves node-llama-cpp's default. */
    threads?: number;
    flashAttention: boolean;
    /** The largest context the engine may allocate (tokens). */
    maxContextTokens: number;
    /** Segment size used when "one segment" was asked for but the prompt does not fit. */
    fallbackSegmentTokens: number;
    alwaysKeep: AlwaysKeepRules;
    maxPieceChars: number;
    cacheSizeCapBytes: number;
    lockOptions?: CacheLockOptions;
};

export type SegmentScoredEvent = {
    segmentIndex: number;
    /** Index of the segment's first token in the uncompressed prefix. */
    tokenStart: number;
    tokens: readonly number[];
    scores: Float64Array;
    logProbabilities?: Float64Array;
    /** Indexes into the segment, ascending. */
    keptIndexes: Int32Array;
};

export type DistillPromptCallbacks = {
    onProgress?(progress: DistillProgress): void;
    signal?: AbortSignal;
    /** Engine-internal (tests, benchmarks): each segment's scores and selection. */
    onSegmentScored?(event: SegmentScoredEvent): void;
};

export type DistillPromptInput = {
    model: LoadedModel;
    build: BuildInfo;
    modelFile: {sha256: string; bytes: number};
    /** The scoring adapter file of the `adapter` scorer (resolved path and sha256). */
    adapter?: {path: string; sha256: string};
    store: CacheStore;
    options: DistillOptions;
    indexResult: IndexResult;
    diffManifests: WorkspaceIndexer["diffManifests"];
    settings: DistillEngineSettings;
    log: EngineLog;
    callbacks?: DistillPromptCallbacks;
    /** Tests: return the live compressed sequence instead of disposing it (the caller disposes it). */
    keepSequenceOpen?: boolean;
};

export type DistillPromptOutput = {
    result: DistillResult & {report: CacheReport};
    manifest: CacheManifest;
    statePath: string;
    layout: PromptLayout;
    /** Only with keepSequenceOpen and when something was evaluated. */
    sequence?: ContextSequence;
};

const kvCacheType = "F16"; // node-llama-cpp's default; the engine never changes it

export async function distillPrompt(input: DistillPromptInput): Promise<DistillPromptOutput> {
    const {model, options, settings, log, store} = input;
    const callbacks = input.callbacks ?? {};
    validateDistillOptions(options);
    const startedAt = performance.now();

    // ---- tokenize into the cached prefix's layout
    callbacks.onProgress?.({phase: "tokenizing", doneTokens: 0, totalTokens: 0});
    const tokenizeStartedAt = performance.now();
    const opening = model.renderConversation({systemPreamble: workspaceSystemPreamble, history: [], question: "?"});
    const layout = buildPromptLayout({
        prompt: input.indexResult.prompt,
        manifest: input.indexResult.manifest,
        openingTokens: opening.openingTokens,
        tokenizeText: (text) => model.tokenizeText(text),
        maxPieceChars: settings.maxPieceChars
    });
    const tokenizeMs = performance.now() - tokenizeStartedAt;
    const totalTokens = layout.tokens.length;

    let segmentTokens = options.segmentTokens;
    if (segmentTokens === 0 && totalTokens + 2 > settings.maxContextTokens) {
        segmentTokens = settings.fallbackSegmentTokens;
        log(`the prompt (${totalTokens} tokens) does not fit one context of ${settings.maxContextTokens}: using segments of ${segmentTokens} tokens`);
    }
    const segments = planSegments(layout, segmentTokens);
    const alwaysKeepMask = buildAlwaysKeepMask(layout, settings.alwaysKeep);
    const schedule = planKeepSchedule(segments, alwaysKeepMask, options.keepRatio);
    const segmentDigests = chainedSegmentDigests(layout, segments, alwaysKeepMask);
    const scorer = createTokenScorer(options.scorer, {seed: options.seed ?? 0, build: input.build});
    // The stock build has no one-pass compaction: it erases ranges (contiguous positions, a pending K-shift).
    const compaction: CacheCompaction = input.build.patched ? (options.compaction ?? "holes") : "erase-ranges";
    const adapter = scorer.requirements.adapterScores ? input.adapter : undefined;
    if (scorer.requirements.adapterScores && adapter === undefined)
        throw new ScoringAdapterError(options.adapterPath ?? "", "the adapter scorer needs an adapter file (--adapter, kvDistill.distill.adapterPath)");
    log(`distill: ${totalTokens} tokens (opening ${layout.openingTokenCount}), ${segments.length} segment(s) of up to ${segmentTokens === 0 ? totalTokens : segmentTokens}, ` +
        `keep ${options.keepRatio} -> ${schedule[schedule.length - 1]!.keptThrough} tokens, scorer ${scorer.name}, compaction ${compaction}`);

    const cacheSettings: CacheSettings = {
        folders: options.folders.slice(),
        keepRatio: options.keepRatio,
        scorer: options.scorer,
        segmentTokens,
        seed: options.seed ?? 0,
        sinkTokens: settings.alwaysKeep.sinkTokens,
        tailTokens: settings.alwaysKeep.tailTokens,
        maxPieceChars: settings.maxPieceChars,
        promptFormat,
        compaction,
        adapterSha256: adapter?.sha256 ?? null
    };
    const expectations: CacheExpectations = {
        model: {fileSha256: input.modelFile.sha256, metadataDigest: model.summary.metadataDigest},
        build: {...input.build},
        kv: {flashAttention: settings.flashAttention, kvCacheKeyType: kvCacheType, kvCacheValueType: kvCacheType}
    };
    const key = CacheStore.keyFor({folders: options.folders, modelPath: options.modelPath, keepRatio: options.keepRatio, scorer: options.scorer});
    const writer = await store.beginWrite(key, {...settings.lockOptions, signal: callbacks.signal});
    let sequence: ContextSequence | undefined;
    let handedOver = false;
    try {
        // ---- what can be kept from a saved cache
        const previous = await findReusablePrefix({store, key, expectations, cacheSettings, segments, segmentDigests, schedule, input, log});
        const baseManifest = (): Omit<CacheManifest, "state" | "segments" | "files" | "keptTokens" | "effectiveKeepRatio" | "contextSize"> => ({
            formatVersion: cacheFormatVersion,
            key,
            createdAt: new Date().toISOString(),
            settings: cacheSettings,
            model: {
                path: options.modelPath,
                fileBytes: input.modelFile.bytes,
                fileSha256: input.modelFile.sha256,
                metadataDigest: model.summary.metadataDigest,
                architecture: model.summary.architecture,
                name: model.summary.name
            },
            build: {...input.build},
            kv: expectations.kv,
            chatWrapper: model.chatWrapperName,
            openingTokens: layout.openingTokenCount,
            openingDigest: digestTokens(opening.openingTokens),
            promptTokens: totalTokens,
            index: input.indexResult.manifest
        });

        if (previous.retainedSegments === segments.length && previous.manifest !== undefined) {
            const manifest: CacheManifest = {
                ...baseManifest(),
                createdAt: previous.manifest.createdAt,
                segments: previous.manifest.segments,
                files: countKeptPerFile(layout, segments, previous.manifest.segments, input.indexResult),
                keptTokens: previous.manifest.keptTokens,
                effectiveKeepRatio: previous.manifest.effectiveKeepRatio,
                contextSize: previous.manifest.contextSize,
                state: previous.manifest.state
            };
            if (JSON.stringify(manifest.index) !== JSON.stringify(previous.manifest.index) || JSON.stringify(manifest.files) !== JSON.stringify(previous.manifest.files))
                await writer.commitManifestOnly(manifest);
            else
                await writer.abort();
            await store.markUsed(key);
            log(`cache ${key} reused: the workspace's tokens are unchanged`);
            return {
                result: buildResult({key, store, manifest, outcome: "reused", evaluatedTokens: 0, input, segments,
                    timings: {tokenizeMs, prefillMs: 0, saveMs: 0, totalMs: performance.now() - startedAt}}),
                manifest,
                statePath: path.join(store.entryFolder(key), manifest.state.fileName),
                layout
            };
        }

        // ---- size and create the distill context
        const firstSegment = previous.retainedSegments;
        if (previous.manifest !== undefined && firstSegment === 0 && previous.kind === "usable")
            log(`cache ${key} rebuilt: its first segment changed (${previous.reason})`);
        let peak = 0;
        for (let index = firstSegment; index < segments.length; index++) {
            const keptBefore = index === 0 ? 0 : schedule[index - 1]!.keptThrough;
            peak = Math.max(peak, keptBefore + schedule[index]!.segmentTokens);
        }
        if (previous.manifest !== undefined && firstSegment > 0)
            peak = Math.max(peak, previous.manifest.keptTokens);
        const contextSize = roundUp(peak + 2, 256);
        if (contextSize > settings.maxContextTokens)
            throw new WorkspaceTooLargeError(totalTokens, schedule[schedule.length - 1]!.keptThrough, peak, settings.maxContextTokens);
        sequence = await model.createSequence({
            contextSize, batchSize: settings.batchSize, flashAttention: settings.flashAttention, threads: settings.threads, signal: callbacks.signal
        });
        if (adapter !== undefined) {
            // Before the prefill: the scores are computed inside each decode.
            try {
                const {eta} = await sequence.attachScoringAdapter(adapter.path);
                log(`scoring adapter ${adapter.path} (sha256 ${adapter.sha256.slice(0, 12)}) scores the input of layer ${eta}`);
            } catch (error) {
                throw new ScoringAdapterError(adapter.path, error instanceof Error ? error.message : String(error), {cause: error});
            }
        }

        const segmentRecords: CacheSegmentRecord[] = [];
        let carriedLogProbability = Number.NaN;
        if (firstSegment > 0 && previous.manifest !== undefined) {
            await sequence.loadState(previous.statePath!);
            await sequence.truncate(schedule[firstSegment - 1]!.keptThrough);
            if (adapter !== undefined)
                sequence.takeScores(); // nothing was decoded, but start from an empty score list
            if (sequence.tokenCount !== schedule[firstSegment - 1]!.keptThrough)
                throw new Error(`the refreshed cache holds ${sequence.tokenCount} tokens, expected ${schedule[firstSegment - 1]!.keptThrough}`);
            segmentRecords.push(...previous.manifest.segments.slice(0, firstSegment));
            const last = previous.manifest.segments[firstSegment - 1]!;
            if (last.nextToken === layout.tokens[segments[firstSegment]!.tokenStart] && last.nextTokenLogProbability !== null)
                carriedLogProbability = last.nextTokenLogProbability;
            log(`cache ${key} refreshed from segment ${firstSegment} of ${segments.length} (${previous.reason})`);
        }

        // ---- prefill, score, select, compact
        const prefillStartedAt = performance.now();
        const tokensToEvaluate = segments.slice(firstSegment).reduce((sum, segment) => sum + segment.tokenEnd - segment.tokenStart, 0);
        let evaluatedTokens = 0;
        const reportPrefill = (done: number): void => {
            const elapsedSeconds = (performance.now() - prefillStartedAt) / 1000;
            const tokensPerSecond = elapsedSeconds > 0 ? done / elapsedSeconds : undefined;
            callbacks.onProgress?.({
                phase: "prefilling",
                doneTokens: done,
                totalTokens: tokensToEvaluate,
                tokensPerSecond,
                etaSeconds: tokensPerSecond !== undefined && tokensPerSecond > 0 ? (tokensToEvaluate - done) / tokensPerSecond : undefined
            });
        };
        reportPrefill(0);
        for (let index = firstSegment; index < segments.length; index++) {
            const segment = segments[index]!;
            const plan = schedule[index]!;
            const segmentTokenIds = layout.tokens.slice(segment.tokenStart, segment.tokenEnd);
            const evaluatedBefore = evaluatedTokens;
            const onProgress = (done: number): void => reportPrefill(evaluatedBefore + done);
            let logProbabilities: Float64Array | undefined;
            let nextTokenLogProbability: number | null = null;
            const nextToken = segment.tokenEnd < totalTokens ? layout.tokens[segment.tokenEnd]! : null;
            if (scorer.requirements.logProbabilities) {
                const nextLogProbabilities = await sequence.evaluateWithLogProbabilities(segmentTokenIds, nextToken ?? undefined, {signal: callbacks.signal, onProgress});
                logProbabilities = new Float64Array(segmentTokenIds.length);
                logProbabilities[0] = segment.tokenStart === 0 ? Number.NaN : carriedLogProbability;
                logProbabilities.set(nextLogProbabilities.subarray(0, segmentTokenIds.length - 1), 1);
                carriedLogProbability = nextLogProbabilities[segmentTokenIds.length - 1]!;
                nextTokenLogProbability = nextToken === null ? null : carriedLogProbability;
            } else
                await sequence.evaluate(segmentTokenIds, {signal: callbacks.signal, onProgress});
            evaluatedTokens += segmentTokenIds.length;
            const base = sequence.tokenCount - segmentTokenIds.length;
            // After the segment's prefill and before compaction: the adapter's score of each of its tokens.
            const adapterScores = adapter === undefined ? undefined : segmentAdapterScores(sequence.takeScores(), base, segmentTokenIds.length, index);

            const scores = scorer.scoreSegment({tokens: segmentTokenIds, firstTokenIndex: segment.tokenStart, totalTokens, logProbabilities, adapterScores});
            const selection = selectKeptTokens(scores, alwaysKeepMask.subarray(segment.tokenStart, segment.tokenEnd), plan.keptTokens);
            if (selection.keptIndexes.length !== plan.keptTokens)
                throw new Error(`segment ${index} kept ${selection.keptIndexes.length} tokens, planned ${plan.keptTokens}`);
            callbacks.onSegmentScored?.({segmentIndex: index, tokenStart: segment.tokenStart, tokens: segmentTokenIds, scores, logProbabilities, keptIndexes: selection.keptIndexes});
            if (compaction === "erase-ranges")
                await sequence.eraseRanges(evictedRanges(selection.keptIndexes, segmentTokenIds.length)
                    .map(({start, end}) => ({start: base + start, end: base + end})));
            else {
                const keep = new Uint32Array(base + selection.keptIndexes.length);
                for (let cell = 0; cell < base; cell++)
                    keep[cell] = cell;
                for (let kept = 0; kept < selection.keptIndexes.length; kept++)
                    keep[base + kept] = base + selection.keptIndexes[kept]!;
                await sequence.compact(keep, compaction);
            }
            if (sequence.tokenCount !== plan.keptThrough)
                throw new Error(`after segment ${index} the sequence holds ${sequence.tokenCount} tokens, planned ${plan.keptThrough}`);
            const keptBits = new Uint8Array(segmentTokenIds.length);
            for (const kept of selection.keptIndexes)
                keptBits[kept] = 1;
            segmentRecords.push({
                charStart: segment.charStart,
                charEnd: segment.charEnd,
                tokenStart: segment.tokenStart,
                tokenEnd: segment.tokenEnd,
                tokensDigest: segmentDigests[index]!,
                keptTokens: plan.keptTokens,
                keptThrough: plan.keptThrough,
                keptBitmap: encodeBitmap(keptBits),
                nextTokenLogProbability,
                nextToken
            });
            throwIfCancelled(callbacks.signal);
        }
        // What llama.cpp really decoded (the binding counts it), before the one extra token below.
        const decodedTokens = sequence.evaluatedTokens;
        if (decodedTokens !== evaluatedTokens)
            throw new Error(`decoded ${decodedTokens} tokens, planned ${evaluatedTokens}`);
        // Erasing left a pending K-shift; a saved state must hold rotated keys. (Holes leave none;
        // renumbering applies its own before returning.)
        if (compaction === "erase-ranges")
            await sequence.applyPendingShift();
        const prefillMs = performance.now() - prefillStartedAt;

        // ---- save
        callbacks.onProgress?.({phase: "saving", doneTokens: tokensToEvaluate, totalTokens: tokensToEvaluate});
        throwIfCancelled(callbacks.signal);
        const saveStartedAt = performance.now();
        const temporaryStatePath = writer.newTemporaryStatePath();
        await sequence.saveState(temporaryStatePath);
        throwIfCancelled(callbacks.signal);
        const keptTokens = schedule[schedule.length - 1]!.keptThrough;
        const manifest = await writer.commit(temporaryStatePath, {
            ...baseManifest(),
            segments: segmentRecords,
            files: countKeptPerFile(layout, segments, segmentRecords, input.indexResult),
            keptTokens,
            effectiveKeepRatio: keptTokens / totalTokens,
            contextSize: sequence.contextSize
        });
        const saveMs = performance.now() - saveStartedAt;
        await store.evictToFit(options.cacheSizeCapBytes ?? settings.cacheSizeCapBytes, key);
        const outcome = firstSegment > 0 ? "refreshed" : "built";
        log(`cache ${key} ${outcome}: ${keptTokens} of ${totalTokens} tokens kept, ${evaluatedTokens} evaluated, state ${manifest.state.bytes} bytes`);
        const output: DistillPromptOutput = {
            result: buildResult({key, store, manifest, outcome, evaluatedTokens, input, segments,
                timings: {tokenizeMs, prefillMs, saveMs, totalMs: performance.now() - startedAt}, contextSize: sequence.contextSize}),
            manifest,
            statePath: path.join(store.entryFolder(key), manifest.state.fileName),
            layout
        };
        if (input.keepSequenceOpen === true) {
            output.sequence = sequence;
            handedOver = true;
        }
        return output;
    } catch (error) {
        await writer.abort();
        throw error;
    } finally {
        if (!handedOver)
            await sequence?.dispose();
    }
}

type ReusablePrefix = {
    /** "usable": a valid cache of these settings (maybe of an older workspace); "unusable": none, or rejected. */
    kind: "usable" | "unusable";
    retainedSegments: number;
    manifest?: CacheManifest;
    statePath?: string;
    reason: string;
};

/** How many leading segments of a saved cache can be kept (0 when there is none or it may not be used). */
async function findReusablePrefix(context: {
    store: CacheStore;
    key: string;
    expectations: CacheExpectations;
    cacheSettings: CacheSettings;
    segments: SegmentPlan[];
    segmentDigests: string[];
    schedule: SegmentKeepPlan[];
    input: DistillPromptInput;
    log: EngineLog;
}): Promise<ReusablePrefix> {
    const {store, key, log} = context;
    const read = await store.read(key);
    if (read.kind === "missing")
        return {kind: "unusable", retainedSegments: 0, reason: "no saved cache"};
    if (read.kind === "rejected") {
        log(`cache ${key} rejected: ${read.reason}; rebuilding`);
        return {kind: "unusable", retainedSegments: 0, reason: read.reason};
    }
    const {manifest, statePath} = read;
    const incompatibility = findIncompatibility(manifest, context.expectations);
    if (incompatibility !== undefined) {
        log(`cache ${key} rejected: ${incompatibility}; rebuilding`);
        return {kind: "unusable", retainedSegments: 0, reason: incompatibility};
    }
    const settingsDifference = findSettingsDifference(manifest.settings, context.cacheSettings);
    if (settingsDifference !== undefined) {
        log(`cache ${key} not reused: ${settingsDifference}; rebuilding`);
        return {kind: "unusable", retainedSegments: 0, reason: settingsDifference};
    }
    const stateProblem = await store.verifyState(statePath, manifest.state);
    if (stateProblem !== undefined) {
        log(`cache ${key} rejected: ${stateProblem}; rebuilding`);
        return {kind: "unusable", retainedSegments: 0, reason: stateProblem};
    }
    let sameTokenSegments = 0;
    while (sameTokenSegments < context.segments.length && sameTokenSegments < manifest.segments.length) {
        const stored = manifest.segments[sameTokenSegments]!;
        const current = context.segments[sameTokenSegments]!;
        if (stored.tokensDigest !== context.segmentDigests[sameTokenSegments] || stored.tokenStart !== current.tokenStart ||
            stored.tokenEnd !== current.tokenEnd || stored.keptThrough !== context.schedule[sameTokenSegments]!.keptThrough)
            break;
        sameTokenSegments++;
    }
    // Same tokens and same always-keep rules everywhere: the saved cache is exactly what a rebuild would make.
    if (sameTokenSegments === context.segments.length && manifest.segments.length === context.segments.length)
        return {kind: "usable", retainedSegments: sameTokenSegments, manifest, statePath, reason: "unchanged"};
    // Otherwise keep the segments that end before the indexer's first change AND whose tokens match.
    const firstInvalidatedChar = context.input.diffManifests(manifest.index, context.input.indexResult.manifest).firstInvalidatedChar;
    let beforeChange = 0;
    while (beforeChange < context.segments.length && context.segments[beforeChange]!.charEnd <= firstInvalidatedChar)
        beforeChange++;
    const retained = Math.min(sameTokenSegments, beforeChange, context.segments.length - 1);
    return {kind: "usable", retainedSegments: retained, manifest, statePath, reason: `first change at prompt character ${firstInvalidatedChar}`};
}

function buildResult(context: {
    key: string;
    store: CacheStore;
    manifest: CacheManifest;
    outcome: DistillResult["cacheOutcome"];
    evaluatedTokens: number;
    input: DistillPromptInput;
    segments: SegmentPlan[];
    timings: {tokenizeMs: number; prefillMs: number; saveMs: number; totalMs: number};
    contextSize?: number;
}): DistillResult & {report: CacheReport} {
    const {manifest} = context;
    return {
        cacheId: context.key,
        cachePath: context.store.entryFolder(context.key),
        cacheOutcome: context.outcome,
        promptTokens: manifest.promptTokens,
        keptTokens: manifest.keptTokens,
        effectiveKeepRatio: manifest.effectiveKeepRatio,
        evaluatedTokens: context.evaluatedTokens,
        segments: context.segments.length,
        files: context.input.indexResult.manifest.files.length,
        skippedFiles: context.input.indexResult.manifest.skipped.length,
        timings: {indexMs: 0, ...context.timings},
        stateBytes: manifest.state.bytes,
        contextSize: context.contextSize ?? manifest.contextSize,
        build: {patched: context.input.build.patched, backend: context.input.build.gpu === false ? "cpu" : context.input.build.gpu, description: context.input.build.description},
        compaction: manifest.settings.compaction,
        report: cacheReportFromManifest(manifest)
    };
}

/**
 * Per segment, sha256 of its tokens and always-keep flags chained with the previous digest: equal
 * digest k means equal tokens and rules up to segment k, hence an identical compressed cache.
 */
function chainedSegmentDigests(layout: PromptLayout, segments: readonly SegmentPlan[], alwaysKeepMask: Uint8Array): string[] {
    const digests: string[] = [];
    let previous = "";
    for (const segment of segments) {
        const hash = createHash("sha256").update(previous);
        hash.update(Buffer.from(Uint32Array.from(layout.tokens.slice(segment.tokenStart, segment.tokenEnd)).buffer));
        hash.update(alwaysKeepMask.subarray(segment.tokenStart, segment.tokenEnd));
        previous = hash.digest("hex");
        digests.push(previous);
    }
    return digests;
}

/** The adapter scores of one segment's tokens (sequence indexes base .. base + length - 1), in segment order. */
function segmentAdapterScores(taken: {tokenIndexes: Uint32Array; scores: Float32Array}, base: number, length: number, segmentIndex: number): Float64Array {
    const scores = new Float64Array(length).fill(Number.NaN);
    for (let index = 0; index < taken.tokenIndexes.length; index++) {
        const offset = taken.tokenIndexes[index]! - base;
        if (offset >= 0 && offset < length)
            scores[offset] = taken.scores[index]!;
    }
    const missing = scores.findIndex((score) => Number.isNaN(score));
    if (missing >= 0)
        throw new Error(`the scoring adapter gave no score for token ${base + missing} of segment ${segmentIndex} (${taken.scores.length} scores taken)`);
    return scores;
}

function digestTokens(tokens: readonly number[]): string {
    return createHash("sha256").update(Buffer.from(Uint32Array.from(tokens).buffer)).digest("hex");
}

function countKeptPerFile(
    layout: PromptLayout,
    segments: readonly SegmentPlan[],
    records: readonly CacheSegmentRecord[],
    indexResult: IndexResult
): CacheManifest["files"] {
    const kept = new Uint8Array(layout.tokens.length);
    segments.forEach((segment, index) => {
        const bits = decodeBitmap(records[index]!.keptBitmap, segment.tokenEnd - segment.tokenStart);
        kept.set(bits, segment.tokenStart);
    });
    return indexResult.manifest.files.map((file, fileIndex) => {
        const span = layout.files[fileIndex]!;
        let keptTokens = 0;
        for (let index = span.tokenStart; index < span.tokenEnd; index++)
            keptTokens += kept[index]!;
        return {displayPath: file.displayPath, tokens: span.tokenEnd - span.tokenStart, keptTokens};
    });
}

export function validateDistillOptions(options: DistillOptions): void {
    if (!Array.isArray(options.folders) || options.folders.length === 0)
        throw new InvalidEngineOptionsError("at least one workspace folder is needed");
    if (!(options.keepRatio > 0 && options.keepRatio <= 1))
        throw new InvalidEngineOptionsError(`the keep ratio must be in (0, 1], got ${options.keepRatio}`);
    if (!Number.isInteger(options.segmentTokens) || options.segmentTokens < 0)
        throw new InvalidEngineOptionsError(`segment tokens must be a whole number >= 0, got ${options.segmentTokens}`);
    if (options.segmentTokens > 0 && options.segmentTokens < 64)
        throw new InvalidEngineOptionsError(`segments of ${options.segmentTokens} tokens are too small (at least 64)`);
    if (typeof options.cacheDir !== "string" || options.cacheDir === "")
        throw new InvalidEngineOptionsError("a cache folder is needed");
    if (options.compaction !== undefined && options.compaction !== "holes" && options.compaction !== "renumber")
        throw new InvalidEngineOptionsError(`the compaction mode must be holes or renumber, got ${String(options.compaction)}`);
    if (options.cacheSizeCapBytes !== undefined && !(Number.isFinite(options.cacheSizeCapBytes) && options.cacheSizeCapBytes > 0))
        throw new InvalidEngineOptionsError(`the cache size cap must be a positive number of bytes, got ${options.cacheSizeCapBytes}`);
}

function roundUp(value: number, multiple: number): number {
    return Math.ceil(value / multiple) * multiple;
}

function throwIfCancelled(signal: AbortSignal | undefined): void {
    if (signal?.aborted === true)
        throw new OperationCancelledError("distill", {cause: signal.reason});
}

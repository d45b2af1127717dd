// The extension's settings as typed, validated values. Pure: Config reads VS Code's
// configuration and hands the raw values here, so bad values fall back to defaults in one place.
import type {DistillCompactionMode, ScorerName} from "../engine/engineApi";
import {defaultOutlineDetail, isOutlineDetail, type OutlineDetail} from "../indexer/workspaceOutline";
import type {TrustedModelPath} from "./selectTrustedModelPath";

export type KvDistillSettings = {
    model: TrustedModelPath;
    keepRatio: number;
    scorer: ScorerName;
    segmentTokens: number;
    idleUnloadMinutes: number;
    cacheMaxMegabytes: number;
    autoRefresh: boolean;
    autoRefreshDelaySeconds: number;
    maxFileBytes: number;
    extraExcludes: string[];
    /** End the prompt with the workspace outline (DistillOptions.workspaceOutline). */
    workspaceOutline: boolean;
    /** What the outline shows (DistillOptions.outlineDetail). */
    outlineDetail: OutlineDetail;
    maxAnswerTokens: number;
    /** The llama.cpp build the engine process loads (machine setting; applies when the engine starts). */
    gpu: EngineGpuSetting;
    compaction: DistillCompactionMode;
    /** The scoring adapter of the `adapter` scorer, as trusted (a workspace's value only in a trusted workspace). */
    adapter: TrustedModelPath;
};

export type EngineGpuSetting = "auto" | "cuda" | "vulkan" | "cpu";

/** Setting names below "kvDistill.", as declared in package.json. */
export const settingKeys = {
    modelPath: "model.path",
    keepRatio: "distill.keepRatio",
    scorer: "distill.scorer",
    segmentTokens: "distill.segmentTokens",
    idleUnloadMinutes: "engine.idleUnloadMinutes",
    cacheMaxMegabytes: "cache.maxSizeMegabytes",
    autoRefresh: "refresh.automatic",
    autoRefreshDelaySeconds: "refresh.delaySeconds",
    maxFileBytes: "index.maxFileBytes",
    extraExcludes: "index.extraExcludes",
    workspaceOutline: "index.outline",
    outlineDetail: "index.outlineDetail",
    maxAnswerTokens: "answer.maxTokens",
    gpu: "engine.gpu",
    compaction: "distill.compaction",
    adapterPath: "distill.adapterPath"
} as const;

export const settingDefaults = {
    keepRatio: 0.2,
    scorer: "surprisal" as ScorerName,
    segmentTokens: 4096,
    idleUnloadMinutes: 15,
    cacheMaxMegabytes: 4096,
    autoRefresh: false,
    autoRefreshDelaySeconds: 10,
    maxFileBytes: 1_048_576,
    extraExcludes: [] as string[],
    workspaceOutline: true,
    outlineDetail: defaultOutlineDetail,
    maxAnswerTokens: 1024,
    gpu: "auto" as EngineGpuSetting,
    compaction: "holes" as DistillCompactionMode
};

const noAdapter: TrustedModelPath = {value: "", source: "default", ignoredUntrustedValue: false};

/** Scorers a person may choose; `random` is for benchmarks only. */
export const userScorers: readonly ScorerName[] = ["adapter", "reconstruct", "surprisal", "recent"];

function numberIn(value: unknown, min: number, max: number, fallback: number, integer: boolean): number {
    if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max)
        return fallback;
    return integer ? Math.round(value) : value;
}

export function parseKvDistillSettings(read: (key: string) => unknown, model: TrustedModelPath, adapter: TrustedModelPath = noAdapter): KvDistillSettings {
    const gpu = read(settingKeys.gpu);
    const compaction = read(settingKeys.compaction);
    const scorer = read(settingKeys.scorer);
    const autoRefresh = read(settingKeys.autoRefresh);
    const extraExcludes = read(settingKeys.extraExcludes);
    const workspaceOutline = read(settingKeys.workspaceOutline);
    const outlineDetail = read(settingKeys.outlineDetail);
    const keepRatio = read(settingKeys.keepRatio);
    return {
        model,
        keepRatio: typeof keepRatio === "number" && keepRatio > 0 && keepRatio <= 1 ? keepRatio : settingDefaults.keepRatio,
        scorer: typeof scorer === "string" && (userScorers as readonly string[]).includes(scorer) ? scorer as ScorerName : settingDefaults.scorer,
        segmentTokens: numberIn(read(settingKeys.segmentTokens), 0, 1 << 22, settingDefaults.segmentTokens, true),
        idleUnloadMinutes: numberIn(read(settingKeys.idleUnloadMinutes), 0, 7 * 24 * 60, settingDefaults.idleUnloadMinutes, false),
        cacheMaxMegabytes: numberIn(read(settingKeys.cacheMaxMegabytes), 1, 1 << 24, settingDefaults.cacheMaxMegabytes, true),
        autoRefresh: typeof autoRefresh === "boolean" ? autoRefresh : settingDefaults.autoRefresh,
        autoRefreshDelaySeconds: numberIn(read(settingKeys.autoRefreshDelaySeconds), 1, 3600, settingDefaults.autoRefreshDelaySeconds, false),
        maxFileBytes: numberIn(read(settingKeys.maxFileBytes), 1, 1 << 30, settingDefaults.maxFileBytes, true),
        extraExcludes: Array.isArray(extraExcludes)
            ? extraExcludes.filter((item): item is string => typeof item === "string" && item.trim() !== "").map((item) => item.trim())
            : settingDefaults.extraExcludes,
        workspaceOutline: typeof workspaceOutline === "boolean" ? workspaceOutline : settingDefaults.workspaceOutline,
        outlineDetail: isOutlineDetail(outlineDetail) ? outlineDetail : settingDefaults.outlineDetail,
        maxAnswerTokens: numberIn(read(settingKeys.maxAnswerTokens), 16, 32768, settingDefaults.maxAnswerTokens, true),
        gpu: gpu === "auto" || gpu === "cuda" || gpu === "vulkan" || gpu === "cpu" ? gpu : settingDefaults.gpu,
        compaction: compaction === "holes" || compaction === "renumber" ? compaction : settingDefaults.compaction,
        adapter
    };
}

/** The globs of files.exclude that are switched on (conditional `when` entries are left out). */
export function enabledExcludeGlobs(filesExclude: unknown): string[] {
    if (typeof filesExclude !== "object" || filesExclude === null)
        return [];
    return Object.entries(filesExclude as Record<string, unknown>)
        .filter(([, enabled]) => enabled === true)
        .map(([glob]) => glob);
}

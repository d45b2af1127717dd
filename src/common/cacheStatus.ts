// What the editor knows about the workspace's cache at a moment: shown by the chat header, the
// status bar and the cache report. Pure types, shared by the extension and the chat webview.
import type {EngineProcessState} from "../engine/engineApi";

export type StaleReason =
    | "files-changed"
    | "files-added"
    | "files-deleted"
    | "ignore-rules-changed"
    | "settings-changed"
    | "branch-switched";

export type StaleSummary = {
    stale: boolean;
    reasons: StaleReason[];
    /** Display paths of changed, added or deleted files, the first few only. */
    changedFiles: string[];
    /** How many files changed in all (may exceed changedFiles.length). */
    changedCount: number;
};

export type CacheSummary = {
    files: number;
    skippedFiles: number;
    promptTokens: number;
    keptTokens: number;
    keepRatio: number;
    effectiveKeepRatio: number;
    scorer: string;
    createdAt: string;
};

export type BusyOperation = {
    operation: "distill" | "ask" | "clear" | "unload" | "download";
    phase: "loading-model" | "indexing" | "tokenizing" | "prefilling" | "saving" | "answering" | "waiting" | "downloading";
    /** Share done in [0, 1] when known. */
    fraction: number | undefined;
    message: string | undefined;
    cancellable: boolean;
};

export type ModelDescription =
    | {configured: false}
    | {configured: true; label: string; source: "path" | "hf" | "demo"};

export type CacheStatus = {
    workspaceOpen: boolean;
    engineAvailable: boolean;
    model: ModelDescription;
    cache:
        | {kind: "unknown"}
        | {kind: "none"}
        | {kind: "ready"; summary: CacheSummary}
        | {kind: "error"; message: string};
    stale: StaleSummary;
    busy: BusyOperation | undefined;
    engine: EngineProcessState;
};

export function freshStaleSummary(): StaleSummary {
    return {stale: false, reasons: [], changedFiles: [], changedCount: 0};
}

// The engine options for the current settings and workspace. Pure.
import * as path from "node:path";
import type {KvDistillSettings} from "../config/kvDistillSettings";
import type {DistillOptions} from "../engine/engineApi";

export type DistillOptionsInput = {
    settings: KvDistillSettings;
    folders: readonly string[];
    cacheDir: string;
    /** The model file, already downloaded when the setting is an "hf:" URI. */
    modelPath: string;
    /** files.exclude globs in force (enabled entries only). */
    filesExcludeGlobs: readonly string[];
    /** For "~" and relative adapter paths (taken from home, never from the workspace). */
    homeDirectory?: string;
};

export function buildDistillOptions(input: DistillOptionsInput): DistillOptions {
    return {
        modelPath: input.modelPath,
        folders: [...input.folders],
        keepRatio: input.settings.keepRatio,
        scorer: input.settings.scorer,
        segmentTokens: input.settings.segmentTokens,
        cacheDir: input.cacheDir,
        // Two syntaxes, two fields: the setting is .gitignore syntax, files.exclude VS Code globs.
        extraExcludes: [...input.settings.extraExcludes],
        filesExclude: [...new Set(input.filesExcludeGlobs)],
        maxFileBytes: input.settings.maxFileBytes,
        workspaceOutline: input.settings.workspaceOutline,
        outlineDetail: input.settings.outlineDetail,
        compaction: input.settings.compaction,
        cacheSizeCapBytes: input.settings.cacheMaxMegabytes * 1024 * 1024,
        ...(input.settings.adapter.value === "" ? {} : {adapterPath: resolveFromHome(input.settings.adapter.value, input.homeDirectory ?? "/")})
    };
}

function resolveFromHome(value: string, homeDirectory: string): string {
    const expanded = value === "~" || value.startsWith("~/") ? path.join(homeDirectory, value.slice(1)) : value;
    return path.resolve(homeDirectory, expanded);
}

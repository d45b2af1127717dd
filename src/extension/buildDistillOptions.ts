// The engine options for the current settings and workspace. Pure.
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
        maxFileBytes: input.settings.maxFileBytes
    };
}

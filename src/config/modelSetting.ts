// Reading the kvDistill.model.path value: a GGUF path (with "~" for the home folder) or an
// "hf:" URI that the downloader turns into a local file. Pure.
import * as path from "node:path";
import type {ModelDescription} from "../common/cacheStatus";

export type ModelSetting =
    | {kind: "none"}
    | {kind: "hf"; uri: string}
    | {kind: "path"; path: string; isDemo: boolean};

export function isHuggingFaceUri(value: string): boolean {
    return /^hf:/i.test(value.trim());
}

/**
 * Interprets the setting. Relative paths are taken from the home folder, never from the
 * workspace, so that a workspace cannot point at a file inside itself by a relative path.
 */
export function interpretModelSetting(value: string, homeDirectory: string, demoModelsDirectory: string | undefined): ModelSetting {
    const trimmed = value.trim();
    if (trimmed === "")
        return {kind: "none"};
    if (isHuggingFaceUri(trimmed))
        return {kind: "hf", uri: trimmed};
    let expanded = trimmed;
    if (expanded === "~" || expanded.startsWith("~/"))
        expanded = path.join(homeDirectory, expanded.slice(1));
    const absolute = path.resolve(homeDirectory, expanded);
    const isDemo = demoModelsDirectory !== undefined && path.dirname(absolute) === path.resolve(demoModelsDirectory);
    return {kind: "path", path: absolute, isDemo};
}

export function describeModelSetting(setting: ModelSetting): ModelDescription {
    if (setting.kind === "none")
        return {configured: false};
    if (setting.kind === "hf") {
        const name = setting.uri.replace(/^hf:/i, "").split("/").filter((part) => part !== "").slice(-2).join("/");
        return {configured: true, label: name === "" ? setting.uri : name, source: "hf"};
    }
    if (setting.isDemo)
        return {configured: true, label: `demo model (${path.basename(setting.path)})`, source: "demo"};
    return {configured: true, label: path.basename(setting.path), source: "path"};
}

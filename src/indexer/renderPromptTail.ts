// The end of the prompt: an overview of which files the prompt contains, sorted by path so that it
// reads like a tree. It changes whenever a file is added or removed, so it comes after every file
// section (the manifest's tailStart): adding a file then never invalidates the cached prefix in
// front of it.
import {anyNeedsMarkupEscaping, escapeMarkup} from "./renderFileSection";

/** `displayPathsArePlain`: the caller knows that no path needs escaping (see renderFileHeader). */
export function renderPromptTail(displayPaths: readonly string[], displayPathsArePlain = false): string {
    // The default sort compares strings by UTF-16 code units, as `<` does, without a call per comparison.
    const sorted = [...displayPaths].sort();
    // Almost never does a path need escaping: one scan over all (unless the caller knows), then one join.
    const lines = !displayPathsArePlain && anyNeedsMarkupEscaping(sorted) ? sorted.map((displayPath) => escapeMarkup(displayPath) + "\n").join("") : sorted.length === 0 ? "" : sorted.join("\n") + "\n";
    return `<workspace-files count="${sorted.length}">\n${lines}</workspace-files>\n`;
}

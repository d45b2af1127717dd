// The end of the prompt: an overview of which files the prompt contains, sorted by path so that it
// reads like a tree. It changes whenever a file is added or removed, so it comes after every file
// section (the manifest's tailStart): adding a file then never invalidates the cached prefix in
// front of it.
import {escapeMarkup} from "./renderFileSection";

export function renderPromptTail(displayPaths: readonly string[]): string {
    // The default sort compares strings by UTF-16 code units, as `<` does, without a call per comparison.
    const sorted = [...displayPaths].sort();
    return `<workspace-files count="${sorted.length}">\n${sorted.map((displayPath) => escapeMarkup(displayPath) + "\n").join("")}</workspace-files>\n`;
}

// The question sent for "Explain Selection": the selected code, where it is, and a request to
// explain it with the rest of the workspace in mind.
import {formatMessage, type Translate} from "./formatMessage";

export const maxExplainedCharacters = 12_000;

export type SelectionToExplain = {
    displayPath: string;
    /** 1-based, inclusive. */
    startLine: number;
    endLine: number;
    languageId: string;
    text: string;
};

export function buildExplainSelectionQuestion(selection: SelectionToExplain, extraRequest = "", t: Translate = formatMessage): string {
    let code = selection.text;
    let truncatedNote = "";
    if (code.length > maxExplainedCharacters) {
        code = code.slice(0, maxExplainedCharacters);
        truncatedNote = "\n" + t("(The selection was cut to its first {0} characters.)", maxExplainedCharacters);
    }
    const longestFence = Math.max(2, ...[...code.matchAll(/`{3,}/g)].map((match) => match[0].length));
    const fence = "`".repeat(longestFence + 1);
    const location = selection.startLine === selection.endLine
        ? `${selection.displayPath}:${selection.startLine}`
        : `${selection.displayPath}:${selection.startLine}-${selection.endLine}`;
    const request = extraRequest.trim() === ""
        ? t("Explain this code from {0}: what it does, why, and how it fits into the rest of the workspace.", location)
        : t("About this code from {0}: {1}", location, extraRequest.trim());
    const language = /^[\w+-]+$/.test(selection.languageId) ? selection.languageId : "";
    return `${request}\n\n${fence}${language}\n${code}\n${fence}${truncatedNote}`;
}

// Fits an index into a token budget. When the whole workspace does not fit, files are left out
// least recently changed first, which is the front of the prompt (see compareFilesForPrompt), and
// every left-out file is listed with reason "over-budget": nothing is truncated silently.
//
// Counting is exact for the way the engine feeds the prompt: each file's header and body are
// tokenized separately (tokenizeFileSections does the same), so a file's count includes its
// header, and the tail (the file list, which shrinks as files are left out) is counted as it will
// be rendered. The tokenizer must not add BOS or other special tokens.
import type {IndexedFile, IndexResult, SkippedFile} from "./indexTypes";
import {renderPromptTail} from "./renderPromptTail";

export type FileTokenCount = {displayPath: string; headerTokens: number; tokens: number};

export type BudgetedIndex = {
    /** The prompt and manifest with only the files that fit (char and token spans renumbered); left-out files are in manifest.skipped. */
    result: IndexResult;
    /** The files left out, least recently changed first, each with reason "over-budget". */
    leftOut: SkippedFile[];
    /** Token counts (header included) of every file of the input, kept or not, in the input's prompt order. */
    fileTokens: FileTokenCount[];
    /** Tokens of the budgeted prompt's tail. */
    tailTokens: number;
    /** Tokens of the budgeted prompt. */
    totalTokens: number;
    budgetTokens: number;
    /** False only when even a prompt without any file (just the tail) is over the budget. */
    fits: boolean;
};

export async function applyTokenBudget(
    result: IndexResult,
    tokenize: (text: string) => number | Promise<number>,
    budgetTokens: number
): Promise<BudgetedIndex> {
    const {manifest, prompt} = result;
    const files = manifest.files;
    const fileTokens: FileTokenCount[] = [];
    for (const file of files) {
        const headerTokens = await tokenize(prompt.slice(file.charStart, file.headerEnd));
        const bodyTokens = await tokenize(prompt.slice(file.headerEnd, file.charEnd));
        fileTokens.push({displayPath: file.displayPath, headerTokens, tokens: headerTokens + bodyTokens});
    }
    // tokensFrom[k]: tokens of the sections of files[k..].
    const tokensFrom = new Array<number>(files.length + 1).fill(0);
    for (let index = files.length - 1; index >= 0; index--)
        tokensFrom[index] = tokensFrom[index + 1]! + fileTokens[index]!.tokens;

    const hasTail = manifest.promptChars > manifest.tailStart;
    const tailTextCache = new Map<number, {text: string; tokens: number}>();
    const tailFrom = async (firstKept: number): Promise<{text: string; tokens: number}> => {
        let tail = tailTextCache.get(firstKept);
        if (tail === undefined) {
            const text = !hasTail ? "" : firstKept === 0 ? prompt.slice(manifest.tailStart) : renderPromptTail(files.slice(firstKept).map((file) => file.displayPath));
            tail = {text, tokens: text === "" ? 0 : await tokenize(text)};
            tailTextCache.set(firstKept, tail);
        }
        return tail;
    };
    const fitsFrom = async (firstKept: number): Promise<boolean> => tokensFrom[firstKept]! + (await tailFrom(firstKept)).tokens <= budgetTokens;

    // Smallest number of files to leave out. Leaving out more files never adds tokens (the tail
    // only loses lines), so a binary search needs O(log n) tail tokenizations.
    let firstKept = 0;
    if (!(await fitsFrom(0))) {
        let low = 1;
        let high = files.length;
        while (low < high) {
            const middle = Math.floor((low + high) / 2);
            if (await fitsFrom(middle))
                high = middle;
            else
                low = middle + 1;
        }
        firstKept = low;
    }
    const tail = await tailFrom(firstKept);
    const totalTokens = tokensFrom[firstKept]! + tail.tokens;
    const unbudgetedTokens = tokensFrom[0]! + (await tailFrom(0)).tokens;

    const leftOut: SkippedFile[] = files.slice(0, firstKept).map((file, index) => ({
        displayPath: file.displayPath,
        reason: "over-budget",
        detail: `${fileTokens[index]!.tokens} tokens; left out as one of the ${firstKept} least recently changed files ` +
            `(last changed ${new Date(file.lastChangedMs).toISOString()}${file.uncommitted ? ", uncommitted" : ""}) ` +
            `because the workspace needs ${unbudgetedTokens} tokens and the budget is ${budgetTokens}`
    }));

    const charShift = firstKept < files.length ? files[firstKept]!.charStart : manifest.tailStart;
    let tokenOffset = 0;
    const keptFiles: IndexedFile[] = files.slice(firstKept).map((file, keptIndex) => {
        const counts = fileTokens[firstKept + keptIndex]!;
        const renumbered: IndexedFile = {
            ...file,
            charStart: file.charStart - charShift,
            headerEnd: file.headerEnd - charShift,
            charEnd: file.charEnd - charShift,
            tokenStart: tokenOffset,
            headerTokenEnd: tokenOffset + counts.headerTokens,
            tokenEnd: tokenOffset + counts.tokens
        };
        tokenOffset += counts.tokens;
        return renumbered;
    });
    const sectionsText = prompt.slice(charShift, manifest.tailStart);
    const budgetedPrompt = sectionsText + tail.text;
    const skipped = [...manifest.skipped, ...leftOut].sort((a, b) => (a.displayPath < b.displayPath ? -1 : a.displayPath > b.displayPath ? 1 : 0));
    return {
        result: {
            prompt: budgetedPrompt,
            manifest: {
                ...manifest,
                files: keptFiles,
                skipped,
                promptChars: budgetedPrompt.length,
                tailStart: sectionsText.length,
                promptTokens: totalTokens,
                tailTokenStart: tokenOffset
            }
        },
        leftOut,
        fileTokens,
        tailTokens: tail.tokens,
        totalTokens,
        budgetTokens,
        fits: totalTokens <= budgetTokens
    };
}

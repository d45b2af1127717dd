// Fits an index into a token budget. When the whole workspace does not fit, files are left out
// least recently changed first (uncommitted files last; see compareFilesForPrompt), and every
// left-out file is listed with reason "over-budget": nothing is truncated silently.
//
// Counting is exact for the way the engine feeds the prompt: each file's header and body are
// tokenized separately (tokenizeFileSections does the same), so a file's count includes its
// header, and the tail (the workspace outline and the file list, which both shrink as files are
// left out) is counted as it will be rendered. The tokenizer must not add BOS or other special tokens.
import type {IndexedFile, IndexResult, PromptTailRecord, SkippedFile} from "./indexTypes";
import {manifestOutlineDetail, outlineFileSection, promptTailSha256, renderPromptTail} from "./renderPromptTail";
import {renderWorkspaceOutline, type OutlinedFile} from "./workspaceOutline";
import {compareFilesForPrompt} from "./compareFilesForPrompt";

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
    // Files leave least recently changed first. With the product's order that is the front of the
    // prompt, but the rule holds for any order (the prompt is rebuilt from the kept sections).
    const leaveOrder = files.map((_, index) => index).sort((a, b) => compareFilesForPrompt(files[a]!, files[b]!) || a - b);
    // tokensWithout[k]: tokens of all sections but the first k files of leaveOrder.
    const tokensWithout = new Array<number>(files.length + 1).fill(0);
    tokensWithout[0] = fileTokens.reduce((sum, counts) => sum + counts.tokens, 0);
    for (let k = 1; k <= files.length; k++)
        tokensWithout[k] = tokensWithout[k - 1]! - fileTokens[leaveOrder[k - 1]!]!.tokens;

    // A manifest from before the outline has a tail only when it has a file list.
    const tailParts: Omit<PromptTailRecord, "sha256"> = manifest.tail ?? {outline: false, fileList: manifest.promptChars > manifest.tailStart};
    // Each file's outline entries, read once from its section in the prompt (which holds the content
    // exactly as rendered: the outline the indexer took from it), only if a tail is re-rendered.
    let outlinedFiles: Array<OutlinedFile | undefined> | undefined;
    const outlineDetail = manifestOutlineDetail(tailParts);
    const outlineOfKept = (kept: readonly number[]): string => {
        outlinedFiles ??= files.map((file) => outlineFileSection(file.displayPath, prompt.slice(file.headerEnd, file.charEnd), false, outlineDetail));
        return renderWorkspaceOutline(kept.map((index) => outlinedFiles![index]).filter((outlined) => outlined !== undefined), outlineDetail);
    };
    type BudgetedTail = {text: string; tokens: number; outlineChars: number | undefined};
    const tailCache = new Map<number, BudgetedTail>();
    const tailWithout = async (leftOutCount: number): Promise<BudgetedTail> => {
        let tail = tailCache.get(leftOutCount);
        if (tail === undefined) {
            let text: string;
            let outlineChars: number | undefined;
            if (leftOutCount === 0) {
                text = prompt.slice(manifest.tailStart);
                outlineChars = manifest.tail?.outlineChars;
            } else {
                const leaving = new Set(leaveOrder.slice(0, leftOutCount));
                // Kept files in prompt order: the outline follows it.
                const kept = files.map((_, index) => index).filter((index) => !leaving.has(index));
                const outline = tailParts.outline ? outlineOfKept(kept) : "";
                text = renderPromptTail({outline, fileListPaths: tailParts.fileList ? kept.map((index) => files[index]!.displayPath) : undefined});
                outlineChars = outline.length;
            }
            tail = {text, tokens: text === "" ? 0 : await tokenize(text), outlineChars};
            tailCache.set(leftOutCount, tail);
        }
        return tail;
    };
    const fitsWithout = async (leftOutCount: number): Promise<boolean> => tokensWithout[leftOutCount]! + (await tailWithout(leftOutCount)).tokens <= budgetTokens;

    // Smallest number of files to leave out. Leaving out more files never adds tokens (the tail
    // only loses lines: the file's outline entries and its line in the list), so a binary search
    // needs O(log n) tail tokenizations.
    let leftOutCount = 0;
    if (!(await fitsWithout(0))) {
        let low = 1;
        let high = files.length;
        while (low < high) {
            const middle = Math.floor((low + high) / 2);
            if (await fitsWithout(middle))
                high = middle;
            else
                low = middle + 1;
        }
        leftOutCount = low;
    }
    const tail = await tailWithout(leftOutCount);
    const totalTokens = tokensWithout[leftOutCount]! + tail.tokens;
    const unbudgetedTokens = tokensWithout[0]! + (await tailWithout(0)).tokens;

    const leavingIndexes = leaveOrder.slice(0, leftOutCount);
    const leaving = new Set(leavingIndexes);
    const leftOut: SkippedFile[] = leavingIndexes.map((index) => {
        const file = files[index]!;
        return {
            displayPath: file.displayPath,
            reason: "over-budget",
            detail: `${fileTokens[index]!.tokens} tokens; left out as one of the ${leftOutCount} least recently changed files ` +
                `(last changed ${new Date(file.lastChangedMs).toISOString()}${file.uncommitted ? ", uncommitted" : ""}) ` +
                `because the workspace needs ${unbudgetedTokens} tokens and the budget is ${budgetTokens}`
        };
    });

    const sections: string[] = [];
    const keptFiles: IndexedFile[] = [];
    let charOffset = 0;
    let tokenOffset = 0;
    files.forEach((file, index) => {
        if (leaving.has(index))
            return;
        const counts = fileTokens[index]!;
        sections.push(prompt.slice(file.charStart, file.charEnd));
        keptFiles.push({
            ...file,
            charStart: charOffset,
            headerEnd: charOffset + (file.headerEnd - file.charStart),
            charEnd: charOffset + (file.charEnd - file.charStart),
            tokenStart: tokenOffset,
            headerTokenEnd: tokenOffset + counts.headerTokens,
            tokenEnd: tokenOffset + counts.tokens
        });
        charOffset += file.charEnd - file.charStart;
        tokenOffset += counts.tokens;
    });
    const sectionsText = sections.join("");
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
                ...(manifest.tail === undefined ? {} : {tail: {
                    ...manifest.tail,
                    sha256: promptTailSha256(tail.text),
                    ...(tail.outlineChars === undefined ? {} : {outlineChars: tail.outlineChars})
                }}),
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

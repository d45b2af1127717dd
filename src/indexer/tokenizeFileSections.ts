// Tokenizes a rendered prompt the way the engine feeds it: file by file, each header and each body
// on its own (so a header's tokens are exactly known, for the always-kept tokens), then the tail.
// Returns the tokens and a manifest whose files carry their token spans. Token counts agree with
// applyTokenBudget's. A caller that renders through renderPromptToSink gets the same tokens by
// tokenizing each chunk's `header` and `body` separately, then the tail.
import type {IndexManifest, IndexResult} from "./indexTypes";

export type TokenizedPrompt = {
    /** Every token of the prompt, in order. */
    tokens: number[];
    /** The input manifest with tokenStart, headerTokenEnd, tokenEnd on every file and promptTokens, tailTokenStart set. */
    manifest: IndexManifest;
};

export async function tokenizeFileSections(
    result: IndexResult,
    tokenize: (text: string) => readonly number[] | Promise<readonly number[]>
): Promise<TokenizedPrompt> {
    const {prompt, manifest} = result;
    const tokens: number[] = [];
    const append = (part: readonly number[]): void => {
        for (const token of part)
            tokens.push(token);
    };
    const files = [];
    for (const file of manifest.files) {
        const tokenStart = tokens.length;
        append(await tokenize(prompt.slice(file.charStart, file.headerEnd)));
        const headerTokenEnd = tokens.length;
        append(await tokenize(prompt.slice(file.headerEnd, file.charEnd)));
        files.push({...file, tokenStart, headerTokenEnd, tokenEnd: tokens.length});
    }
    const tailTokenStart = tokens.length;
    if (manifest.promptChars > manifest.tailStart)
        append(await tokenize(prompt.slice(manifest.tailStart)));
    return {tokens, manifest: {...manifest, files, promptTokens: tokens.length, tailTokenStart}};
}

import {strict as assert} from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import {after, describe, it} from "node:test";
import {indexWorkspace} from "../../../src/indexer/indexWorkspace";
import {applyTokenBudget} from "../../../src/indexer/applyTokenBudget";
import {tokenizeFileSections} from "../../../src/indexer/tokenizeFileSections";
import type {IndexResult} from "../../../src/indexer/indexTypes";
import {createFixtureWorkspace, removeFixture} from "./fixtureWorkspace";

const fixtures: string[] = [];
after(() => fixtures.forEach(removeFixture));

/** A deterministic stand-in tokenizer: one token per run of word characters or per other non-space character. */
function toTokenIds(text: string): number[] {
    return [...text.matchAll(/\w+|[^\s\w]/g)].map((match) => match[0].length * 1000 + match[0].charCodeAt(0));
}
const countTokens = (text: string): number => toTokenIds(text).length;

async function fiveFileWorkspace(order: "change-time" | "path" = "change-time"): Promise<IndexResult> {
    const root = createFixtureWorkspace({
        "oldest.ts": "one two three four five six seven eight nine ten\n",
        "older.ts": "a b c d e f g h i j\n",
        "middle.ts": "alpha beta gamma\n",
        "newer.ts": "x y z\n",
        "newest.ts": "final words\n"
    });
    fixtures.push(root);
    ["oldest.ts", "older.ts", "middle.ts", "newer.ts", "newest.ts"].forEach((name, index) =>
        fs.utimesSync(path.join(root, name), new Date(`${2001 + index}-01-01`), new Date(`${2001 + index}-01-01`)));
    return indexWorkspace({folders: [{name: "w", path: root}], useGit: false, order});
}

describe("applyTokenBudget", () => {
    it("keeps everything, with token spans that include headers, when the workspace fits", async () => {
        const result = await fiveFileWorkspace();
        const budgeted = await applyTokenBudget(result, countTokens, 100_000);
        assert.equal(budgeted.fits, true);
        assert.deepEqual(budgeted.leftOut, []);
        assert.equal(budgeted.result.prompt, result.prompt);
        assert.equal(budgeted.totalTokens, budgeted.fileTokens.reduce((sum, file) => sum + file.tokens, 0) + budgeted.tailTokens);
        const oldest = budgeted.fileTokens[0]!;
        const headerTokens = countTokens("<file path=\"oldest.ts\" language=\"typescript\">\n");
        assert.equal(oldest.headerTokens, headerTokens);
        assert.equal(oldest.tokens, headerTokens + 10 + countTokens("</file>\n"));
        const first = budgeted.result.manifest.files[0]!;
        assert.deepEqual([first.tokenStart, first.headerTokenEnd, first.tokenEnd], [0, headerTokens, oldest.tokens]);
        assert.equal(budgeted.result.manifest.promptTokens, budgeted.totalTokens);
    });

    it("leaves out the least recently changed files first and names each of them", async () => {
        const result = await fiveFileWorkspace();
        const full = await applyTokenBudget(result, countTokens, Number.MAX_SAFE_INTEGER);
        const [oldest, older] = full.fileTokens;
        // Room for everything except the two oldest files (and the tail, which loses their lines).
        const budget = full.totalTokens - oldest!.tokens - older!.tokens - 2 * countTokens("oldest.ts\n");
        const budgeted = await applyTokenBudget(result, countTokens, budget);
        assert.equal(budgeted.fits, true);
        assert.ok(budgeted.totalTokens <= budget);
        assert.deepEqual(budgeted.leftOut.map((file) => [file.displayPath, file.reason]), [["oldest.ts", "over-budget"], ["older.ts", "over-budget"]]);
        assert.match(budgeted.leftOut[0]!.detail, new RegExp(`^${oldest!.tokens} tokens; .*budget is ${budget}$`));
        assert.deepEqual(budgeted.result.manifest.files.map((file) => file.displayPath), ["middle.ts", "newer.ts", "newest.ts"]);
        assert.ok(budgeted.result.manifest.skipped.some((file) => file.displayPath === "older.ts" && file.reason === "over-budget"));
        // The budgeted prompt is consistent: spans, tail and token counts all describe it.
        const {prompt, manifest} = budgeted.result;
        assert.equal(manifest.files[0]!.charStart, 0);
        assert.equal(prompt.slice(manifest.files[0]!.charStart, manifest.files[0]!.headerEnd), "<file path=\"middle.ts\" language=\"typescript\">\n");
        assert.equal(prompt.slice(manifest.tailStart), "<workspace-files count=\"3\">\nmiddle.ts\nnewer.ts\nnewest.ts\n</workspace-files>\n");
        assert.equal(manifest.promptChars, prompt.length);
        const tokenized = await tokenizeFileSections(budgeted.result, toTokenIds);
        assert.equal(tokenized.tokens.length, budgeted.totalTokens);
        assert.deepEqual(tokenized.manifest.files.map((file) => [file.tokenStart, file.headerTokenEnd, file.tokenEnd]),
            manifest.files.map((file) => [file.tokenStart, file.headerTokenEnd, file.tokenEnd]));

        // One token less and a third file has to go.
        const tighter = await applyTokenBudget(result, countTokens, budget - 1);
        assert.equal(tighter.leftOut.length, 3);
    });

    it("leaves out the least recently changed files whatever the prompt order", async () => {
        const result = await fiveFileWorkspace("path");
        assert.deepEqual(result.manifest.files.map((file) => file.displayPath), ["middle.ts", "newer.ts", "newest.ts", "older.ts", "oldest.ts"]);
        const full = await applyTokenBudget(result, countTokens, Number.MAX_SAFE_INTEGER);
        const byPath = new Map(full.fileTokens.map((counts) => [counts.displayPath, counts.tokens]));
        const budget = full.totalTokens - byPath.get("oldest.ts")! - countTokens("oldest.ts\n");
        const budgeted = await applyTokenBudget(result, countTokens, budget);
        assert.deepEqual(budgeted.leftOut.map((file) => file.displayPath), ["oldest.ts"]);
        assert.equal(budgeted.totalTokens, budget);
        const {prompt, manifest} = budgeted.result;
        assert.deepEqual(manifest.files.map((file) => file.displayPath), ["middle.ts", "newer.ts", "newest.ts", "older.ts"]);
        for (const file of manifest.files)
            assert.equal(prompt.slice(file.charStart, file.headerEnd), `<file path="${file.displayPath}" language="typescript">\n`);
        assert.equal(manifest.tailStart, manifest.files.at(-1)!.charEnd);
    });

    it("says it does not fit when even the empty prompt is over the budget", async () => {
        const result = await fiveFileWorkspace();
        const budgeted = await applyTokenBudget(result, async (text) => countTokens(text), 3);
        assert.equal(budgeted.fits, false);
        assert.equal(budgeted.leftOut.length, 5);
        assert.equal(budgeted.result.manifest.files.length, 0);
        assert.equal(budgeted.result.prompt, "<workspace-files count=\"0\">\n</workspace-files>\n");
    });
});

describe("tokenizeFileSections", () => {
    it("gives every file its token span, header separate, and concatenates all tokens in prompt order", async () => {
        const result = await fiveFileWorkspace();
        const tokenized = await tokenizeFileSections(result, toTokenIds);
        const files = tokenized.manifest.files;
        assert.equal(files[0]!.tokenStart, 0);
        for (let index = 1; index < files.length; index++)
            assert.equal(files[index]!.tokenStart, files[index - 1]!.tokenEnd);
        for (const file of files) {
            const header = result.prompt.slice(file.charStart, file.headerEnd);
            assert.deepEqual(tokenized.tokens.slice(file.tokenStart, file.headerTokenEnd), toTokenIds(header));
            assert.deepEqual(tokenized.tokens.slice(file.headerTokenEnd, file.tokenEnd), toTokenIds(result.prompt.slice(file.headerEnd, file.charEnd)));
        }
        assert.equal(tokenized.manifest.tailTokenStart, files.at(-1)!.tokenEnd);
        assert.deepEqual(tokenized.tokens.slice(tokenized.manifest.tailTokenStart), toTokenIds(result.prompt.slice(result.manifest.tailStart)));
        assert.equal(tokenized.manifest.promptTokens, tokenized.tokens.length);
    });
});

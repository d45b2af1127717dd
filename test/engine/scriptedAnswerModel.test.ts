// The scripted fixture model of the end-to-end scenario (test/fixtures/scriptedAnswerModel.ts),
// loaded through the real engine with the extension's default distill settings: it answers exactly
// its scripted text, streamed token by token, to a first question and to a follow-up.
import assert from "node:assert/strict";
import {cp, readFile, rm} from "node:fs/promises";
import path from "node:path";
import {after, before, describe, test} from "node:test";
import {Engine} from "../../src/engine/Engine";
import {defaultWorkspaceIndexer} from "../../src/engine/defaultWorkspaceIndexer";
import type {DistillOptions} from "../../src/engine/engineApi";
import type {ScorerName} from "../../src/engine/engineApi";
import {findRepositoryRoot} from "../fixtures/repositoryPaths";
import {ensureScriptedAnswerModel, scriptAnswerTokens, scriptedWorkspaceAnswer} from "../fixtures/scriptedAnswerModel";
import {makeTemporaryFolder, snapshotFolder} from "./helpers/engineTestKit";

const timeout = 300_000;

type SettingDefaults = {keepRatio: number; scorer: ScorerName; segmentTokens: number};

/** The extension's defaults for the distill settings, as package.json declares them. */
async function readExtensionDistillDefaults(): Promise<SettingDefaults> {
    const manifest = JSON.parse(await readFile(path.join(findRepositoryRoot(), "package.json"), "utf8")) as {
        contributes: {configuration: {properties: Record<string, {default: unknown}>}};
    };
    const properties = manifest.contributes.configuration.properties;
    return {
        keepRatio: properties["kvDistill.distill.keepRatio"]!.default as number,
        scorer: properties["kvDistill.distill.scorer"]!.default as ScorerName,
        segmentTokens: properties["kvDistill.distill.segmentTokens"]!.default as number
    };
}

describe("scripted answer model", {timeout}, () => {
    let engine: Engine;
    let workspace: string;
    let cacheDir: string;
    let options: DistillOptions;
    let snapshotBefore: Record<string, string>;

    before(async () => {
        workspace = await makeTemporaryFolder("scripted-ws");
        cacheDir = await makeTemporaryFolder("scripted-cache");
        await cp(path.join(findRepositoryRoot(), "test", "e2e", "fixtures", "smallWorkspace"), workspace, {recursive: true});
        snapshotBefore = await snapshotFolder(workspace);
        engine = new Engine({indexer: defaultWorkspaceIndexer, gpu: false, batchSize: 128, threads: 1});
        options = {modelPath: await ensureScriptedAnswerModel(), folders: [workspace], cacheDir, ...(await readExtensionDistillDefaults())};
    });

    after(async () => {
        await engine?.dispose();
        await rm(workspace, {recursive: true, force: true});
        await rm(cacheDir, {recursive: true, force: true});
    });

    test("splits the answer into distinct vocabulary tokens and refuses a text that repeats one", () => {
        const vocabulary = ["a", "b", "\u0120a", "ab", "\u0120", "[PAD0]"];
        const types = [1, 1, 1, 1, 1, 4];
        assert.deepEqual(scriptAnswerTokens("ab a", vocabulary, types), [3, 2]);
        assert.throws(() => scriptAnswerTokens("a a a", vocabulary, types), /repeats the token/);
        assert.throws(() => scriptAnswerTokens("a\nb", vocabulary, types), /printable ASCII/);
        assert.throws(() => scriptAnswerTokens("c", vocabulary, types), /no vocabulary token/);
    });

    test("with the extension's default settings, distills the workspace and answers exactly the scripted text, streamed", {timeout}, async () => {
        const streamed: string[] = [];
        const first = await engine.ask({...options, question: "Where is the greeting built?"}, {onToken: (text) => streamed.push(text)});
        assert.equal(first.distill.cacheOutcome, "built");
        assert.ok(first.distill.keptTokens < first.distill.promptTokens, `${first.distill.keptTokens}/${first.distill.promptTokens} tokens kept: compressed`);
        assert.equal(first.answer, scriptedWorkspaceAnswer);
        assert.equal(first.stopReason, "end-of-turn");
        assert.ok(streamed.length >= 5, `streamed in ${streamed.length} pieces`);
        assert.equal(streamed.join(""), scriptedWorkspaceAnswer);

        const followUp = await engine.ask({
            ...options,
            question: "And what does it return?",
            history: [{role: "user", text: "Where is the greeting built?"}, {role: "assistant", text: first.answer}]
        });
        assert.equal(followUp.distill.cacheOutcome, "reused");
        assert.equal(followUp.historyTurnsUsed, 2);
        assert.equal(followUp.answer, scriptedWorkspaceAnswer);
        assert.deepEqual(await snapshotFolder(workspace), snapshotBefore, "the workspace is byte-identical");
    });
});

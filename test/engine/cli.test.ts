// The distill and ask commands, in-process with the test indexer, and the built binary's errors.
import assert from "node:assert/strict";
import {execFile} from "node:child_process";
import {existsSync} from "node:fs";
import {rm} from "node:fs/promises";
import path from "node:path";
import {Writable} from "node:stream";
import {after, before, describe, test} from "node:test";
import {promisify} from "node:util";
import {runAskCommand} from "../../src/cli/askCommand";
import {runDistillCommand} from "../../src/cli/distillCommand";
import type {EngineCommandDependencies} from "../../src/cli/distillCommand";
import {UsageError} from "../../src/common/errors";
import {ModelFileNotFoundError} from "../../src/engine/engineErrors";
import {findRepositoryRoot} from "../fixtures/repositoryPaths";
import {ensureFixtureModel} from "../fixtures/fixtureModel";
import {makeTemporaryFolder, snapshotFolder, writeSampleWorkspace} from "./helpers/engineTestKit";
import {testWorkspaceIndexer} from "./helpers/testWorkspaceIndexer";

const timeout = 300_000;
const execFileAsync = promisify(execFile);

class CapturedStream extends Writable {
    public text = "";
    public override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: () => void): void {
        this.text += chunk.toString();
        callback();
    }
}

describe("kv-distill distill / ask", {timeout}, () => {
    let workspace: string;
    let cacheRoot: string;
    let modelPath: string;
    let snapshotBefore: Record<string, string>;

    before(async () => {
        modelPath = await ensureFixtureModel();
        workspace = await makeTemporaryFolder("ws");
        cacheRoot = await makeTemporaryFolder("cache");
        await writeSampleWorkspace(workspace, {files: 3, linesPerFile: 6});
        snapshotBefore = await snapshotFolder(workspace);
    });

    after(async () => {
        await rm(workspace, {recursive: true, force: true});
        await rm(cacheRoot, {recursive: true, force: true});
    });

    function dependencies(): EngineCommandDependencies & {stdout: CapturedStream; stderr: CapturedStream} {
        return {
            indexer: testWorkspaceIndexer,
            stdout: new CapturedStream(),
            stderr: new CapturedStream(),
            // The cache folder comes from the environment here: XDG_CACHE_HOME/kv-distill.
            environment: {logFile: undefined, cacheDir: undefined, xdgCacheHome: cacheRoot, home: "/nonexistent", engineDir: undefined, xdgRuntimeDir: undefined, nodeLlamaCppDir: undefined}
        };
    }

    const common = (): string[] => ["--model", modelPath, "--keep", "0.25", "--scorer", "recent", "--segment-tokens", "256", "--threads", "1", "--gpu", "cpu"];

    test("distill --json prints one JSON object with the figures; a second run reuses the cache", {timeout}, async () => {
        const first = dependencies();
        assert.equal(await runDistillCommand([workspace, ...common(), "--json"], first), 0);
        const lines = first.stdout.text.trim().split("\n");
        assert.equal(lines.length, 1);
        const result = JSON.parse(lines[0]!) as Record<string, unknown>;
        assert.equal(result.command, "distill");
        assert.equal(result.cacheOutcome, "built");
        assert.equal(result.keepRatio, 0.25);
        assert.ok((result.promptTokens as number) > (result.keptTokens as number));
        assert.ok(String(result.cachePath).startsWith(path.join(cacheRoot, "kv-distill")));
        assert.ok(existsSync(String(result.cachePath)));
        for (const key of ["indexMs", "tokenizeMs", "prefillMs", "saveMs", "totalMs"])
            assert.equal(typeof (result.timings as Record<string, unknown>)[key], "number");

        const second = dependencies();
        assert.equal(await runDistillCommand([workspace, ...common(), "--json"], second), 0);
        assert.equal((JSON.parse(second.stdout.text) as {cacheOutcome: string}).cacheOutcome, "reused");
    });

    test("ask --json answers under `answer` and says the cache was reused", {timeout}, async () => {
        const run = dependencies();
        assert.equal(await runAskCommand([workspace, "What is the retry limit?", ...common(), "--max-answer-tokens", "6", "--json"], run), 0);
        const result = JSON.parse(run.stdout.text) as Record<string, unknown>;
        assert.equal(result.command, "ask");
        assert.equal(typeof result.answer, "string");
        assert.ok((result.answer as string).length > 0);
        assert.ok((result.answerTokens as number) >= 1 && (result.answerTokens as number) <= 6);
        assert.equal(result.cacheReused, true);
        assert.equal(result.evaluatedTokens, 0);
        for (const key of ["loadMs", "firstTokenMs", "answerMs", "totalMs", "distillMs"])
            assert.equal(typeof (result.timings as Record<string, unknown>)[key], "number");
    });

    test("ask in text mode streams the answer to stdout and the figures to stderr", {timeout}, async () => {
        const json = dependencies();
        await runAskCommand([workspace, "Which file has helper_1_2?", ...common(), "--max-answer-tokens", "5", "--json"], json);
        const text = dependencies();
        assert.equal(await runAskCommand([workspace, "Which file has helper_1_2?", ...common(), "--max-answer-tokens", "5"], text), 0);
        assert.equal(text.stdout.text, (JSON.parse(json.stdout.text) as {answer: string}).answer + "\n");
        assert.match(text.stderr.text, /reused cache: \d+ tokens -> \d+ kept/);
    });

    test("bad invocations fail with specific errors naming the offending file", {timeout}, async () => {
        await assert.rejects(runDistillCommand([workspace, "--keep", "0.2"], dependencies()), /missing --model/);
        await assert.rejects(runDistillCommand([path.join(workspace, "nope"), ...common()], dependencies()),
            (error: unknown) => error instanceof UsageError && error.message.includes(path.join(workspace, "nope")));
        await assert.rejects(runDistillCommand([workspace, ...common(), "--keep", "1.5"], dependencies()), /--keep must be in/);
        await assert.rejects(runAskCommand([workspace, ...common()], dependencies()), /expected a folder and a question/);
        const missingModel = path.join(workspace, "..", "no-model.gguf");
        await assert.rejects(runDistillCommand([workspace, ...common().slice(2), "--model", missingModel], dependencies()),
            (error: unknown) => error instanceof ModelFileNotFoundError && error.message.includes(path.resolve(missingModel)));
    });

    test("the built binary exits non-zero with the error on stderr", {timeout}, async (context) => {
        const cli = path.join(findRepositoryRoot(), "dist", "cli.js");
        if (!existsSync(cli)) {
            context.skip("dist/cli.js is not built (npm run build)");
            return;
        }
        const failure = await execFileAsync(process.execPath, [cli, "ask", path.join(workspace, "missing-folder"), "question", "--model", modelPath])
            .then(() => undefined, (error: {code: number; stderr: string}) => error);
        assert.ok(failure !== undefined);
        assert.equal(failure.code, 2);
        assert.match(failure.stderr, /kv-distill ask: .*missing-folder is not a folder/);
    });

    test("the workspace's files are byte-identical afterwards", {timeout}, async () => {
        assert.deepEqual(await snapshotFolder(workspace), snapshotBefore);
    });
});

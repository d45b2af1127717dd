import {strict as assert} from "node:assert";
import {mkdtemp, readFile, rm} from "node:fs/promises";
import {tmpdir} from "node:os";
import path from "node:path";
import {after, before, describe, it} from "node:test";
import {EditorSession} from "../e2e/harness/EditorSession";
import {repositoryRoot} from "../e2e/harness/findE2eTools";
import type {VscodeSuiteResults} from "./suite/index";

// The @vscode/test-electron suite (test/vscode/suite, mocha in the extension host) run inside
// code-server's Node extension host instead of a downloaded VS Code: the workbench URL's
// `payload` carries extensionDevelopmentPath and extensionTestsPath, as VS Code's own "open an
// extension development host" does in the browser, and the workbench reports the extension
// host's exit code through window.codeAutomationExit, as @vscode/test-web relies on. A release
// build of the workbench ignores that payload unless the smoke-test driver is enabled, hence
// `--vscode-option enable-smoke-test-driver`.
describe("in-editor suite (test/vscode/suite) in code-server's extension host", {timeout: 240_000}, () => {
    let session: EditorSession;
    let resultsDir: string;
    let results: VscodeSuiteResults;
    let exitCode: number;

    before(async () => {
        resultsDir = await mkdtemp(path.join(tmpdir(), "kvd-results-"));
        const resultsFile = path.join(resultsDir, "results.json");
        let reportExit: (code: number) => void = () => undefined;
        const exited = new Promise<number>((resolve) => {
            reportExit = resolve;
        });
        session = await EditorSession.start({
            name: "vscode-suite",
            fixture: "smallWorkspace",
            installVsix: false,
            // The workbench honours a development payload only when it is not a release build
            // or the smoke-test driver is enabled.
            codeServerArguments: ["--vscode-option", "enable-smoke-test-driver"],
            env: {KV_DISTILL_VSCODE_TEST_RESULTS: resultsFile},
            workbenchQuery: (server) => {
                const remote = (folder: string) => `vscode-remote://${new URL(server.url).host}${folder}`;
                return {
                    payload: JSON.stringify([
                        ["extensionDevelopmentPath", remote(repositoryRoot)],
                        ["extensionTestsPath", remote(path.join(repositoryRoot, "out", "test", "vscode", "suite", "index.js"))]
                    ])
                };
            },
            beforeOpen: async (page) => {
                await page.exposeFunction("codeAutomationExit", (code: number) => reportExit(code));
            }
        });
        exitCode = await Promise.race([
            exited,
            new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`the extension host did not finish the suite in 180 s; code-server said:\n${session.server.readLog().slice(-3000)}`)), 180_000).unref())
        ]);
        const resultsText = await readFile(resultsFile, "utf8").catch(() => undefined);
        if (resultsText === undefined)
            throw new Error(`the extension host exited with ${exitCode} and wrote no results; see artifacts/e2e/vscode-suite-code-server.log`);
        results = JSON.parse(resultsText) as VscodeSuiteResults;
    });

    after(async () => {
        await session?.close();
        if (resultsDir !== undefined)
            await rm(resultsDir, {recursive: true, force: true});
    });

    it("runs every in-editor test and none fails", async (t) => {
        // One subtest per in-editor test, so that failures and counts show up in this runner.
        for (const title of results.passed)
            await t.test(title, () => undefined);
        for (const failure of results.failed)
            await t.test(failure.title, () => assert.fail(failure.error));
        assert.deepEqual(results.pending, [], "no in-editor test is skipped");
        assert.ok(results.passed.length + results.failed.length >= 5, "the suite ran its tests");
        assert.equal(exitCode, results.failed.length === 0 ? 0 : 1, "the extension host's exit code matches the results");
    });

    it("leaves the workspace's files byte-identical", async () => {
        await session.assertWorkspaceUnchanged();
    });
});

// The entry point VS Code's extension host loads with --extensionTestsPath: runs every
// `*.test.js` beside it with mocha, inside the editor. Used by `npm run test:vscode`
// (@vscode/test-electron) and by codeServerHost.test.ts (the same suite in code-server).
import {readdirSync, writeFileSync} from "node:fs";
import path from "node:path";
import Mocha from "mocha";

/** What a run writes to KV_DISTILL_VSCODE_TEST_RESULTS when that is set, for a runner outside the editor. */
export type VscodeSuiteResults = {
    passed: string[];
    failed: {title: string; error: string}[];
    pending: string[];
};

export async function run(): Promise<void> {
    const mocha = new Mocha({ui: "bdd", color: false, timeout: 60_000, reporter: "spec"});
    for (const file of readdirSync(__dirname).filter((name) => name.endsWith(".test.js")).sort())
        mocha.addFile(path.join(__dirname, file));
    const results: VscodeSuiteResults = {passed: [], failed: [], pending: []};
    const failures = await new Promise<number>((resolve, reject) => {
        try {
            mocha.run((failureCount) => resolve(failureCount))
                .on("pass", (test) => results.passed.push(test.fullTitle()))
                .on("fail", (test, error: Error) => results.failed.push({title: test.fullTitle(), error: error.stack ?? error.message}))
                .on("pending", (test) => results.pending.push(test.fullTitle()));
        } catch (error) {
            reject(error);
        }
    });
    const resultsFile = process.env.KV_DISTILL_VSCODE_TEST_RESULTS;
    if (resultsFile !== undefined && resultsFile !== "")
        writeFileSync(resultsFile, JSON.stringify(results, null, 2));
    if (failures > 0)
        throw new Error(`${failures} of ${results.passed.length + failures} in-editor tests failed`);
}

// `npm run test:vscode`: the in-editor suite (test/vscode/suite) in a desktop VS Code that
// @vscode/test-electron downloads. Needs the internet (or a cached download in .vscode-test/);
// on machines without it, codeServerHost.test.ts runs the same suite in code-server.
import {cp, mkdtemp, rm} from "node:fs/promises";
import {tmpdir} from "node:os";
import path from "node:path";
import {runTests} from "@vscode/test-electron";

async function main(): Promise<void> {
    const repositoryRoot = path.resolve(__dirname, "..", "..", "..");
    const scratch = await mkdtemp(path.join(tmpdir(), "kvd-vscode-"));
    try {
        const workspaceDir = path.join(scratch, "workspace");
        await cp(path.join(repositoryRoot, "test", "e2e", "fixtures", "smallWorkspace"), workspaceDir, {recursive: true});
        await runTests({
            version: process.env.KV_DISTILL_VSCODE_VERSION ?? "1.139.1",
            extensionDevelopmentPath: repositoryRoot,
            extensionTestsPath: path.join(__dirname, "suite", "index.js"),
            extensionTestsEnv: {KV_DISTILL_LOG_FILE: path.join(scratch, "kv-distill.log")},
            launchArgs: [workspaceDir, "--disable-extensions", "--disable-workspace-trust", "--user-data-dir", path.join(scratch, "user-data")]
        });
    } finally {
        await rm(scratch, {recursive: true, force: true});
    }
}

main().catch((error: unknown) => {
    console.error(`test:vscode failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
});

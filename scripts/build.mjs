// Bundles the extension, the engine child process, the CLI and the webview scripts.
// node-llama-cpp stays external: it finds its binaries by its own file layout.
import * as esbuild from "esbuild";
import {chmod} from "node:fs/promises";

const watch = process.argv.includes("--watch");
const production = process.argv.includes("--production");

const nodeCommon = {
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    sourcemap: !production,
    minify: production,
    external: ["vscode", "node-llama-cpp"],
    // Error classes cross the engine socket by name; minifying must not rename them.
    keepNames: true,
    logLevel: "info"
};

const targets = [
    {...nodeCommon, entryPoints: {extension: "src/extension.ts"}, outdir: "dist"},
    {...nodeCommon, entryPoints: {cli: "src/cli/main.ts"}, outdir: "dist", banner: {js: "#!/usr/bin/env node"}}
];

const extraEntries = (await import("./buildEntries.mjs")).extraBuildEntries(nodeCommon);
targets.push(...extraEntries);

if (watch) {
    for (const options of targets) {
        const context = await esbuild.context(options);
        await context.watch();
    }
} else {
    await Promise.all(targets.map((options) => esbuild.build(options)));
    await chmod("dist/cli.js", 0o755);
}

// Further bundles (engine child process, webview scripts). Kept apart so that features can add
// their entries without touching the build driver.
import {existsSync} from "node:fs";

export function extraBuildEntries(nodeCommon) {
    const entries = [];
    if (existsSync("src/engine/engineMain.ts"))
        entries.push({...nodeCommon, entryPoints: {engine: "src/engine/engineMain.ts"}, outdir: "dist"});
    const webviewCommon = {bundle: true, platform: "browser", target: "es2022", format: "iife", sourcemap: nodeCommon.sourcemap, minify: nodeCommon.minify, logLevel: "info"};
    if (existsSync("media/overview/main.ts"))
        entries.push({...webviewCommon, entryPoints: {overview: "media/overview/main.ts"}, outdir: "media/dist"});
    if (existsSync("media/chat/main.ts"))
        entries.push({...webviewCommon, entryPoints: {chat: "media/chat/main.ts"}, outdir: "media/dist"});
    return entries;
}

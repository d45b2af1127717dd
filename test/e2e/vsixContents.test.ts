import {strict as assert} from "node:assert";
import {existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {before, describe, it} from "node:test";
import {findE2eTools} from "./harness/findE2eTools";
import {listZipEntries, type ZipEntry} from "./harness/listZipEntries";
import {unpackSourceArchive} from "../../src/native/unpackSourceArchive";
import {readZipEntry} from "./harness/readZipEntry";

// What `npm run package` ships, checked against the .vscodeignore allowlist.
describe("packaged VSIX contents", () => {
    let vsix: string;
    let entries: ZipEntry[];
    let names: string[];

    before(async () => {
        vsix = findE2eTools({requireVsix: true}).vsix;
        entries = await listZipEntries(vsix);
        names = entries.map((entry) => entry.name);
    });

    it("has the manifest, the bundles, the webview assets and the docs", () => {
        for (const required of ["extension.vsixmanifest", "extension/package.json", "extension/dist/extension.js", "extension/dist/cli.js",
            "extension/media/dist/overview.js", "extension/media/overview/overview.css", "extension/media/icon.svg",
            "extension/readme.md", "extension/changelog.md", "extension/LICENSE.txt"])
            assert.ok(names.includes(required), `${required} is in the VSIX`);
    });

    it("targets linux-x64 and carries the extension's identity", async () => {
        const manifestEntry = entries.find((entry) => entry.name === "extension.vsixmanifest");
        assert.ok(manifestEntry !== undefined);
        const manifest = (await readZipEntry(vsix, manifestEntry)).toString("utf8");
        assert.match(manifest, /<Identity [^>]*Id="kv-distill"[^>]*Publisher="kv-distill"[^>]*TargetPlatform="linux-x64"/);
        const packageEntry = entries.find((entry) => entry.name === "extension/package.json");
        assert.ok(packageEntry !== undefined);
        const packageJson = JSON.parse((await readZipEntry(vsix, packageEntry)).toString("utf8")) as {main: string; engines: {vscode: string}};
        assert.equal(packageJson.main, "./dist/extension.js");
    });

    it("ships node-llama-cpp with only the plain linux-x64 prebuilt binary", () => {
        assert.ok(names.includes("extension/node_modules/node-llama-cpp/package.json"));
        assert.ok(names.some((name) => /^extension\/node_modules\/@node-llama-cpp\/linux-x64\/bins\/linux-x64\/llama-addon\.node$/.test(name)), "linux-x64 addon present");
        const prebuiltPackages = new Set(names.flatMap((name) => /^extension\/node_modules\/@node-llama-cpp\/([^/]+)\//.exec(name)?.[1] ?? []));
        assert.deepEqual([...prebuiltPackages], ["linux-x64"]);
        const otherBinaries = names.filter((name) => /(cuda|vulkan|metal|arm64|armv7l|riscv64|win-x64|mac-x64)[^/]*\/.*\.(node|so|dylib|dll)$/.test(name));
        assert.deepEqual(otherBinaries, []);
    });

    it("ships the patched CPU build (only what node-llama-cpp loads), the patched addon sources and what a source build needs", async () => {
        const localBuilds = "extension/node_modules/node-llama-cpp/llama/localBuilds/";
        for (const required of ["linux-x64/Release/llama-addon.node", "linux-x64/Release/_nlcBuildMetadata.json", "linux-x64/buildDone.status", "kv-distill-build-cpu.json"])
            assert.ok(names.includes(localBuilds + required), `${required} is in the VSIX`);
        assert.ok(names.some((name) => name.startsWith(`${localBuilds}linux-x64/Release/libllama`) && name.endsWith(".so")), "libllama");
        assert.ok(names.some((name) => name.startsWith(`${localBuilds}linux-x64/Release/libggml-cpu`)), "libggml-cpu");
        const stampEntry = entries.find((entry) => entry.name === `${localBuilds}kv-distill-build-cpu.json`);
        assert.ok(stampEntry !== undefined);
        const stamp = JSON.parse((await readZipEntry(vsix, stampEntry)).toString("utf8")) as {gpu: string; buildFolder: string; patches: string[]};
        assert.deepEqual([stamp.gpu, stamp.buildFolder], ["false", "linux-x64"]);
        assert.ok(stamp.patches.length >= 4);
        // the addon sources are the patched ones, and the build's helpers are there (run with Node: no npm needed)
        const addonEntry = entries.find((entry) => entry.name === "extension/node_modules/node-llama-cpp/llama/addon/AddonContext.cpp");
        assert.ok(addonEntry !== undefined);
        assert.match((await readZipEntry(vsix, addonEntry)).toString("utf8"), /compactSequence/);
        for (const required of ["extension/node_modules/cmake-js/bin/cmake-js", "extension/node_modules/node-addon-api/napi.h",
            "extension/node_modules/node-llama-cpp/llama/CMakeLists.txt", "extension/node_modules/node-llama-cpp/llama/llama.cpp.info.json",
            "extension/node_modules/node-llama-cpp/dist/cli/cli.js"])
            assert.ok(names.includes(required), `${required} is in the VSIX`);
    });

    it("ships the patched llama.cpp sources as a brotli tar that unpacks to a buildable tree", async () => {
        const archiveEntry = entries.find((entry) => entry.name === "extension/dist/native/llama.cpp.tar.br");
        assert.ok(archiveEntry !== undefined, "dist/native/llama.cpp.tar.br is in the VSIX");
        const scratch = mkdtempSync(path.join(os.tmpdir(), "kv-distill-vsix-source-"));
        try {
            writeFileSync(path.join(scratch, "llama.cpp.tar.br"), await readZipEntry(vsix, archiveEntry));
            const files = await unpackSourceArchive(path.join(scratch, "llama.cpp.tar.br"), path.join(scratch, "llama.cpp"));
            assert.ok(files > 1000, `${files} files`);
            assert.match(readFileSync(path.join(scratch, "llama.cpp", "src", "llama-ext.h"), "utf8"), /llama_seq_compact\(/);
            assert.match(readFileSync(path.join(scratch, "llama.cpp", "src", "llama-ext.h"), "utf8"), /llama_adapter_scorer_init/);
            for (const folder of ["ggml/src/ggml-cuda", "ggml/src/ggml-vulkan", "common", "vendor", "cmake"])
                assert.ok(existsSync(path.join(scratch, "llama.cpp", folder)), folder);
            for (const leftOut of [".git", "docs", "models", "tests", "tools", "examples"])
                assert.equal(existsSync(path.join(scratch, "llama.cpp", leftOut)), false, leftOut);
            const marker = JSON.parse(readFileSync(path.join(scratch, "llama.cpp", ".kv-distill-patches.json"), "utf8")) as {seriesHash: string; patches: string[]};
            assert.match(marker.seriesHash, /^[0-9a-f]{64}$/);
        } finally {
            rmSync(scratch, {recursive: true, force: true});
        }
    });

    it("leaves out the llama.cpp git bundle and source tree, the native build tree, TypeScript sources, source maps and development files", () => {
        const shippedLocalBuildFile = /^extension\/node_modules\/node-llama-cpp\/llama\/localBuilds\/(kv-distill-build-cpu\.json|linux-x64\/buildDone\.status|linux-x64\/Release\/[^/]+)$/;
        const unwanted = names.filter((name) =>
            name.endsWith("gitRelease.bundle") ||
            /^extension\/node_modules\/node-llama-cpp\/llama\/(llama\.cpp|addon\.kv-distill-pristine)\//.test(name) ||
            (name.startsWith("extension/node_modules/node-llama-cpp/llama/localBuilds/") && !shippedLocalBuildFile.test(name)) ||
            /^extension\/(src|test|scripts|out|\.vscode|\.ci|native)\//.test(name) ||
            /^extension\/(media|dist)\/.*\.(ts|map)$/.test(name) ||
            /^extension\/node_modules\/(typescript|eslint|esbuild|playwright-core|@vscode\/vsce|mocha)\//.test(name) ||
            /^extension\/(tsconfig\.json|eslint\.config\.mjs|package-lock\.json|\.vscodeignore|\.gitignore)$/.test(name));
        assert.deepEqual(unwanted, []);
    });

    it("stays small", () => {
        const unpackedBytes = entries.reduce((sum, entry) => sum + entry.uncompressedSize, 0);
        // About 23 MiB packed and 66 MiB unpacked today: the prebuilt and the patched linux-x64 llama.cpp builds
        // (13 MiB each unpacked) and the 4 MiB patched source archive are most of it.
        assert.ok(statSync(vsix).size < 30 * 1024 * 1024, `VSIX is ${statSync(vsix).size} bytes`);
        assert.ok(unpackedBytes < 80 * 1024 * 1024, `VSIX unpacks to ${unpackedBytes} bytes`);
    });
});

import {strict as assert} from "node:assert";
import {statSync} from "node:fs";
import {before, describe, it} from "node:test";
import {findE2eTools} from "./harness/findE2eTools";
import {listZipEntries, type ZipEntry} from "./harness/listZipEntries";
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

    it("leaves out the llama.cpp git bundle, local native builds, TypeScript sources, source maps and development files", () => {
        const unwanted = names.filter((name) =>
            name.endsWith("gitRelease.bundle") ||
            /^extension\/node_modules\/node-llama-cpp\/llama\/(llama\.cpp|localBuilds|addon\.kv-distill-pristine)\//.test(name) ||
            /^extension\/(src|test|scripts|out|\.vscode|\.ci|native)\//.test(name) ||
            /^extension\/(media|dist)\/.*\.(ts|map)$/.test(name) ||
            /^extension\/node_modules\/(typescript|eslint|esbuild|playwright-core|@vscode\/vsce|mocha)\//.test(name) ||
            /^extension\/(tsconfig\.json|eslint\.config\.mjs|package-lock\.json|\.vscodeignore|\.gitignore)$/.test(name));
        assert.deepEqual(unwanted, []);
    });

    it("stays small", () => {
        const unpackedBytes = entries.reduce((sum, entry) => sum + entry.uncompressedSize, 0);
        // About 14 MiB packed and 42 MiB unpacked today, nearly all of it the linux-x64 llama.cpp build.
        assert.ok(statSync(vsix).size < 25 * 1024 * 1024, `VSIX is ${statSync(vsix).size} bytes`);
        assert.ok(unpackedBytes < 80 * 1024 * 1024, `VSIX unpacks to ${unpackedBytes} bytes`);
    });
});

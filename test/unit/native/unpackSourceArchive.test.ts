import assert from "node:assert/strict";
import {execFileSync} from "node:child_process";
import {existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync} from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {after, before, describe, test} from "node:test";
import * as zlib from "node:zlib";
import {SourceArchiveError, unpackSourceArchive} from "../../../src/native/unpackSourceArchive";
import {repositoryRoot, writeScript} from "./fakeBuildInstallation";

// A tar header the way a hostile or broken archive could carry one.
function tarEntry(name: string, content: Buffer, type = "0"): Buffer {
    const header = Buffer.alloc(512);
    header.write(name, 0, 100);
    header.write("0000644\0", 100);
    header.write("0000000\0", 108);
    header.write("0000000\0", 116);
    header.write(content.length.toString(8).padStart(11, "0") + "\0", 124);
    header.write("00000000000\0", 136);
    header.write("        ", 148);
    header.write(type, 156);
    header.write("ustar\0", 257);
    header.write("00", 263);
    let sum = 0;
    for (const byte of header)
        sum += byte;
    header.write(sum.toString(8).padStart(6, "0") + "\0 ", 148);
    const padding = Buffer.alloc((512 - content.length % 512) % 512);
    return Buffer.concat([header, content, padding]);
}

describe("the patched llama.cpp source archive", () => {
    let temporary: string;
    let source: string;
    let archive: string;
    const longName = `ggml/src/${"deeply-nested-folder-name/".repeat(5)}kernel-with-a-long-file-name.cu`;

    before(() => {
        temporary = mkdtempSync(path.join(os.tmpdir(), "kv-distill-archive-"));
        source = path.join(temporary, "llama.cpp");
        for (const entry of ["cmake", "common", "include", "src", "vendor/nlohmann", "licenses"])
            mkdirSync(path.join(source, entry), {recursive: true});
        writeFileSync(path.join(source, "CMakeLists.txt"), "cmake_minimum_required(VERSION 3.14)\n");
        writeFileSync(path.join(source, "LICENSE"), "MIT\n");
        writeFileSync(path.join(source, "src", "llama.cpp"), Buffer.alloc(70_000, "x"));
        writeFileSync(path.join(source, "vendor", "nlohmann", "json.hpp"), "// ü unicode\n");
        writeScript(path.join(source, "cmake", "build-info.sh"), "#!/bin/sh\necho hi\n");
        mkdirSync(path.dirname(path.join(source, longName)), {recursive: true});
        writeFileSync(path.join(source, longName), "__global__ void k() {}\n");
        // what the archive must leave out
        mkdirSync(path.join(source, "docs"), {recursive: true});
        writeFileSync(path.join(source, "docs", "build.md"), "docs");
        mkdirSync(path.join(source, ".git"), {recursive: true});
        writeFileSync(path.join(source, ".git", "HEAD"), "ref");
        archive = path.join(temporary, "llama.cpp.tar.br");
        execFileSync(process.execPath, [path.join(repositoryRoot, "scripts", "packNativeSource.mjs"), archive, "--source", source], {cwd: repositoryRoot, stdio: "pipe"});
    });
    after(() => rmSync(temporary, {recursive: true, force: true}));

    test("packs only what the build compiles, with the series marker, and unpacks byte for byte", async () => {
        const target = path.join(temporary, "unpacked");
        const count = await unpackSourceArchive(archive, target);
        assert.equal(count, 7);
        for (const relative of ["CMakeLists.txt", "LICENSE", "src/llama.cpp", "vendor/nlohmann/json.hpp", "cmake/build-info.sh", longName])
            assert.deepEqual(readFileSync(path.join(target, relative)), readFileSync(path.join(source, relative)), relative);
        assert.equal(statSync(path.join(target, "cmake", "build-info.sh")).mode & 0o777, 0o755);
        assert.equal(statSync(path.join(target, "LICENSE")).mode & 0o777, 0o644);
        assert.equal(existsSync(path.join(target, "docs")), false);
        assert.equal(existsSync(path.join(target, ".git")), false);
        const marker = JSON.parse(readFileSync(path.join(target, ".kv-distill-patches.json"), "utf8")) as {seriesHash: string; patches: string[]};
        assert.match(marker.seriesHash, /^[0-9a-f]{64}$/);
        const manifest = JSON.parse(readFileSync(path.join(repositoryRoot, "native", "patches", "manifest.json"), "utf8")) as {patches: {file: string}[]};
        assert.deepEqual(marker.patches, manifest.patches.map((patch) => patch.file));
        // GNU tar reads it too (a plain ustar stream)
        const listing = execFileSync("tar", ["-t"], {input: zlib.brotliDecompressSync(readFileSync(archive))}).toString("utf8").trim().split("\n");
        assert.ok(listing.includes(longName), "tar sees the long name through the ustar prefix");
    });

    test("refuses paths that leave the target folder, links, damaged and truncated archives, writing nothing outside", async () => {
        const cases: [string, Buffer, RegExp][] = [
            ["escape", Buffer.concat([tarEntry("../escaped.txt", Buffer.from("x")), Buffer.alloc(1024)]), /unsafe path "\.\.\/escaped\.txt"/],
            ["absolute", Buffer.concat([tarEntry("/tmp/absolute.txt", Buffer.from("x")), Buffer.alloc(1024)]), /unsafe path/],
            ["link", Buffer.concat([tarEntry("link", Buffer.alloc(0), "2"), Buffer.alloc(1024)]), /tar type "2"/],
            ["truncated", tarEntry("big.txt", Buffer.alloc(2048, "y")).subarray(0, 1024), /truncated/],
            ["no end", tarEntry("a.txt", Buffer.from("a")), /ends without the tar end marker/]
        ];
        for (const [name, tar, pattern] of cases) {
            const file = path.join(temporary, `${name}.tar.br`);
            writeFileSync(file, zlib.brotliCompressSync(tar));
            const target = path.join(temporary, "hostile", name);
            await assert.rejects(unpackSourceArchive(file, target), (error: unknown) => error instanceof SourceArchiveError && pattern.test(error.message), name);
        }
        assert.equal(existsSync(path.join(temporary, "hostile", "escaped.txt")), false);
        const damagedHeader = tarEntry("a.txt", Buffer.from("a"));
        damagedHeader[0] = "b".charCodeAt(0);
        writeFileSync(path.join(temporary, "checksum.tar.br"), zlib.brotliCompressSync(Buffer.concat([damagedHeader, Buffer.alloc(1024)])));
        await assert.rejects(unpackSourceArchive(path.join(temporary, "checksum.tar.br"), path.join(temporary, "hostile", "checksum")), /damaged header/);
        writeFileSync(path.join(temporary, "garbage.tar.br"), "this is not brotli");
        await assert.rejects(unpackSourceArchive(path.join(temporary, "garbage.tar.br"), path.join(temporary, "hostile", "garbage")), /cannot be read/);
        assert.deepEqual(readdirSync(path.join(temporary, "hostile", "checksum")), []);
    });
});

import {strict as assert} from "node:assert";
import {execFileSync} from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import {after, describe, it} from "node:test";
import {indexWorkspace} from "../../../src/indexer/indexWorkspace";
import type {IndexResult} from "../../../src/indexer/indexTypes";
import {asyncNodeIndexerFileSystem, nodeIndexerFileSystem, type IndexerFileSystem} from "../../../src/indexer/indexerFileSystem";
import {detectBinaryContent} from "../../../src/indexer/detectBinaryContent";
import {WorkspaceFolderError} from "../../../src/indexer/WorkspaceFolderError";
import {createFixtureWorkspace, createTemporaryFolder, removeFixture, snapshotTree} from "./fixtureWorkspace";

const fixtures: string[] = [];
after(() => fixtures.forEach(removeFixture));

function fixture(files: Record<string, string | Buffer>): string {
    const root = createFixtureWorkspace(files);
    fixtures.push(root);
    return root;
}

function skippedAs(result: IndexResult, displayPath: string): {reason: string; detail: string} | undefined {
    const skipped = result.manifest.skipped.find((candidate) => candidate.displayPath === displayPath);
    return skipped === undefined ? undefined : {reason: skipped.reason, detail: skipped.detail};
}

function sectionOf(result: IndexResult, displayPath: string): {header: string; body: string} {
    const file = result.manifest.files.find((candidate) => candidate.displayPath === displayPath);
    assert.ok(file !== undefined, `${displayPath} is indexed`);
    return {header: result.prompt.slice(file.charStart, file.headerEnd), body: result.prompt.slice(file.headerEnd, file.charEnd)};
}

/** Fails selected operations with an errno-style error, as a permission problem would for a non-root user. */
function failingFileSystem(failures: {open?: string[]; list?: string[]; beforeOpen?(filePath: string): void}): IndexerFileSystem {
    const denied = (syscall: string, target: string): Error =>
        Object.assign(new Error(`EACCES: permission denied, ${syscall} '${target}'`), {code: "EACCES", syscall, path: target});
    return {
        ...nodeIndexerFileSystem,
        readDirectory: async (target) => {
            if (failures.list?.some((suffix) => target.endsWith(suffix)))
                throw denied("scandir", target);
            return nodeIndexerFileSystem.readDirectory(target);
        },
        openFile: async (target) => {
            failures.beforeOpen?.(target);
            if (failures.open?.some((suffix) => target.endsWith(suffix)))
                throw denied("open", target);
            return nodeIndexerFileSystem.openFile(target);
        }
    };
}

describe("file content", () => {
    it("detects binary files by content, not only by extension", async () => {
        const root = fixture({
            "nul.txt": Buffer.from([0x68, 0x69, 0x00, 0x21]),
            "latin1.txt": Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a]),
            "image.png": "not really a png, but the extension is always binary",
            "table.dat": "a,b\n1,2\n",
            "late-nul.txt": Buffer.concat([Buffer.alloc(9000, 0x61), Buffer.from([0])]),
            "source.ts": "export const x = 1;\n"
        });
        const result = await indexWorkspace({folders: [{name: "w", path: root}], useGit: false});
        assert.deepEqual(result.manifest.files.map((file) => file.displayPath).sort(), ["late-nul.txt", "source.ts", "table.dat"]);
        assert.deepEqual(skippedAs(result, "nul.txt"), {reason: "binary", detail: "contains NUL bytes"});
        assert.deepEqual(skippedAs(result, "latin1.txt"), {reason: "binary", detail: "not valid UTF-8"});
        assert.equal(skippedAs(result, "image.png")?.reason, "binary");
    });

    it("judges only complete UTF-8 sequences at the end of an 8 KiB prefix", () => {
        const euro = Buffer.from("€", "utf8"); // 3 bytes
        const cut = Buffer.concat([Buffer.alloc(10, 0x61), euro.subarray(0, 2)]);
        assert.equal(detectBinaryContent(cut, false), undefined, "a sequence cut by the prefix is fine");
        assert.equal(detectBinaryContent(cut, true), "not valid UTF-8", "but not at the real end of the file");
        assert.equal(detectBinaryContent(Buffer.from("héllo ✓ 😀"), true), undefined);
    });

    it("with a prefix the caller found to be ASCII, still finds NUL bytes and answers as without that hint", () => {
        for (const prefix of [Buffer.from("plain text\n"), Buffer.from("a\u0000b"), Buffer.alloc(0), Buffer.alloc(8192, 0x7f)])
            for (const isWholeFile of [true, false])
                assert.equal(detectBinaryContent(prefix, isWholeFile, true), detectBinaryContent(prefix, isWholeFile));
        assert.equal(detectBinaryContent(Buffer.from("a\u0000b"), true, true), "contains NUL bytes");
    });

    it("skips files over the size cap without reading them, and keeps one exactly at the cap", async () => {
        const root = fixture({"huge.txt": Buffer.alloc(2 * 1024 * 1024 + 1, 0x61), "at-cap.txt": Buffer.alloc(1000, 0x62), "over-cap.txt": Buffer.alloc(1001, 0x62)});
        const defaults = await indexWorkspace({folders: [{name: "w", path: root}], useGit: false});
        assert.equal(skippedAs(defaults, "huge.txt")?.reason, "too-large");
        assert.match(skippedAs(defaults, "huge.txt")!.detail, /2097153 bytes, over the 1048576-byte cap/);
        const capped = await indexWorkspace({folders: [{name: "w", path: root}], useGit: false, maxFileBytes: 1000});
        assert.deepEqual(capped.manifest.files.map((file) => file.displayPath), ["at-cap.txt"]);
        assert.equal(skippedAs(capped, "over-cap.txt")?.reason, "too-large");
    });

    it("keeps CRLF files' hash and size from the bytes and renders their lines with LF", async () => {
        const bytes = Buffer.from("\ufeffline one\r\nline two\r\n", "utf8");
        const root = fixture({"windows.txt": bytes, "no-final-newline.ts": "a\r\nb"});
        const result = await indexWorkspace({folders: [{name: "w", path: root}], useGit: false});
        const file = result.manifest.files.find((candidate) => candidate.displayPath === "windows.txt")!;
        assert.equal(file.sizeBytes, bytes.length);
        assert.equal(file.contentHash, "" + (await import("node:crypto")).createHash("sha256").update(bytes).digest("hex"));
        assert.equal(sectionOf(result, "windows.txt").body, "line one\nline two\n</file>\n");
        assert.equal(sectionOf(result, "no-final-newline.ts").body, "a\nb\n</file>\n");
    });

    it("reports unreadable files and folders without failing (injected EACCES, works as root too)", async () => {
        const root = fixture({"readable.ts": "ok", "locked.ts": "secret", "locked-folder/inside.ts": "x"});
        const fileSystem = failingFileSystem({open: ["locked.ts"], list: ["locked-folder"]});
        const result = await indexWorkspace({folders: [{name: "w", path: root}], useGit: false, fileSystem});
        assert.deepEqual(result.manifest.files.map((file) => file.displayPath), ["readable.ts"]);
        assert.equal(skippedAs(result, "locked.ts")?.reason, "unreadable");
        assert.match(skippedAs(result, "locked.ts")!.detail, /EACCES/);
        assert.equal(skippedAs(result, "locked-folder/")?.reason, "unreadable");
        assert.match(skippedAs(result, "locked-folder/")!.detail, /could not be listed: EACCES/);
    });

    it("reports a file that vanishes between listing and reading, and FIFOs and sockets, as unreadable", async () => {
        const root = fixture({"stays.ts": "s", "vanishes.ts": "v"});
        execFileSync("mkfifo", [path.join(root, "pipe")]);
        const server = net.createServer();
        await new Promise<void>((resolve) => server.listen(path.join(root, "socket"), resolve));
        const fileSystem = failingFileSystem({beforeOpen: (filePath) => {
            if (filePath.endsWith("vanishes.ts"))
                fs.rmSync(filePath, {force: true});
        }});
        const result = await indexWorkspace({folders: [{name: "w", path: root}], useGit: false, fileSystem});
        await new Promise((resolve) => server.close(resolve));
        assert.deepEqual(result.manifest.files.map((file) => file.displayPath), ["stays.ts"]);
        assert.equal(skippedAs(result, "socket")?.reason, "unreadable");
        assert.equal(skippedAs(result, "vanishes.ts")?.reason, "unreadable");
        assert.match(skippedAs(result, "vanishes.ts")!.detail, /vanished/);
        assert.deepEqual(skippedAs(result, "pipe"), {reason: "unreadable", detail: "not a regular file (a FIFO, socket or device)"});
    });

    it("stops at symlink loops and indexes a folder reached twice only once", async () => {
        const root = fixture({"real/a.ts": "a", "other/b.ts": "b"});
        fs.symlinkSync("..", path.join(root, "real", "up"));               // loops back to the root
        fs.symlinkSync(path.join(root, "real"), path.join(root, "alias")); // second way into real/
        fs.symlinkSync("self", path.join(root, "self"));                   // a link to itself
        fs.symlinkSync("missing-target", path.join(root, "dangling"));
        fs.symlinkSync(path.join(root, "other", "b.ts"), path.join(root, "linked-file.ts"));
        const before = snapshotTree(root);
        const result = await indexWorkspace({folders: [{name: "w", path: root}], useGit: false});
        assert.deepEqual(result.manifest.files.map((file) => file.displayPath).sort(), ["linked-file.ts", "other/b.ts", "real/a.ts"]);
        assert.equal(skippedAs(result, "real/up/")?.reason, "symlink-loop");
        assert.equal(skippedAs(result, "alias/")?.reason, "symlink-loop");
        assert.match(skippedAs(result, "alias/")!.detail, /already indexed/);
        assert.equal(skippedAs(result, "self")?.reason, "symlink-loop");
        assert.equal(skippedAs(result, "dangling")?.reason, "unreadable");
        assert.deepEqual(snapshotTree(root), before);
    });

    it("handles unicode and space-containing paths, escaping them in headers", async () => {
        const root = fixture({"dossier été/naïve café.md": "bonjour", "日本語/ファイル.ts": "const a = 1;", "quote\"and<angle>.txt": "q"});
        const result = await indexWorkspace({folders: [{name: "w", path: root}], useGit: false});
        assert.deepEqual(result.manifest.files.map((file) => file.displayPath).sort(), ["dossier été/naïve café.md", "quote\"and<angle>.txt", "日本語/ファイル.ts"]);
        assert.equal(sectionOf(result, "dossier été/naïve café.md").header, "<file path=\"dossier été/naïve café.md\" language=\"markdown\">\n");
        assert.equal(sectionOf(result, "quote\"and<angle>.txt").header, "<file path=\"quote&#34;and&#60;angle&#62;.txt\" language=\"plaintext\">\n");
        assert.equal(sectionOf(result, "日本語/ファイル.ts").body, "const a = 1;\n</file>\n");
    });

    it("indexes an empty workspace into a prompt with an empty file list", async () => {
        const root = createTemporaryFolder();
        fixtures.push(root);
        const result = await indexWorkspace({folders: [{name: "w", path: root}], useGit: false});
        assert.deepEqual(result.manifest.files, []);
        assert.deepEqual(result.manifest.skipped, []);
        assert.equal(result.manifest.tailStart, 0);
        assert.equal(result.prompt, "<workspace-files count=\"0\">\n</workspace-files>\n");
        assert.equal(result.manifest.promptChars, result.prompt.length);
    });

    it("keeps two folders with the same relative paths distinct, and two folders with the same name too", async () => {
        const first = fixture({"src/index.ts": "first"});
        const second = fixture({"src/index.ts": "second"});
        const result = await indexWorkspace({folders: [{name: "client", path: first}, {name: "server", path: second}], useGit: false});
        const paths = result.manifest.files.map((file) => file.displayPath).sort();
        assert.deepEqual(paths, ["client/src/index.ts", "server/src/index.ts"]);
        assert.match(sectionOf(result, "client/src/index.ts").body, /^first\n/);
        assert.match(sectionOf(result, "server/src/index.ts").body, /^second\n/);
        assert.deepEqual(result.manifest.files.map((file) => file.relativePath), ["src/index.ts", "src/index.ts"]);

        const sameNames = await indexWorkspace({folders: [{name: "app", path: first}, {name: "app", path: second}], useGit: false});
        assert.deepEqual(sameNames.manifest.files.map((file) => file.displayPath).sort(), ["app/src/index.ts", "app~2/src/index.ts"]);

        const single = await indexWorkspace({folders: [{name: "client", path: first}], useGit: false});
        assert.deepEqual(single.manifest.files.map((file) => file.displayPath), ["src/index.ts"], "no prefix with one folder");
    });

    it("gives the same index through the synchronous (default) and the asynchronous file system", async () => {
        const root = fixture({"a.ts": "a", "dir/b.md": "b", "dir/sub/c.json": "{}", "bin.dat": Buffer.from([0, 0]), ".gitignore": "*.log\n", "x.log": "x"});
        fs.symlinkSync("..", path.join(root, "dir", "loop"));
        const viaSync = await indexWorkspace({folders: [{name: "w", path: root}], useGit: false});
        const viaAsync = await indexWorkspace({folders: [{name: "w", path: root}], useGit: false, fileSystem: asyncNodeIndexerFileSystem});
        assert.deepEqual(viaAsync, viaSync);
        assert.equal(viaSync.manifest.files.length, 4);
    });

    it("throws a WorkspaceFolderError naming a missing folder", async () => {
        const parent = createTemporaryFolder();
        fixtures.push(parent);
        const missing = path.join(parent, "does-not-exist");
        await assert.rejects(indexWorkspace({folders: [{name: "gone", path: missing}]}), (error: unknown) =>
            error instanceof WorkspaceFolderError && error.folderPath === missing && error.message.includes(missing));
    });

    it("stops when aborted", async () => {
        const root = fixture({"a.ts": "a"});
        const controller = new AbortController();
        controller.abort();
        await assert.rejects(indexWorkspace({folders: [{name: "w", path: root}]}, controller.signal), {name: "AbortError"});
    });

    it("reports progress ending with the final totals", async () => {
        const root = fixture({"a.ts": "aaaa", "b.ts": "bb", "c.bin": Buffer.from([0, 1, 2])});
        const reports: Array<{filesSeen: number; filesIndexed: number; bytes: number}> = [];
        await indexWorkspace({folders: [{name: "w", path: root}], useGit: false, onProgress: (progress) => reports.push(progress)});
        assert.deepEqual(reports.at(-1), {filesSeen: 3, filesIndexed: 2, bytes: 6});
    });
});

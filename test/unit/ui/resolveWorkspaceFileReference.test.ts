import {strict as assert} from "node:assert";
import {mkdir, mkdtemp, realpath, rm, symlink, writeFile} from "node:fs/promises";
import {tmpdir} from "node:os";
import * as path from "node:path";
import {after, before, describe, it} from "node:test";
import {findWorkspaceFileReferences} from "../../../src/common/findWorkspaceFileReferences";
import {nodeFileSystemProbe} from "../../../src/common/nodeFileSystemProbe";
import {resolveWorkspaceFileReference} from "../../../src/common/resolveWorkspaceFileReference";
import type {WorkspaceFolderLocation} from "../../../src/common/workspacePaths";

// Real files and symlinks in a temporary folder: the outside-the-workspace cases must be refused
// by the same checks that run in the editor.
describe("resolveWorkspaceFileReference", () => {
    let scratch: string;
    let workspace: string;
    let outside: string;
    let folders: WorkspaceFolderLocation[];

    before(async () => {
        scratch = await realpath(await mkdtemp(path.join(tmpdir(), "kvd-links-")));
        workspace = path.join(scratch, "workspace");
        outside = path.join(scratch, "outside");
        await mkdir(path.join(workspace, "src", "nested"), {recursive: true});
        await mkdir(outside, {recursive: true});
        await writeFile(path.join(workspace, "src", "greeting.ts"), "export const greeting = 'hi';\n");
        await writeFile(path.join(workspace, "src", "nested", "deep.ts"), "x\n");
        await writeFile(path.join(workspace, "..hidden.ts"), "dots\n");
        await writeFile(path.join(outside, "secret.txt"), "secret\n");
        await symlink(path.join(outside, "secret.txt"), path.join(workspace, "src", "escape.txt"));
        await symlink(outside, path.join(workspace, "linked-outside"));
        await symlink(path.join(workspace, "src", "greeting.ts"), path.join(workspace, "alias.ts"));
        folders = [{name: "workspace", path: workspace}];
    });

    after(async () => {
        await rm(scratch, {recursive: true, force: true});
    });

    it("opens a file inside the workspace, with its line and column", async () => {
        const resolution = await resolveWorkspaceFileReference("src/greeting.ts:1:8", folders, nodeFileSystemProbe);
        assert.deepEqual(resolution, {ok: true, file: {absolutePath: path.join(workspace, "src", "greeting.ts"), displayPath: "src/greeting.ts", folderName: "workspace", line: 1, column: 8}});
        const viaDotSlash = await resolveWorkspaceFileReference("./src/nested/../greeting.ts#L1", folders, nodeFileSystemProbe);
        assert.ok(viaDotSlash.ok && viaDotSlash.file.displayPath === "src/greeting.ts");
        const absoluteInside = await resolveWorkspaceFileReference(path.join(workspace, "src", "nested", "deep.ts"), folders, nodeFileSystemProbe);
        assert.ok(absoluteInside.ok && absoluteInside.file.displayPath === "src/nested/deep.ts");
        const fileUri = await resolveWorkspaceFileReference(`file://${path.join(workspace, "src", "greeting.ts")}`, folders, nodeFileSystemProbe);
        assert.ok(fileUri.ok);
        const dotsInName = await resolveWorkspaceFileReference("..hidden.ts", folders, nodeFileSystemProbe);
        assert.ok(dotsInName.ok, "a file whose name starts with two dots is inside");
    });

    it("never opens a path that climbs out with ..", async () => {
        for (const raw of ["../outside/secret.txt", "src/../../outside/secret.txt", "..", "../workspace/src/greeting.ts"]) {
            const resolution = await resolveWorkspaceFileReference(raw, folders, nodeFileSystemProbe);
            assert.equal(resolution.ok, false, raw);
            if (!resolution.ok)
                assert.equal(resolution.reason, "outside-workspace", raw);
        }
    });

    it("never opens an absolute path outside the workspace", async () => {
        for (const raw of [path.join(outside, "secret.txt"), "/etc/passwd", `file://${path.join(outside, "secret.txt")}`]) {
            const resolution = await resolveWorkspaceFileReference(raw, folders, nodeFileSystemProbe);
            assert.deepEqual(resolution, {ok: false, reason: "outside-workspace"}, raw);
        }
    });

    it("never follows a symlink whose target is outside the workspace", async () => {
        assert.deepEqual(await resolveWorkspaceFileReference("src/escape.txt", folders, nodeFileSystemProbe), {ok: false, reason: "symlink-escape"});
        assert.deepEqual(await resolveWorkspaceFileReference("linked-outside/secret.txt", folders, nodeFileSystemProbe), {ok: false, reason: "symlink-escape"});
        const inside = await resolveWorkspaceFileReference("alias.ts", folders, nodeFileSystemProbe);
        assert.ok(inside.ok, "a symlink to a file inside the workspace is fine");
    });

    it("refuses folders, missing files, other schemes and an empty workspace", async () => {
        assert.deepEqual(await resolveWorkspaceFileReference("src/nested", folders, nodeFileSystemProbe), {ok: false, reason: "not-found"});
        assert.deepEqual(await resolveWorkspaceFileReference("src/missing.ts", folders, nodeFileSystemProbe), {ok: false, reason: "not-found"});
        assert.deepEqual(await resolveWorkspaceFileReference("command:workbench.action.quit", folders, nodeFileSystemProbe), {ok: false, reason: "malformed"});
        assert.deepEqual(await resolveWorkspaceFileReference("src/greeting.ts", [], nodeFileSystemProbe), {ok: false, reason: "no-workspace"});
    });

    it("resolves folder-prefixed paths in multi-root workspaces", async () => {
        const second = path.join(scratch, "second");
        await mkdir(second, {recursive: true});
        await writeFile(path.join(second, "greeting.ts"), "second\n");
        const multiRoot = [{name: "workspace", path: workspace}, {name: "second", path: second}];
        const prefixed = await resolveWorkspaceFileReference("second/greeting.ts:1", multiRoot, nodeFileSystemProbe);
        assert.ok(prefixed.ok && prefixed.file.absolutePath === path.join(second, "greeting.ts") && prefixed.file.displayPath === "second/greeting.ts");
        const plain = await resolveWorkspaceFileReference("src/greeting.ts", multiRoot, nodeFileSystemProbe);
        assert.ok(plain.ok && plain.file.displayPath === "workspace/src/greeting.ts");
    });

    it("finds only the answer's references that resolve inside the workspace", async () => {
        const answer = `It is in src/greeting.ts:1, not in ../outside/secret.txt, ${path.join(outside, "secret.txt")} or src/escape.txt; see https://example.com/a.ts too.`;
        const found = await findWorkspaceFileReferences(answer, folders, nodeFileSystemProbe);
        assert.deepEqual(found.map((reference) => reference.text), ["src/greeting.ts:1"]);
    });
});

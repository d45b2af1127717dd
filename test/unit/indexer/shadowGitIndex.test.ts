import {strict as assert} from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import {after, describe, it} from "node:test";
import {prepareShadowGitIndex} from "../../../src/indexer/prepareShadowGitIndex";
import {startGitRepositoryState} from "../../../src/indexer/startGitRepositoryState";
import {commitAt, createFixtureWorkspace, createTemporaryFolder, git, initGitRepository, removeFixture, writeFixtureFiles} from "./fixtureWorkspace";

const fixtures: string[] = [];
after(() => fixtures.forEach(removeFixture));

function committedRepository(): string {
    const root = createFixtureWorkspace({"a.ts": "1", "src/b.ts": "2", "src/c.ts": "3"});
    fixtures.push(root);
    initGitRepository(root);
    commitAt(root, ["a.ts", "src/b.ts", "src/c.ts"], "2020-01-01T00:00:00Z");
    return root;
}

function shadowFolder(): string {
    const folder = createTemporaryFolder("kvd-shadow-");
    fixtures.push(folder);
    return path.join(folder, "shadows");
}

async function uncommittedPaths(root: string, shadowIndexFolder: string): Promise<string[]> {
    const state = await startGitRepositoryState({topLevel: root, pathspecs: ["."], gitCommand: "git", shadowIndexFolder}).finish(new Set(["a.ts"]));
    assert.equal(state.problem, undefined);
    return [...state.uncommittedPaths].sort();
}

describe("git status on a shadow copy of the index", () => {
    it("answers as git does, never touches the real index, and copies it again when it changes (staging, a commit)", async () => {
        const root = committedRepository();
        const folder = shadowFolder();
        const indexPath = path.join(root, ".git", "index");
        writeFixtureFiles(root, {"src/b.ts": "2 edited"});
        const indexBytes = fs.readFileSync(indexPath);
        const indexMtimeMs = fs.statSync(indexPath).mtimeMs;
        assert.deepEqual(await uncommittedPaths(root, folder), ["src/b.ts"]);
        assert.deepEqual(await uncommittedPaths(root, folder), ["src/b.ts"], "the kept shadow gives the same answer");
        assert.ok(fs.readFileSync(indexPath).equals(indexBytes) && fs.statSync(indexPath).mtimeMs === indexMtimeMs, "the real index is untouched");
        const shadows = fs.readdirSync(folder).filter((name) => name.endsWith(".index"));
        assert.equal(shadows.length, 1);
        // A new copy keeps the index's modification time, so git's check of racily clean entries holds on it.
        fs.rmSync(path.join(folder, `${shadows[0]!}.source.json`));
        const copiedShadow = prepareShadowGitIndex(indexPath, folder);
        assert.deepEqual(copiedShadow, {path: path.join(folder, shadows[0]!), copiedNow: true});
        const copied = copiedShadow.path;
        assert.deepEqual(prepareShadowGitIndex(indexPath, folder), {path: copied, copiedNow: false}, "then kept");
        // About a millisecond older (never newer: an older copy only makes git check more entries).
        const copiedMtimeMs = fs.statSync(copied).mtimeMs;
        assert.ok(copiedMtimeMs < indexMtimeMs && copiedMtimeMs > indexMtimeMs - 2, `copy ${copiedMtimeMs}, index ${indexMtimeMs}`);
        assert.ok(fs.readFileSync(copied).equals(indexBytes));
        git(root, ["add", "src/b.ts"]);
        assert.deepEqual(await uncommittedPaths(root, folder), ["src/b.ts"], "a staged change is uncommitted");
        git(root, ["commit", "-q", "-m", "edit b"]);
        // A shadow kept from before the commit would still hold the old b.ts and report it as changed.
        assert.deepEqual(await uncommittedPaths(root, folder), []);
        writeFixtureFiles(root, {"new.ts": "4"});
        assert.deepEqual(await uncommittedPaths(root, folder), ["new.ts"]);
    });

    it("does without a shadow when its folder is open to other users, with the same answers", async () => {
        const root = committedRepository();
        const folder = shadowFolder();
        fs.mkdirSync(folder, {recursive: true});
        fs.chmodSync(folder, 0o777);
        writeFixtureFiles(root, {"a.ts": "1 edited"});
        assert.equal(prepareShadowGitIndex(path.join(root, ".git", "index"), folder), undefined);
        assert.deepEqual(await uncommittedPaths(root, folder), ["a.ts"]);
        assert.deepEqual(fs.readdirSync(folder), []);
    });

    it("does without a shadow when its folder is a symbolic link", async () => {
        const root = committedRepository();
        const folder = shadowFolder();
        const target = `${folder}-target`;
        fs.mkdirSync(target, {mode: 0o700});
        fs.symlinkSync(target, folder);
        assert.equal(prepareShadowGitIndex(path.join(root, ".git", "index"), folder), undefined);
        assert.deepEqual(await uncommittedPaths(root, folder), []);
        assert.deepEqual(fs.readdirSync(target), []);
    });

    it("discards a shadow git cannot read and answers from the real index", async () => {
        const root = committedRepository();
        const folder = shadowFolder();
        writeFixtureFiles(root, {"src/c.ts": "3 edited"});
        const shadowPath = prepareShadowGitIndex(path.join(root, ".git", "index"), folder)?.path;
        assert.ok(shadowPath !== undefined && fs.existsSync(shadowPath));
        fs.writeFileSync(shadowPath, "not an index");
        assert.deepEqual(await uncommittedPaths(root, folder), ["src/c.ts"]);
        assert.ok(!fs.existsSync(shadowPath), "the unreadable shadow is gone");
        assert.deepEqual(await uncommittedPaths(root, folder), ["src/c.ts"], "and the next index makes a new one");
        assert.ok(fs.existsSync(shadowPath));
    });
});

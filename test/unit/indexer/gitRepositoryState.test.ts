import {strict as assert} from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import {after, describe, it} from "node:test";
import {readGitRepositoryState} from "../../../src/indexer/readGitRepositoryState";
import {startGitRepositoryState} from "../../../src/indexer/startGitRepositoryState";
import {findGitRepository} from "../../../src/indexer/findGitRepository";
import {commitAt, createFixtureWorkspace, createTemporaryFolder, git, initGitRepository, removeFixture, writeFixtureFiles} from "./fixtureWorkspace";

const fixtures: string[] = [];
after(() => fixtures.forEach(removeFixture));

function repositoryWithHistory(): string {
    const root = createFixtureWorkspace({"old.ts": "1", "src/middle.ts": "2", "src/edited.ts": "3", "renamed-from.ts": "4"});
    fixtures.push(root);
    initGitRepository(root);
    commitAt(root, ["old.ts", "src/edited.ts", "renamed-from.ts"], "2020-01-01T00:00:00Z");
    commitAt(root, ["src/middle.ts"], "2021-01-01T00:00:00Z");
    writeFixtureFiles(root, {"src/edited.ts": "3 edited", "untracked.ts": "new"});
    git(root, ["mv", "renamed-from.ts", "renamed-to.ts"]);
    return root;
}

async function waitForTheNextSecond(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 1_010 - (Date.now() % 1_000)));
}

describe("git repository state, started before the wanted paths are known", () => {
    it("answers exactly as readGitRepositoryState: commit times, uncommitted, untracked and staged paths", async () => {
        const root = repositoryWithHistory();
        const wanted = new Set(["old.ts", "src/middle.ts", "src/edited.ts", "untracked.ts", "renamed-to.ts"]);
        for (const pathspecs of [["."], ["src"], ["src", "old.ts"]]) {
            const started = startGitRepositoryState({topLevel: root, pathspecs, gitCommand: "git"});
            // As in the indexer: the walk goes on for a while before the wanted paths are known.
            await new Promise((resolve) => setTimeout(resolve, 100));
            const early = await started.finish(wanted);
            const late = await readGitRepositoryState({topLevel: root, pathspecs, wantedPaths: wanted, gitCommand: "git"});
            assert.deepEqual(early, late, `pathspecs ${pathspecs.join(" ")}`);
            assert.equal(early.problem, undefined);
            assert.equal(early.lastCommitMsByPath.get("src/middle.ts"), Date.parse("2021-01-01T00:00:00Z"));
            assert.ok(early.uncommittedPaths.has("src/edited.ts"));
        }
        const whole = await startGitRepositoryState({topLevel: root, pathspecs: ["."], gitCommand: "git"}).finish(wanted);
        assert.deepEqual([...whole.uncommittedPaths].sort(), ["renamed-from.ts", "renamed-to.ts", "src/edited.ts", "untracked.ts"]);
        assert.equal(whole.lastCommitMsByPath.get("old.ts"), Date.parse("2020-01-01T00:00:00Z"));
    });

    it("findGitRepository names the index (a linked worktree's own, from a subfolder too), and the state started with it answers as without it", async () => {
        const root = repositoryWithHistory();
        const fromRoot = await findGitRepository(root, "git");
        assert.deepEqual(fromRoot, {topLevel: fs.realpathSync(root), folderPrefix: "", indexPath: path.join(root, ".git", "index")});
        const fromSubfolder = await findGitRepository(path.join(root, "src"), "git");
        assert.deepEqual(fromSubfolder, {topLevel: fs.realpathSync(root), folderPrefix: "src/", indexPath: path.join(root, ".git", "index")});
        const worktree = path.join(createTemporaryFolder("kvd-git-worktree-"), "linked");
        fixtures.push(path.dirname(worktree));
        git(root, ["worktree", "add", "--quiet", "--detach", worktree]);
        const linked = await findGitRepository(path.join(worktree, "src"), "git");
        assert.equal(linked?.indexPath, path.join(fs.realpathSync(root), ".git", "worktrees", "linked", "index"));
        assert.ok(fs.existsSync(linked.indexPath));
        const wanted = new Set(["old.ts", "src/middle.ts", "src/edited.ts", "untracked.ts", "renamed-to.ts"]);
        const shadowIndexFolder = createTemporaryFolder("kvd-git-shadow-");
        fixtures.push(shadowIndexFolder);
        const given = await startGitRepositoryState({topLevel: root, pathspecs: ["."], gitCommand: "git", shadowIndexFolder, indexPath: fromRoot!.indexPath}).finish(wanted);
        const asked = await startGitRepositoryState({topLevel: root, pathspecs: ["."], gitCommand: "git", shadowIndexFolder}).finish(wanted);
        assert.deepEqual(given, asked);
        assert.deepEqual([...given.uncommittedPaths].sort(), ["renamed-from.ts", "renamed-to.ts", "src/edited.ts", "untracked.ts"]);
    });

    it("in a copied repository (new inodes), reports exactly the edited files, also one edited to the same size and modification time", async () => {
        const original = repositoryWithHistory();
        const copy = createTemporaryFolder("kvd-git-copy-");
        fixtures.push(copy);
        fs.cpSync(original, copy, {recursive: true});
        // The first status then stores its index in a later second than the copied files' times, so
        // git no longer takes them for racily clean: only the ctime of the edit below tells it apart.
        await waitForTheNextSecond();
        const wanted = new Set(["old.ts", "src/middle.ts", "src/edited.ts", "untracked.ts", "renamed-to.ts"]);
        const before = await startGitRepositoryState({topLevel: copy, pathspecs: ["."], gitCommand: "git"}).finish(wanted);
        assert.deepEqual([...before.uncommittedPaths].sort(), ["renamed-from.ts", "renamed-to.ts", "src/edited.ts", "untracked.ts"]);
        const middle = path.join(copy, "src", "middle.ts");
        const stats = fs.statSync(middle);
        fs.writeFileSync(middle, "X"); // same size as "2"
        fs.utimesSync(middle, stats.atime, stats.mtime);
        const after = await startGitRepositoryState({topLevel: copy, pathspecs: ["."], gitCommand: "git"}).finish(wanted);
        assert.deepEqual([...after.uncommittedPaths].sort(), ["renamed-from.ts", "renamed-to.ts", "src/edited.ts", "src/middle.ts", "untracked.ts"]);
    });

    it("reports a broken repository as a problem (the indexer then falls back to modification times)", async () => {
        const root = repositoryWithHistory();
        fs.writeFileSync(path.join(root, ".git", "HEAD"), "garbage\n");
        const state = await startGitRepositoryState({topLevel: root, pathspecs: ["."], gitCommand: "git"}).finish(new Set(["old.ts"]));
        assert.match(state.problem ?? "", /git (status|log) failed/);
        assert.equal(state.lastCommitMsByPath.get("old.ts"), undefined);
    });

    it("cancel() kills the queries still running, and an aborted caller's finish() rejects", async () => {
        const folder = createTemporaryFolder("kvd-git-");
        fixtures.push(folder);
        // A git that never answers: only killing it ends it.
        const slowGit = path.join(folder, "git");
        fs.writeFileSync(slowGit, "#!/bin/sh\nexec sleep 30\n", {mode: 0o755});
        const startedMs = Date.now();
        const cancelled = startGitRepositoryState({topLevel: folder, pathspecs: ["."], gitCommand: slowGit});
        cancelled.cancel();
        const state = await cancelled.finish(new Set(["a.ts"]));
        assert.notEqual(state.problem, undefined);

        const controller = new AbortController();
        const aborted = startGitRepositoryState({topLevel: folder, pathspecs: ["."], gitCommand: slowGit, signal: controller.signal});
        setTimeout(() => controller.abort(), 50);
        await assert.rejects(aborted.finish(new Set(["a.ts"])), {name: "AbortError"});
        assert.ok(Date.now() - startedMs < 10_000, "no query waited for the never-answering git");
    });
});

import {strict as assert} from "node:assert";
import * as path from "node:path";
import {describe, it} from "node:test";
import {DebouncedAction} from "../../../src/common/DebouncedAction";
import {StaleTracker} from "../../../src/common/StaleTracker";
import {WorkspaceExclusionMatcher} from "../../../src/common/WorkspaceExclusionMatcher";
import {ManualTimers} from "./FakeEngineClient";

const root = path.resolve("/work/project");
const file = (relative: string): string => path.join(root, ...relative.split("/"));

function trackerWithBaseline(): {tracker: StaleTracker; matcher: WorkspaceExclusionMatcher; changes: number[]} {
    const folders = [{name: "project", path: root}];
    const matcher = new WorkspaceExclusionMatcher(folders);
    matcher.setRules(root, ["dist/", "*.log"]);
    const tracker = new StaleTracker({folders, isExcluded: (filePath) => matcher.isExcluded(filePath)});
    const changes: number[] = [];
    tracker.onDidChange((summary) => changes.push(summary.changedCount));
    tracker.setBaseline([file("src/a.ts"), file("src/b.ts"), file("README.md")]);
    return {tracker, matcher, changes};
}

describe("StaleTracker", () => {
    it("is fresh after a baseline and ignores changes to files that are not indexed", () => {
        const {tracker} = trackerWithBaseline();
        tracker.fileChanged(file("notes/untracked.txt"));
        tracker.fileChanged(path.resolve("/elsewhere/a.ts"));
        assert.equal(tracker.summary.stale, false);
    });

    it("marks a changed indexed file", () => {
        const {tracker, changes} = trackerWithBaseline();
        tracker.fileChanged(file("src/a.ts"));
        assert.deepEqual(tracker.summary, {stale: true, reasons: ["files-changed"], changedFiles: ["src/a.ts"], changedCount: 1});
        tracker.fileChanged(file("src/a.ts"));
        assert.deepEqual(changes, [0, 1], "the same file twice notifies once");
    });

    it("marks added files unless the indexer would exclude them", () => {
        const {tracker} = trackerWithBaseline();
        tracker.fileCreated(file("dist/bundle.js"));
        tracker.fileCreated(file("node_modules/x/index.js"));
        tracker.fileCreated(file("debug.log"));
        tracker.fileCreated(file(".git/objects/ab"));
        assert.equal(tracker.summary.stale, false);
        tracker.fileCreated(file("src/c.ts"));
        assert.deepEqual(tracker.summary.reasons, ["files-added"]);
        assert.deepEqual(tracker.summary.changedFiles, ["src/c.ts"]);
    });

    it("treats re-creating an indexed file (atomic save) as a change", () => {
        const {tracker} = trackerWithBaseline();
        tracker.fileCreated(file("src/b.ts"));
        assert.deepEqual(tracker.summary.reasons, ["files-changed"]);
    });

    it("marks deleted files, also when their folder is deleted", () => {
        const {tracker} = trackerWithBaseline();
        tracker.fileDeleted(file("src"));
        assert.deepEqual(tracker.summary.reasons, ["files-deleted"]);
        const second = trackerWithBaseline().tracker;
        second.fileDeleted(file("README.md"));
        assert.deepEqual(second.summary.changedFiles, ["README.md"]);
        const third = trackerWithBaseline().tracker;
        third.fileDeleted(file("other"));
        assert.equal(third.summary.stale, false);
    });

    it("marks ignore-rule edits anywhere in the workspace", () => {
        for (const name of [".gitignore", "src/.ignore", ".kvdistillignore"]) {
            const {tracker} = trackerWithBaseline();
            tracker.fileChanged(file(name));
            assert.deepEqual(tracker.summary.reasons, ["ignore-rules-changed"], name);
        }
        const {tracker} = trackerWithBaseline();
        tracker.fileCreated(file("dist/.gitignore"));
        assert.deepEqual(tracker.summary.reasons, ["ignore-rules-changed"], "a new ignore file counts even in an excluded folder");
    });

    it("marks settings and files.exclude changes", () => {
        const {tracker} = trackerWithBaseline();
        tracker.rulesChanged("settings-changed");
        tracker.rulesChanged("ignore-rules-changed");
        assert.deepEqual(tracker.summary.reasons, ["settings-changed", "ignore-rules-changed"]);
        assert.equal(tracker.summary.changedCount, 0);
    });

    it("marks a branch switch when .git/HEAD changes, not when it is first read", () => {
        const {tracker} = trackerWithBaseline();
        tracker.headObserved(root, "ref: refs/heads/main\n");
        tracker.headObserved(root, "ref: refs/heads/main");
        assert.equal(tracker.summary.stale, false);
        tracker.headObserved(root, "ref: refs/heads/feature\n");
        assert.deepEqual(tracker.summary.reasons, ["branch-switched"]);
    });

    it("is never stale without a cache, and a new baseline clears it", () => {
        const folders = [{name: "project", path: root}];
        const tracker = new StaleTracker({folders, isExcluded: () => false});
        tracker.fileCreated(file("src/new.ts"));
        tracker.headObserved(root, "a");
        tracker.headObserved(root, "b");
        assert.equal(tracker.summary.stale, false);
        tracker.setBaseline([file("src/new.ts")]);
        tracker.fileChanged(file("src/new.ts"));
        assert.equal(tracker.summary.stale, true);
        tracker.setBaseline([file("src/new.ts")]);
        assert.equal(tracker.summary.stale, false);
        tracker.fileChanged(file("src/new.ts"));
        tracker.clearBaseline();
        assert.equal(tracker.summary.stale, false);
    });

    it("lists at most the configured number of files but counts them all", () => {
        const folders = [{name: "project", path: root}];
        const tracker = new StaleTracker({folders, isExcluded: () => false, maxListedFiles: 2});
        tracker.setBaseline([]);
        for (let index = 0; index < 5; index++)
            tracker.fileCreated(file(`src/f${index}.ts`));
        assert.equal(tracker.summary.changedFiles.length, 2);
        assert.equal(tracker.summary.changedCount, 5);
    });

    it("uses folder-prefixed display paths in multi-root workspaces", () => {
        const other = path.resolve("/work/other");
        const tracker = new StaleTracker({folders: [{name: "project", path: root}, {name: "other", path: other}], isExcluded: () => false});
        tracker.setBaseline([path.join(other, "x.ts")]);
        tracker.fileChanged(path.join(other, "x.ts"));
        assert.deepEqual(tracker.summary.changedFiles, ["other/x.ts"]);
    });
});

describe("DebouncedAction (auto-refresh after edits settle)", () => {
    it("runs once after the last trigger", () => {
        const timers = new ManualTimers();
        let runs = 0;
        const action = new DebouncedAction(() => runs++, timers);
        action.trigger(1000);
        action.trigger(1000);
        action.trigger(1000);
        assert.equal(timers.pending.size, 1, "each trigger restarts the wait");
        assert.ok(action.isPending);
        timers.fireAll();
        assert.equal(runs, 1);
        assert.equal(action.isPending, false);
    });

    it("does nothing after cancel or dispose", () => {
        const timers = new ManualTimers();
        let runs = 0;
        const action = new DebouncedAction(() => runs++, timers);
        action.trigger(10);
        action.cancel();
        timers.fireAll();
        action.dispose();
        action.trigger(10);
        timers.fireAll();
        assert.equal(runs, 0);
    });
});

import {strict as assert} from "node:assert";
import * as path from "node:path";
import {describe, it} from "node:test";
import {WorkspaceExclusionMatcher} from "../../../src/common/WorkspaceExclusionMatcher";
import {absolutePathToDisplayPath, displayPathToAbsolutePath, isPathInside} from "../../../src/common/workspacePaths";

const a = path.resolve("/w/a");
const b = path.resolve("/w/b");

describe("workspace paths", () => {
    it("maps display paths to absolute paths and back, single- and multi-root", () => {
        assert.equal(displayPathToAbsolutePath("src/x.ts", [{name: "a", path: a}]), path.join(a, "src", "x.ts"));
        assert.equal(absolutePathToDisplayPath(path.join(a, "src", "x.ts"), [{name: "a", path: a}]), "src/x.ts");
        const both = [{name: "a", path: a}, {name: "b", path: b}];
        assert.equal(displayPathToAbsolutePath("b/y.ts", both), path.join(b, "y.ts"));
        assert.equal(absolutePathToDisplayPath(path.join(b, "y.ts"), both), "b/y.ts");
        assert.equal(displayPathToAbsolutePath("c/y.ts", both), undefined, "unknown folder name");
        assert.equal(absolutePathToDisplayPath(path.resolve("/elsewhere/y.ts"), both), undefined);
    });

    it("never maps a display path outside its folder", () => {
        assert.equal(displayPathToAbsolutePath("../b/y.ts", [{name: "a", path: a}]), undefined);
        assert.equal(displayPathToAbsolutePath("a/../../etc/passwd", [{name: "a", path: a}, {name: "b", path: b}]), undefined);
        assert.equal(isPathInside(a, path.join(a, "..a")), true);
        assert.equal(isPathInside(a, path.resolve("/w/ab")), false);
    });

    it("excludes VCS and dependency folders and ignore-rule matches, nothing outside rules", () => {
        const matcher = new WorkspaceExclusionMatcher([{name: "a", path: a}]);
        matcher.setRules(a, ["build/", "*.tmp", "!keep.tmp", "[invalid"]);
        assert.equal(matcher.isExcluded(path.join(a, "node_modules", "p", "i.js")), true);
        assert.equal(matcher.isExcluded(path.join(a, "build", "o.js")), true);
        assert.equal(matcher.isExcluded(path.join(a, "x.tmp")), true);
        assert.equal(matcher.isExcluded(path.join(a, "keep.tmp")), false);
        assert.equal(matcher.isExcluded(path.join(a, "src", "m.ts")), false);
        assert.equal(matcher.isExcluded(path.join(b, "m.ts")), true, "outside every folder");
    });
});

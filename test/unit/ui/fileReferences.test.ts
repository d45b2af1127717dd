import {strict as assert} from "node:assert";
import {describe, it} from "node:test";
import {extractFileReferenceCandidates, parseFileReference} from "../../../src/common/fileReferences";
import {splitTextByLinkTargets} from "../../../src/common/splitTextByLinkTargets";

describe("extractFileReferenceCandidates", () => {
    it("finds paths, path:line and #L references as written", () => {
        const text = "See src/greeting.ts:3 and `lib/util/format.py#L10-L12`, also ./README.md and src/Makefile. Version 1.2 is fine.";
        const found = extractFileReferenceCandidates(text);
        assert.ok(found.includes("src/greeting.ts:3"));
        assert.ok(found.includes("lib/util/format.py#L10-L12"));
        assert.ok(found.includes("./README.md"));
        assert.ok(found.includes("src/Makefile"));
    });

    it("does not take URLs or sentence punctuation", () => {
        const found = extractFileReferenceCandidates("Docs: https://example.com/guide/page.html. Edit main.ts.");
        assert.ok(!found.some((candidate) => candidate.includes("example.com")), found.join(","));
        assert.ok(found.includes("main.ts"));
        assert.ok(!found.includes("main.ts."));
    });

    it("lists each candidate once", () => {
        assert.deepEqual(extractFileReferenceCandidates("a.ts and a.ts and a.ts:2"), ["a.ts", "a.ts:2"]);
    });
});

describe("parseFileReference", () => {
    it("splits line and column", () => {
        assert.deepEqual(parseFileReference("src/a.ts"), {path: "src/a.ts"});
        assert.deepEqual(parseFileReference("src/a.ts:12"), {path: "src/a.ts", line: 12});
        assert.deepEqual(parseFileReference("src/a.ts:12:4"), {path: "src/a.ts", line: 12, column: 4});
        assert.deepEqual(parseFileReference("src/a.ts:12-20"), {path: "src/a.ts", line: 12});
        assert.deepEqual(parseFileReference("src/a.ts#L7"), {path: "src/a.ts", line: 7});
        assert.deepEqual(parseFileReference("src/a.ts#L7-L9"), {path: "src/a.ts", line: 7});
    });

    it("accepts local file URIs and refuses every other scheme", () => {
        assert.deepEqual(parseFileReference("file:///work/a%20b.ts#L3"), {path: "/work/a b.ts", line: 3});
        for (const raw of ["command:workbench.action.quit", "vscode://file/etc/passwd", "https://x/a.ts", "javascript:alert(1)", "file://remote-host/share/a.ts", "", "a\0b.ts"])
            assert.equal(parseFileReference(raw), undefined, raw);
    });

    it("ignores impossible line numbers", () => {
        assert.deepEqual(parseFileReference("a.ts:0"), {path: "a.ts"});
        assert.deepEqual(parseFileReference("a.ts:99999999999"), {path: "a.ts"});
        assert.deepEqual(parseFileReference("main.ts:12"), {path: "main.ts", line: 12}, "a file name with a dot is not a URI scheme");
    });
});

describe("splitTextByLinkTargets", () => {
    it("links whole references only, longest first", () => {
        const segments = splitTextByLinkTargets("open src/a.ts:3 or src/a.ts, not src/a.tsx", ["src/a.ts", "src/a.ts:3"]);
        assert.deepEqual(segments.filter((segment) => segment.link).map((segment) => segment.text), ["src/a.ts:3", "src/a.ts"]);
        assert.equal(segments.map((segment) => segment.text).join(""), "open src/a.ts:3 or src/a.ts, not src/a.tsx");
    });

    it("keeps text without targets as one plain segment", () => {
        assert.deepEqual(splitTextByLinkTargets("nothing here", ["src/a.ts"]), [{text: "nothing here", link: false}]);
        assert.deepEqual(splitTextByLinkTargets("", ["src/a.ts"]), []);
    });
});

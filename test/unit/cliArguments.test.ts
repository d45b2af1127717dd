import assert from "node:assert/strict";
import path from "node:path";
import {describe, test} from "node:test";
import {parseCommandArguments} from "../../src/cli/parseCommandArguments";
import {resolveCacheDirectory} from "../../src/cli/resolveCacheDirectory";
import {UsageError} from "../../src/common/errors";

describe("parseCommandArguments", () => {
    const flags = {model: {kind: "string"}, keep: {kind: "number"}, json: {kind: "boolean"}} as const;

    test("reads flags with spaces or =, booleans and positionals in any order", () => {
        const parsed = parseCommandArguments(["ws", "--model", "m.gguf", "--keep=0.3", "--json", "question", "--", "--not-a-flag"], flags);
        assert.deepEqual(parsed.positionals, ["ws", "question", "--not-a-flag"]);
        assert.equal(parsed.strings.get("model"), "m.gguf");
        assert.equal(parsed.numbers.get("keep"), 0.3);
        assert.ok(parsed.booleans.has("json"));
    });

    test("refuses unknown flags, missing values and non-numbers", () => {
        assert.throws(() => parseCommandArguments(["--nope"], flags), UsageError);
        assert.throws(() => parseCommandArguments(["--model"], flags), /needs a value/);
        assert.throws(() => parseCommandArguments(["--keep", "lots"], flags), /needs a number/);
        assert.throws(() => parseCommandArguments(["--json=yes"], flags), /takes no value/);
    });
});

describe("resolveCacheDirectory", () => {
    const environment = {logFile: undefined, cacheDir: undefined, xdgCacheHome: undefined, home: "/home/user", engineDir: undefined, xdgRuntimeDir: undefined, nodeLlamaCppDir: undefined};

    test("--cache-dir, then KV_DISTILL_CACHE_DIR, then XDG_CACHE_HOME, then ~/.cache", () => {
        assert.equal(resolveCacheDirectory("/flag", {...environment, cacheDir: "/env", xdgCacheHome: "/xdg"}), "/flag");
        assert.equal(resolveCacheDirectory(undefined, {...environment, cacheDir: "/env", xdgCacheHome: "/xdg"}), "/env");
        assert.equal(resolveCacheDirectory(undefined, {...environment, xdgCacheHome: "/xdg"}), path.join("/xdg", "kv-distill"));
        assert.equal(resolveCacheDirectory(undefined, environment), path.join("/home/user", ".cache", "kv-distill"));
        assert.throws(() => resolveCacheDirectory(undefined, {...environment, home: undefined}), UsageError);
    });
});

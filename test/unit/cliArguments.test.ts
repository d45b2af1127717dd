import assert from "node:assert/strict";
import path from "node:path";
import {describe, test} from "node:test";
import {parseCommandArguments} from "../../src/cli/parseCommandArguments";
import {readEngineCommandArguments} from "../../src/cli/readEngineCommandArguments";
import {parseEngineEntryArguments} from "../../src/engine/engineMain";
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

describe("engine options of distill / ask and of the engine process", () => {
    const environment = {logFile: undefined, cacheDir: "/c", xdgCacheHome: undefined, home: "/home/user", engineDir: undefined, xdgRuntimeDir: undefined, nodeLlamaCppDir: undefined};
    const folder = path.resolve(".");

    test("--gpu, --compaction, --adapter and --no-outline reach the engine and distill options", () => {
        const parsed = readEngineCommandArguments([folder, "--model", "m.gguf", "--gpu", "cuda", "--compaction", "renumber", "--scorer", "adapter", "--adapter", "a.gguf"], environment, () => 1);
        assert.equal(parsed.engineOptions.gpu, "cuda");
        assert.equal(parsed.distillOptions.compaction, "renumber");
        assert.equal(parsed.distillOptions.scorer, "adapter");
        assert.equal(parsed.distillOptions.adapterPath, path.resolve("a.gguf"));
        assert.equal(readEngineCommandArguments([folder, "--model", "m.gguf", "--gpu", "cpu"], environment, () => 1).engineOptions.gpu, false);
        const defaults = readEngineCommandArguments([folder, "--model", "m.gguf"], environment, () => 1);
        assert.equal(defaults.engineOptions.gpu, "auto");
        assert.equal(defaults.distillOptions.compaction, undefined, "the engine's default (holes)");
        assert.equal(defaults.distillOptions.workspaceOutline, undefined, "the engine's default (on)");
        assert.equal(readEngineCommandArguments([folder, "--model", "m.gguf", "--no-outline"], environment, () => 1).distillOptions.workspaceOutline, false);
    });

    test("--outline-detail reaches the distill options; the engine's default (names) when not given", () => {
        assert.equal(readEngineCommandArguments([folder, "--model", "m.gguf"], environment, () => 1).distillOptions.outlineDetail, undefined);
        for (const detail of ["names", "definitions"] as const) {
            assert.equal(readEngineCommandArguments([folder, "--model", "m.gguf", "--outline-detail", detail], environment, () => 1).distillOptions.outlineDetail, detail);
            assert.equal(readEngineCommandArguments([folder, "--model", "m.gguf", `--outline-detail=${detail}`], environment, () => 1).distillOptions.outlineDetail, detail);
        }
        assert.throws(() => readEngineCommandArguments([folder, "--model", "m.gguf", "--outline-detail", "full"], environment, () => 1),
            (error: unknown) => error instanceof UsageError && /--outline-detail must be names or definitions, got "full"/.test(error.message));
        assert.throws(() => readEngineCommandArguments([folder, "--model", "m.gguf", "--outline-detail"], environment, () => 1), UsageError);
    });

    test("bad values are usage errors", () => {
        assert.throws(() => readEngineCommandArguments([folder, "--model", "m.gguf", "--gpu", "metal"], environment, () => 1), /unknown --gpu "metal"/);
        assert.throws(() => readEngineCommandArguments([folder, "--model", "m.gguf", "--compaction", "erase"], environment, () => 1), /--compaction must be holes or renumber/);
        assert.throws(() => readEngineCommandArguments([folder, "--model", "m.gguf", "--scorer", "adapter"], environment, () => 1), /needs --adapter FILE/);
        assert.throws(() => readEngineCommandArguments([folder, "--model", "m.gguf", "--scorer", "attention"], environment, () => 1),
            /unknown scorer "attention" \(adapter, reconstruct, surprisal, recent, random\)/);
        assert.equal(readEngineCommandArguments([folder, "--model", "m.gguf", "--scorer", "recent"], environment, () => 1).distillOptions.scorer, "recent");
    });

    test("the engine process takes --gpu", () => {
        assert.deepEqual(parseEngineEntryArguments([]), {gpu: "auto"});
        assert.deepEqual(parseEngineEntryArguments(["--gpu", "cpu"]), {gpu: false});
        assert.deepEqual(parseEngineEntryArguments(["--gpu", "vulkan"]), {gpu: "vulkan"});
        assert.throws(() => parseEngineEntryArguments(["--gpu", "metal"]), UsageError);
        assert.throws(() => parseEngineEntryArguments(["--verbose"]), UsageError);
    });
});

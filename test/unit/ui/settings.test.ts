import {strict as assert} from "node:assert";
import {readFileSync} from "node:fs";
import * as path from "node:path";
import {describe, it} from "node:test";
import {enabledExcludeGlobs, parseKvDistillSettings, settingDefaults, settingKeys} from "../../../src/config/kvDistillSettings";
import {describeModelSetting, interpretModelSetting} from "../../../src/config/modelSetting";
import {selectTrustedModelPath} from "../../../src/config/selectTrustedModelPath";
import {buildDistillOptions} from "../../../src/extension/buildDistillOptions";
import {findRepositoryRoot} from "../../fixtures/repositoryPaths";

describe("selectTrustedModelPath: an untrusted workspace cannot set the model", () => {
    const inspection = {defaultValue: "", globalValue: "/home/me/models/good.gguf", workspaceValue: "./evil.gguf", workspaceFolderValue: "/tmp/evil.gguf"};

    it("ignores workspace and folder values when the workspace is not trusted", () => {
        assert.deepEqual(selectTrustedModelPath(inspection, false), {value: "/home/me/models/good.gguf", source: "user", ignoredUntrustedValue: true});
    });

    it("leaves no model at all rather than take an untrusted workspace's", () => {
        assert.deepEqual(selectTrustedModelPath({defaultValue: "", workspaceValue: "/tmp/evil.gguf"}, false), {value: "", source: "default", ignoredUntrustedValue: true});
        assert.deepEqual(selectTrustedModelPath({workspaceFolderValue: "hf:evil/model"}, false), {value: "", source: "default", ignoredUntrustedValue: true});
    });

    it("uses the most specific value when the workspace is trusted", () => {
        assert.deepEqual(selectTrustedModelPath(inspection, true), {value: "/tmp/evil.gguf", source: "workspaceFolder", ignoredUntrustedValue: false});
        assert.deepEqual(selectTrustedModelPath({...inspection, workspaceFolderValue: undefined}, true), {value: "./evil.gguf", source: "workspace", ignoredUntrustedValue: false});
    });

    it("treats blank and non-string values as unset", () => {
        assert.deepEqual(selectTrustedModelPath({globalValue: "  ", workspaceValue: 42}, true), {value: "", source: "default", ignoredUntrustedValue: false});
        assert.deepEqual(selectTrustedModelPath(undefined, false), {value: "", source: "default", ignoredUntrustedValue: false});
        assert.deepEqual(selectTrustedModelPath({globalValue: "  /m.gguf "}, false), {value: "/m.gguf", source: "user", ignoredUntrustedValue: false});
    });
});

describe("parseKvDistillSettings", () => {
    const model = {value: "", source: "default", ignoredUntrustedValue: false} as const;

    it("takes valid values", () => {
        const values: Record<string, unknown> = {
            [settingKeys.keepRatio]: 0.1, [settingKeys.scorer]: "recent", [settingKeys.segmentTokens]: 0, [settingKeys.idleUnloadMinutes]: 0,
            [settingKeys.cacheMaxMegabytes]: 100, [settingKeys.autoRefresh]: true, [settingKeys.autoRefreshDelaySeconds]: 2.5,
            [settingKeys.maxFileBytes]: 5000, [settingKeys.extraExcludes]: ["**/*.min.js", " ", 3], [settingKeys.maxAnswerTokens]: 64,
            [settingKeys.gpu]: "cuda", [settingKeys.compaction]: "renumber", [settingKeys.workspaceOutline]: false,
            [settingKeys.outlineDetail]: "definitions"
        };
        const adapter = {value: "~/a.gguf", source: "user", ignoredUntrustedValue: false} as const;
        const settings = parseKvDistillSettings((key) => values[key], model, adapter);
        assert.deepEqual(settings, {
            model, keepRatio: 0.1, scorer: "recent", segmentTokens: 0, idleUnloadMinutes: 0, cacheMaxMegabytes: 100, autoRefresh: true,
            autoRefreshDelaySeconds: 2.5, maxFileBytes: 5000, extraExcludes: ["**/*.min.js"], workspaceOutline: false, outlineDetail: "definitions", maxAnswerTokens: 64,
            gpu: "cuda", compaction: "renumber", adapter
        });
    });

    it("falls back to the defaults for out-of-range or wrongly typed values", () => {
        const values: Record<string, unknown> = {
            [settingKeys.keepRatio]: 0, [settingKeys.scorer]: "random", [settingKeys.segmentTokens]: -1, [settingKeys.idleUnloadMinutes]: "5",
            [settingKeys.cacheMaxMegabytes]: Number.NaN, [settingKeys.autoRefresh]: "yes", [settingKeys.autoRefreshDelaySeconds]: 0,
            [settingKeys.maxFileBytes]: Infinity, [settingKeys.extraExcludes]: "src", [settingKeys.maxAnswerTokens]: 1,
            [settingKeys.gpu]: "metal", [settingKeys.compaction]: "erase", [settingKeys.workspaceOutline]: "off",
            [settingKeys.outlineDetail]: "full"
        };
        const settings = parseKvDistillSettings((key) => values[key], model);
        assert.equal(settings.keepRatio, settingDefaults.keepRatio);
        assert.equal(settings.scorer, settingDefaults.scorer, "the benchmark-only scorer is not selectable");
        assert.equal(settings.segmentTokens, settingDefaults.segmentTokens);
        assert.equal(settings.idleUnloadMinutes, settingDefaults.idleUnloadMinutes);
        assert.equal(settings.cacheMaxMegabytes, settingDefaults.cacheMaxMegabytes);
        assert.equal(settings.autoRefresh, false);
        assert.equal(settings.autoRefreshDelaySeconds, settingDefaults.autoRefreshDelaySeconds);
        assert.equal(settings.maxFileBytes, settingDefaults.maxFileBytes);
        assert.deepEqual(settings.extraExcludes, []);
        assert.equal(settings.maxAnswerTokens, settingDefaults.maxAnswerTokens);
        assert.equal(settings.gpu, "auto");
        assert.equal(settings.compaction, "holes");
        assert.equal(settings.workspaceOutline, true, "on unless turned off with a boolean");
        assert.equal(settings.outlineDetail, "names");
        assert.equal(settings.adapter.value, "", "no adapter unless one is given");
    });

    it("reads only settings that package.json declares, with the same defaults", () => {
        const packageJson = JSON.parse(readFileSync(path.join(findRepositoryRoot(), "package.json"), "utf8")) as {
            contributes: {configuration: {properties: Record<string, {default?: unknown; type?: string}>}};
        };
        const declared = packageJson.contributes.configuration.properties;
        for (const key of Object.values(settingKeys))
            assert.ok(declared[`kvDistill.${key}`] !== undefined, `kvDistill.${key} is not in package.json`);
        assert.deepEqual(declared[`kvDistill.${settingKeys.workspaceOutline}`], {...declared[`kvDistill.${settingKeys.workspaceOutline}`], type: "boolean", default: settingDefaults.workspaceOutline});
        assert.equal(declared[`kvDistill.${settingKeys.keepRatio}`]?.default, settingDefaults.keepRatio);
        const outlineDetail = declared[`kvDistill.${settingKeys.outlineDetail}`] as {type?: string; default?: unknown; enum?: unknown; markdownDescription?: unknown};
        assert.deepEqual([outlineDetail.type, outlineDetail.default, outlineDetail.enum], ["string", settingDefaults.outlineDetail, ["names", "definitions"]]);
        assert.equal(typeof outlineDetail.markdownDescription, "string");
    });

    it("keeps only the enabled files.exclude globs", () => {
        assert.deepEqual(enabledExcludeGlobs({"**/.git": true, "**/*.js": {when: "$(basename).ts"}, "**/tmp": false}), ["**/.git"]);
        assert.deepEqual(enabledExcludeGlobs(undefined), []);
    });
});

describe("model setting", () => {
    const home = path.resolve("/home/me");
    const demo = path.resolve("/ext/models");

    it("reads paths, ~ and hf: URIs; relative paths are taken from home, never the workspace", () => {
        assert.deepEqual(interpretModelSetting("", home, demo), {kind: "none"});
        assert.deepEqual(interpretModelSetting("hf:Qwen/Qwen3-4B-GGUF:Q4_K_M", home, demo), {kind: "hf", uri: "hf:Qwen/Qwen3-4B-GGUF:Q4_K_M"});
        assert.deepEqual(interpretModelSetting("~/m/a.gguf", home, demo), {kind: "path", path: path.join(home, "m", "a.gguf"), isDemo: false});
        assert.deepEqual(interpretModelSetting("m/a.gguf", home, demo), {kind: "path", path: path.join(home, "m", "a.gguf"), isDemo: false});
        assert.deepEqual(interpretModelSetting(path.join(demo, "tiny.gguf"), home, demo), {kind: "path", path: path.join(demo, "tiny.gguf"), isDemo: true});
    });

    it("labels the demo model honestly", () => {
        assert.deepEqual(describeModelSetting({kind: "path", path: path.join(demo, "tiny.gguf"), isDemo: true}), {configured: true, label: "demo model (tiny.gguf)", source: "demo"});
        assert.deepEqual(describeModelSetting({kind: "hf", uri: "hf:Qwen/Qwen3-4B-GGUF:Q4_K_M"}), {configured: true, label: "Qwen/Qwen3-4B-GGUF:Q4_K_M", source: "hf"});
        assert.deepEqual(describeModelSetting({kind: "none"}), {configured: false});
    });

    it("builds the engine options from the settings and the editor's excludes", () => {
        const settings = parseKvDistillSettings((key) => key === settingKeys.extraExcludes ? ["**/*.min.js", "**/.git"] : undefined, {value: "/m.gguf", source: "user", ignoredUntrustedValue: false});
        assert.deepEqual(buildDistillOptions({settings, folders: ["/w"], cacheDir: "/s/caches", modelPath: "/m.gguf", filesExcludeGlobs: ["**/.git", "**/.DS_Store"]}), {
            modelPath: "/m.gguf", folders: ["/w"], keepRatio: 0.2, scorer: "surprisal", segmentTokens: 4096, cacheDir: "/s/caches",
            extraExcludes: ["**/*.min.js", "**/.git"], filesExclude: ["**/.git", "**/.DS_Store"], maxFileBytes: 1_048_576, workspaceOutline: true,
            outlineDetail: "names", compaction: "holes", cacheSizeCapBytes: 4096 * 1024 * 1024
        });
        const definitions = parseKvDistillSettings((key) => key === settingKeys.outlineDetail ? "definitions" : undefined, {value: "/m.gguf", source: "user", ignoredUntrustedValue: false});
        assert.equal(buildDistillOptions({settings: definitions, folders: ["/w"], cacheDir: "/s/caches", modelPath: "/m.gguf", filesExcludeGlobs: []}).outlineDetail, "definitions");
    });

    it("passes the cache size cap, the compaction mode and the adapter (from home, never the workspace) to the engine", () => {
        const values: Record<string, unknown> = {[settingKeys.cacheMaxMegabytes]: 3, [settingKeys.compaction]: "renumber"};
        const settings = parseKvDistillSettings((key) => values[key], {value: "/m.gguf", source: "user", ignoredUntrustedValue: false},
            {value: "~/adapters/s.gguf", source: "user", ignoredUntrustedValue: false});
        const options = buildDistillOptions({settings, folders: ["/w"], cacheDir: "/c", modelPath: "/m.gguf", filesExcludeGlobs: [], homeDirectory: home});
        assert.equal(options.cacheSizeCapBytes, 3 * 1024 * 1024);
        assert.equal(options.compaction, "renumber");
        assert.equal(options.adapterPath, path.join(home, "adapters", "s.gguf"));
        const relative = parseKvDistillSettings(() => undefined, {value: "/m.gguf", source: "user", ignoredUntrustedValue: false},
            {value: "s.gguf", source: "user", ignoredUntrustedValue: false});
        assert.equal(buildDistillOptions({settings: relative, folders: ["/w"], cacheDir: "/c", modelPath: "/m.gguf", filesExcludeGlobs: [], homeDirectory: home}).adapterPath,
            path.join(home, "s.gguf"));
    });
});

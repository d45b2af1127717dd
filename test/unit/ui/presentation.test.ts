import {strict as assert} from "node:assert";
import {describe, it} from "node:test";
import {adviseOnError} from "../../../src/common/adviseOnError";
import {buildExplainSelectionQuestion, maxExplainedCharacters} from "../../../src/common/buildExplainSelectionQuestion";
import {freshStaleSummary, type CacheStatus} from "../../../src/common/cacheStatus";
import {describeStatusBar, formatPercent} from "../../../src/common/describeStatusBar";
import {ModelDownloadDeclinedError, ModelNotConfiguredError, NoWorkspaceError, OperationCancelledError} from "../../../src/common/editorErrors";
import {renderCacheReportMarkdown} from "../../../src/common/renderCacheReportMarkdown";
import {splitConversationTurns} from "../../../src/common/splitConversationTurns";
import {suggestFollowUps} from "../../../src/common/suggestFollowUps";
import {makeReport} from "./FakeEngineClient";

const readyStatus: CacheStatus = {
    workspaceOpen: true,
    engineAvailable: true,
    model: {configured: true, label: "m.gguf", source: "path"},
    cache: {kind: "ready", summary: {files: 12, skippedFiles: 2, promptTokens: 1000, keptTokens: 200, keepRatio: 0.2, effectiveKeepRatio: 0.2, scorer: "surprisal", createdAt: "t"}},
    stale: freshStaleSummary(),
    busy: undefined,
    engine: {kind: "ready", modelLoaded: true}
};

describe("describeStatusBar", () => {
    it("shows ready with files and keep ratio", () => {
        const presentation = describeStatusBar(readyStatus);
        assert.equal(presentation.state, "ready");
        assert.equal(presentation.text, "$(database) KV 12 files · 20%");
        assert.match(presentation.tooltip, /200 of 1000 tokens kept/);
    });

    it("shows distilling with percent, stale, idle and missing model", () => {
        const busy = describeStatusBar({...readyStatus, busy: {operation: "distill", phase: "prefilling", fraction: 0.425, message: undefined, cancellable: true}});
        assert.equal(busy.text, "$(sync~spin) Distilling 43%");
        assert.equal(describeStatusBar({...readyStatus, busy: {operation: "distill", phase: "indexing", fraction: undefined, message: undefined, cancellable: true}}).text, "$(sync~spin) Indexing");
        const stale = describeStatusBar({...readyStatus, stale: {stale: true, reasons: ["files-changed"], changedFiles: ["a.ts"], changedCount: 1}});
        assert.equal(stale.state, "stale");
        assert.equal(stale.severity, "warning");
        assert.equal(describeStatusBar({...readyStatus, cache: {kind: "none"}}).state, "idle");
        assert.equal(describeStatusBar({...readyStatus, model: {configured: false}, cache: {kind: "none"}}).state, "no-model");
        assert.equal(describeStatusBar({...readyStatus, workspaceOpen: false}).state, "no-workspace");
        assert.equal(formatPercent(0.055), "5.5%");
    });
});

describe("renderCacheReportMarkdown", () => {
    it("lists files with their kept share and excluded files with reasons", () => {
        const report = makeReport(["src/a|b.ts", "src/c.ts"], {files: [{displayPath: "src/a|b.ts", tokens: 200, keptTokens: 50}, {displayPath: "src/c.ts", tokens: 0, keptTokens: 0}]});
        const markdown = renderCacheReportMarkdown(report, {stale: true, reasons: ["files-changed"], changedFiles: ["src/c.ts"], changedCount: 1});
        assert.match(markdown, /\| src\/a\\\|b\.ts \| 200 \| 50 \| 25% \|/);
        assert.match(markdown, /\| src\/c\.ts \| 0 \| 0 \| 0% \|/);
        assert.match(markdown, /\| big\.bin \| binary \| NUL bytes \|/);
        assert.match(markdown, /Stale.*1 files changed/);
        assert.match(markdown, /Keep ratio \(asked \/ effective\) \| 20% \/ 25%/);
        assert.match(markdown, /\| llama\.cpp build \| patched local build, cpu \|/);
        assert.match(markdown, /\| Compaction \| holes \|/);
        assert.match(renderCacheReportMarkdown({...report, scorer: "adapter", adapterSha256: "ab".repeat(32)}, freshStaleSummary()), /\| Scorer \| adapter \(adapter abababababab\) \|/);
    });

    it("says how to build a cache when there is none", () => {
        assert.match(renderCacheReportMarkdown(undefined, freshStaleSummary()), /Distill Workspace/);
    });
});

describe("adviseOnError", () => {
    it("offers Select Model when the model is missing", () => {
        assert.deepEqual(adviseOnError(new ModelNotConfiguredError(false)).actions, ["selectModel"]);
        assert.match(adviseOnError(new ModelNotConfiguredError(true)).message, /not trusted/);
        assert.equal(adviseOnError(new ModelDownloadDeclinedError("hf:a/b")).kind, "missing-model");
        assert.equal(adviseOnError(new Error("ENOENT: no such file /m/model.gguf")).kind, "missing-model");
    });

    it("suggests a smaller context or the CPU on GPU out-of-memory", () => {
        for (const message of ["CUDA error: out of memory", "ggml_backend_cuda_buffer_type_alloc_buffer: allocating 4096 MiB failed: cudaMalloc failed", "ErrorOutOfDeviceMemory"]) {
            const advice = adviseOnError(new Error(message));
            assert.equal(advice.kind, "out-of-memory", message);
            assert.match(advice.message, /smaller .*context.*CPU/);
            assert.ok(advice.actions.includes("openSettings"));
        }
    });

    it("recognises cancellation and the other cases", () => {
        const abort = new Error("aborted");
        abort.name = "AbortError";
        assert.equal(adviseOnError(abort).kind, "cancelled");
        assert.equal(adviseOnError(new OperationCancelledError("x")).kind, "cancelled");
        assert.deepEqual(adviseOnError(new NoWorkspaceError()).actions, ["openFolder"]);
        assert.equal(adviseOnError("weird").kind, "other");
    });
});

describe("question building", () => {
    it("explains a selection with its location, fenced safely", () => {
        const question = buildExplainSelectionQuestion({displayPath: "src/a.ts", startLine: 3, endLine: 5, languageId: "typescript", text: "const a = '```';"});
        assert.match(question, /^Explain this code from src\/a\.ts:3-5:/);
        assert.match(question, /\n````typescript\nconst a = '```';\n````$/);
        const long = buildExplainSelectionQuestion({displayPath: "a.ts", startLine: 1, endLine: 1, languageId: "bad lang!", text: "x".repeat(maxExplainedCharacters + 10)}, "why?");
        assert.match(long, /^About this code from a\.ts:1: why\?/);
        assert.match(long, /\n```\n/);
        assert.match(long, /cut to its first/);
    });

    it("splits a transcript into the question and earlier turns", () => {
        assert.deepEqual(splitConversationTurns([
            {role: "user", text: "a"}, {role: "assistant", text: "b"}, {role: "user", text: "c"}, {role: "user", text: "d"}, {role: "assistant", text: " "}
        ]), {question: "c\n\nd", history: [{role: "user", text: "a"}, {role: "assistant", text: "b"}]});
        assert.equal(splitConversationTurns([{role: "assistant", text: "only"}]), undefined);
    });

    it("suggests follow-ups about the linked files", () => {
        assert.deepEqual(suggestFollowUps(["src/a.ts:3", "src/a.ts", "src/b.ts#L2"]), [
            "What does src/a.ts do, and which other files use it?",
            "What does src/b.ts do, and which other files use it?"
        ]);
        assert.equal(suggestFollowUps([]).length, 1);
    });
});

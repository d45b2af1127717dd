const kit = await import("./out/test/engine/helpers/engineTestKit.js");
const ws = await kit.makeTemporaryFolder("ws"); const cache = await kit.makeTemporaryFolder("cache");
await kit.writeSampleWorkspace(ws, {files: 5, linesPerFile: 12});
const t = await kit.createTestEngine();
const out = await t.engine.distillForTesting(kit.distillOptions(ws, cache, t.modelPath, {keepRatio: 0.3, segmentTokens: 384, scorer: "recent"}), {}, false);
console.log(out.result.promptTokens, out.result.keptTokens, out.result.contextSize, out.manifest.segments.map(s => [s.tokenStart, s.tokenEnd, s.keptThrough]));
await t.engine.dispose();

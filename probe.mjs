const kit = await import("./out/test/engine/helpers/engineTestKit.js");
const ws = await kit.makeTemporaryFolder("ws"); const cache = await kit.makeTemporaryFolder("cache");
await kit.writeSampleWorkspace(ws, {files: 4, linesPerFile: 8});
const t = await kit.createTestEngine();
const ev = [];
const out = await t.engine.distillForTesting(kit.distillOptions(ws, cache, t.modelPath, {keepRatio: 0.4, segmentTokens: 128, scorer: "surprisal"}), {onSegmentScored: e => ev.push(e)}, false);
console.log(out.result.promptTokens, out.result.keptTokens, ev.map(e => [e.tokenStart, e.tokens.length, e.keptIndexes.length, Array.from(e.scores.slice(0, 5)).map(x => x.toFixed(3))]));
await t.engine.dispose();

import assert from "node:assert/strict";
import {describe, test} from "node:test";
import type {PromptLayout} from "../../src/engine/prompt/buildPromptLayout";
import {createTokenScorer} from "../../src/engine/scorers/createTokenScorer";
import {UnsupportedScorerError} from "../../src/engine/engineErrors";
import {buildAlwaysKeepMask} from "../../src/engine/selection/buildAlwaysKeepMask";
import {planKeepSchedule} from "../../src/engine/selection/planKeepSchedule";
import {evictedRanges, selectKeptTokens} from "../../src/engine/selection/selectKeptTokens";

function syntheticLayout(): PromptLayout {
    // 3 opening tokens, then two files (header 4 tokens + content 40 tokens each), then the tail: a
    // 10-token outline and a 5-token file list.
    const pieces: PromptLayout["pieces"] = [{kind: "opening", fileIndex: -1, charStart: 0, charEnd: 0, tokenStart: 0, tokenEnd: 3, startsSection: true}];
    let token = 3;
    for (let file = 0; file < 2; file++) {
        pieces.push({kind: "header", fileIndex: file, charStart: token, charEnd: token + 4, tokenStart: token, tokenEnd: token + 4, startsSection: true});
        token += 4;
        pieces.push({kind: "content", fileIndex: file, charStart: token, charEnd: token + 40, tokenStart: token, tokenEnd: token + 40, startsSection: false});
        token += 40;
    }
    pieces.push({kind: "outline", fileIndex: -1, charStart: token, charEnd: token + 10, tokenStart: token, tokenEnd: token + 10, startsSection: true});
    token += 10;
    pieces.push({kind: "fileList", fileIndex: -1, charStart: token, charEnd: token + 5, tokenStart: token, tokenEnd: token + 5, startsSection: false});
    token += 5;
    return {
        tokens: Array.from({length: token}, (_, index) => index),
        openingTokenCount: 3,
        pieces,
        files: [{tokenStart: 3, headerTokenEnd: 7, tokenEnd: 47}, {tokenStart: 47, headerTokenEnd: 51, tokenEnd: 91}],
        tailTokenStart: 91,
        fileListTokenStart: 101,
        promptChars: 106
    };
}

describe("buildAlwaysKeepMask", () => {
    test("marks the opening and sinks, every header, the file list and the last tokens", () => {
        const layout = syntheticLayout();
        const mask = buildAlwaysKeepMask(layout, {sinkTokens: 5, tailTokens: 8});
        const marked = [...mask.keys()].filter((index) => mask[index] === 1);
        const expected = [0, 1, 2, 3, 4, 5, 6, 47, 48, 49, 50, 98, 99, 100, 101, 102, 103, 104, 105];
        assert.deepEqual(marked, expected);
    });

    test("the outline is not always kept: only the last tokens rule reaches into it", () => {
        const layout = syntheticLayout();
        const mask = buildAlwaysKeepMask(layout, {sinkTokens: 1, tailTokens: 0});
        assert.deepEqual([...mask.subarray(layout.tailTokenStart, layout.fileListTokenStart)], new Array(10).fill(0));
        assert.deepEqual([...mask.subarray(layout.fileListTokenStart)], new Array(5).fill(1));
    });

    test("token 0 is always kept even with no sinks asked for", () => {
        const layout = {...syntheticLayout(), openingTokenCount: 0};
        assert.equal(buildAlwaysKeepMask(layout, {sinkTokens: 0, tailTokens: 0})[0], 1);
    });
});

describe("planKeepSchedule", () => {
    test("the budget counts every kept token and lands on round(ratio * total)", () => {
        const segments = [{tokenStart: 0, tokenEnd: 100}, {tokenStart: 100, tokenEnd: 250}, {tokenStart: 250, tokenEnd: 300}];
        const mask = new Uint8Array(300);
        mask.fill(1, 0, 4);
        const schedule = planKeepSchedule(segments, mask, 0.2);
        assert.deepEqual(schedule.map((plan) => plan.keptThrough), [20, 50, 60]);
        assert.deepEqual(schedule.map((plan) => plan.keptTokens), [20, 30, 10]);
        assert.deepEqual(schedule.map((plan) => plan.alwaysKeptTokens), [4, 0, 0]);
    });

    test("always-kept tokens over the budget are kept, later segments give the excess back", () => {
        const segments = [{tokenStart: 0, tokenEnd: 100}, {tokenStart: 100, tokenEnd: 200}, {tokenStart: 200, tokenEnd: 300}];
        const mask = new Uint8Array(300);
        mask.fill(1, 0, 50); // half of segment 0 must stay
        const schedule = planKeepSchedule(segments, mask, 0.2);
        assert.equal(schedule[0]!.keptTokens, 50);
        assert.equal(schedule[1]!.keptTokens, 0, "segment 1's budget was used by segment 0's always-kept tokens");
        assert.equal(schedule[2]!.keptThrough, 60, "the overall ratio is back on target");
    });

    test("each segment's plan depends only on the segments up to it", () => {
        const mask = new Uint8Array(400);
        mask.fill(1, 270, 300);
        const short = planKeepSchedule([{tokenStart: 0, tokenEnd: 100}, {tokenStart: 100, tokenEnd: 200}, {tokenStart: 200, tokenEnd: 300}], mask, 0.2);
        const longer = planKeepSchedule([{tokenStart: 0, tokenEnd: 100}, {tokenStart: 100, tokenEnd: 200}, {tokenStart: 200, tokenEnd: 300}, {tokenStart: 300, tokenEnd: 400}], mask, 0.2);
        assert.deepEqual(longer.slice(0, 3), short);
        // An excess in the last segment is kept (the effective ratio is then higher) ...
        assert.equal(short[2]!.keptThrough, 70);
        // ... and given back when more segments follow.
        assert.equal(longer[3]!.keptThrough, 80);
    });

    test("when always-kept tokens exceed the whole budget, they are all kept (higher effective ratio)", () => {
        const segments = [{tokenStart: 0, tokenEnd: 100}];
        const mask = new Uint8Array(100);
        mask.fill(1, 0, 30);
        assert.equal(planKeepSchedule(segments, mask, 0.1)[0]!.keptThrough, 30);
    });

    test("refuses ratios outside (0, 1]", () => {
        for (const ratio of [0, -0.1, 1.5, Number.NaN])
            assert.throws(() => planKeepSchedule([{tokenStart: 0, tokenEnd: 10}], new Uint8Array(10), ratio), RangeError);
    });
});

describe("selectKeptTokens", () => {
    test("keeps the always-kept tokens plus the highest scores, earlier index first on ties", () => {
        const scores = Float64Array.from([0, 5, 1, 5, 9, 2, 5, Number.NaN]);
        const always = Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0]);
        const {keptIndexes, alwaysKeptTokens} = selectKeptTokens(scores, always, 4);
        assert.equal(alwaysKeptTokens, 1);
        assert.deepEqual([...keptIndexes], [0, 1, 3, 4]);
    });

    test("NaN scores are chosen last and the count never exceeds the segment", () => {
        const scores = Float64Array.from([Number.NaN, 1, Number.NaN]);
        assert.deepEqual([...selectKeptTokens(scores, new Uint8Array(3), 2).keptIndexes], [0, 1]);
        assert.deepEqual([...selectKeptTokens(scores, new Uint8Array(3), 10).keptIndexes], [0, 1, 2]);
    });

    test("always-kept tokens beyond the budget are still kept", () => {
        const {keptIndexes} = selectKeptTokens(new Float64Array(5), Uint8Array.from([1, 1, 1, 0, 0]), 1);
        assert.deepEqual([...keptIndexes], [0, 1, 2]);
    });

    test("evicted ranges are the exact complement", () => {
        assert.deepEqual(evictedRanges(Int32Array.from([0, 3, 4, 8]), 10), [{start: 1, end: 3}, {start: 5, end: 8}, {start: 9, end: 10}]);
        assert.deepEqual(evictedRanges(Int32Array.from([]), 3), [{start: 0, end: 3}]);
        assert.deepEqual(evictedRanges(Int32Array.from([0, 1, 2]), 3), []);
    });
});

describe("scorers", () => {
    const input = {tokens: [5, 6, 7, 8], firstTokenIndex: 100, totalTokens: 1000};

    test("recent ranks later tokens higher", () => {
        const scores = createTokenScorer("recent").scoreSegment(input);
        assert.deepEqual([...scores], [100, 101, 102, 103]);
        const {keptIndexes} = selectKeptTokens(scores, new Uint8Array(4), 2);
        assert.deepEqual([...keptIndexes], [2, 3]);
    });

    test("random is seeded and independent of the segmentation", () => {
        const whole = createTokenScorer("random", {seed: 7}).scoreSegment({tokens: new Array(10).fill(1), firstTokenIndex: 0, totalTokens: 10});
        const firstHalf = createTokenScorer("random", {seed: 7}).scoreSegment({tokens: new Array(5).fill(1), firstTokenIndex: 0, totalTokens: 10});
        const secondHalf = createTokenScorer("random", {seed: 7}).scoreSegment({tokens: new Array(5).fill(1), firstTokenIndex: 5, totalTokens: 10});
        assert.deepEqual([...whole], [...firstHalf, ...secondHalf]);
        const otherSeed = createTokenScorer("random", {seed: 8}).scoreSegment({tokens: new Array(10).fill(1), firstTokenIndex: 0, totalTokens: 10});
        assert.notDeepEqual([...whole], [...otherSeed]);
        assert.ok(whole.every((score) => score >= 0 && score < 1));
    });

    test("surprisal is the negative log-probability; a token without a prediction scores infinity", () => {
        const scorer = createTokenScorer("surprisal");
        assert.equal(scorer.requirements.logProbabilities, true);
        const scores = scorer.scoreSegment({...input, logProbabilities: Float64Array.from([Number.NaN, -0.5, -3, -0.01])});
        assert.deepEqual([...scores], [Infinity, 0.5, 3, 0.01]);
        assert.throws(() => scorer.scoreSegment(input), RangeError);
    });

    test("the adapter scorer needs the patched build (refused with the reason) and passes the adapter's scores through", () => {
        assert.throws(() => createTokenScorer("adapter"), UnsupportedScorerError);
        assert.throws(() => createTokenScorer("adapter", {build: {patched: false, description: "degraded: no patched build"}}),
            (error: unknown) => error instanceof UnsupportedScorerError && /degraded: no patched build/.test(error.message));
        assert.throws(() => createTokenScorer("reconstruct", {build: {patched: true, description: "patched local build, cpu"}}), UnsupportedScorerError);
        const scorer = createTokenScorer("adapter", {build: {patched: true, description: "patched local build, cpu"}});
        assert.deepEqual(scorer.requirements, {logProbabilities: false, adapterScores: true});
        const scores = scorer.scoreSegment({...input, adapterScores: Float64Array.from([0.5, -2, Number.NaN, 3])});
        assert.deepEqual([...scores], [0.5, -2, -Infinity, 3]);
        assert.throws(() => scorer.scoreSegment(input), RangeError);
    });
});

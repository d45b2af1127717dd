import assert from "node:assert/strict";
import {readFileSync} from "node:fs";
import path from "node:path";
import {describe, it} from "node:test";
import {answerMatches} from "../../bench/answerMatches";
import {findRepositoryRoot} from "../fixtures/repositoryPaths";

type MatchingCase = {expected: string; answer: string; matches: boolean};

describe("answerMatches (the QA benchmark's grading, shared with kvtrain's evaluate.py)", () => {
    const {cases} = JSON.parse(readFileSync(path.join(findRepositoryRoot(), "test", "fixtures", "qa-eval", "answer-matching.json"), "utf8")) as
        {cases: MatchingCase[]};

    it("has cases both ways", () => {
        assert.ok(cases.filter((item) => item.matches).length >= 5 && cases.filter((item) => !item.matches).length >= 5);
    });

    for (const item of cases) {
        it(`${item.matches ? "finds" : "does not find"} ${JSON.stringify(item.expected)} in ${JSON.stringify(item.answer)}`, () => {
            assert.equal(answerMatches(item.answer, item.expected), item.matches);
        });
    }
});

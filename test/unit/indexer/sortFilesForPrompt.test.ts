import {strict as assert} from "node:assert";
import {describe, it} from "node:test";
import {compareFilesForPrompt, type PromptOrderKey} from "../../../src/indexer/compareFilesForPrompt";
import {sortFilesForPrompt} from "../../../src/indexer/sortFilesForPrompt";

type Keyed = PromptOrderKey & {id: number};

/** A small seeded generator (mulberry32), so that every run checks the same inputs. */
function createRandom(seed: number): () => number {
    let state = seed >>> 0;
    return () => {
        state = (state + 0x6d2b79f5) >>> 0;
        let t = state;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

describe("sortFilesForPrompt", () => {
    it("gives exactly the stable sort by compareFilesForPrompt: times, uncommitted last, ties by path, equal paths in input order", () => {
        const random = createRandom(7);
        const paths = ["a.ts", "b/c.ts", "b.ts", "B.ts", "é.md", "\u{1f600}.txt", "z", "a.ts"];
        for (const [round, distinctTimes] of [1, 3, 50, 100_000].entries()) {
            const files: Keyed[] = Array.from({length: 2000}, (_, id) => ({
                id,
                displayPath: paths[Math.floor(random() * paths.length)]! + (random() < 0.5 ? "" : String(Math.floor(random() * 20))),
                lastChangedMs: 1_700_000_000_000 + Math.floor(random() * distinctTimes) * 1000 - (random() < 0.05 ? 1_800_000_000_000 : 0),
                uncommitted: random() < 0.2
            }));
            const expected = [...files].sort(compareFilesForPrompt).map((file) => file.id);
            const input = [...files];
            assert.equal(sortFilesForPrompt(input), input, "sorts in place");
            assert.deepEqual(input.map((file) => file.id), expected, `round ${round}`);
        }
    });

    it("takes -0 and 0 as the same time, as compareFilesForPrompt does, and sorts what is not a finite time as it does", () => {
        const zeros: Keyed[] = [{id: 0, displayPath: "b", lastChangedMs: 0, uncommitted: false}, {id: 1, displayPath: "a", lastChangedMs: -0, uncommitted: false}, {id: 2, displayPath: "c", lastChangedMs: -1, uncommitted: false}];
        assert.deepEqual(sortFilesForPrompt([...zeros]).map((file) => file.id), [...zeros].sort(compareFilesForPrompt).map((file) => file.id));
        assert.deepEqual(sortFilesForPrompt([...zeros]).map((file) => file.id), [2, 1, 0]);
        const odd: Keyed[] = [{id: 0, displayPath: "b", lastChangedMs: Number.POSITIVE_INFINITY, uncommitted: false}, {id: 1, displayPath: "a", lastChangedMs: 5, uncommitted: false}];
        assert.deepEqual(sortFilesForPrompt([...odd]).map((file) => file.id), [...odd].sort(compareFilesForPrompt).map((file) => file.id));
        assert.deepEqual(sortFilesForPrompt([]), []);
    });
});

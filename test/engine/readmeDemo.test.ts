// The README's main job (`npm run demo`: scripts/demo.mjs) end to end: it builds, distills the sample
// workspace with the bundled small model at full and at 25% keep, and asks the sample question of
// both caches. The bundled model must answer it right from the full cache (issue #6's last
// criterion); the 25% cache's answer is printed but not checked: the surprisal scorer does not keep
// the planted value (README, "Be warned"), so any right answer from it would be a guess.
import assert from "node:assert/strict";
import {spawnSync} from "node:child_process";
import {existsSync, mkdtempSync, rmSync} from "node:fs";
import {tmpdir} from "node:os";
import path from "node:path";
import {after, describe, test} from "node:test";

const repositoryRoot = path.resolve(__dirname, "..", "..", "..");
const cacheDir = mkdtempSync(path.join(tmpdir(), "kvd-demo-cache-"));
after(() => rmSync(cacheDir, {recursive: true, force: true}));

describe("the README's main job", () => {
    test("npm run demo answers the sample question right from the full cache, and answers from the 25% cache", {timeout: 15 * 60_000}, () => {
        assert.ok(existsSync(path.join(repositoryRoot, "models", "small.gguf")), "the bundled model is in the repository");
        const result = spawnSync(process.execPath, [path.join(repositoryRoot, "scripts", "demo.mjs"), "--cache-dir", cacheDir],
            {cwd: repositoryRoot, encoding: "utf8", timeout: 14 * 60_000});
        assert.equal(result.status, 0, `demo failed:\n${result.stderr.slice(-4000)}`);
        const answers = [...result.stdout.matchAll(/^Answer: {3}(\S.*)$/gm)].map((match) => match[1]!);
        assert.equal(answers.length, 2, result.stdout);
        // samples/workspace/config/defaults.json sets retryLimit to 5.
        assert.match(answers[0]!, /\bretryLimit\b.*\b5\b/, `full-cache answer: ${answers[0]}`);
        assert.ok(answers[1]!.trim().length > 0, "the 25% cache gives an answer");
        const kept = [...result.stdout.matchAll(/^Kept: +(\d+) tokens \(([\d.]+)%/gm)].map((match) => Number(match[2]));
        assert.deepEqual(kept.length, 2);
        assert.equal(kept[0], 100);
        assert.ok(kept[1]! > 20 && kept[1]! < 30, `kept ${kept[1]}%`);
        // A fresh cache folder: both caches were distilled now, not taken from an earlier run.
        const outcomes = [...result.stdout.matchAll(/^Distill: +\S+ s \((\w+);/gm)].map((match) => match[1]);
        assert.equal(outcomes.length, 2);
        assert.ok(outcomes.every((outcome) => outcome !== "reused"), `outcomes: ${outcomes.join(", ")}`);
    });
});

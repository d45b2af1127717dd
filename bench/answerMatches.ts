// How the QA benchmark grades an answer: the expected string must appear whole, not as a piece of a
// longer number, name or path ("37" is not in "3766", "dialog.ts" is not in "dialog.tsx"). Shared with
// native/train/kvtrain/evaluate.py through test/fixtures/qa-eval/answer-matching.json.

/** Characters that continue a number, a name or a path. */
const continuing = /[A-Za-z0-9_/]/;

/** Whether the text next to the expected string (before it: step -1 from its first index - 1, after: +1 from its end) continues it. */
function continues(answer: string, index: number, step: -1 | 1): boolean {
    const near = answer[index];
    if (near === undefined)
        return false;
    // "0.5" continues a number before "5"; a sentence's full stop next to the answer does not.
    return continuing.test(near) || (near === "." && continuing.test(answer[index + step] ?? " "));
}

export function answerMatches(answer: string, expected: string): boolean {
    if (expected === "")
        return false;
    for (let start = answer.indexOf(expected); start !== -1; start = answer.indexOf(expected, start + 1)) {
        if (!continues(answer, start - 1, -1) && !continues(answer, start + expected.length, 1))
            return true;
    }
    return false;
}

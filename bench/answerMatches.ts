// How the QA benchmark grades an answer: the expected string must appear whole, not as a piece of a
// longer number, name or path ("37" is not in "3766", "dialog.ts" is not in "dialog.tsx"). Shared with
// native/train/kvtrain/evaluate.py through test/fixtures/qa-eval/answer-matching.json.

/** Characters that continue a number, a name or a path. */
const continuing = /[A-Za-z0-9_/]/;

function continuesBefore(answer: string, start: number): boolean {
    const previous = answer[start - 1];
    if (previous === undefined)
        return false;
    // "0.5" continues a number before "5"; a sentence's full stop before the answer does not.
    return continuing.test(previous) || (previous === "." && continuing.test(answer[start - 2] ?? " "));
}

function continuesAfter(answer: string, end: number): boolean {
    const next = answer[end];
    if (next === undefined)
        return false;
    return continuing.test(next) || (next === "." && continuing.test(answer[end + 1] ?? " "));
}

export function answerMatches(answer: string, expected: string): boolean {
    if (expected === "")
        return false;
    for (let start = answer.indexOf(expected); start !== -1; start = answer.indexOf(expected, start + 1)) {
        if (!continuesBefore(answer, start) && !continuesAfter(answer, start + expected.length))
            return true;
    }
    return false;
}

// A quick "can any rule of this ignore file match this path at all?" test: the `ignore` package
// tests a path against each rule's regular expression in turn, which for an ignore file of a
// hundred rules (llama.cpp's .gitignore has 102) made ignore matching one of the indexer's larger
// costs. One regular expression that is the alternation of all the rules' expressions answers the
// question in one call; a path that no rule matches (nearly every path) needs no more than that.
//
// The rules' expressions are internals of `ignore` (pinned to an exact version in package.json):
// when they are not where this expects them, or could change meaning inside an alternation
// (backreferences, named groups, differing flags), there is no prefilter and every path takes the
// package's own test. A unit test checks that the prefilter exists for the version in use.
import type {Ignore} from "ignore";

export function createIgnoreRulePrefilter(matcher: Ignore): RegExp | undefined {
    const rules = (matcher as unknown as {_rules?: {_rules?: unknown}})._rules?._rules;
    if (!Array.isArray(rules) || rules.length === 0)
        return undefined;
    // `ignore` starts every rule's expression with "(?:^|\/)" (a pattern without a slash: at any
    // depth) or "^" (an anchored one). Factoring these out tries the rules only where a path
    // segment starts, instead of every rule at every character: several times faster on long paths.
    const atSegmentStart: string[] = [];
    const atStart: string[] = [];
    const others: string[] = [];
    let flags: string | undefined;
    for (const rule of rules as unknown[]) {
        const regex = typeof rule === "object" && rule !== null ? (rule as {regex?: unknown}).regex : undefined;
        if (!(regex instanceof RegExp) || regex.global || regex.sticky)
            return undefined;
        if (flags !== undefined && regex.flags !== flags)
            return undefined;
        flags = regex.flags;
        const source = regex.source;
        // A backreference or a named group would be renumbered or clash in the alternation.
        if (/\\[1-9k]|\(\?<[^=!]/.test(source))
            return undefined;
        if (source.startsWith(segmentStartPrefix) && !startsWithQuantifier(source, segmentStartPrefix.length))
            atSegmentStart.push(`(?:${source.slice(segmentStartPrefix.length)})`);
        else if (source.startsWith("^") && !startsWithQuantifier(source, 1))
            atStart.push(`(?:${source.slice(1)})`);
        else
            others.push(`(?:${source})`);
    }
    const branches: string[] = [];
    if (atSegmentStart.length > 0)
        branches.push(`${segmentStartPrefix}(?:${atSegmentStart.join("|")})`);
    if (atStart.length > 0)
        branches.push(`^(?:${atStart.join("|")})`);
    branches.push(...others);
    return new RegExp(branches.join("|"), flags);
}

const segmentStartPrefix = "(?:^|\\/)";

/** Whether the expression goes on with a quantifier at `index`: the prefix before it could then not be split off. */
function startsWithQuantifier(source: string, index: number): boolean {
    const next = source[index];
    return next === "*" || next === "+" || next === "?" || next === "{";
}

// A quick "can any rule of this ignore file match this path at all?" test: the `ignore` package
// tests a path against each rule's regular expression in turn, which for an ignore file of a
// hundred rules (llama.cpp's .gitignore has 102) made ignore matching one of the indexer's larger
// costs. A path that no rule matches (nearly every path) needs no more than this test.
//
// The rules' expressions are internals of `ignore` (pinned to an exact version in package.json):
// when they are not where this expects them, or could change meaning when combined
// (backreferences, named groups, differing flags), there is no prefilter and every path takes the
// package's own test. A unit test checks that the prefilter exists for the version in use.
import type {Ignore} from "ignore";

/** True when some rule may match the path; false only when no rule does. */
export type IgnoreRulePrefilter = (levelPath: string) => boolean;

export function createIgnoreRulePrefilter(matcher: Ignore): IgnoreRulePrefilter | undefined {
    const rules = (matcher as unknown as {_rules?: {_rules?: unknown}})._rules?._rules;
    if (!Array.isArray(rules))
        return undefined;
    // An ignore file with no rules (empty, or only comments, as git's own .git/info/exclude) matches
    // nothing: without this answer every path below it took the package's whole test.
    if (rules.length === 0)
        return () => false;
    // `ignore` starts every rule's expression with "(?:^|\/)" (a pattern without a slash: at any
    // depth) or "^" (an anchored one). The most common rule, "*.ext", becomes
    // "(?:^|\/)[^\/]*\.ext(?=$|\/$)": the last segment of the path (before a trailing slash) ends
    // with ".ext". Those are tested as one end-anchored alternation on the last segment only; the
    // others as one alternation with the common starts factored out, so that rules are tried only
    // where a path segment starts. A single alternation of all the expressions as they are spent
    // about 6 µs a path on llama.cpp's .gitignore, backtracking through every "[^\/]*".
    const segmentSuffixes: string[] = [];
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
        if (source.startsWith(segmentStartPrefix) && !startsWithQuantifier(source, segmentStartPrefix.length)) {
            const rest = source.slice(segmentStartPrefix.length);
            const suffix = literalSegmentSuffix.exec(rest);
            if (suffix !== null)
                segmentSuffixes.push(suffix[1]!);
            else
                atSegmentStart.push(`(?:${rest})`);
        } else if (source.startsWith("^") && !startsWithQuantifier(source, 1))
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
    const anyOther = branches.length > 0 ? new RegExp(branches.join("|"), flags) : undefined;
    const anySuffix = segmentSuffixes.length > 0 ? new RegExp(`(?:${segmentSuffixes.join("|")})$`, flags) : undefined;
    return (levelPath) => {
        if (anyOther?.test(levelPath) === true)
            return true;
        if (anySuffix === undefined)
            return false;
        const end = levelPath.endsWith("/") ? levelPath.length - 1 : levelPath.length;
        return anySuffix.test(levelPath.slice(levelPath.lastIndexOf("/", end - 1) + 1, end));
    };
}

const segmentStartPrefix = "(?:^|\\/)";

/** "[^\/]*" + a literal (letters, digits, underscores, escaped punctuation) + "(?=$|\/$)": captures the literal, as written in the expression. */
const literalSegmentSuffix = /^\[\^\\\/\]\*((?:[A-Za-z0-9_]|\\[^A-Za-z0-9])+)\(\?=\$\|\\\/\$\)$/;

/** Whether the expression goes on with a quantifier at `index`: the prefix before it could then not be split off. */
function startsWithQuantifier(source: string, index: number): boolean {
    const next = source[index];
    return next === "*" || next === "+" || next === "?" || next === "{";
}

// Ignore files in force at one directory of the walk: an immutable stack of levels, one per
// directory that has ignore files, deepest on top. Patterns use gitignore syntax and semantics
// (through the `ignore` package): a pattern without a slash matches at any depth below its file,
// `!` re-includes, a trailing `/` matches folders only, and, as in git, a deeper file overrides a
// shallower one and a later rule overrides an earlier one. Precedence at one level, lowest first:
// .git/info/exclude, .gitignore, .ignore, .kvdistillignore (as ripgrep orders .gitignore < .ignore),
// then the caller's extra excludes at each folder root.
//
// One approximation: when a deeper file re-includes (`!folder/`) a folder that a shallower file
// excludes, the `ignore` package would still exclude everything inside through the shallower file's
// folder rule, so below that folder the shallower file is dropped altogether (git would still apply
// its other patterns there). Re-including a folder from a deeper file is rare.
import ignore from "ignore";
import {createIgnoreRulePrefilter, type IgnoreRulePrefilter} from "./createIgnoreRulePrefilter";

export type IgnoreRuleSource = {
    /** Where the rules come from, for messages: a folder-relative path such as "src/.gitignore", or "extraExcludes". */
    label: string;
    matcher: ignore.Ignore;
    /** Matches every path that some rule of `matcher` matches (see createIgnoreRulePrefilter); undefined: none. */
    anyRuleMatches: IgnoreRulePrefilter | undefined;
    /** The answers for folders ("a/b/"), as testSource needs them for every path below. */
    folderResults: Map<string, SourceTestResult>;
};

type IgnoreLevel = {
    /** Prepended to the path below `directory` to get the path relative to this level's directory. */
    pathPrefix: string;
    /** Folder-relative directory of this level ("" for the folder root); its files' paths start with it. */
    directory: string;
    /** Highest precedence first. */
    sources: readonly IgnoreRuleSource[];
};

export type IgnoreVerdict = {ignored: boolean; reason: string};

export class IgnoreRuleStack {
    /** Deepest level first. */
    private constructor(private readonly levels: readonly IgnoreLevel[]) {}

    public static empty(): IgnoreRuleStack {
        return new IgnoreRuleStack([]);
    }

    /** Creates one rule source from the text of an ignore file (or a list of patterns). */
    public static createSource(label: string, patterns: string | readonly string[], ignoreCase: boolean): IgnoreRuleSource {
        const matcher = ignore({ignorecase: ignoreCase});
        matcher.add(typeof patterns === "string" ? patterns : [...patterns]);
        return {label, matcher, anyRuleMatches: createIgnoreRulePrefilter(matcher), folderResults: new Map()};
    }

    /**
     * A stack with one more level on top. `directory` is folder-relative ("" for the folder root);
     * `pathPrefix` is non-empty only for levels above the workspace folder (the folder's path
     * relative to that level's directory, with a trailing "/"). `sources` are lowest precedence first.
     */
    public push(directory: string, pathPrefix: string, sources: readonly IgnoreRuleSource[]): IgnoreRuleStack {
        if (sources.length === 0)
            return this;
        return new IgnoreRuleStack([{directory, pathPrefix, sources: [...sources].reverse()}, ...this.levels]);
    }

    /** Decides a folder-relative path ("a/b.txt"); `isDirectory` selects folder-only patterns. */
    public test(relativePath: string, isDirectory: boolean): IgnoreVerdict | undefined {
        for (const level of this.levels) {
            const below = level.directory === "" ? relativePath : relativePath.slice(level.directory.length + 1);
            const levelPath = level.pathPrefix + below + (isDirectory ? "/" : "");
            for (const source of level.sources) {
                let result;
                try {
                    result = testSource(source, levelPath);
                } catch {
                    continue; // a path the library refuses (it cannot be matched by any pattern either)
                }
                if (result.ignored)
                    return {ignored: true, reason: `${source.label}: ${result.rule?.pattern ?? "(parent folder)"}`};
                if (result.unignored)
                    return {ignored: false, reason: `${source.label}: ${result.rule?.pattern ?? ""}`};
            }
        }
        return undefined;
    }

    /**
     * The stack to use below a folder that an explicit negation re-included: without the levels
     * that exclude the folder itself (see the note at the top of the file).
     */
    public withoutLevelsExcludingFolder(relativePath: string): IgnoreRuleStack {
        const kept: IgnoreLevel[] = [];
        for (const level of this.levels) {
            const below = level.directory === "" ? relativePath : relativePath.slice(level.directory.length + 1);
            const levelPath = `${level.pathPrefix}${below}/`;
            const excludes = level.sources.some((source) => {
                try {
                    return source.matcher.ignores(levelPath);
                } catch {
                    return false;
                }
            });
            if (!excludes)
                kept.push(level);
        }
        return new IgnoreRuleStack(kept);
    }

    /** Decides the workspace folder itself against the levels above it (those with a path prefix). */
    public testLevelRoots(): IgnoreVerdict | undefined {
        for (const level of this.levels) {
            if (level.pathPrefix === "")
                continue;
            for (const source of level.sources) {
                const result = source.matcher.test(level.pathPrefix);
                if (result.ignored)
                    return {ignored: true, reason: `${source.label}: ${result.rule?.pattern ?? ""}`};
                if (result.unignored)
                    return {ignored: false, reason: `${source.label}: ${result.rule?.pattern ?? ""}`};
            }
        }
        return undefined;
    }
}

type SourceTestResult = {ignored: boolean; unignored: boolean; rule?: {pattern: string}};

const noRuleMatched: SourceTestResult = {ignored: false, unignored: false};

/**
 * source.matcher.test(levelPath), with the same answer, faster. The package answers a path inside
 * an ignored folder with that folder's result ("a file in an excluded folder cannot be
 * re-included"), and otherwise tests the path against every rule; here the folders' results are
 * kept per source, and the rules are tried only when the prefilter says that one of them matches.
 */
function testSource(source: IgnoreRuleSource, levelPath: string): SourceTestResult {
    const prefilter = source.anyRuleMatches;
    // Paths the package would refuse or split differently take its own test, so that it still decides (or throws).
    if (prefilter === undefined || !isPlainRelativePath(levelPath))
        return source.matcher.test(levelPath);
    const withoutSlash = levelPath.endsWith("/") ? levelPath.slice(0, -1) : levelPath;
    const parentEnd = withoutSlash.lastIndexOf("/");
    if (parentEnd !== -1) {
        const parentPath = withoutSlash.slice(0, parentEnd + 1);
        let parent = source.folderResults.get(parentPath);
        if (parent === undefined) {
            parent = testSource(source, parentPath);
            source.folderResults.set(parentPath, parent);
        }
        if (parent.ignored)
            return parent;
    }
    return prefilter(levelPath) ? source.matcher.test(levelPath) : noRuleMatched;
}

function isPlainRelativePath(levelPath: string): boolean {
    return levelPath !== "" && levelPath !== "." && levelPath !== ".." && !levelPath.startsWith("/") && !levelPath.startsWith("./") && !levelPath.startsWith("../") && !levelPath.includes("//") && !levelPath.includes("\\");
}

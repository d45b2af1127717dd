// A small matcher for the editor's `files.exclude` globs, with VS Code's glob semantics (not
// gitignore's): a pattern is matched against the whole path relative to the workspace folder, so
// "dist" matches only the top-level dist and "**/dist" matches at any depth; `*` and `?` stay within
// one path segment, `**` spans segments, `{a,b}` alternates, `[a-z]` / `[!a-z]` are character
// classes. A pattern that matches a folder excludes everything below it (the walker never enters
// it). Absolute patterns are matched against the absolute path.

export type FilesExcludeMatcher = (relativePath: string, absolutePath: string) => boolean;

export function compileFilesExcludeGlob(pattern: string, ignoreCase: boolean): FilesExcludeMatcher {
    let glob = pattern.trim().replace(/\\/g, "/");
    if (glob.startsWith("./"))
        glob = glob.slice(2);
    while (glob.length > 1 && glob.endsWith("/"))
        glob = glob.slice(0, -1);
    if (glob === "")
        return () => false;
    const isAbsolute = glob.startsWith("/") || /^[a-zA-Z]:\//.test(glob);
    const expression = new RegExp(`^${globToRegExpSource(glob)}$`, ignoreCase ? "iu" : "u");
    return isAbsolute
        ? (_relativePath, absolutePath) => expression.test(absolutePath.replace(/\\/g, "/"))
        : (relativePath) => expression.test(relativePath);
}

function globToRegExpSource(glob: string): string {
    let source = "";
    let braceDepth = 0;
    for (let index = 0; index < glob.length; index++) {
        const char = glob[index]!;
        if (char === "*") {
            if (glob[index + 1] === "*") {
                const atSegmentStart = index === 0 || glob[index - 1] === "/";
                const followedBySlash = glob[index + 2] === "/";
                const atEnd = index + 2 === glob.length;
                if (atSegmentStart && followedBySlash) {
                    source += "(?:[^/]*/)*"; // "**/": zero or more whole segments
                    index += 2;
                    continue;
                }
                if (atSegmentStart && atEnd) {
                    source += ".*";
                    index += 1;
                    continue;
                }
                source += "[^/]*"; // "**" inside a segment behaves like "*"
                index += 1;
                continue;
            }
            source += "[^/]*";
        } else if (char === "?") {
            source += "[^/]";
        } else if (char === "[") {
            const close = glob.indexOf("]", index + 2);
            if (close === -1) {
                source += "\\[";
                continue;
            }
            let body = glob.slice(index + 1, close);
            const negated = body.startsWith("!") || body.startsWith("^");
            if (negated)
                body = body.slice(1);
            source += `[${negated ? "^/" : ""}${body.replace(/[\\\]^]/g, (match) => `\\${match}`)}]`;
            index = close;
        } else if (char === "{") {
            braceDepth++;
            source += "(?:";
        } else if (char === "}" && braceDepth > 0) {
            braceDepth--;
            source += ")";
        } else if (char === "," && braceDepth > 0) {
            source += "|";
        } else {
            source += char.replace(/[.+^${}()|[\]\\/]/g, (match) => `\\${match}`);
        }
    }
    // An unclosed brace: close the groups so the expression stays valid.
    return source + ")".repeat(braceDepth);
}

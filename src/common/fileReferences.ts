// Finds file paths and `path:line` references in an answer's text, and parses one reference.
// Extraction is liberal on purpose: only references that resolve to a file inside the workspace
// (resolveWorkspaceFileReference) ever become links.

export type ParsedFileReference = {
    path: string;
    /** 1-based line, when the reference names one. */
    line?: number;
    /** 1-based column, when the reference names one. */
    column?: number;
};

const maxLine = 10_000_000;
const maxCandidates = 200;

// A path: optional "/", "./" or "../" start, then segments; either it has a "/" or its last
// segment has an extension. Then an optional ":line[:col]", ":line-line" or "#Lline[-Lline]".
const referencePattern =
    /(?<![\w/.:@\\-])((?:\/|\.{1,2}\/)?(?:[\w@+-][\w.@+-]*\/)*[\w@+-][\w.@+-]*\.[A-Za-z0-9]{1,10}|(?:\/|\.{1,2}\/)?(?:[\w@+-][\w.@+-]*\/)+[\w@+-][\w.@+-]*[\w@+-])((?::\d+(?:[:-]\d+)?)|(?:#L\d+(?:-L?\d+)?))?/g;

/** Every distinct candidate reference in `text`, as written, in order of first appearance. */
export function extractFileReferenceCandidates(text: string): string[] {
    const found = new Set<string>();
    for (const match of text.matchAll(referencePattern)) {
        const candidate = match[0];
        const end = (match.index ?? 0) + candidate.length;
        // "https://host/a.js" is a URL, not a path: the lookbehind stops most, this stops "host/a.js".
        if (text.slice(end, end + 3) === "://")
            continue;
        found.add(candidate);
        if (found.size >= maxCandidates)
            break;
    }
    return [...found];
}

/**
 * Splits a reference into path, line and column. Accepts "path", "path:12", "path:12:3",
 * "path:12-20", "path#L12", "path#L12-L20" and "file://" URIs; refuses every other URI scheme.
 */
export function parseFileReference(raw: string): ParsedFileReference | undefined {
    let text = raw.trim();
    if (text === "" || text.includes("\0") || text.length > 4096)
        return undefined;
    let isFileUri = false;
    if (/^file:\/\//i.test(text)) {
        try {
            const url = new URL(text);
            if (url.host !== "" && url.host !== "localhost")
                return undefined;
            text = decodeURIComponent(url.pathname) + url.hash;
            isFileUri = true;
        } catch {
            return undefined;
        }
    }

    let line: number | undefined;
    let column: number | undefined;
    const hashLine = /#L?(\d+)(?:-L?\d+)?$/.exec(text);
    const colonLine = /:(\d+)(?:([:-])(\d+))?$/.exec(text);
    if (hashLine !== null) {
        line = Number(hashLine[1]);
        text = text.slice(0, hashLine.index);
    } else if (colonLine !== null) {
        line = Number(colonLine[1]);
        if (colonLine[2] === ":")
            column = Number(colonLine[3]);
        text = text.slice(0, colonLine.index);
    }
    // Any other URI scheme ("command:", "vscode:", "https:"...) is refused.
    if (!isFileUri && /^[a-z][a-z0-9+.-]*:/i.test(text))
        return undefined;
    if (text === "" || text.includes("\0"))
        return undefined;
    const reference: ParsedFileReference = {path: text};
    if (line !== undefined && Number.isSafeInteger(line) && line >= 1 && line <= maxLine) {
        reference.line = line;
        if (column !== undefined && Number.isSafeInteger(column) && column >= 1 && column <= maxLine)
            reference.column = column;
    }
    return reference;
}

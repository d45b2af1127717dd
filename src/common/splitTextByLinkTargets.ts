// Splits text into plain and link segments for the given link texts (longest match first), so
// that the webview can turn resolved file references into links without parsing HTML.

export type TextSegment = {text: string; link: boolean};

export function splitTextByLinkTargets(text: string, targets: readonly string[]): TextSegment[] {
    const unique = [...new Set(targets.filter((target) => target !== ""))].sort((a, b) => b.length - a.length);
    if (unique.length === 0 || text === "")
        return text === "" ? [] : [{text, link: false}];
    const segments: TextSegment[] = [];
    let plainStart = 0;
    let index = 0;
    while (index < text.length) {
        const target = unique.find((candidate) => text.startsWith(candidate, index) && isBoundary(text, index - 1) && isBoundary(text, index + candidate.length));
        if (target === undefined) {
            index++;
            continue;
        }
        if (index > plainStart)
            segments.push({text: text.slice(plainStart, index), link: false});
        segments.push({text: target, link: true});
        index += target.length;
        plainStart = index;
    }
    if (plainStart < text.length)
        segments.push({text: text.slice(plainStart), link: false});
    return segments;
}

/** A link may not start or end in the middle of a longer path or word. */
function isBoundary(text: string, position: number): boolean {
    if (position < 0 || position >= text.length)
        return true;
    return !/[\w/.@+:-]/.test(text[position]!) || (text[position] === "." && (position + 1 >= text.length || /\s/.test(text[position + 1]!))) ||
        (text[position] === ":" && (position + 1 >= text.length || !/\d/.test(text[position + 1]!)));
}

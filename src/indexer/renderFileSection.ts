// The prompt text of one file: a one-line header naming the file and its language, the content,
// and a closing line. The format is compact (about a dozen tokens of overhead per file) and
// unambiguous: the header is always exactly one line, attribute values are escaped so a path
// can never break out of its quotes or span lines, and the content always ends with a newline
// before the closing tag. (File content can of course contain "</file>"; the manifest's character
// spans, not the tags, are what the engine relies on.)
//
//   <file path="src/a.ts" language="typescript">
//   ...content, CRLF line ends turned into LF, a UTF-8 byte-order mark dropped...
//   </file>

/** Identifies this rendering; stored in the manifest so that a changed format invalidates old caches. */
export const promptFormatId = "kv-distill-prompt/1";

/** The last line of every section's body. */
export const fileSectionClosing = "</file>\n";

export type RenderedFileSection = {header: string; body: string};

export function renderFileSection(displayPath: string, language: string, content: string): RenderedFileSection {
    const header = renderFileHeader(displayPath, language);
    let text = content.charCodeAt(0) === 0xfeff ? content.slice(1) : content;
    if (text.indexOf("\r") !== -1 && text.includes("\r\n"))
        text = text.replace(/\r\n/g, "\n");
    const body = text === "" || text.endsWith("\n") ? `${text}${fileSectionClosing}` : `${text}\n${fileSectionClosing}`;
    return {header, body};
}

/**
 * The section's first line (renderFileSection's header). `displayPathIsPlain`: the caller has
 * checked that the path holds no character escapeMarkup escapes (renderPromptToSink knows it from
 * the walk, which tests each name it lists: a test per path cost more).
 */
export function renderFileHeader(displayPath: string, language: string, displayPathIsPlain = false): string {
    return `<file path="${displayPathIsPlain ? displayPath : escapeMarkup(displayPath)}" language="${escapeMarkup(language)}">\n`;
}

/** Whether escapeMarkup would change `text`. */
export function needsMarkupEscaping(text: string): boolean {
    return markupCharacter.test(text);
}

/** Whether escapeMarkup would change any of `texts` (one scan over all of them). */
export function anyNeedsMarkupEscaping(texts: readonly string[]): boolean {
    // NUL joins them: no path holds one, and it is not escaped.
    return markupCharacter.test(texts.join("\0"));
}

/** Escapes text for an attribute value or a line of the tail: no quotes, angle brackets or line breaks survive. */
export function escapeMarkup(text: string): string {
    // Almost no path needs escaping: test first, so that the common case allocates nothing. (A loop
    // over charCodeAt measured 2-4x slower here: paths are concatenated strings, which the regular
    // expression flattens once.)
    return markupCharacter.test(text) ? text.replace(/[&"<>\r\n]/g, (char) => `&#${char.charCodeAt(0)};`) : text;
}

const markupCharacter = /[&"<>\r\n]/;

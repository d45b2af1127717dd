// renderFileSection for a file's bytes: the same section, decided from the bytes where that is
// cheaper than from the decoded string, so that the decoded text is never searched (or flattened,
// when decodeFileText returns it in blocks). Whether the file has a carriage return, starts with a
// byte-order mark or ends with a line feed reads the same in the bytes as in the string: these
// bytes (0x0D, EF BB BF at the start, 0x0A) always decode to those characters, invalid UTF-8
// elsewhere included, and nothing else decodes to them. A file with a carriage return (CRLF line
// ends, rare) takes the string path as before.
import {decodeFileText} from "./decodeFileText";
import {fileSectionClosing, renderFileHeader, renderFileSection, type RenderedFileSection} from "./renderFileSection";

const carriageReturn = 0x0d;
const lineFeed = 0x0a;

/** `isAscii`: every byte is below 0x80 (IndexableFileRead's isAscii). `displayPathIsPlain`: see renderFileHeader. */
export function renderFileSectionFromBytes(displayPath: string, language: string, bytes: Buffer, isAscii: boolean, displayPathIsPlain = false): RenderedFileSection {
    if (bytes.indexOf(carriageReturn) !== -1)
        return renderFileSection(displayPath, language, isAscii ? bytes.toString("latin1") : bytes.toString("utf8"));
    // A byte-order mark is dropped (an ASCII file has none).
    const content = !isAscii && bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.subarray(3) : bytes;
    const text = decodeFileText(content, isAscii);
    const body = content.length === 0 || content[content.length - 1] === lineFeed ? `${text}${fileSectionClosing}` : `${text}\n${fileSectionClosing}`;
    return {header: renderFileHeader(displayPath, language, displayPathIsPlain), body};
}

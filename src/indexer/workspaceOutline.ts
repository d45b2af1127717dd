// The workspace outline: where each function or class is defined and which function each error
// message comes from, one line per entry, read from the files' text by per-language line patterns.
// It turns two-hop questions ("which file defines X", "which function raises this message") into
// lookups. Pure.
//
//   <workspace-symbols>
//   - parse_config: src/config/loader.py
//   </workspace-symbols>
//   <workspace-messages>
//   - "Missing apple for island": load_island in src/config/loader.py
//   - "top level message": src/config/loader.py
//   </workspace-messages>
//
// That is detail "names", the default. Detail "definitions" (a repository map in the spirit of
// Aider's) adds each function's parameter list and the top-level constants with their literal value
// to the symbols, and a section of configuration settings (key and value) read from config files:
//
//   <workspace-symbols>
//   - parse_config(path: str): src/config/loader.py
//   - RETRY_LIMIT = 5: src/config/loader.py
//   </workspace-symbols>
//   <workspace-messages>...</workspace-messages>
//   <workspace-settings>
//   - frame_size = "/var/lib/lilac/link": config/city.yaml
//   </workspace-settings>
//
// This is a port of native/train/kvtrain/workspace_outline.py, and the model is trained on that
// module's text: the two must agree character for character (test/fixtures/workspace-outline/
// cases.json holds both to it). Where JavaScript's RegExp reads a pattern differently from
// Python's `re`, the pattern here is written so that the result is the same:
// - Python's \b in a str pattern knows Unicode word characters (letters and numbers of any script),
//   JavaScript's only [A-Za-z0-9_]: \b is spelled out with lookarounds on [\p{L}\p{N}_], which is
//   Python's \w (checked against Python 3.11 for every code point; the two can differ only on code
//   points that one side's Unicode version does not assign yet).
// - Python's `.` matches "\r", "\u2028" and "\u2029", JavaScript's does not: none is used
//   ([^\n] stands for it, which the u flag makes match any code point but "\n").
// - Python's len() counts code points, JavaScript's length UTF-16 units: messages, parameter lists
//   and values are measured in code points.
// - Patterns whose backtracking can take quadratic time on a long line are rewritten to an
//   equivalent linear form, and string literals are found by a scanner rather than a regular
//   expression (see QuotedLiteralFinder, quotedLiteralEnd; constants are split at their value, see
//   constantPrefixes; parameter lists are read by hand): a 100 000-character line must not stall
//   the indexer.

export type OutlineLanguage = "python" | "script" | "go" | "rust" | "c" | "java";

/** What the outline shows: "names" (defined names and messages) or also parameter lists, constants and config settings. */
export type OutlineDetail = "names" | "definitions";
export const outlineDetails: readonly OutlineDetail[] = ["names", "definitions"];

/**
 * The detail of an outline asked for without one (setting, CLI, indexer and engine options,
 * bench:qa); what the bundled models are trained on. Not the meaning of a manifest without
 * `tail.outlineDetail`: that is "names" (manifestOutlineDetail), so caches saved before the default
 * changed are still recognised as names and refreshed, not reused.
 */
export const defaultOutlineDetail: OutlineDetail = "names";

export function isOutlineDetail(value: unknown): value is OutlineDetail {
    return value === "names" || value === "definitions";
}

/** The kinds of config file whose settings detail "definitions" lists, each with its line pattern. */
export type ConfigFileKind = "env" | "toml" | "yaml" | "json";

export type OutlineMessage = {message: string; enclosing: string | null};

/** A symbol of detail "definitions": `detail` is "", a parameter list "(...)" or a constant's " = value". */
export type OutlineDefinition = {name: string; detail: string};

export type OutlineSetting = {key: string; value: string};

/**
 * One file's entries, in line order, each at most once, capped per file. `definitions` and
 * `settings` are there only when taken with detail "definitions"; `symbols` are then the
 * definitions' names (constants included) and `messages` leave out constant lines.
 */
export type FileOutline = {symbols: string[]; messages: OutlineMessage[]; definitions?: OutlineDefinition[]; settings?: OutlineSetting[]};

/** A file's outline with the path the outline names it by (as the prompt's file list writes it). */
export type OutlinedFile = FileOutline & {displayPath: string};

export const minMessageLength = 4;
export const maxMessageLength = 160;
export const maxSymbolsPerFile = 64;
export const maxMessagesPerFile = 32;
/** Detail "definitions": a longer parameter list (normalised, in code points) is not shown. */
export const maxParameterListLength = 120;
/** Detail "definitions": a constant's or a setting's value longer than this (code points) is not listed. */
export const maxValueLength = 80;
export const maxSettingsPerFile = 64;

const identifier = "[A-Za-z_][A-Za-z0-9_]*";
const scriptIdentifier = "[A-Za-z_$][A-Za-z0-9_$]*";
const scriptModifiers = "(?:(?:public|private|protected|static|async|override|readonly)[ \\t]+)*";
// Python's \w (see above). Each \b of the Python patterns stands next to a word character, so it is
// "no word character before" or "no word character after".
const pythonWordCharacter = "[\\p{L}\\p{N}_]";
const wordEnd = `(?!${pythonWordCharacter})`;
const wordStart = `(?<!${pythonWordCharacter})`;

/** Per language: patterns whose group 1 is the line's indentation and group 2 the defined name (workspace_outline.py's DEFINITION_PATTERNS). */
const definitionPatterns: Readonly<Record<OutlineLanguage, readonly RegExp[]>> = {
    python: [
        new RegExp(`^([ \\t]*)(?:async[ \\t]+)?def[ \\t]+(${identifier})[ \\t]*\\(`, "u"),
        new RegExp(`^([ \\t]*)class[ \\t]+(${identifier})${wordEnd}`, "u")
    ],
    script: [
        // Python: function\b[ \t]*\*?[ \t]*(name). The same strings and the same name (the name starts
        // at the first character that is not a blank or "*"), without trying every split of a long
        // run of blanks between the two [ \t]* (quadratic).
        new RegExp(`^([ \\t]*)(?:export[ \\t]+)?(?:default[ \\t]+)?(?:async[ \\t]+)?function${wordEnd}[ \\t]*(?:\\*[ \\t]*)?(${scriptIdentifier})`, "u"),
        new RegExp(`^([ \\t]*)(?:export[ \\t]+)?(?:default[ \\t]+)?(?:abstract[ \\t]+)?class[ \\t]+(${scriptIdentifier})`, "u"),
        new RegExp(`^([ \\t]*)(?:export[ \\t]+)?(?:const|let|var)[ \\t]+(${scriptIdentifier})[ \\t]*(?::[^=]*)?=[ \\t]*(?:async${wordEnd}[ \\t]*)?` +
            `(?:function${wordEnd}|\\([^()]*\\)[ \\t]*(?::[^=]*)?=>|${scriptIdentifier}[ \\t]*=>)`, "u"),
        new RegExp(`^([ \\t]+)${scriptModifiers}(${scriptIdentifier})[ \\t]*\\([^()]*\\)[ \\t]*(?::[^{;]*)?\\{[ \\t]*$`, "u")
    ],
    go: [
        new RegExp(`^()func[ \\t]+(?:\\([^)]*\\)[ \\t]*)?(${identifier})[ \\t]*[(\\[]`, "u"),
        new RegExp(`^()type[ \\t]+(${identifier})[ \\t]+(?:struct|interface)${wordEnd}`, "u")
    ],
    rust: [
        new RegExp(`^([ \\t]*)(?:pub(?:\\([^)]*\\))?[ \\t]+)?(?:const[ \\t]+)?(?:async[ \\t]+)?(?:unsafe[ \\t]+)?` +
            `(?:extern[ \\t]+"[^"]*"[ \\t]+)?fn[ \\t]+(${identifier})`, "u"),
        new RegExp(`^([ \\t]*)(?:pub(?:\\([^)]*\\))?[ \\t]+)?(?:struct|enum|trait)[ \\t]+(${identifier})`, "u")
    ],
    // A definition's line starts at column 0 with its type and has no ";" after the parameters begin.
    // Python: (?:word[ \t*&]+)*\**(name). The same strings: after at least one word its separators
    // take any "*" anyway, so the "*" run only stands alone at the line's start. The name is the same
    // too (the first word followed by "(": everything before it is words and separators), and the
    // words' separators are no longer split between the loop and the "*" run on every retry.
    c: [new RegExp(`^()(?:(?:[A-Za-z_][A-Za-z0-9_]*[ \\t*&]+)+|\\**)(${identifier})[ \\t]*\\([^;]*$`, "u")],
    java: [
        new RegExp(`^([ \\t]*)(?:(?:public|private|protected|static|final|abstract|synchronized)[ \\t]+)*` +
            `(?:class|interface|enum|record)[ \\t]+(${identifier})`, "u"),
        new RegExp(`^([ \\t]*)(?:(?:public|private|protected|static|final|abstract|synchronized)[ \\t]+)+` +
            `(?:[A-Za-z_][A-Za-z0-9_<>,.?\\[\\]]*[ \\t]+)(${identifier})[ \\t]*\\([^;]*$`, "u")
    ]
};

/** Per language: the indexes of the definition patterns that define a function, whose line may show its parameter list. */
const functionPatternIndexes: Readonly<Record<OutlineLanguage, ReadonlySet<number>>> = {
    python: new Set([0]), script: new Set([0, 3]), go: new Set([0]), rust: new Set([0]), c: new Set([0]), java: new Set([1])
};
/** The definition patterns again with match indices (the "d" flag), only run to find where a function's name ends. */
const definitionPatternsWithIndices: Readonly<Record<OutlineLanguage, readonly RegExp[]>> = Object.fromEntries(
    Object.entries(definitionPatterns).map(([language, patterns]) => [language, patterns.map((pattern) => new RegExp(pattern.source, "du"))])
) as Record<OutlineLanguage, RegExp[]>;

/**
 * Per language: a constant line up to its value (group 1 the name, the match's end where the value
 * starts). The reference's patterns are split there: every way these prefixes can match ends at the
 * same place (the first "=" and the blanks after it; C: the blanks after the name), and from there
 * the value and the rest of the line (constantValue) are read one way only. So the name is the one
 * the whole pattern gives, and a value that fails is not read again for every other way to read the
 * prefix. As in the reference, no name character may follow a name, so that no shorter name is
 * tried (Go's pattern would otherwise try a type after every split of a long name: quadratic).
 */
const notFollowedByNameCharacter = "(?![A-Za-z0-9_])";
const constantPrefixes: Readonly<Record<OutlineLanguage, RegExp>> = {
    // NAME must hold a letter as well (findConstant).
    python: new RegExp(`^([A-Z_][A-Z0-9_]*)${notFollowedByNameCharacter}[ \\t]*(?::[^=\\n]*)?=[ \\t]*`, "u"),
    script: new RegExp(`^(?:export[ \\t]+)?const[ \\t]+(${scriptIdentifier})(?![A-Za-z0-9_$])[ \\t]*(?::[^=\\n]*)?=[ \\t]*`, "u"),
    go: new RegExp(`^const[ \\t]+(${identifier})${notFollowedByNameCharacter}[ \\t]*(?:[A-Za-z_][A-Za-z0-9_.]*[ \\t]*)?=[ \\t]*`, "u"),
    rust: new RegExp(`^(?:pub(?:\\([^)]*\\))?[ \\t]+)?(?:const|static)[ \\t]+(${identifier})${notFollowedByNameCharacter}[ \\t]*:[^=\\n]*=[ \\t]*`, "u"),
    c: new RegExp(`^#[ \\t]*define[ \\t]+(${identifier})${notFollowedByNameCharacter}[ \\t]+`, "u"),
    java: new RegExp(`^[ \\t]*(?:(?:public|private|protected)[ \\t]+)?static[ \\t]+final[ \\t]+[A-Za-z_][A-Za-z0-9_<>,.?\\[\\]]*[ \\t]+` +
        `(${identifier})${notFollowedByNameCharacter}[ \\t]*=[ \\t]*`, "u")
};
/** After a constant's value, up to the line's end ("[ \t]*;?[ \t]*" for scripts written without two runs of blanks to split). */
const constantLineEnds: Readonly<Record<OutlineLanguage, RegExp>> = {
    python: /[ \t]*(?:#[^\n]*)?$/uy,
    script: /[ \t]*(?:;[ \t]*)?(?:\/\/[^\n]*)?$/uy,
    go: /[ \t]*(?:\/\/[^\n]*)?$/uy,
    rust: /[ \t]*;[ \t]*(?:\/\/[^\n]*)?$/uy,
    c: /[ \t]*(?:\/\/[^\n]*|\/\*[^\n]*)?$/uy,
    java: /[ \t]*;[ \t]*(?:\/\/[^\n]*)?$/uy
};
const numberLiteral = /-?[0-9][0-9A-Za-z_.+]*/uy;
const booleanLiteral = new RegExp(`(?:true|false|True|False)${notFollowedByNameCharacter}`, "uy");
const hasCapitalLetter = /[A-Z]/;

const settingKey = "[A-Za-z_][A-Za-z0-9_.-]*";
/** Per config file kind: a setting line, group 1 the key and group 2 the raw value. */
const settingPatterns: Readonly<Record<ConfigFileKind, RegExp>> = {
    env: new RegExp(`^(?:export[ \\t]+)?(${settingKey})=([^\\n]*)$`, "u"),
    toml: new RegExp(`^[ \\t]*(${settingKey})[ \\t]*=[ \\t]*([^\\n]*)$`, "u"),
    yaml: new RegExp(`^[ \\t]*(${settingKey})[ \\t]*:[ \\t]+([^\\n]*)$`, "u"),
    json: new RegExp(`^[ \\t]*"(${settingKey})"[ \\t]*:[ \\t]*([^\\n]*)$`, "u")
};
const configFileKindByExtension: ReadonlyMap<string, ConfigFileKind> = new Map([
    [".env", "env"], [".yaml", "yaml"], [".yml", "yaml"], [".toml", "toml"], [".ini", "toml"], [".properties", "toml"], [".json", "json"]
]);
/** A value that starts an array, a table, a block scalar, an anchor or alias, or a comment is not listed. */
const notValueStart = /^[[{|>&*#]/;
const whitespaceRun = /[ \t\r\n\f\v]+/g;

const outlineLanguageByExtension: ReadonlyMap<string, OutlineLanguage> = new Map([
    [".py", "python"], [".ts", "script"], [".tsx", "script"], [".js", "script"], [".jsx", "script"], [".mjs", "script"],
    [".cjs", "script"], [".go", "go"], [".rs", "rust"], [".c", "c"], [".h", "c"], [".cc", "c"], [".cpp", "c"],
    [".hpp", "c"], [".cxx", "c"], [".java", "java"]
]);

/** Names the patterns can take for a definition that are statements or types, never definitions. */
const notNames: ReadonlySet<string> = new Set(["if", "for", "while", "switch", "catch", "return", "function", "with", "else", "do", "case",
    "sizeof", "typedef", "goto", "new", "delete", "throw"]);
/** The first word of a C line that cannot start a definition. */
const notCStart: ReadonlySet<string> = new Set(["return", "else", "if", "while", "for", "switch", "do", "case", "typedef", "goto", "sizeof"]);

/** A line that raises, returns or prints an error (outside its string literals): its first string literal is an error message. */
const errorLine = new RegExp(
    `${wordStart}throw${wordEnd}|${wordStart}raise${wordEnd}|${wordStart}panic!?\\(|Error\\(|${wordStart}errors\\.New\\(|Errorf\\(|${wordStart}Err\\(|` +
    `${wordStart}stderr${wordEnd}|${wordStart}perror\\(|\\.(?:error|fatal|critical|exception)\\(|${wordStart}bail!\\(`, "u");
const hasLetter = /[A-Za-z]/;

const doubleQuote = 0x22;
const singleQuote = 0x27;
const backslash = 0x5c;
const lineFeed = 0x0a;
const carriageReturn = 0x0d;
const tab = 0x09;
const openParenthesis = 0x28;
const closeParenthesis = 0x29;
const lessThan = 0x3c;
const greaterThan = 0x3e;
const openBracket = 0x5b;
const closeBracket = 0x5d;

/** A path's file name and its extension, lower-cased ("" when it has none). */
function fileNameAndExtension(displayPath: string): {name: string; extension: string} {
    const name = displayPath.slice(displayPath.lastIndexOf("/") + 1);
    const dot = name.lastIndexOf(".");
    // A name that starts with its only dot (".py") has no extension, as in Python.
    return {name, extension: dot > 0 ? name.slice(dot).toLowerCase() : ""};
}

/** The outline language of a path, by its extension (lower-cased); undefined for any other file. */
export function outlineLanguage(displayPath: string): OutlineLanguage | undefined {
    return outlineLanguageByExtension.get(fileNameAndExtension(displayPath).extension);
}

/**
 * The symbols and error messages of one file, from its content as the prompt shows it; with detail
 * "definitions" also the definitions (parameter lists, constants) of a code file or the settings of
 * a config file.
 */
export function fileOutline(displayPath: string, content: string, detail: OutlineDetail): FileOutline {
    const language = outlineLanguage(displayPath);
    const symbols: string[] = [];
    const messages: OutlineMessage[] = [];
    // Only detail "definitions" has them (and a names outline is exactly what it always was).
    const definitions: OutlineDefinition[] | undefined = detail === "definitions" ? [] : undefined;
    if (language === undefined) {
        if (definitions === undefined)
            return {symbols, messages};
        const configKind = configFileKind(displayPath);
        return {symbols, messages, definitions, settings: configKind === undefined ? [] : fileSettings(configKind, content)};
    }
    const singleQuotes = usesSingleQuotes(language);
    const seenSymbols = new Set<string>();
    const seenMessages = new Set<string>();
    // The definitions the current line may be inside: indentation width and name.
    const openDefinitions: Array<{width: number; name: string}> = [];
    // The next quote of each kind at or after the current line (-1: none left), found by one forward
    // scan each over the whole content rather than one per line.
    let nextDoubleQuote = content.indexOf("\"");
    let nextSingleQuote = singleQuotes ? content.indexOf("'") : -1;
    // Lines split at "\n" only, as Python's content.split("\n"); most are rejected by a look at a few
    // characters, without a slice or a regular expression.
    for (let lineStart = 0; lineStart <= content.length;) {
        let lineEnd = content.indexOf("\n", lineStart);
        if (lineEnd < 0)
            lineEnd = content.length;
        // One carriage return at the end is not part of the line.
        const textEnd = lineEnd > lineStart && content.charCodeAt(lineEnd - 1) === carriageReturn ? lineEnd - 1 : lineEnd;
        const next = lineEnd + 1;
        let line: string | undefined;
        if (mayBeDefinition(language, content, lineStart, textEnd)) {
            line = content.slice(lineStart, textEnd);
            const definition = findDefinition(language, line);
            if (definition !== undefined) {
                while (openDefinitions.length > 0 && openDefinitions[openDefinitions.length - 1]!.width >= definition.width)
                    openDefinitions.pop();
                openDefinitions.push(definition);
                if (!seenSymbols.has(definition.name) && symbols.length < maxSymbolsPerFile) {
                    seenSymbols.add(definition.name);
                    symbols.push(definition.name);
                    definitions?.push({name: definition.name, detail: definition.isFunction ? parameterListDetail(language, line, definition.patternIndex) : ""});
                }
                lineStart = next;
                continue;
            }
        }
        // A constant line is neither a definition (the open definitions stay) nor a message line.
        if (definitions !== undefined && mayBeConstant(language, content, lineStart, textEnd)) {
            line ??= content.slice(lineStart, textEnd);
            const constant = findConstant(language, line);
            if (constant !== undefined) {
                if (!seenSymbols.has(constant.name) && symbols.length < maxSymbolsPerFile) {
                    seenSymbols.add(constant.name);
                    symbols.push(constant.name);
                    definitions.push({name: constant.name, detail: ` = ${constant.value}`});
                }
                lineStart = next;
                continue;
            }
        }
        if (messages.length >= maxMessagesPerFile) {
            if (symbols.length >= maxSymbolsPerFile)
                break; // nothing more can be added
            lineStart = next;
            continue;
        }
        // A message is a string literal: a line without a quote has none.
        if (nextDoubleQuote >= 0 && nextDoubleQuote < lineStart)
            nextDoubleQuote = content.indexOf("\"", lineStart);
        if (nextSingleQuote >= 0 && nextSingleQuote < lineStart)
            nextSingleQuote = content.indexOf("'", lineStart);
        if (!(nextDoubleQuote >= 0 && nextDoubleQuote < textEnd) && !(nextSingleQuote >= 0 && nextSingleQuote < textEnd)) {
            lineStart = next;
            continue;
        }
        line ??= content.slice(lineStart, textEnd);
        const message = findMessage(singleQuotes, line);
        if (message !== undefined && !seenMessages.has(message)) {
            const width = indentationWidth(line);
            let enclosing: string | null = null;
            for (let index = openDefinitions.length - 1; index >= 0; index--) {
                if (openDefinitions[index]!.width < width) {
                    enclosing = openDefinitions[index]!.name;
                    break;
                }
            }
            seenMessages.add(message);
            messages.push({message, enclosing});
        }
        lineStart = next;
    }
    return definitions === undefined ? {symbols, messages} : {symbols, messages, definitions, settings: []};
}

/**
 * The outline of files in the given (prompt) order: from their contents, or from outlines already
 * taken (fileOutline, with the same detail) so that no content needs to be kept. "" when no file
 * has an entry.
 */
export function renderWorkspaceOutline(files: ReadonlyArray<{displayPath: string; content: string} | OutlinedFile>, detail: OutlineDetail): string {
    const symbolLines: string[] = [];
    const messageLines: string[] = [];
    const settingLines: string[] = [];
    for (const file of files) {
        const outline = "content" in file ? fileOutline(file.displayPath, file.content, detail) : file;
        if (detail === "names") {
            for (const name of outline.symbols)
                symbolLines.push(`- ${name}: ${file.displayPath}\n`);
        } else {
            if (outline.definitions === undefined || outline.settings === undefined)
                throw new Error(`the outline of ${file.displayPath} was taken with detail "names", not "definitions"`);
            for (const {name, detail: definitionDetail} of outline.definitions)
                symbolLines.push(`- ${name}${definitionDetail}: ${file.displayPath}\n`);
            for (const {key, value} of outline.settings)
                settingLines.push(`- ${key} = ${value}: ${file.displayPath}\n`);
        }
        for (const {message, enclosing} of outline.messages)
            messageLines.push(enclosing !== null ? `- "${message}": ${enclosing} in ${file.displayPath}\n` : `- "${message}": ${file.displayPath}\n`);
    }
    let outline = "";
    if (symbolLines.length > 0)
        outline += `<workspace-symbols>\n${symbolLines.join("")}</workspace-symbols>\n`;
    if (messageLines.length > 0)
        outline += `<workspace-messages>\n${messageLines.join("")}</workspace-messages>\n`;
    if (settingLines.length > 0)
        outline += `<workspace-settings>\n${settingLines.join("")}</workspace-settings>\n`;
    return outline;
}

/** Whether a file outline has any entry to render. */
export function hasOutlineEntries(outline: FileOutline): boolean {
    return outline.symbols.length > 0 || outline.messages.length > 0 || (outline.settings?.length ?? 0) > 0;
}

/** The kind of config file a path names (detail "definitions" lists its settings), or undefined. */
export function configFileKind(displayPath: string): ConfigFileKind | undefined {
    const {name, extension} = fileNameAndExtension(displayPath);
    if (name === ".env" || name.startsWith(".env."))
        return "env";
    return configFileKindByExtension.get(extension);
}

/** A config file's settings in line order, each key once (its first entry), at most maxSettingsPerFile. */
function fileSettings(kind: ConfigFileKind, content: string): OutlineSetting[] {
    const settings: OutlineSetting[] = [];
    const seenKeys = new Set<string>();
    const pattern = settingPatterns[kind];
    for (let lineStart = 0; lineStart <= content.length && settings.length < maxSettingsPerFile;) {
        let lineEnd = content.indexOf("\n", lineStart);
        if (lineEnd < 0)
            lineEnd = content.length;
        const textEnd = lineEnd > lineStart && content.charCodeAt(lineEnd - 1) === carriageReturn ? lineEnd - 1 : lineEnd;
        const found = pattern.exec(content.slice(lineStart, textEnd));
        lineStart = lineEnd + 1;
        if (found === null || seenKeys.has(found[1]!))
            continue;
        const value = settingValue(kind, found[2]!);
        if (value === undefined)
            continue;
        seenKeys.add(found[1]!);
        settings.push({key: found[1]!, value});
    }
    return settings;
}

/**
 * A setting's value from the rest of its line: a leading quoted literal as written (json: double
 * quotes only), or the text before a " #" comment (not json), trailing blanks (and json's one comma)
 * removed. Undefined when a quote does not close, or for an empty, long or non-scalar value.
 */
function settingValue(kind: ConfigFileKind, raw: string): string | undefined {
    const first = raw.charCodeAt(0);
    let value: string;
    if (first === doubleQuote || (first === singleQuote && kind !== "json")) {
        const end = quotedLiteralEnd(raw, 0, first);
        if (end < 0)
            return undefined;
        value = raw.slice(0, end);
    } else {
        value = raw;
        if (kind !== "json") {
            const comment = value.indexOf(" #");
            if (comment >= 0)
                value = value.slice(0, comment);
        }
        value = trimTrailingBlanks(value);
        if (kind === "json" && value.endsWith(","))
            value = trimTrailingBlanks(value.slice(0, -1));
    }
    const length = countCodePoints(value);
    return length >= 1 && length <= maxValueLength && !notValueStart.test(value) ? value : undefined;
}

function trimTrailingBlanks(text: string): string {
    let end = text.length;
    while (end > 0 && isBlank(text.charCodeAt(end - 1)))
        end--;
    return end === text.length ? text : text.slice(0, end);
}

/**
 * A function's parameter list as detail "(...)": after the name, blanks, at most one generic clause
 * (<...> or [...], without parentheses), blanks, then "(" up to its matching ")" on the line (by
 * counting parentheses), whitespace runs made one space. "" when there is no such list or it is
 * longer than maxParameterListLength. Read by hand, one pass: the reference's pattern for the part
 * before "(" has two runs of blanks that a backtracking engine would split every way.
 */
function parameterListDetail(language: OutlineLanguage, line: string, patternIndex: number): string {
    const nameEnd = definitionPatternsWithIndices[language][patternIndex]!.exec(line)?.indices?.[2]?.[1];
    if (nameEnd === undefined)
        return "";
    let index = skipBlanks(line, nameEnd);
    const opener = line.charCodeAt(index);
    if (opener === lessThan || opener === openBracket) {
        const closer = opener === lessThan ? greaterThan : closeBracket;
        for (index++; index < line.length; index++) {
            const code = line.charCodeAt(index);
            if (code === closer)
                break;
            if (code === openParenthesis || code === closeParenthesis || code === opener)
                return "";
        }
        if (index >= line.length)
            return "";
        index = skipBlanks(line, index + 1);
    }
    if (line.charCodeAt(index) !== openParenthesis)
        return "";
    const open = index;
    let depth = 0;
    for (; index < line.length; index++) {
        const code = line.charCodeAt(index);
        if (code === openParenthesis)
            depth++;
        else if (code === closeParenthesis && --depth === 0)
            break;
    }
    if (index >= line.length)
        return "";
    let parameters = line.slice(open + 1, index).replace(whitespaceRun, " ");
    if (parameters.startsWith(" "))
        parameters = parameters.slice(1);
    if (parameters.endsWith(" "))
        parameters = parameters.slice(0, -1);
    return countCodePoints(parameters) <= maxParameterListLength ? `(${parameters})` : "";
}

/** The first index from `index` (before `end`) that is not a blank, or `end`. */
function skipBlanks(text: string, index: number, end = text.length): number {
    while (index < end && isBlank(text.charCodeAt(index)))
        index++;
    return index;
}

function indentationWidth(line: string): number {
    let width = 0;
    for (let index = 0; index < line.length; index++) {
        const code = line.charCodeAt(index);
        if (code === tab)
            width += 4;
        else if (code === 0x20)
            width += 1;
        else
            break;
    }
    return width;
}

/**
 * False when the line cannot match any of the language's definition patterns: each starts, after
 * the indentation, with one of a few keywords (or the name itself, for C at column 0 and for a
 * script's method, whose line is indented and ends with "{"). True is only a maybe.
 */
function mayBeDefinition(language: OutlineLanguage, content: string, start: number, end: number): boolean {
    const first = skipBlanks(content, start, end);
    if (first === end)
        return false;
    if (language === "c") // a type or a name at column 0, or a "*"
        return first === start && isCDefinitionStart(content.charCodeAt(first));
    if (language === "go" && first !== start)
        return false;
    for (const keyword of definitionKeywords[language].get(content.charCodeAt(first)) ?? [])
        if (content.startsWith(keyword, first))
            return true;
    if (language !== "script" || first === start)
        return false;
    let last = end - 1;
    while (last > first && isBlank(content.charCodeAt(last)))
        last--;
    return content.charCodeAt(last) === 0x7b; // {
}

/** The words a definition line can start with after its indentation (mayBeDefinition), by their first character. */
const definitionKeywords: Readonly<Record<OutlineLanguage, ReadonlyMap<number, readonly string[]>>> = {
    python: keywordsByFirstCharacter(["async", "def", "class"]),
    script: keywordsByFirstCharacter(["export", "default", "async", "function", "abstract", "class", "const", "let", "var"]),
    go: keywordsByFirstCharacter(["func", "type"]),
    rust: keywordsByFirstCharacter(["pub", "const", "async", "unsafe", "extern", "fn", "struct", "enum", "trait"]),
    c: new Map(),
    java: keywordsByFirstCharacter(["public", "private", "protected", "static", "final", "abstract", "synchronized", "class", "interface", "enum", "record"])
};

function keywordsByFirstCharacter(keywords: readonly string[]): ReadonlyMap<number, readonly string[]> {
    const byFirst = new Map<number, string[]>();
    for (const keyword of keywords) {
        const code = keyword.charCodeAt(0);
        byFirst.set(code, [...(byFirst.get(code) ?? []), keyword]);
    }
    return byFirst;
}

function isCDefinitionStart(code: number): boolean {
    return code === 0x2a || code === 0x5f || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
}

function isBlank(code: number): boolean {
    return code === 0x20 || code === tab;
}

function usesSingleQuotes(language: OutlineLanguage): boolean {
    return language === "python" || language === "script";
}

type FoundDefinition = {width: number; name: string; patternIndex: number; isFunction: boolean};

function findDefinition(language: OutlineLanguage, line: string): FoundDefinition | undefined {
    if (language === "c" && (line.startsWith("#") || notCStart.has(firstWord(line))))
        return undefined;
    const patterns = definitionPatterns[language];
    for (let patternIndex = 0; patternIndex < patterns.length; patternIndex++) {
        const found = patterns[patternIndex]!.exec(line);
        if (found !== null && !notNames.has(found[2]!))
            return {width: indentationWidth(found[1]!), name: found[2]!, patternIndex, isFunction: functionPatternIndexes[language].has(patternIndex)};
    }
    return undefined;
}

/** False when the line cannot match the language's constant pattern (a look at its first characters); true is only a maybe. */
function mayBeConstant(language: OutlineLanguage, content: string, start: number, end: number): boolean {
    if (start === end)
        return false;
    const code = content.charCodeAt(start);
    switch (language) {
        case "python": return code === 0x5f || (code >= 0x41 && code <= 0x5a); // _ A-Z
        case "script": return content.startsWith("const", start) || content.startsWith("export", start);
        case "go": return content.startsWith("const", start);
        case "rust": return content.startsWith("pub", start) || content.startsWith("const", start) || content.startsWith("static", start);
        case "c": return code === 0x23; // #
        case "java": {
            const first = skipBlanks(content, start, end);
            return ["public", "private", "protected", "static"].some((keyword) => content.startsWith(keyword, first));
        }
    }
}

/** A top-level constant with a literal value (detail "definitions"), or undefined. */
function findConstant(language: OutlineLanguage, line: string): {name: string; value: string} | undefined {
    const found = constantPrefixes[language].exec(line);
    if (found === null || (language === "python" && !hasCapitalLetter.test(found[1]!)))
        return undefined;
    const value = constantValue(language, line, found[0].length);
    return value === undefined ? undefined : {name: found[1]!, value};
}

/**
 * The literal at `start` as written, when it is followed by what may end the language's constant
 * line; undefined otherwise or when longer than maxValueLength. The literal's alternatives start
 * with different characters, and each reads one way only: no other reading could end the line.
 */
function constantValue(language: OutlineLanguage, line: string, start: number): string | undefined {
    const code = line.charCodeAt(start);
    let end = -1;
    if (code === doubleQuote || (code === singleQuote && usesSingleQuotes(language))) {
        end = quotedLiteralEnd(line, start, code);
    } else {
        for (const literal of [numberLiteral, booleanLiteral]) {
            literal.lastIndex = start;
            if (literal.exec(line) !== null) {
                end = literal.lastIndex;
                break;
            }
        }
    }
    if (end < 0)
        return undefined;
    const lineEnd = constantLineEnds[language];
    lineEnd.lastIndex = end;
    if (lineEnd.exec(line) === null)
        return undefined;
    const value = line.slice(start, end);
    return countCodePoints(value) <= maxValueLength ? value : undefined;
}

/** The line up to its first blank (Python's line.split(" ", 1)[0].split("\t", 1)[0]). */
function firstWord(line: string): string {
    const space = line.indexOf(" ");
    const tabIndex = line.indexOf("\t");
    const end = space < 0 ? tabIndex : tabIndex < 0 ? space : Math.min(space, tabIndex);
    return end < 0 ? line : line.slice(0, end);
}

/** The error message of a line (its first string literal, trimmed of trailing \n \r \t escapes), or undefined. */
function findMessage(singleQuotes: boolean, line: string): string | undefined {
    // A cheap test first: the error marker must be found outside the literals, so it is in the line
    // itself (literals are replaced by a blank, a non-word character like the quote that stood
    // there, so no match appears by the joining).
    if (!errorLine.test(line))
        return undefined;
    const literals = findStringLiterals(line, singleQuotes);
    if (literals.length === 0)
        return undefined;
    const outside: string[] = [];
    let position = 0;
    for (const literal of literals) {
        outside.push(line.slice(position, literal.start));
        position = literal.end;
    }
    outside.push(line.slice(position));
    if (!errorLine.test(outside.join(" ")))
        return undefined;
    const first = literals[0]!;
    const text = trimTrailingEscapes(line.slice(first.start + 1, first.end - 1));
    const length = countCodePoints(text);
    if (length < minMessageLength || length > maxMessageLength || !hasLetter.test(text))
        return undefined;
    return text;
}

type LiteralSpan = {start: number; end: number};

/**
 * The line's string literals in order (Python: DOUBLE_QUOTED.finditer, or with single quotes the
 * earliest literal of either kind from where the last one ended, so that a quote inside the other
 * kind's literal starts none).
 */
function findStringLiterals(line: string, singleQuotes: boolean): LiteralSpan[] {
    const doubles = new QuotedLiteralFinder(line, doubleQuote);
    const singles = singleQuotes ? new QuotedLiteralFinder(line, singleQuote) : undefined;
    const literals: LiteralSpan[] = [];
    let position = 0;
    for (;;) {
        const double = doubles.find(position);
        const single = singles?.find(position);
        const found = double === undefined ? single : single === undefined || double.start < single.start ? double : single;
        if (found === undefined)
            return literals;
        literals.push(found);
        position = found.end;
    }
}

/**
 * Finds the leftmost literal starting at or after a position, as Python's search with
 * "((?:[^"\\\n]|\\.)*)" would (or the same with '), in linear time over all calls on one line.
 *
 * The regular expression admits exactly one way to read a literal from its opening quote: plain
 * characters and backslash pairs up to the first quote that is not the second of a pair. So:
 * - when the read from an opening quote fails (the line ends first), every later read fails too: a
 *   later quote is the second of a pair in the failed read, and a read from it goes on exactly as
 *   the failed one did;
 * - for the same reason, a read from a quote inside the last literal read ends where that one ended.
 * A backtracking engine would instead re-read the rest of the line from every quote.
 */
class QuotedLiteralFinder {
    private last: LiteralSpan | undefined;
    private exhausted = false;

    public constructor(private readonly line: string, private readonly quote: number) {}

    public find(from: number): LiteralSpan | undefined {
        if (this.exhausted)
            return undefined;
        if (this.last !== undefined && this.last.start >= from)
            return this.last;
        const start = this.line.indexOf(String.fromCharCode(this.quote), from);
        if (start < 0) {
            this.exhausted = true;
            return undefined;
        }
        if (this.last !== undefined && start > this.last.start && start < this.last.end - 1)
            return (this.last = {start, end: this.last.end});
        const end = quotedLiteralEnd(this.line, start, this.quote);
        if (end < 0) {
            this.exhausted = true;
            return undefined;
        }
        return (this.last = {start, end});
    }
}

/**
 * The end (after the closing quote) of the literal opened at `start` (Python: "(?:[^"\\\n]|\\.)*"
 * or the same with '), or -1 when it is not closed.
 */
function quotedLiteralEnd(line: string, start: number, quote: number): number {
    for (let index = start + 1; index < line.length; index++) {
        const code = line.charCodeAt(index);
        if (code === quote)
            return index + 1;
        if (code === lineFeed)
            return -1;
        // A backslash takes the next character whatever it is (Python's "." takes all but "\n").
        if (code === backslash) {
            if (index + 1 >= line.length || line.charCodeAt(index + 1) === lineFeed)
                return -1;
            index++;
        }
    }
    return -1;
}

/**
 * Python: re.sub(r"(?:\\[nrt])+$", "", text). The match is the longest run of "\n", "\r", "\t"
 * escapes that ends the text, read from the end two characters at a time (the expression itself
 * would take quadratic time on a long run that is not at the end).
 */
function trimTrailingEscapes(text: string): string {
    let end = text.length;
    while (end >= 2 && text.charCodeAt(end - 2) === backslash && isEscapeLetter(text.charCodeAt(end - 1)))
        end -= 2;
    return end === text.length ? text : text.slice(0, end);
}

function isEscapeLetter(code: number): boolean {
    return code === 0x6e || code === 0x72 || code === 0x74; // n r t
}

/** Python's len(): a surrogate pair is one code point. */
function countCodePoints(text: string): number {
    let count = text.length;
    for (let index = 0; index < text.length - 1; index++) {
        const code = text.charCodeAt(index);
        if (code >= 0xd800 && code <= 0xdbff) {
            const next = text.charCodeAt(index + 1);
            if (next >= 0xdc00 && next <= 0xdfff) {
                count--;
                index++;
            }
        }
    }
    return count;
}

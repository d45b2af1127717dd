"""The workspace outline: where each function or class is defined and which function each error
message comes from, one line per entry, read from the files' text by per-language line patterns.

It turns the two-hop questions ("which file defines X", "which function raises this message") into
lookups: the name or the message, then what the answer copies (models/small.md, "The outline").
The engine renders the same outline (src/indexer/workspaceOutline.ts); the cases in
test/fixtures/workspace-outline/cases.json hold both to one behaviour (selftest and test:unit).

    <workspace-symbols>
    - parse_config: src/config/loader.py
    </workspace-symbols>
    <workspace-messages>
    - "Missing apple for island": load_island in src/config/loader.py
    </workspace-messages>

Patterns use explicit character classes ([ \\t], [A-Za-z0-9_]) so Python's re and JavaScript's RegExp
read them alike.
"""
import re

IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
SCRIPT_IDENTIFIER = r"[A-Za-z_$][A-Za-z0-9_$]*"
_MODIFIERS_TS = r"(?:(?:public|private|protected|static|async|override|readonly)[ \t]+)*"

# Per language: patterns whose group 1 is the line's indentation and group 2 the defined name.
DEFINITION_PATTERNS = {
    "python": [r"^([ \t]*)(?:async[ \t]+)?def[ \t]+(%s)[ \t]*\(" % IDENTIFIER,
               r"^([ \t]*)class[ \t]+(%s)\b" % IDENTIFIER],
    # (Each pattern is written so that a long line cannot make it backtrack quadratically: "[ \t]*\*?[ \t]*"
    # would try every split of a run of blanks.)
    "script": [r"^([ \t]*)(?:export[ \t]+)?(?:default[ \t]+)?(?:async[ \t]+)?function\b[ \t]*(?:\*[ \t]*)?(%s)" % SCRIPT_IDENTIFIER,
               r"^([ \t]*)(?:export[ \t]+)?(?:default[ \t]+)?(?:abstract[ \t]+)?class[ \t]+(%s)" % SCRIPT_IDENTIFIER,
               r"^([ \t]*)(?:export[ \t]+)?(?:const|let|var)[ \t]+(%s)[ \t]*(?::[^=]*)?=[ \t]*(?:async\b[ \t]*)?"
               r"(?:function\b|\([^()]*\)[ \t]*(?::[^=]*)?=>|%s[ \t]*=>)" % (SCRIPT_IDENTIFIER, SCRIPT_IDENTIFIER),
               r"^([ \t]+)%s(%s)[ \t]*\([^()]*\)[ \t]*(?::[^{;]*)?\{[ \t]*$" % (_MODIFIERS_TS, SCRIPT_IDENTIFIER)],
    "go": [r"^()func[ \t]+(?:\([^)]*\)[ \t]*)?(%s)[ \t]*[(\[]" % IDENTIFIER,
           r"^()type[ \t]+(%s)[ \t]+(?:struct|interface)\b" % IDENTIFIER],
    "rust": [r"^([ \t]*)(?:pub(?:\([^)]*\))?[ \t]+)?(?:const[ \t]+)?(?:async[ \t]+)?(?:unsafe[ \t]+)?"
             r"(?:extern[ \t]+\"[^\"]*\"[ \t]+)?fn[ \t]+(%s)" % IDENTIFIER,
             r"^([ \t]*)(?:pub(?:\([^)]*\))?[ \t]+)?(?:struct|enum|trait)[ \t]+(%s)" % IDENTIFIER],
    # A definition's line starts at column 0 with its type and has no ';' after the parameters begin.
    # (GNU style puts the type on the line above: the name alone at column 0 counts too.)
    # (Words then the name, or "*"s then the name: a "*" run after words is their separators'.)
    "c": [r"^()(?:(?:[A-Za-z_][A-Za-z0-9_]*[ \t*&]+)+|\**)(%s)[ \t]*\([^;]*$" % IDENTIFIER],
    "java": [r"^([ \t]*)(?:(?:public|private|protected|static|final|abstract|synchronized)[ \t]+)*"
             r"(?:class|interface|enum|record)[ \t]+(%s)" % IDENTIFIER,
             r"^([ \t]*)(?:(?:public|private|protected|static|final|abstract|synchronized)[ \t]+)+"
             r"(?:[A-Za-z_][A-Za-z0-9_<>,.?\[\]]*[ \t]+)(%s)[ \t]*\([^;]*$" % IDENTIFIER],
}

OUTLINE_LANGUAGE_BY_EXTENSION = {
    ".py": "python", ".ts": "script", ".tsx": "script", ".js": "script", ".jsx": "script", ".mjs": "script",
    ".cjs": "script", ".go": "go", ".rs": "rust", ".c": "c", ".h": "c", ".cc": "c", ".cpp": "c",
    ".hpp": "c", ".cxx": "c", ".java": "java",
}

# Names the patterns can take for a definition that are statements or types, never definitions.
NOT_NAMES = frozenset(["if", "for", "while", "switch", "catch", "return", "function", "with", "else", "do", "case",
                       "sizeof", "typedef", "goto", "new", "delete", "throw"])
# The first word of a C line that cannot start a definition.
NOT_C_START = frozenset(["return", "else", "if", "while", "for", "switch", "do", "case", "typedef", "goto", "sizeof"])

# A line that raises, returns or prints an error (outside its string literals): its first string
# literal is an error message.
ERROR_LINE = re.compile(r"\bthrow\b|\braise\b|\bpanic!?\(|Error\(|\berrors\.New\(|Errorf\(|\bErr\(|\bstderr\b"
                        r"|\bperror\(|\.(?:error|fatal|critical|exception)\(|\bbail!\(")
DOUBLE_QUOTED = re.compile(r"\"((?:[^\"\\\n]|\\.)*)\"")
SINGLE_QUOTED = re.compile(r"'((?:[^'\\\n]|\\.)*)'")
SINGLE_QUOTE_LANGUAGES = ("python", "script")
TRAILING_ESCAPES = re.compile(r"(?:\\[nrt])+$")
HAS_LETTER = re.compile(r"[A-Za-z]")

MIN_MESSAGE_LENGTH = 4
MAX_MESSAGE_LENGTH = 160
MAX_SYMBOLS_PER_FILE = 64
MAX_MESSAGES_PER_FILE = 32

_COMPILED = {language: [re.compile(pattern) for pattern in patterns] for language, patterns in DEFINITION_PATTERNS.items()}


def outline_language(path):
    name = path.rsplit("/", 1)[-1]
    dot = name.rfind(".")
    return OUTLINE_LANGUAGE_BY_EXTENSION.get(name[dot:].lower() if dot > 0 else "")


def indentation_width(indentation):
    return sum(4 if character == "\t" else 1 for character in indentation)


def _definition(language, line):
    """(indentation width, name) of a definition line, or None."""
    if language == "c" and (line.startswith("#") or line.split(" ", 1)[0].split("\t", 1)[0] in NOT_C_START):
        return None
    for pattern in _COMPILED[language]:
        found = pattern.match(line)
        if found and found.group(2) not in NOT_NAMES:
            return indentation_width(found.group(1)), found.group(2)
    return None


def _string_literals(language, line):
    """The line's string literals, in order, as matches whose group 1 is the text between the quotes."""
    literals = list(DOUBLE_QUOTED.finditer(line))
    if language in SINGLE_QUOTE_LANGUAGES:
        # Only quotes outside the other kind's literals start one.
        literals, position = [], 0
        while True:
            double, single = DOUBLE_QUOTED.search(line, position), SINGLE_QUOTED.search(line, position)
            found = min((match for match in (double, single) if match), key=lambda match: match.start(), default=None)
            if found is None:
                break
            literals.append(found)
            position = found.end()
    return literals


def _message(language, line):
    literals = _string_literals(language, line)
    outside, position = [], 0
    for literal in literals:
        outside.append(line[position:literal.start()])
        position = literal.end()
    outside.append(line[position:])
    if not literals or not ERROR_LINE.search(" ".join(outside)):
        return None
    found = literals[0]
    text = TRAILING_ESCAPES.sub("", found.group(1))
    if not (MIN_MESSAGE_LENGTH <= len(text) <= MAX_MESSAGE_LENGTH) or not HAS_LETTER.search(text):
        return None
    return text


def file_outline(path, content):
    """(symbols, messages) of one file: [name] and [(message, enclosing function or None)], in line
    order, each at most once, capped per file."""
    language = outline_language(path)
    if language is None:
        return [], []
    symbols, messages = [], []
    seen_symbols, seen_messages = set(), set()
    open_definitions = []  # (indentation width, name) of the definitions the current line may be inside
    for line in content.split("\n"):
        if line.endswith("\r"):
            line = line[:-1]
        definition = _definition(language, line)
        if definition is not None:
            width, name = definition
            while open_definitions and open_definitions[-1][0] >= width:
                open_definitions.pop()
            open_definitions.append(definition)
            if name not in seen_symbols and len(symbols) < MAX_SYMBOLS_PER_FILE:
                seen_symbols.add(name)
                symbols.append(name)
            continue
        message = _message(language, line)
        if message is None or message in seen_messages or len(messages) >= MAX_MESSAGES_PER_FILE:
            continue
        width = indentation_width(line[:len(line) - len(line.lstrip(" \t"))])
        enclosing = next((name for indentation, name in reversed(open_definitions) if indentation < width), None)
        seen_messages.add(message)
        messages.append((message, enclosing))
    return symbols, messages


def render_outline(files):
    """The outline of [(path, content)] in the files' order; '' when no file has an entry."""
    symbol_lines, message_lines = [], []
    for path, content in files:
        symbols, messages = file_outline(path, content)
        symbol_lines.extend("- %s: %s\n" % (name, path) for name in symbols)
        message_lines.extend(('- "%s": %s in %s\n' % (message, enclosing, path)) if enclosing else
                             ('- "%s": %s\n' % (message, path)) for message, enclosing in messages)
    parts = []
    if symbol_lines:
        parts.append("<workspace-symbols>\n%s</workspace-symbols>\n" % "".join(symbol_lines))
    if message_lines:
        parts.append("<workspace-messages>\n%s</workspace-messages>\n" % "".join(message_lines))
    return "".join(parts)

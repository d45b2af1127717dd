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

With detail "definitions" (a repository map in the spirit of Aider's, which prints each definition's
line) the same outline also gives each function's parameter list, the top-level constants with their
literal value, and the settings (key and value) of configuration files, so that one-hop questions far
from the question in a long prompt become lookups near it too:

    <workspace-symbols>
    - parse_config(path: str): src/config/loader.py
    - MAX_RETRIES = 5: src/config/loader.py
    </workspace-symbols>
    <workspace-messages>
    - "Missing apple for island": load_island in src/config/loader.py
    </workspace-messages>
    <workspace-settings>
    - retry_limit = 5: config/app.yaml
    </workspace-settings>

Detail "names" (the default) is the outline without any of these, as models trained before them saw it.

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

OUTLINE_DETAILS = ("names", "definitions")

# Detail "definitions": which DEFINITION_PATTERNS (by index) define a function, whose parameters the
# outline shows (not classes or types, nor `const f = (...) =>`, whose parentheses are not after the name).
FUNCTION_PATTERNS = {"python": (0,), "script": (0, 3), "go": (0,), "rust": (0,), "c": (0,), "java": (1,)}
# After the name: blanks, at most one generic clause without parentheses, blanks, then the "(".
# (Written so that a run of blanks cannot be split two ways: linear time on a long line.)
PARAMETERS_START = re.compile(r"[ \t]*(?:(?:<[^()<>]*>|\[[^()\[\]]*\])[ \t]*)?\(")
WHITESPACE_RUN = re.compile(r"[ \t\r\n\f\v]+")
MAX_PARAMETERS_LENGTH = 120

# A constant's literal value: a string, a number or a boolean, as written.
_DOUBLE_LITERAL = r'"(?:[^"\\\n]|\\.)*"'
_SINGLE_LITERAL = r"'(?:[^'\\\n]|\\.)*'"
_OTHER_LITERALS = r"-?[0-9][0-9A-Za-z_.+]*|(?:true|false|True|False)(?![A-Za-z0-9_])"
_LITERAL = "(?:%s|%s)" % (_DOUBLE_LITERAL, _OTHER_LITERALS)
_QUOTED_LITERAL = "(?:%s|%s|%s)" % (_DOUBLE_LITERAL, _SINGLE_LITERAL, _OTHER_LITERALS)
# A name in capitals (with at least one letter). Each name below is followed by "no name character", so
# that no pattern can take a shorter name and backtrack over a long line (linear time, as the port).
_CONSTANT_NAME = r"(?=[A-Z0-9_]*[A-Z])[A-Z_][A-Z0-9_]*(?![A-Za-z0-9_])"
_NAME = IDENTIFIER + r"(?![A-Za-z0-9_])"
_SCRIPT_NAME = SCRIPT_IDENTIFIER + r"(?![A-Za-z0-9_$])"
# Per language: the pattern of a constant's line, group 1 its name and group 2 its value.
CONSTANT_PATTERNS = {
    "python": r"^(%s)[ \t]*(?::[^=\n]*)?=[ \t]*(%s)[ \t]*(?:#.*)?$" % (_CONSTANT_NAME, _QUOTED_LITERAL),
    "script": r"^(?:export[ \t]+)?const[ \t]+(%s)[ \t]*(?::[^=\n]*)?=[ \t]*(%s)[ \t]*(?:;[ \t]*)?(?://.*)?$" % (_SCRIPT_NAME, _QUOTED_LITERAL),
    "go": r"^const[ \t]+(%s)[ \t]*(?:[A-Za-z_][A-Za-z0-9_.]*[ \t]*)?=[ \t]*(%s)[ \t]*(?://.*)?$" % (_NAME, _LITERAL),
    "rust": r"^(?:pub(?:\([^)]*\))?[ \t]+)?(?:const|static)[ \t]+(%s)[ \t]*:[^=\n]*=[ \t]*(%s)[ \t]*;[ \t]*(?://.*)?$" % (_NAME, _LITERAL),
    "c": r"^#[ \t]*define[ \t]+(%s)[ \t]+(%s)[ \t]*(?://.*|/\*.*)?$" % (_NAME, _LITERAL),
    "java": r"^[ \t]*(?:(?:public|private|protected)[ \t]+)?static[ \t]+final[ \t]+[A-Za-z_][A-Za-z0-9_<>,.?\[\]]*[ \t]+(%s)"
            r"[ \t]*=[ \t]*(%s)[ \t]*;[ \t]*(?://.*)?$" % (_NAME, _LITERAL),
}
_CONSTANTS = {language: re.compile(pattern) for language, pattern in CONSTANT_PATTERNS.items()}
MAX_VALUE_LENGTH = 80

# Configuration files: per kind, the pattern of a setting's line, group 1 its key and group 2 the rest.
_SETTING_KEY = r"[A-Za-z_][A-Za-z0-9_.-]*"
SETTING_PATTERNS = {
    "env": r"^(?:export[ \t]+)?(%s)=(.*)$" % _SETTING_KEY,
    "toml": r"^[ \t]*(%s)[ \t]*=[ \t]*(.*)$" % _SETTING_KEY,
    "yaml": r"^[ \t]*(%s)[ \t]*:[ \t]+(.*)$" % _SETTING_KEY,
    "json": r'^[ \t]*"(%s)"[ \t]*:[ \t]*(.*)$' % _SETTING_KEY,
}
_SETTINGS = {kind: re.compile(pattern) for kind, pattern in SETTING_PATTERNS.items()}
SETTINGS_KIND_BY_EXTENSION = {".env": "env", ".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".ini": "toml",
                              ".properties": "toml", ".json": "json"}
_LEADING_DOUBLE_LITERAL = re.compile(_DOUBLE_LITERAL)
_LEADING_QUOTED_LITERAL = re.compile("%s|%s" % (_DOUBLE_LITERAL, _SINGLE_LITERAL))
# A value starting with one of these is an array, a table, a block scalar, an anchor or a comment.
NOT_VALUE_STARTS = "[{|>&*#"
MAX_SETTINGS_PER_FILE = 64


def _name_and_extension(path):
    """A path's file name and its extension, lower-cased ('' when it has none, as for '.py')."""
    name = path.rsplit("/", 1)[-1]
    dot = name.rfind(".")
    return name, (name[dot:].lower() if dot > 0 else "")


def outline_language(path):
    return OUTLINE_LANGUAGE_BY_EXTENSION.get(_name_and_extension(path)[1])


def settings_kind(path):
    """The kind of configuration file a path names (env, toml, yaml, json), or None."""
    name, extension = _name_and_extension(path)
    if name == ".env" or name.startswith(".env."):
        return "env"
    return SETTINGS_KIND_BY_EXTENSION.get(extension)


def indentation_width(indentation):
    return sum(4 if character == "\t" else 1 for character in indentation)


def _definition(language, line):
    """(indentation width, name, the defining pattern's index, where the name ends) of a definition line, or None."""
    if language == "c" and (line.startswith("#") or line.split(" ", 1)[0].split("\t", 1)[0] in NOT_C_START):
        return None
    for index, pattern in enumerate(_COMPILED[language]):
        found = pattern.match(line)
        if found and found.group(2) not in NOT_NAMES:
            return indentation_width(found.group(1)), found.group(2), index, found.end(2)
    return None


def _parameters(line, name_end):
    """'(parameters)' after a function's name, whitespace runs made one space; '' when they do not
    close on the line or are too long."""
    opening = PARAMETERS_START.match(line, name_end)
    if opening is None:
        return ""
    depth, start = 0, opening.end() - 1
    for position in range(start, len(line)):
        character = line[position]
        if character == "(":
            depth += 1
        elif character == ")":
            depth -= 1
            if depth == 0:
                text = WHITESPACE_RUN.sub(" ", line[start + 1:position]).strip(" ")
                return "(%s)" % text if len(text) <= MAX_PARAMETERS_LENGTH else ""
    return ""


def _constant(language, line):
    """(name, value) of a constant's line, or None."""
    found = _CONSTANTS[language].match(line)
    if found is None or len(found.group(2)) > MAX_VALUE_LENGTH:
        return None
    return found.group(1), found.group(2)


def _setting(kind, line):
    """(key, value) of a configuration line, or None."""
    found = _SETTINGS[kind].match(line)
    if found is None:
        return None
    rest = found.group(2)
    if rest[:1] == '"' or (rest[:1] == "'" and kind != "json"):
        quoted = (_LEADING_DOUBLE_LITERAL if kind == "json" else _LEADING_QUOTED_LITERAL).match(rest)
        if quoted is None:
            return None
        value = quoted.group(0)
    else:
        value = rest if kind == "json" else rest.split(" #", 1)[0]
        value = value.rstrip(" \t")
        if kind == "json" and value.endswith(","):
            value = value[:-1].rstrip(" \t")
    if not 1 <= len(value) <= MAX_VALUE_LENGTH or value[0] in NOT_VALUE_STARTS:
        return None
    return found.group(1), value


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


def _scan_code(language, content, definitions):
    """([(name, detail)], [(message, enclosing function or None)]) of a code file; with definitions,
    details are parameter lists and constants are symbols too (detail " = value")."""
    symbols, messages = [], []
    seen_symbols, seen_messages = set(), set()
    open_definitions = []  # (indentation width, name) of the definitions the current line may be inside

    def add_symbol(name, detail):
        if name not in seen_symbols and len(symbols) < MAX_SYMBOLS_PER_FILE:
            seen_symbols.add(name)
            symbols.append((name, detail))

    for line in content.split("\n"):
        if line.endswith("\r"):
            line = line[:-1]
        definition = _definition(language, line)
        if definition is not None:
            width, name, pattern_index, name_end = definition
            while open_definitions and open_definitions[-1][0] >= width:
                open_definitions.pop()
            open_definitions.append((width, name))
            function_like = definitions and pattern_index in FUNCTION_PATTERNS[language]
            add_symbol(name, _parameters(line, name_end) if function_like else "")
            continue
        if definitions:
            constant = _constant(language, line)
            if constant is not None:
                add_symbol(constant[0], " = " + constant[1])
                continue
        message = _message(language, line)
        if message is None or message in seen_messages or len(messages) >= MAX_MESSAGES_PER_FILE:
            continue
        width = indentation_width(line[:len(line) - len(line.lstrip(" \t"))])
        enclosing = next((name for indentation, name in reversed(open_definitions) if indentation < width), None)
        seen_messages.add(message)
        messages.append((message, enclosing))
    return symbols, messages


def _scan_settings(kind, content):
    settings, seen = [], set()
    for line in content.split("\n"):
        if len(settings) >= MAX_SETTINGS_PER_FILE:
            break
        setting = _setting(kind, line[:-1] if line.endswith("\r") else line)
        if setting is not None and setting[0] not in seen:
            seen.add(setting[0])
            settings.append(setting)
    return settings


def file_outline(path, content):
    """(symbols, messages) of one file, detail "names": [name] and [(message, enclosing function or
    None)], in line order, each at most once, capped per file."""
    language = outline_language(path)
    if language is None:
        return [], []
    symbols, messages = _scan_code(language, content, definitions=False)
    return [name for name, _detail in symbols], messages


def file_definitions(path, content):
    """(symbols, messages, settings) of one file, detail "definitions": [(name, detail)] with detail ''
    , '(parameters)' or ' = value'; messages as file_outline's; [(key, value)] of a configuration file."""
    language = outline_language(path)
    if language is not None:
        symbols, messages = _scan_code(language, content, definitions=True)
        return symbols, messages, []
    kind = settings_kind(path)
    return [], [], (_scan_settings(kind, content) if kind is not None else [])


def render_outline(files, detail="names"):
    """The outline of [(path, content)] in the files' order at a detail of OUTLINE_DETAILS; '' when no
    file has an entry."""
    if detail not in OUTLINE_DETAILS:
        raise ValueError("outline detail must be one of %s, got %r" % (", ".join(OUTLINE_DETAILS), detail))
    symbol_lines, message_lines, setting_lines = [], [], []
    for path, content in files:
        if detail == "names":
            names, messages = file_outline(path, content)
            symbols, settings = [(name, "") for name in names], []
        else:
            symbols, messages, settings = file_definitions(path, content)
        symbol_lines.extend("- %s%s: %s\n" % (name, symbol_detail, path) for name, symbol_detail in symbols)
        message_lines.extend(('- "%s": %s in %s\n' % (message, enclosing, path)) if enclosing else
                             ('- "%s": %s\n' % (message, path)) for message, enclosing in messages)
        setting_lines.extend("- %s = %s: %s\n" % (key, value, path) for key, value in settings)
    parts = []
    if symbol_lines:
        parts.append("<workspace-symbols>\n%s</workspace-symbols>\n" % "".join(symbol_lines))
    if message_lines:
        parts.append("<workspace-messages>\n%s</workspace-messages>\n" % "".join(message_lines))
    if setting_lines:
        parts.append("<workspace-settings>\n%s</workspace-settings>\n" % "".join(setting_lines))
    return "".join(parts)

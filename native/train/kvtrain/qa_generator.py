"""Workspace-QA examples: generated multi-file workspaces with planted facts, and questions whose
answers are exact strings of the workspace. Deterministic by (split, seed).

Facts and question families:
  const_value      the value of a constant                     -> the value
  config_default   a config file's default for a key           -> the value
  function_file    which file defines a function               -> the file's path
  function_params  a function's parameters                     -> the parameter list as written
  error_file       which file an error message comes from      -> the file's path
  error_function   which function raises an error message      -> the function's name
Identifiers, keys, messages, paths and values are drawn so that each belongs to its split by a hash
of its text (word_pools.split_of_text): TRAIN and EVAL share no identifier, value or path, while
both are built from the same words, so every token of an evaluation answer was seen in training.
"""
import random
import zlib

from .chat_format import language_of

from .word_pools import all_verbs, all_words, split_of_text

FAMILIES = ["const_value", "config_default", "function_file", "function_params", "error_file", "error_function"]

QUESTION_TEMPLATES = {
    "const_value": ["What is the value of {name}?", "What is {name} set to?",
                    "Which value does the constant {name} have?", "What does {name} equal?"],
    "config_default": ["What is the default value of {key} in {path}?", "What is the default {key} in {path}?",
                       "In {path}, what is {key} set to by default?"],
    "function_file": ["Which file defines the function {name}?", "Where is {name} defined?",
                      "In which file is the function {name} implemented?"],
    "function_params": ["What parameters does {name} take?", "What are the parameters of {name}?",
                        "Which arguments does the function {name} accept?"],
    "error_file": ["Which file contains the error message \"{message}\"?",
                   "Where does the error \"{message}\" come from?",
                   "Which file raises \"{message}\"?"],
    "error_function": ["Which function raises the error \"{message}\"?",
                       "What function produces the error message \"{message}\"?"],
}

ANSWER_TEMPLATES = {
    "const_value": "{name} is {literal}.",
    "config_default": "The default {key} is {literal}.",
    "function_file": "{name} is defined in {path}.",
    "function_params": "{name} takes ({params}).",
    "error_file": "It is raised by {function} in {path}.",
    "error_function": "It is raised by {function} in {path}.",
}

# An answer that restates the error message before the function and path (--restate-error-messages):
# the message then sits right before what must be looked up from it, as a name does in the one-hop answers.
RESTATED_ERROR_ANSWER = '"{message}" is raised by {function} in {path}.'

# The answer fields found by a second hop, back from the definition or message the question names to
# its file header or enclosing function (models/small.md, "Where the two-hop answers fail").
SECOND_HOP_FIELDS = {"function_file": ("path",), "error_file": ("function", "path"), "error_function": ("function", "path")}

CONSTANT_SUFFIXES = ["LIMIT", "TIMEOUT", "COUNT", "SIZE", "PORT", "MODE", "NAME", "PREFIX", "RATIO", "MAX",
                     "MIN", "DELAY", "INTERVAL", "URL", "PATH", "KEY", "LEVEL", "THRESHOLD", "VERSION", "ID"]
PARAMETER_TYPES = ["number", "string", "boolean"]
TOP_FOLDERS = ["src", "lib", "app", "pkg", "internal", "core", "services", "modules"]


def camel(words):
    return words[0] + "".join(word.capitalize() for word in words[1:])


def pascal(words):
    return "".join(word.capitalize() for word in words)


def snake(words):
    return "_".join(words)


def screaming(words):
    return "_".join(word.upper() for word in words)


class Namer:
    """Names unique in one workspace, each belonging to the namer's split."""

    def __init__(self, rng, split):
        self.rng = rng
        self.split = split
        self.nouns = all_words()
        self.verbs = all_verbs()
        self.used = set()

    def _unique(self, make):
        for _ in range(1000):
            value = make()
            key = value if isinstance(value, str) else "_".join(value)
            if value not in self.used and split_of_text(key) == self.split:
                self.used.add(value)
                return value
        raise RuntimeError("ran out of unique names")

    def in_split(self, text):
        return split_of_text(text) == self.split

    def noun_words(self, low, high):
        return [self.rng.choice(self.nouns) for _ in range(self.rng.randint(low, high))]

    def function_words(self):
        return self._unique(lambda: tuple([self.rng.choice(self.verbs)] + self.noun_words(1, 2)))

    def constant_words(self):
        return self._unique(lambda: tuple(self.noun_words(1, 2) + [self.rng.choice(CONSTANT_SUFFIXES).lower()]))

    def key_words(self):
        return self._unique(lambda: tuple(self.noun_words(1, 2) + [self.rng.choice(
            ["limit", "timeout", "enabled", "size", "port", "mode", "name", "level", "retries", "interval", "url", "dir"])]))

    def parameter_names(self, count):
        names = []
        while len(names) < count:
            words = tuple(self.noun_words(1, 2))
            if words not in names and self.in_split("_".join(words)):
                names.append(words)
        return names

    def message(self):
        templates = ["{a} {b} not found", "failed to {v} {a} {b}", "invalid {a} {b}", "{a} {b} quota exceeded",
                     "cannot {v} {a} while {b} is locked", "unexpected {a} in {b} header", "{a} {b} checksum mismatch",
                     "{a} {b} is already registered", "timed out waiting for {a} {b}", "missing {a} for {b}"]

        def make():
            text = self.rng.choice(templates).format(a=self.rng.choice(self.nouns), b=self.rng.choice(self.nouns),
                                                     v=self.rng.choice(self.verbs))
            return text[0].upper() + text[1:]
        return self._unique(make)

    def path_folder(self):
        depth = self.rng.randint(1, 2)
        return "/".join([self.rng.choice(TOP_FOLDERS)] + [self.rng.choice(self.nouns) for _ in range(depth)])

    def value(self, kind):
        """A planted value of this split: (literal as written in code, the exact answer string)."""
        for attempt in range(1000):
            if attempt >= 100:
                kind = "int"  # the small value ranges of one split can run out in a large workspace
            if kind == "int":
                text = str(self.rng.choice([self.rng.randint(2, 99), self.rng.randint(100, 9999), self.rng.randint(10000, 99999)])
                           if attempt < 100 else self.rng.randint(10000, 999999))
                literal = text
            elif kind == "float":
                text = "%d.%d" % (self.rng.randint(0, 9), self.rng.randint(1, 99))
                literal = text
            else:
                shape = self.rng.randint(0, 4)
                a, b = self.rng.choice(self.nouns), self.rng.choice(self.nouns)
                if shape == 0:
                    text = "%s-%s-%d" % (a, b, self.rng.randint(1, 99))
                elif shape == 1:
                    text = "https://%s.%s.example.com/v%d" % (a, b, self.rng.randint(1, 9))
                elif shape == 2:
                    text = "/var/lib/%s/%s" % (a, b)
                elif shape == 3:
                    text = "%s_%s" % (a, b)
                else:
                    text = "%d.%d.%d" % (self.rng.randint(0, 19), self.rng.randint(0, 40), self.rng.randint(0, 99))
                literal = '"%s"' % text
            if split_of_text(text) == self.split and text not in self.used:
                self.used.add(text)
                return literal, text
        raise RuntimeError("ran out of values")


class Function:
    def __init__(self, words, parameters, message=None):
        self.words = words
        self.parameters = parameters  # [(name words, type)]
        self.message = message
        self.name = None
        self.params_text = None


# --- language renderers -------------------------------------------------------------------------

def _pick_other_calls(rng, known_functions, count):
    return [rng.choice(known_functions) for _ in range(count)] if known_functions else []


def _typescript_file(rng, namer, constants, functions, known_functions):
    lines = []
    if known_functions:
        lines.append('import { %s } from "./%s";' % (camel(rng.choice(known_functions).words), rng.choice(namer.nouns)))
        lines.append("")
    for words, (literal, _value) in constants:
        lines.append("export const %s = %s;" % (screaming(words), literal))
    lines.append("")
    for function in functions:
        function.name = camel(function.words)
        ts_types = {"number": "number", "string": "string", "boolean": "boolean"}
        function.params_text = ", ".join("%s: %s" % (camel(p), ts_types[t]) for p, t in function.parameters)
        lines.append("export function %s(%s): %s {" % (function.name, function.params_text, rng.choice(["number", "string", "boolean", "void"])))
        first = camel(function.parameters[0][0])
        lines.append("    const %s = %s;" % (camel(namer.noun_words(1, 2)), first))
        if function.message:
            lines.append("    if (!%s) {" % first)
            lines.append('        throw new Error("%s");' % function.message)
            lines.append("    }")
        for other in _pick_other_calls(rng, known_functions, rng.randint(0, 2)):
            lines.append("    %s(%s);" % (camel(other.words), first))
        lines.append("    return %s;" % first)
        lines.append("}")
        lines.append("")
    return "\n".join(lines)


def _python_file(rng, namer, constants, functions, known_functions):
    lines = ['"""%s %s helpers."""' % (rng.choice(namer.nouns).capitalize(), rng.choice(namer.nouns)), "import os", ""]
    if known_functions:
        lines.insert(2, "from .%s import %s" % (rng.choice(namer.nouns), snake(rng.choice(known_functions).words)))
    for words, (literal, _value) in constants:
        lines.append("%s = %s" % (screaming(words), literal))
    lines.append("")
    for function in functions:
        function.name = snake(function.words)
        py_types = {"number": "int", "string": "str", "boolean": "bool"}
        typed = rng.random() < 0.5
        function.params_text = ", ".join(
            ("%s: %s" % (snake(p), py_types[t])) if typed else snake(p) for p, t in function.parameters)
        lines.append("")
        lines.append("def %s(%s):" % (function.name, function.params_text))
        first = snake(function.parameters[0][0])
        if function.message:
            lines.append("    if not %s:" % first)
            lines.append('        raise ValueError("%s")' % function.message)
        for other in _pick_other_calls(rng, known_functions, rng.randint(0, 2)):
            lines.append("    %s(%s)" % (snake(other.words), first))
        lines.append("    %s = os.environ.get(\"%s\", %s)" % (snake(namer.noun_words(1, 1)), screaming(namer.noun_words(1, 2)), first))
        lines.append("    return %s" % first)
    lines.append("")
    return "\n".join(lines)


def _go_file(rng, namer, constants, functions, known_functions):
    package = rng.choice(namer.nouns)
    lines = ["package %s" % package, "", 'import (', '\t"errors"', '\t"fmt"', ')', ""]
    for words, (literal, _value) in constants:
        lines.append("const %s = %s" % (pascal(words), literal))
    lines.append("")
    for function in functions:
        function.name = pascal(function.words)
        go_types = {"number": "int", "string": "string", "boolean": "bool"}
        function.params_text = ", ".join("%s %s" % (camel(p), go_types[t]) for p, t in function.parameters)
        lines.append("func %s(%s) error {" % (function.name, function.params_text))
        first = camel(function.parameters[0][0])
        if function.message:
            lines.append('\tif fmt.Sprint(%s) == "" {' % first)
            lines.append('\t\treturn errors.New("%s")' % function.message)
            lines.append("\t}")
        for other in _pick_other_calls(rng, known_functions, rng.randint(0, 2)):
            lines.append("\t_ = %s(%s)" % (pascal(other.words), first))
        lines.append("\treturn nil")
        lines.append("}")
        lines.append("")
    return "\n".join(lines)


def _c_file(rng, namer, constants, functions, known_functions):
    guard = screaming(namer.noun_words(1, 2)) + "_H"
    lines = ["#include <stdio.h>", "#include <string.h>", "", "/* %s */" % guard.lower(), ""]
    for words, (literal, _value) in constants:
        lines.append("#define %s %s" % (screaming(words), literal))
    lines.append("")
    for function in functions:
        function.name = snake(function.words)
        c_types = {"number": "int", "string": "const char *", "boolean": "int"}
        function.params_text = ", ".join(
            ("%s%s" % (c_types[t], snake(p))) if t == "string" else "%s %s" % (c_types[t], snake(p))
            for p, t in function.parameters)
        lines.append("int %s(%s)" % (function.name, function.params_text))
        lines.append("{")
        first = snake(function.parameters[0][0])
        if function.message:
            lines.append("    if (!%s) {" % first)
            lines.append('        fprintf(stderr, "%s\\n");' % function.message)
            lines.append("        return -1;")
            lines.append("    }")
        for other in _pick_other_calls(rng, known_functions, rng.randint(0, 2)):
            lines.append("    %s(%s);" % (snake(other.words), first))
        lines.append("    return 0;")
        lines.append("}")
        lines.append("")
    return "\n".join(lines)


def _rust_file(rng, namer, constants, functions, known_functions):
    lines = ["use std::collections::HashMap;", ""]
    for words, (literal, _value) in constants:
        kind = "&str" if literal.startswith('"') else ("f64" if "." in literal else "u32")
        lines.append("pub const %s: %s = %s;" % (screaming(words), kind, literal))
    lines.append("")
    for function in functions:
        function.name = snake(function.words)
        rust_types = {"number": "u32", "string": "&str", "boolean": "bool"}
        function.params_text = ", ".join("%s: %s" % (snake(p), rust_types[t]) for p, t in function.parameters)
        lines.append("pub fn %s(%s) -> Result<(), String> {" % (function.name, function.params_text))
        lines.append("    let mut %s: HashMap<String, u32> = HashMap::new();" % snake(namer.noun_words(1, 1)))
        if function.message:
            lines.append("    if %s.is_empty() {" % snake(namer.noun_words(1, 1)))
            lines.append('        return Err("%s".to_string());' % function.message)
            lines.append("    }")
        for other in _pick_other_calls(rng, known_functions, rng.randint(0, 1)):
            lines.append("    %s(%s)?;" % (snake(other.words), snake(function.parameters[0][0])))
        lines.append("    Ok(())")
        lines.append("}")
        lines.append("")
    return "\n".join(lines)


SOURCE_LANGUAGES = [("ts", _typescript_file), ("py", _python_file), ("go", _go_file), ("c", _c_file), ("rs", _rust_file)]

# Self references (training data only, an option): a trace line naming the enclosing function, and a
# comment naming the file's path. Predicting them needs the step the two-hop questions need (from a
# place in a body back to its function or file: models/small.md, "Where the two-hop answers fail").
# Placement "start": just after the function's first line and before the first function, BEFORE the
# definitions and messages the questions ask about, so they give no answer a shortcut forward.
_TRACE_LINES = {"ts": '    console.debug("enter %s");', "py": '    logger.debug("enter %s")', "go": '\tlog.Printf("enter %s")',
                "c": '    log_trace("enter %s");', "rs": '    log::debug!("enter {}", "%s");'}
_PATH_COMMENTS = {"ts": "// module %s", "py": "# module %s", "go": "// module %s", "c": "/* module %s */", "rs": "// module %s"}


def takes_self_reference(text, share):
    """Whether a function or file gets its self reference: by a hash of its name, so that choosing
    self references draws nothing from the workspace's random generator (its workspaces stay the same)."""
    return share > 0 and zlib.crc32(("self-reference/" + text).encode("utf-8")) % 10000 < share * 10000


def definition_line(lines, name):
    """The index of the unindented line that defines function `name` in a generated source file."""
    return next(index for index, line in enumerate(lines) if (name + "(") in line and not line.startswith((" ", "\t")))


def body_start_line(lines, name, extension):
    """The index of the first line inside function `name`'s body (C puts the opening brace on a line of its own)."""
    return definition_line(lines, name) + (2 if extension == "c" else 1)


# Placement "key" puts each self reference right after what a two-hop question starts from: the trace
# line after the function's error message (after its first line when it has none), the path comment
# after the first function's opening line. Predicting them then takes the second hop exactly where the
# questions need it; the questions those lines would answer by a plain look forward are not asked
# (add_self_references' shortcuts).
SELF_REFERENCE_PLACEMENTS = ("start", "key")


def _indented_like(line, template):
    return line[:len(line) - len(line.lstrip())] + template.lstrip()


def add_self_references(content, extension, path, functions, share, inserted=None, placement="start", shortcuts=None):
    """The content with its self references; inserted (a dict), when given, receives each inserted
    line mapped to the name or path it names (data_stream gives those names their own loss), and
    shortcuts (a set) the (family, function name) of each question a "key" line would answer by a
    look forward: the error questions about a function whose trace line follows its message, the
    path questions about the function whose opening line the path comment follows."""
    lines = content.split("\n")
    given_away = set()
    for function in functions:
        if takes_self_reference(function.name, share):
            line = _TRACE_LINES[extension] % function.name
            if placement == "key" and function.message:
                message_line = next(index for index, text in enumerate(lines) if ('"%s' % function.message) in text)
                line = _indented_like(lines[message_line], line)
                lines.insert(message_line + 1, line)
                given_away |= {("error_file", function.name), ("error_function", function.name)}
            else:
                lines.insert(body_start_line(lines, function.name, extension), line)
            if inserted is not None:
                inserted[line] = function.name
    if functions and takes_self_reference(path, share):
        line = _PATH_COMMENTS[extension] % path
        if placement == "key":
            line = _indented_like(_TRACE_LINES[extension], line)
            lines.insert(body_start_line(lines, functions[0].name, extension), line)
            given_away |= {("function_file", functions[0].name), ("error_file", functions[0].name)}
        else:
            lines.insert(definition_line(lines, functions[0].name), line)
        if inserted is not None:
            inserted[line] = path
    if shortcuts is not None:
        shortcuts |= given_away
    return "\n".join(lines)


def _config_file(rng, namer, entries, extension):
    """entries: [(key words, (literal, value))]; returns the text; keys rendered per format."""
    lines = []
    if extension == "json":
        lines.append("{")
        for index, (words, (literal, _value)) in enumerate(entries):
            comma = "," if index < len(entries) - 1 else ""
            lines.append('    "%s": %s%s' % (camel(words), literal, comma))
        lines.append("}")
    elif extension == "yaml":
        lines.append("# %s settings" % rng.choice(namer.nouns))
        for words, (literal, _value) in entries:
            lines.append("%s: %s" % (snake(words), literal))
    elif extension == "toml":
        lines.append("[%s]" % rng.choice(namer.nouns))
        for words, (literal, _value) in entries:
            lines.append("%s = %s" % (snake(words), literal))
    else:  # env
        for words, (literal, value) in entries:
            lines.append("%s=%s" % (screaming(words), value))
    lines.append("")
    return "\n".join(lines)


def config_key_text(words, extension):
    return {"json": camel, "yaml": snake, "toml": snake, "env": screaming}[extension](list(words))


def _markdown_file(rng, namer, mentioned):
    title = " ".join(word.capitalize() for word in namer.noun_words(2, 3))
    lines = ["# %s" % title, ""]
    for _ in range(rng.randint(2, 5)):
        words = namer.noun_words(6, 14)
        sentence = " ".join(words)
        if mentioned and rng.random() < 0.6:
            sentence += " with `%s`" % rng.choice(mentioned)
        lines.append(sentence[0].upper() + sentence[1:] + ".")
        lines.append("")
    return "\n".join(lines)


# --- workspaces ---------------------------------------------------------------------------------

class Workspace:
    def __init__(self, files, facts, self_reference_lines=None, functions_by_path=None):
        self.files = files  # [(path, content)]
        self.facts = facts  # [dict]
        self.self_reference_lines = self_reference_lines or {}  # inserted line -> the name or path it names
        self.functions_by_path = functions_by_path or {}  # generated source file -> its function names in order


def enclosing_spans(content, function_names):
    """[(start, end, function name)]: the character spans of a generated source file's function bodies,
    from the line after each definition line to the next definition line (or the end of the file).
    The places inside them are where a two-hop question's second hop starts (a message, a call)."""
    lines = content.split("\n")
    line_starts = [0]
    for line in lines:
        line_starts.append(line_starts[-1] + len(line) + 1)
    definitions = sorted((definition_line(lines, name), name) for name in function_names)
    spans = []
    for index, (line_index, name) in enumerate(definitions):
        end_line = definitions[index + 1][0] if index + 1 < len(definitions) else len(lines)
        spans.append((line_starts[line_index + 1], min(len(content), line_starts[end_line]), name))
    return spans


def generate_workspace(rng, split, target_tokens, count_tokens, real_code_files=None, real_code_share=0.0, self_reference_share=0.0,
                       self_reference_placement="start"):
    """Files are added until count_tokens(path, content) summed reaches target_tokens.
    self_reference_share: the share of functions and of source files given a self reference
    (add_self_references, at self_reference_placement); TRAIN split only."""
    if self_reference_share and split != "train":
        raise ValueError("self references are for training data only")
    namer = Namer(rng, split)
    files, facts, known_functions, mentioned = [], [], [], []
    used_paths = set()
    self_reference_lines = {}
    functions_by_path = {}
    total = 0
    while total < target_tokens:
        roll = rng.random()
        if real_code_files is not None and roll < real_code_share:
            path, content = real_code_files(rng, min(1500, max(200, target_tokens - total)))
            if path in used_paths:
                continue
        elif roll < real_code_share + (1 - real_code_share) * 0.62:
            extension, renderer = rng.choice(SOURCE_LANGUAGES)
            constants = [(namer.constant_words(), namer.value(rng.choice(["int", "int", "float", "str"])))
                         for _ in range(rng.randint(1, 4))]
            functions = []
            for _ in range(rng.randint(1, 3)):
                parameters = [(p, rng.choice(PARAMETER_TYPES)) for p in namer.parameter_names(rng.randint(1, 3))]
                functions.append(Function(namer.function_words(), parameters,
                                          namer.message() if rng.random() < 0.6 else None))
            content = renderer(rng, namer, constants, functions, known_functions)
            base = {"ts": camel, "py": snake, "go": snake, "c": snake, "rs": snake}[extension](namer.noun_words(1, 2))
            path = "%s/%s.%s" % (namer.path_folder(), base, extension)
            if path in used_paths or not namer.in_split(path):
                continue
            functions_by_path[path] = [function.name for function in functions]
            shortcuts = set()
            if self_reference_share:
                content = add_self_references(content, extension, path, functions, self_reference_share, self_reference_lines,
                                              self_reference_placement, shortcuts)
            for words, (literal, value) in constants:
                name = {"ts": screaming, "py": screaming, "go": pascal, "c": screaming, "rs": screaming}[extension](list(words))
                facts.append({"family": "const_value", "name": name, "literal": literal, "expected": value, "path": path})
            for function in functions:
                if ("function_file", function.name) not in shortcuts:
                    facts.append({"family": "function_file", "name": function.name, "path": path, "expected": path})
                facts.append({"family": "function_params", "name": function.name, "params": function.params_text,
                              "path": path, "expected": function.params_text})
                if function.message:
                    for family in ("error_file", "error_function"):
                        if (family, function.name) not in shortcuts:
                            facts.append({"family": family, "message": function.message, "function": function.name,
                                          "path": path, "expected": path if family == "error_file" else function.name})
                mentioned.append(function.name)
            known_functions.extend(functions)
        elif roll < real_code_share + (1 - real_code_share) * 0.85:
            extension = rng.choice(["json", "yaml", "toml", "env"])
            entries = [(namer.key_words(), namer.value(rng.choice(["int", "int", "float", "str"])))
                       for _ in range(rng.randint(2, 6))]
            folder = rng.choice(["config", "settings", "deploy", "conf"])
            if extension == "env":
                path = ".env.%s" % rng.choice(namer.nouns)
            else:
                path = "%s/%s.%s" % (folder, rng.choice(namer.nouns), extension)
            if path in used_paths or not namer.in_split(path):
                continue
            content = _config_file(rng, namer, entries, extension)
            for words, (literal, value) in entries:
                key = config_key_text(words, extension)
                shown = value if extension == "env" else literal
                facts.append({"family": "config_default", "key": key, "literal": shown, "expected": value, "path": path})
                mentioned.append(key)
        else:
            path = "docs/%s.md" % "-".join(namer.noun_words(1, 2))
            if path in used_paths:
                continue
            content = _markdown_file(rng, namer, mentioned)
        used_paths.add(path)
        files.append((path, content))
        total += count_tokens(path, content)
    order = list(range(len(files)))
    rng.shuffle(order)
    return Workspace([files[index] for index in order], facts, self_reference_lines, functions_by_path)


def second_hop_fields(fact, answer, earlier_answers=""):
    """([(field, offset)] of the answer's second-hop fields, [(field, offset)] of those an earlier answer
    of the same chat already gives): where each starts (at the space before it: that token begins it).
    The repeated ones are copies, no hop: about a quarter of them in training chats (models/small.md)."""
    fresh, repeated = [], []
    for field in SECOND_HOP_FIELDS.get(fact["family"], ()):
        found = answer.find(" " + fact[field])
        if found >= 0:
            (repeated if fact[field] in earlier_answers else fresh).append((field, found))
    return fresh, repeated


def chat_second_hops(questions):
    """second_hop_fields of each (fact, question, answer) of a chat, in order, each against the answers before it."""
    result, earlier = [], []
    for fact, _question, answer in questions:
        result.append(second_hop_fields(fact, answer, "\n".join(earlier)))
        earlier.append(answer)
    return result


def without_repeated_hops(questions):
    """The questions of a chat, less each one whose second-hop field an earlier kept answer already gives."""
    kept, earlier = [], []
    for fact, question, answer in questions:
        _fresh, repeated = second_hop_fields(fact, answer, "\n".join(earlier))
        if not repeated:
            kept.append((fact, question, answer))
            earlier.append(answer)
    return kept


def chat_turns_with_hops(questions, hops):
    """encode_chat's turns: (question, answer, second-hop offsets, repeated-hop offsets); hops: chat_second_hops(questions)."""
    return [(question, answer, [offset for _field, offset in fresh], [offset for _field, offset in repeated])
            for (_fact, question, answer), (fresh, repeated) in zip(questions, hops)]


def make_question(rng, fact, restate_error_messages=False):
    family = fact["family"]
    question = rng.choice(QUESTION_TEMPLATES[family]).format(**fact)
    template = RESTATED_ERROR_ANSWER if restate_error_messages and family in ("error_file", "error_function") else ANSWER_TEMPLATES[family]
    answer = template.format(**fact)
    if fact["expected"] not in answer:
        raise AssertionError("answer %r lacks %r" % (answer, fact["expected"]))
    return question, answer


PATH_ANSWER_FAMILIES = ("function_file", "error_file", "error_function")


def pick_questions(rng, workspace, count, families=None, family_weights=None, one_path_answer_per_file=False,
                   restate_error_messages=False):
    """Up to `count` questions on distinct facts, families drawn evenly (or by family_weights).

    one_path_answer_per_file: in a chat of several questions, an answer that names a file's path
    would give the path away to later questions about the same file; training chats therefore ask
    at most one such question per file (evaluation asks one question per chat anyway)."""
    used_paths = set()
    by_family = {}
    for fact in workspace.facts:
        if families is None or fact["family"] in families:
            by_family.setdefault(fact["family"], []).append(fact)
    for facts in by_family.values():
        rng.shuffle(facts)
    chosen = []
    names = sorted(by_family)
    while len(chosen) < count and any(by_family.values()):
        available = [name for name in names if by_family[name]]
        if family_weights:
            family = rng.choices(available, weights=[family_weights.get(name, 1.0) for name in available])[0]
        else:
            family = rng.choice(available)
        fact = by_family[family].pop()
        if one_path_answer_per_file and fact["family"] in PATH_ANSWER_FAMILIES:
            if fact["path"] in used_paths:
                continue
            used_paths.add(fact["path"])
        chosen.append(fact)
    return [(fact,) + make_question(rng, fact, restate_error_messages) for fact in chosen]


def file_language(path):
    return language_of(path)

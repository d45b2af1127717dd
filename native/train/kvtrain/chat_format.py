"""How the product renders a workspace and a chat, in one place so it is easy to align with the indexer.

The workspace goes into the chat's SYSTEM message, one block per file:
    <file path="src/a.ts" language="typescript">
    ...content...
    </file>
then the user's question, then the assistant's answer, in a ChatML template whose special tokens
<|im_start|> and <|im_end|> are control tokens of the vocabulary (tokenizer.CHAT_TOKENS).
"""

from .workspace_outline import render_outline

# Stored as tokenizer.chat_template in the GGUF; node-llama-cpp renders chats with it.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

# The engine's system preamble (src/engine/distillPrompt.ts, workspaceSystemPreamble), word for word.
DEFAULT_PREAMBLE = ("You are a coding assistant with the user's whole workspace below, file by file; "
                    "each file starts with a header giving its path.\n\n")

LANGUAGE_BY_EXTENSION = {
    ".ts": "typescript", ".tsx": "typescriptreact", ".js": "javascript", ".mjs": "javascript",
    ".py": "python", ".go": "go", ".rs": "rust", ".c": "c", ".h": "c", ".hpp": "cpp", ".cpp": "cpp",
    ".java": "java", ".json": "json", ".yaml": "yaml", ".yml": "yaml", ".toml": "toml",
    ".md": "markdown", ".ini": "ini", ".cfg": "ini", ".env": "dotenv", ".sh": "shellscript",
    ".txt": "plaintext", ".sql": "sql",
}


def language_of(path):
    name = path.rsplit("/", 1)[-1]
    if name.startswith(".env"):
        return "dotenv"
    dot = name.rfind(".")
    return LANGUAGE_BY_EXTENSION.get(name[dot:] if dot >= 0 else "", "plaintext")


class RenderStyle:
    """Small format choices; the product's are the defaults. Training varies them for robustness."""

    def __init__(self, preamble=DEFAULT_PREAMBLE, blank_line_between_files=False, file_list_tail=True, outline_tail=True,
                 outline_detail="names"):
        self.preamble = preamble
        self.blank_line_between_files = blank_line_between_files
        # The engine ends the prompt with the workspace outline (workspace_outline.py), then the list
        # of its files (src/indexer/renderPromptTail.ts).
        self.outline_tail = outline_tail
        # workspace_outline.OUTLINE_DETAILS: "names" (the product's default) or "definitions".
        self.outline_detail = outline_detail
        self.file_list_tail = file_list_tail


PRODUCT_STYLE = RenderStyle()
# The product's prompt before the outline (models trained before it; eval sets are sized without it).
NO_OUTLINE_STYLE = RenderStyle(outline_tail=False)


def render_file_list_tail(paths):
    """The prompt's tail as the indexer writes it: the file paths sorted, one per line."""
    ordered = sorted(paths)
    return '<workspace-files count="%d">\n%s</workspace-files>\n' % (len(ordered), "".join(path + "\n" for path in ordered))


def render_file_block(path, content, language=None):
    """One file's block. Every block ends with a newline, so blocks can be tokenized one by one."""
    body = content if (content == "" or content.endswith("\n")) else content + "\n"
    return '<file path="%s" language="%s">\n%s</file>\n' % (path, language or language_of(path), body)


def file_block_tokens(tokenizer, path, content):
    """How many tokens a file's block takes: what generated workspaces count their size in."""
    return len(tokenizer.encode(render_file_block(path, content)))


def render_workspace_blocks(files, style=PRODUCT_STYLE):
    """The system message as a list of texts that each end with a newline (or are the preamble)."""
    blocks = [style.preamble] if style.preamble else []
    for index, (path, content) in enumerate(files):
        if index > 0 and style.blank_line_between_files:
            blocks.append("\n")
        blocks.append(render_file_block(path, content))
    outline = render_outline(files, style.outline_detail) if style.outline_tail else ""
    if outline:
        blocks.append(outline)
    if style.file_list_tail and files:
        blocks.append(render_file_list_tail([path for path, _content in files]))
    return blocks


def render_workspace(files, style=PRODUCT_STYLE):
    return "".join(render_workspace_blocks(files, style))


def render_chat_text(system, turns, add_generation_prompt_for=None):
    """The whole chat as text, exactly as CHAT_TEMPLATE renders it. turns: [(question, answer)]."""
    parts = ["<|im_start|>system\n%s<|im_end|>\n" % system]
    for question, answer in turns:
        parts.append("<|im_start|>user\n%s<|im_end|>\n" % question)
        parts.append("<|im_start|>assistant\n%s<|im_end|>\n" % answer)
    if add_generation_prompt_for is not None:
        parts.append("<|im_start|>user\n%s<|im_end|>\n<|im_start|>assistant\n" % add_generation_prompt_for)
    return "".join(parts)


# Loss classes of training tokens.
LOSS_NONE = 0     # BOS, template tokens, question
LOSS_CONTEXT = 1  # workspace text
LOSS_ANSWER = 2   # the assistant's answer and its <|im_end|>
LOSS_SELF_REFERENCE = 3  # in training workspaces, the name or path in a self reference line (qa_generator.add_self_references)
LOSS_SECOND_HOP = 4  # an answer token that starts a field found by a second hop (counted as an answer token too)
LOSS_REPEATED_HOP = 5  # the same, where an earlier answer of the chat gives the field: a copy, no hop (an answer token too)

# Enclosing-probe labels of a workspace token (train.py --enclosing-loss-weight): the first token of
# its enclosing function's name, then the first ENCLOSING_PATH_TOKENS tokens of its file's path (each
# as the answers write it, after a space); -1 where there is none.
ENCLOSING_PATH_TOKENS = 3
NO_ENCLOSING = (-1,) * (1 + ENCLOSING_PATH_TOKENS)


def self_reference_pieces(block, self_reference_lines):
    """A workspace block as [(text, loss class)]: the names and paths that self reference lines name
    get LOSS_SELF_REFERENCE (with the space before them), everything else LOSS_CONTEXT. Cuts fall only
    where the pre-tokenizer splits anyway (before a space or a quote, after a letter or digit), so the pieces
    tokenize exactly as the whole block (selftest)."""
    pieces, pending = [], []
    for line in block.split("\n"):
        named = self_reference_lines.get(line)
        if named is None:
            pending.append(line + "\n")
            continue
        end = line.rindex(named) + len(named)
        start = end - len(named) - (1 if line[end - len(named) - 1] == " " else 0)  # " name" is one pre-token
        pending.append(line[:start])
        pieces.append(("".join(pending), LOSS_CONTEXT))
        pieces.append((line[start:end], LOSS_SELF_REFERENCE))
        pending = [line[end:] + "\n"]
    rest = "".join(pending)[:-1]  # split() gave one line more than the block has newlines
    if rest:
        pieces.append((rest, LOSS_CONTEXT))
    return [(text, loss_class) for text, loss_class in pieces if text]


def encode_chat(tokenizer, system_blocks, turns, with_bos=True, turn_ends=None, block_spans=None, enclosing_labels=None):
    """Token ids and per-token loss classes of a chat; equals tokenizer.encode(render_chat_text(...),
    parse_special=True, add_bos=True), because every piece is cut at a newline or a special token.
    turn_ends (a list) receives the length of the chat after each complete question-answer turn.
    block_spans (one entry per system block: None or [(start, end, labels)] in the block's characters)
    and enclosing_labels (a list): the labels of the span each token starts in (offsets of ASCII text), NO_ENCLOSING elsewhere,
    one tuple per token (training's enclosing probe, train.py)."""
    ids, classes = [], []
    labels = enclosing_labels if enclosing_labels is not None else []

    def add_text(text, loss_class, spans=None, offset=0):
        piece = tokenizer.encode(text)
        ids.extend(piece)
        classes.extend([loss_class] * len(piece))
        if enclosing_labels is None:
            return offset
        for token_id in piece:
            labels.append(next((found for start, end, found in spans if start <= offset < end), NO_ENCLOSING)
                          if spans else NO_ENCLOSING)
            offset += len(tokenizer.tokens[token_id])  # its bytes: the characters of ASCII workspace text
        return offset

    def add_answer(answer, hop_offsets, repeated_offsets):
        piece = tokenizer.encode(answer)
        start = 0
        for token_id in piece:
            add_token(token_id, LOSS_SECOND_HOP if start in hop_offsets else LOSS_REPEATED_HOP if start in repeated_offsets else LOSS_ANSWER)
            start += len(tokenizer.decode([token_id]))

    def add_token(token_id, loss_class):
        ids.append(token_id)
        classes.append(loss_class)
        if enclosing_labels is not None:
            labels.append(NO_ENCLOSING)

    if with_bos and tokenizer.add_bos:
        add_token(tokenizer.bos_id, LOSS_NONE)
    add_token(tokenizer.im_start_id, LOSS_NONE)
    add_text("system\n", LOSS_NONE)
    for index, block in enumerate(system_blocks):  # a text, or [(text, loss class)] (self_reference_pieces)
        spans = block_spans[index] if block_spans else None
        if isinstance(block, str):
            add_text(block, LOSS_CONTEXT, spans)
        else:
            offset = 0
            for text, loss_class in block:
                offset = add_text(text, loss_class, spans, offset)
    add_token(tokenizer.im_end_id, LOSS_NONE)
    add_text("\n", LOSS_NONE)
    for turn in turns:  # (question, answer[, second-hop offsets in the answer[, repeated-hop offsets]])
        question, answer = turn[0], turn[1]
        hop_offsets = turn[2] if len(turn) > 2 else ()
        repeated_offsets = turn[3] if len(turn) > 3 else ()
        add_token(tokenizer.im_start_id, LOSS_NONE)
        add_text("user\n" + question, LOSS_NONE)
        add_token(tokenizer.im_end_id, LOSS_NONE)
        add_text("\n", LOSS_NONE)
        add_token(tokenizer.im_start_id, LOSS_NONE)
        add_text("assistant\n", LOSS_NONE)
        if answer is None:
            break
        add_answer(answer, hop_offsets, repeated_offsets)
        add_token(tokenizer.im_end_id, LOSS_ANSWER)
        add_text("\n", LOSS_NONE)
        if turn_ends is not None:
            turn_ends.append(len(ids))
    return ids, classes

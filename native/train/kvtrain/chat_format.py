"""How the product renders a workspace and a chat, in one place so it is easy to align with the indexer.

The workspace goes into the chat's SYSTEM message, one block per file:
    <file path="src/a.ts" language="typescript">
    ...content...
    </file>
then the user's question, then the assistant's answer, in a ChatML template whose special tokens
<|im_start|> and <|im_end|> are control tokens of the vocabulary (tokenizer.CHAT_TOKENS).
"""

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

    def __init__(self, preamble=DEFAULT_PREAMBLE, blank_line_between_files=False, file_list_tail=True):
        self.preamble = preamble
        self.blank_line_between_files = blank_line_between_files
        # The engine ends the prompt with the list of its files (src/indexer/renderPromptTail.ts).
        self.file_list_tail = file_list_tail


PRODUCT_STYLE = RenderStyle()


def render_file_list_tail(paths):
    """The prompt's tail as the indexer writes it: the file paths sorted, one per line."""
    ordered = sorted(paths)
    return '<workspace-files count="%d">\n%s</workspace-files>\n' % (len(ordered), "".join(path + "\n" for path in ordered))


def render_file_block(path, content, language=None):
    """One file's block. Every block ends with a newline, so blocks can be tokenized one by one."""
    body = content if (content == "" or content.endswith("\n")) else content + "\n"
    return '<file path="%s" language="%s">\n%s</file>\n' % (path, language or language_of(path), body)


def render_workspace_blocks(files, style=PRODUCT_STYLE):
    """The system message as a list of texts that each end with a newline (or are the preamble)."""
    blocks = [style.preamble] if style.preamble else []
    for index, (path, content) in enumerate(files):
        if index > 0 and style.blank_line_between_files:
            blocks.append("\n")
        blocks.append(render_file_block(path, content))
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


def encode_chat(tokenizer, system_blocks, turns, with_bos=True, turn_ends=None):
    """Token ids and per-token loss classes of a chat; equals tokenizer.encode(render_chat_text(...),
    parse_special=True, add_bos=True), because every piece is cut at a newline or a special token.
    turn_ends (a list) receives the length of the chat after each complete question-answer turn."""
    ids, classes = [], []

    def add_text(text, loss_class):
        piece = tokenizer.encode(text)
        ids.extend(piece)
        classes.extend([loss_class] * len(piece))

    def add_token(token_id, loss_class):
        ids.append(token_id)
        classes.append(loss_class)

    if with_bos and tokenizer.add_bos:
        add_token(tokenizer.bos_id, LOSS_NONE)
    add_token(tokenizer.im_start_id, LOSS_NONE)
    add_text("system\n", LOSS_NONE)
    for block in system_blocks:
        add_text(block, LOSS_CONTEXT)
    add_token(tokenizer.im_end_id, LOSS_NONE)
    add_text("\n", LOSS_NONE)
    for question, answer in turns:
        add_token(tokenizer.im_start_id, LOSS_NONE)
        add_text("user\n" + question, LOSS_NONE)
        add_token(tokenizer.im_end_id, LOSS_NONE)
        add_text("\n", LOSS_NONE)
        add_token(tokenizer.im_start_id, LOSS_NONE)
        add_text("assistant\n", LOSS_NONE)
        if answer is None:
            break
        add_text(answer, LOSS_ANSWER)
        add_token(tokenizer.im_end_id, LOSS_ANSWER)
        add_text("\n", LOSS_NONE)
        if turn_ends is not None:
            turn_ends.append(len(ids))
    return ids, classes

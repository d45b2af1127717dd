"""Code text found on the machine (Python packages, C headers), for language-model training and as
realistic filler files in training workspaces. Only ASCII files are used: the Python tokenizer is
verified exact against llama.cpp on ASCII, and no file may contain a special token's text."""
import os

DEFAULT_CODE_ROOTS = ["/opt/torch/.venv/lib/python3.12/site-packages", "/usr/include"]
CODE_EXTENSIONS = (".py", ".h", ".hpp", ".c", ".cc", ".cpp", ".cuh")
MAX_FILE_BYTES = 400_000


def list_code_files(roots, limit=None):
    found = []
    for root in roots:
        if not os.path.isdir(root):
            continue
        for folder, subfolders, names in os.walk(root):
            subfolders.sort()
            for name in sorted(names):
                if name.endswith(CODE_EXTENSIONS):
                    path = os.path.join(folder, name)
                    try:
                        size = os.path.getsize(path)
                    except OSError:
                        continue
                    if 200 <= size <= MAX_FILE_BYTES:
                        found.append((path, root))
                        if limit is not None and len(found) >= limit:
                            return found
    return found


def read_code_file(path, tokenizer):
    """The file's text, or None when it is not ASCII or holds a special token's text."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    if not data.isascii() or b"\0" in data:
        return None
    text = data.decode("ascii").replace("\r\n", "\n")
    if tokenizer.contains_special_text(text):
        return None
    return text


class CodeCorpus:
    def __init__(self, roots, tokenizer, limit=None):
        self.tokenizer = tokenizer
        self.files = list_code_files(roots, limit)

    def __len__(self):
        return len(self.files)

    def random_text(self, rng):
        for _ in range(50):
            path, root = self.files[rng.randrange(len(self.files))]
            text = read_code_file(path, self.tokenizer)
            if text:
                return os.path.relpath(path, root), text
        return None

    def workspace_file(self, rng, max_tokens):
        """A real file as a workspace member, cut at a line end to about max_tokens tokens."""
        found = self.random_text(rng)
        if found is None:
            return "notes/empty.txt", "\n"
        relative, text = found
        limit = max_tokens * 3
        if len(text) > limit:
            cut = text.rfind("\n", 0, limit)
            text = text[:cut + 1] if cut > 0 else text[:limit] + "\n"
        return relative, text

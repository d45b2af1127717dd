"""Finds the llama.cpp source tree that node-llama-cpp bundles (for gguf-py and the vocab GGUF).

The tree is either named by KVTRAIN_LLAMA_SRC (the GPU machine gets a carried copy) or cloned
once from node-llama-cpp's git bundle into a cache folder (CI and developer machines).
"""
import os
import subprocess
import sys
import tempfile

VOCAB_FILE_NAME = "ggml-vocab-deepseek-coder.gguf"
REPOSITORY_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
BUNDLE_PATH = os.path.join(REPOSITORY_ROOT, "node_modules", "node-llama-cpp", "llama", "gitRelease.bundle")


class LlamaSourceError(RuntimeError):
    pass


def find_llama_source():
    """Returns the path of a llama.cpp tree holding gguf-py/ and models/<vocab>."""
    named = os.environ.get("KVTRAIN_LLAMA_SRC")
    if named:
        if not os.path.isdir(os.path.join(named, "gguf-py", "gguf")):
            raise LlamaSourceError("KVTRAIN_LLAMA_SRC=%s holds no gguf-py/gguf" % named)
        return named
    if not os.path.isfile(BUNDLE_PATH):
        raise LlamaSourceError(
            "node-llama-cpp's llama.cpp bundle is missing (%s): run `npm ci` first, or set KVTRAIN_LLAMA_SRC" % BUNDLE_PATH)
    stat = os.stat(BUNDLE_PATH)
    cache_root = os.environ.get("KVTRAIN_CACHE") or os.path.join(tempfile.gettempdir(), "kvtrain-cache")
    target = os.path.join(cache_root, "llama-src-%d-%d" % (stat.st_size, int(stat.st_mtime)))
    if os.path.isdir(os.path.join(target, "gguf-py", "gguf")):
        return target
    os.makedirs(cache_root, exist_ok=True)
    partial = tempfile.mkdtemp(prefix="llama-src-", dir=cache_root)
    # A clone into a fresh folder, renamed at the end, so that a concurrent or broken clone is never used.
    subprocess.run(["git", "clone", "-q", BUNDLE_PATH, partial], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        os.rename(partial, target)
    except OSError:
        if not os.path.isdir(os.path.join(target, "gguf-py", "gguf")):
            raise
    return target


def vocab_gguf_path():
    return os.path.join(find_llama_source(), "models", VOCAB_FILE_NAME)


def import_gguf():
    """Imports gguf-py from the llama.cpp tree (it is pure Python on numpy)."""
    gguf_py = os.path.join(find_llama_source(), "gguf-py")
    if gguf_py not in sys.path:
        sys.path.insert(0, gguf_py)
    import gguf  # noqa: E402
    return gguf

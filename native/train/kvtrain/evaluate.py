"""Greedy answering in PyTorch over the held-out evaluation sets (eval_sets.py).

An answer counts when it contains the expected string whole, not as a piece of a longer number, name
or path (answer_matches: the engine benchmark's criterion, bench/answerMatches.ts).
"""
import re

import torch

from .chat_format import PRODUCT_STYLE, render_workspace_blocks
from .eval_sets import EVAL_SIZES, generate_eval_set, write_eval_fixtures  # noqa: F401 (re-exported)

# Characters that continue a number, a name or a path (bench/answerMatches.ts has the same rule).
_CONTINUING = re.compile(r"[A-Za-z0-9_/]")


def _continues(answer, index, step):
    """Whether the text next to the expected string (before it: step -1, after: +1) continues it."""
    near, beyond = index, index + step
    if not 0 <= near < len(answer):
        return False
    if _CONTINUING.match(answer[near]):
        return True
    # "0.5" continues a number before "5"; a sentence's full stop next to the answer does not.
    return answer[near] == "." and 0 <= beyond < len(answer) and bool(_CONTINUING.match(answer[beyond]))


def answer_matches(answer, expected):
    """The expected string appears whole in the answer ("37" is not in "3766")."""
    if not expected:
        return False
    start = answer.find(expected)
    while start != -1:
        if not _continues(answer, start - 1, -1) and not _continues(answer, start + len(expected), 1):
            return True
        start = answer.find(expected, start + 1)
    return False


def encode_prefix(tokenizer, files, style=PRODUCT_STYLE):
    ids = [tokenizer.bos_id] if tokenizer.add_bos else []
    ids.append(tokenizer.im_start_id)
    ids += tokenizer.encode("system\n")
    for block in render_workspace_blocks(files, style):
        ids += tokenizer.encode(block)
    ids.append(tokenizer.im_end_id)
    ids += tokenizer.encode("\n")
    return ids


def _encode_question(tokenizer, question):
    return ([tokenizer.im_start_id] + tokenizer.encode("user\n" + question) + [tokenizer.im_end_id]
            + tokenizer.encode("\n") + [tokenizer.im_start_id] + tokenizer.encode("assistant\n"))


@torch.no_grad()
def greedy_answer(model, tokenizer, prefix_cache, question, device, max_new_tokens=40):
    tokens = torch.tensor([_encode_question(tokenizer, question)], device=device)
    logits, cache = model.forward_cached(tokens, prefix_cache)
    generated = []
    for _ in range(max_new_tokens):
        token = int(torch.argmax(logits[0]))
        if token == tokenizer.im_end_id:
            break
        generated.append(token)
        logits, cache = model.forward_cached(torch.tensor([[token]], device=device), cache)
    return tokenizer.decode(generated)


@torch.no_grad()
def prefill(model, ids, device, chunk=None):
    """The KV cache of ids; in chunks where memory is short (the plain attention path holds a
    chunk x total score matrix per head)."""
    cache = None
    step = chunk or len(ids)
    for start in range(0, len(ids), step):
        _logits, cache = model.forward_cached(torch.tensor([ids[start:start + step]], device=device), cache)
    return cache


@torch.no_grad()
def evaluate_set(model, tokenizer, workspaces, device, log=None, prefill_chunk=None, keep_answers=False, style=PRODUCT_STYLE):
    model.eval()
    results = {"total": 0, "correct": 0, "families": {}, "examples": []}
    if keep_answers:
        results["answers"] = []
        results["promptTokens"] = []  # per workspace: its prompt before the first question
    for workspace in workspaces:
        prefix_ids = encode_prefix(tokenizer, workspace["files"], style)
        if keep_answers:
            results["promptTokens"].append(len(prefix_ids))
        prefix_cache = prefill(model, prefix_ids, device, prefill_chunk)
        for question in workspace["questions"]:
            answer = greedy_answer(model, tokenizer, prefix_cache, question["question"], device)
            correct = answer_matches(answer, question["expected"])
            family = results["families"].setdefault(question["family"], {"total": 0, "correct": 0})
            family["total"] += 1
            family["correct"] += int(correct)
            results["total"] += 1
            results["correct"] += int(correct)
            if keep_answers:
                results["answers"].append({"question": question["question"], "expected": question["expected"],
                                           "family": question["family"], "answer": answer, "correct": correct})
            if len(results["examples"]) < 12:
                results["examples"].append({"question": question["question"], "expected": question["expected"],
                                            "answer": answer, "correct": correct})
    results["accuracy"] = results["correct"] / max(1, results["total"])
    if log:
        log("eval: %d/%d = %.3f %s" % (results["correct"], results["total"], results["accuracy"],
                                       {name: "%d/%d" % (f["correct"], f["total"]) for name, f in sorted(results["families"].items())}))
    return results

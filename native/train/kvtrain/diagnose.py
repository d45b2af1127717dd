"""Where a model's answers go wrong, teacher-forced, on a held-out evaluation set.

    python3 -m kvtrain.diagnose --gguf models/small.gguf --size 2k --workspaces 3 [--json OUT]
    python3 -m kvtrain.diagnose --gguf models/small.gguf --size 8k --workspaces 4 --greedy --split train [--no-outline]

For each question the training-style answer ("queryCedar is defined in src/a/b.ts.") follows the
question token by token, and each answer token counts as right when it is the model's top prediction
there. Tokens are grouped by part of the answer: before the expected string ("pre"), the expected
string's first token ("first") and the rest of it ("rest"). For every answer with a wrong token, the
first wrong one is listed with the model's top predictions. A model that copies well but cannot find
the fact shows right "rest" tokens and a wrong first content token whose predictions do not depend on
the question (models/small.md, "Where the two-hop answers fail").
"""
import argparse
import json
import random
import sys

import torch

from .chat_format import LOSS_ANSWER, LOSS_REPEATED_HOP, LOSS_SECOND_HOP, RenderStyle, file_block_tokens
from .data_stream import DATA_LAYOUTS, TARGET_LOOKUP, TARGET_SECOND_HOP, SequenceStream, StreamSettings, build_chat
from .qa_generator import SECOND_HOP_FIELDS, generate_workspace
from .evaluate import _encode_question, encode_prefix, evaluate_set, generate_eval_set, prefill
from .gguf_io import load_gguf
from .workspace_outline import OUTLINE_DETAILS
from .tokenizer import shared_tokenizer

PARTS = ("pre", "first", "rest")
# Accuracy by place in the expected string: its tokens 1 to 4, then the 5th and later together.
TOKEN_PLACES = 5


def answer_parts(tokenizer, answer, expected):
    """(token ids of the answer, part name per token): tokens before the expected string's first token are "pre"."""
    start = answer.index(expected)
    before = tokenizer.encode(answer[:start]) if start else []
    ids = tokenizer.encode(answer)
    if ids[:len(before)] != before:
        # The tokenizer merged across the boundary: the first token that differs starts the expected string.
        shared = 0
        while shared < min(len(ids), len(before)) and ids[shared] == before[shared]:
            shared += 1
        before = before[:shared]
    parts = ["pre" if index < len(before) else ("first" if index == len(before) else "rest") for index in range(len(ids))]
    return ids, parts


@torch.no_grad()
def diagnose_set(model, tokenizer, workspaces, device="cpu", top_count=4):
    model.eval()
    parts, by_token = {}, {}
    first_wrong = []
    for workspace in workspaces:
        prefix_cache = prefill(model, encode_prefix(tokenizer, workspace["files"]), device)
        for question in workspace["questions"]:
            question_ids = _encode_question(tokenizer, question["question"])
            answer_ids, answer_part_names = answer_parts(tokenizer, question["answer"], question["expected"])
            tokens = torch.tensor([question_ids + answer_ids], device=device)
            logits, _cache = model.forward_cached(tokens, prefix_cache, all_positions=True)
            # The prediction for answer token j is made at the position before it.
            predictions = logits[0, len(question_ids) - 1:len(question_ids) - 1 + len(answer_ids)].float()
            right = (predictions.argmax(-1) == torch.tensor(answer_ids, device=device)).tolist()
            counts = parts.setdefault(question["family"], {part: [0, 0] for part in PARTS})
            for part, is_right in zip(answer_part_names, right):
                counts[part][0] += int(is_right)
                counts[part][1] += 1
            # The expected string token by token: where in a path or name the misses are.
            expected_end = question["answer"].index(question["expected"]) + len(question["expected"])
            starts = [len(tokenizer.decode(answer_ids[:index])) for index in range(len(answer_ids))]
            inside = [is_right for index, (part, is_right) in enumerate(zip(answer_part_names, right))
                      if part != "pre" and starts[index] < expected_end]
            places = by_token.setdefault(question["family"], {"tokens": [[0, 0] for _ in range(TOKEN_PLACES)], "whole": [0, 0]})
            for place, is_right in enumerate(inside):
                places["tokens"][min(place, TOKEN_PLACES - 1)][0] += int(is_right)
                places["tokens"][min(place, TOKEN_PLACES - 1)][1] += 1
            places["whole"][0] += int(all(inside))
            places["whole"][1] += 1
            wrong_at = next((index for index, is_right in enumerate(right) if not is_right), None)
            if wrong_at is not None:
                probabilities = torch.softmax(predictions[wrong_at], -1)
                top = torch.topk(probabilities, top_count)
                first_wrong.append({
                    "family": question["family"], "question": question["question"], "answer": question["answer"],
                    "position": wrong_at, "part": answer_part_names[wrong_at],
                    "want": tokenizer.decode([answer_ids[wrong_at]]),
                    "wantProbability": float(probabilities[answer_ids[wrong_at]]),
                    "top": [[tokenizer.decode([int(token)]), float(probability)] for probability, token in zip(top.values, top.indices)]})
    return {"parts": parts, "byToken": by_token, "firstWrong": first_wrong}


@torch.no_grad()
def training_chat_accuracy(model, tokenizer, chats, chat_tokens, layout, restate_error_messages, device="cpu"):
    """Teacher-forced accuracy on generated TRAINING-split chats (many questions per workspace), per
    answer-token class: the second-hop tokens, the same fields repeated from an earlier answer of the
    chat (a copy), and the other answer tokens; what training's hop2_acc and repeated_acc measure."""
    model.eval()
    counts = {name: [0, 0] for name in ("second_hop", "repeated_hop", "other_answer")}
    names = {LOSS_SECOND_HOP: "second_hop", LOSS_REPEATED_HOP: "repeated_hop", LOSS_ANSWER: "other_answer"}
    rng = random.Random("diagnose/training-chats")
    for _ in range(chats):
        ids, classes = build_chat(rng, tokenizer, "train", chat_tokens, None, 0.0, layout=DATA_LAYOUTS[layout],
                                  restate_error_messages=restate_error_messages)
        logits, _cache = model.forward_cached(torch.tensor([ids], device=device), None, all_positions=True)
        predicted = logits[0, :-1].argmax(-1).tolist()
        for position, loss_class in enumerate(classes[1:]):
            name = names.get(loss_class)
            if name:
                counts[name][0] += int(predicted[position] == ids[position + 1])
                counts[name][1] += 1
    return counts


def second_hop_prior(tokenizer, facts):
    """(right, total): how many second-hop fields of one workspace's facts (qa_generator.SECOND_HOP_FIELDS)
    a guess without any hop gets right: the first token most common among that field's values in the
    workspace (the top folder most files are in, the verb most functions start with). The line a
    model's second-hop accuracy must rise above."""
    # The candidates: every function of the workspace once, by its file's path and by its name.
    # A tie goes to the lowest token id, so that the figure is the same on every run.
    functions = [fact for fact in facts if fact["family"] == "function_file"]
    pools = {"path": [tokenizer.encode(" " + fact["path"])[0] for fact in functions],
             "function": [tokenizer.encode(" " + fact["name"])[0] for fact in functions]}
    guesses = {field: max(sorted(set(pool)), key=pool.count) for field, pool in pools.items() if pool}
    right = total = 0
    for fact in facts:
        for field in SECOND_HOP_FIELDS.get(fact["family"], ()):
            total += 1
            right += int(guesses.get(field) == tokenizer.encode(" " + fact[field])[0])
    return right, total


def chats_with_answer_sources(tokenizer, chats, chat_tokens, layout, restate_error_messages):
    """Yields (token ids, targets) of generated TRAINING-split chats, the same chats on every call:
    targets are the hop and lookup attention targets (answer, first, end source token, kind, place)
    of each field's first token (data_stream.build_chat); chats without any are skipped."""
    rng = random.Random("diagnose/attention")
    for _ in range(chats):
        targets = []
        ids, _classes = build_chat(rng, tokenizer, "train", chat_tokens, None, 0.0, layout=DATA_LAYOUTS[layout],
                                   restate_error_messages=restate_error_messages, hop_targets=targets)
        firsts = [target for target in targets if target[4] == 0]
        if firsts:
            yield ids, firsts


@torch.no_grad()
def attention_on_sources(model, tokenizer, chats, chat_tokens, layout, restate_error_messages, device="cpu"):
    """On generated TRAINING-split chats: for the first token of each second-hop field and of each
    one-hop value (the hop-attention and lookup-attention targets, data_stream.build_chat), the mean
    attention mass every head of every block puts, from the place that predicts it, on what it is
    found from; and how often the model predicts that token. Shows which head does a lookup or a hop."""
    model.eval()
    layers = model.config.n_layer
    result = {name: {"targets": 0, "right": 0, "mass": torch.zeros(layers, model.config.n_head)} for name in ("second_hop", "lookup")}
    for ids, firsts in chats_with_answer_sources(tokenizer, chats, chat_tokens, layout, restate_error_messages):
        tokens = torch.tensor([ids], device=device)
        final, residuals = model.hidden_and_layers(tokens, set(range(layers)))
        predicted = model.logits_at(final)[0].argmax(-1)
        queries = torch.tensor([answer - 1 for answer, *_rest in firsts], device=device)
        positions = torch.arange(len(ids), device=device)[None, :]
        inside = (positions >= torch.tensor([[first] for _a, first, *_r in firsts], device=device)) & (
            positions < torch.tensor([[end] for _a, _f, end, *_r in firsts], device=device))
        kinds = torch.tensor([kind for *_s, kind, _place in firsts], device=device)
        right = predicted.index_select(0, queries) == tokens[0].index_select(0, queries + 1)
        for kind, name in ((TARGET_SECOND_HOP, "second_hop"), (TARGET_LOOKUP, "lookup")):
            chosen = kinds == kind
            entry = result[name]
            entry["targets"] += int(chosen.sum())
            entry["right"] += int(right[chosen].sum())
            for layer in range(layers):
                for head in range(model.config.n_head):
                    weights = model.attention_log_weights(residuals[layer][0], layer, head, queries).exp()
                    entry["mass"][layer, head] += float((weights * inside)[chosen].sum())
    for entry in result.values():
        entry["mass"] = (entry["mass"] / max(1, entry["targets"])).tolist()
    return result


@torch.no_grad()
def head_writes(model, tokenizer, chats, chat_tokens, layout, restate_error_messages, layer, head, device="cpu"):
    """On generated TRAINING-split chats, at the places that predict the first token of each
    second-hop field and of each one-hop value: what head `head` of block `layer` alone writes there,
    read through the model's final norm and output (as training's hop-value loss reads it). Per kind:
    how often its top token is the answer, how often it is one of the chat's second-hop first tokens
    (a path's top folder, a function name's first word: what a head trained on the hops would push
    everywhere), and its output's size as a share of the final residual's. Tests the account that a
    head supervised on the hops writes hop tokens at the lookups too (models/small.md)."""
    model.eval()
    result = {name: {"targets": 0, "top_is_answer": 0, "top_is_hop_token": 0, "norm_share": 0.0} for name in ("second_hop", "lookup")}
    for ids, firsts in chats_with_answer_sources(tokenizer, chats, chat_tokens, layout, restate_error_messages):
        hop_tokens = {ids[answer] for answer, _first, _end, kind, _place in firsts if kind == TARGET_SECOND_HOP}
        tokens = torch.tensor([ids], device=device)
        final, residuals = model.hidden_and_layers(tokens, {layer})
        queries = torch.tensor([answer - 1 for answer, *_rest in firsts], device=device)
        log_weights = model.attention_log_weights(residuals[layer][0], layer, head, queries)
        output = model.attention_head_output(residuals[layer][0], layer, head, log_weights)
        top = model.frozen_output_logits(output).argmax(-1).tolist()
        shares = (output.float().norm(dim=-1) / final[0].index_select(0, queries).float().norm(dim=-1)).tolist()
        for (answer, _first, _end, kind, _place), written, share in zip(firsts, top, shares):
            entry = result["second_hop" if kind == TARGET_SECOND_HOP else "lookup"]
            entry["targets"] += 1
            entry["top_is_answer"] += int(written == ids[answer])
            entry["top_is_hop_token"] += int(written in hop_tokens)
            entry["norm_share"] += share
    for entry in result.values():
        entry["norm_share"] /= max(1, entry["targets"])
    return result


def gate_signal(model, tokenizer, sequences, seq_len, layout, restate_error_messages, device):
    """(right, total): the hop-loss gate's signal (train.lookup_first_accuracy, the model's own first
    token of each looked-up value) over `sequences` training sequences of seq_len tokens, drawn as
    training draws them (workspace chats only, no plain code), one at a time."""
    import numpy as np
    from .train import lookup_first_counts
    settings = StreamSettings(seq_len=seq_len + 1, seed=7, layout=DATA_LAYOUTS[layout], code_share=0.0,
                              restate_error_messages=restate_error_messages, hop_targets=True, lookup_targets=True)
    stream = SequenceStream(tokenizer, None, settings, 0)
    right = total = 0
    for _ in range(sequences):
        ids, _classes, _labels, hops = stream.next_batch(1)
        tokens = torch.from_numpy(ids.astype(np.int64)).to(device)
        with torch.no_grad():
            found, count = lookup_first_counts(model, model.hidden(tokens[:, :-1]), tokens,
                                               torch.from_numpy(hops.astype(np.int64)).to(device))
        right, total = right + found, total + count
    stream.close()
    return right, total


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gguf", required=True)
    parser.add_argument("--size", default="2k")
    parser.add_argument("--workspaces", type=int, default=3)
    parser.add_argument("--json", help="also write the result here")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--restate-error-messages", action="store_true",
                        help="feed the error answers as models trained with --restate-error-messages write them")
    parser.add_argument("--training-chats", type=int, default=0,
                        help="instead: accuracy per answer-token class on this many generated training chats")
    parser.add_argument("--chat-tokens", type=int, default=6000, help="workspace size of those chats")
    parser.add_argument("--layout", default="first", choices=sorted(DATA_LAYOUTS), help="their data layout")
    parser.add_argument("--attention", action="store_true",
                        help="with --training-chats: instead, the attention every head puts on what each hop or lookup "
                             "answer is found from (attention_on_sources)")
    parser.add_argument("--head-writes", metavar="BLOCK:HEAD",
                        help="with --training-chats: instead, what that head alone writes where hop and lookup answers "
                             "are predicted (head_writes)")
    parser.add_argument("--gate-signal", type=int, default=0, metavar="SEQUENCES",
                        help="instead: what --hop-losses-after-lookups would read (train.lookup_first_accuracy) on this "
                             "many training sequences of --chat-tokens tokens")
    parser.add_argument("--split", default="eval", choices=("eval", "train"),
                        help="the evaluation-style set's names and values: held out (eval) or the training split's (train), "
                             "to tell what is not learnt from what does not carry over to unseen names")
    parser.add_argument("--greedy", action="store_true",
                        help="instead: greedy answers graded as the evaluation grades them, per family, with the wrong ones")
    parser.add_argument("--outline-detail", default="names", choices=OUTLINE_DETAILS,
                        help="with --greedy: the outline's detail in the prompt")
    parser.add_argument("--no-outline", action="store_true",
                        help="with --greedy: the prompt without the outline, as models trained before it read it")
    arguments = parser.parse_args(sys.argv[1:] if argv is None else argv)
    tokenizer = shared_tokenizer()
    model = load_gguf(arguments.gguf).to(arguments.device)
    if arguments.gate_signal:
        right, total = gate_signal(model, tokenizer, arguments.gate_signal, arguments.chat_tokens, arguments.layout,
                                   arguments.restate_error_messages, arguments.device)
        print("gate signal: lookups' first token right %d/%d (%.2f)" % (right, total, right / max(1, total)))
        if arguments.json:
            with open(arguments.json, "w") as handle:
                json.dump({"gguf": arguments.gguf, "gate_signal": [right, total]}, handle, indent=1)
        return right, total
    if arguments.training_chats and arguments.head_writes:
        layer, head = (int(part) for part in arguments.head_writes.split(":"))
        result = head_writes(model, tokenizer, arguments.training_chats, arguments.chat_tokens, arguments.layout,
                             arguments.restate_error_messages, layer, head, arguments.device)
        for name, entry in result.items():
            print("%s: %d targets; block %d head %d alone: top token the answer %d, a hop token %d; output %.2f of the "
                  "final residual's size" % (name, entry["targets"], layer, head, entry["top_is_answer"],
                                             entry["top_is_hop_token"], entry["norm_share"]))
        if arguments.json:
            with open(arguments.json, "w") as handle:
                json.dump({"gguf": arguments.gguf, "head_writes": result}, handle, indent=1)
        return result
    if arguments.training_chats and arguments.attention:
        result = attention_on_sources(model, tokenizer, arguments.training_chats, arguments.chat_tokens, arguments.layout,
                                      arguments.restate_error_messages, arguments.device)
        for name, entry in result.items():
            print("%s: %d targets, first token right %d; attention mass on the source, a row per block, a column per head:"
                  % (name, entry["targets"], entry["right"]))
            for layer, row in enumerate(entry["mass"]):
                print("  block %d  " % layer + " ".join("%.2f" % mass for mass in row))
        if arguments.json:
            with open(arguments.json, "w") as handle:
                json.dump({"gguf": arguments.gguf, "attention": result}, handle, indent=1)
        return result
    if arguments.training_chats:
        counts = training_chat_accuracy(model, tokenizer, arguments.training_chats, arguments.chat_tokens, arguments.layout,
                                        arguments.restate_error_messages, arguments.device)
        for name, (right, total) in counts.items():
            print("%-13s %d/%d" % (name, right, total))
        rng, prior = random.Random("diagnose/prior"), [0, 0]
        for _ in range(arguments.training_chats):
            workspace = generate_workspace(rng, "train", arguments.chat_tokens,
                                           lambda path, content: file_block_tokens(tokenizer, path, content))
            prior = [sum(pair) for pair in zip(prior, second_hop_prior(tokenizer, workspace.facts))]
        counts["second_hop_prior"] = prior
        print("%-13s %d/%d (no hop: each field's most common first token in the workspace, %d workspaces of this size)"
              % ("no-hop guess", prior[0], prior[1], arguments.training_chats))
        if arguments.json:
            with open(arguments.json, "w") as handle:
                json.dump({"gguf": arguments.gguf, "training_chats": counts}, handle, indent=1)
        return counts
    workspaces = generate_eval_set(tokenizer, arguments.size, arguments.workspaces, arguments.restate_error_messages, arguments.split)
    if arguments.greedy:
        result = evaluate_set(model, tokenizer, workspaces, arguments.device, keep_answers=True,
                              style=RenderStyle(outline_detail=arguments.outline_detail, outline_tail=not arguments.no_outline),
                              log=lambda line: print("%s split, %s %s" % (arguments.split, arguments.size, line)))
        for answer in result["answers"]:
            if not answer["correct"]:
                print("  wrong %-15s want %r, answered %r" % (answer["family"], answer["expected"], answer["answer"][:100]))
        if arguments.json:
            with open(arguments.json, "w") as handle:
                json.dump(dict(result, gguf=arguments.gguf, size=arguments.size, split=arguments.split,
                               outline=not arguments.no_outline), handle, indent=1)
        return result
    result = diagnose_set(model, tokenizer, workspaces, arguments.device)
    result.update({"gguf": arguments.gguf, "size": arguments.size, "workspaces": arguments.workspaces})
    for family, counts in sorted(result["parts"].items()):
        print("%-16s " % family + "  ".join("%s %d/%d" % (part, counts[part][0], counts[part][1]) for part in PARTS))
    for family, places in sorted(result["byToken"].items()):
        print("%-16s expected string by token: " % family + "  ".join(
            "%s %d/%d" % (index + 1 if index < TOKEN_PLACES - 1 else "%d+" % TOKEN_PLACES, right, total)
            for index, (right, total) in enumerate(places["tokens"]) if total) + "  whole %d/%d" % tuple(places["whole"]))
    for entry in result["firstWrong"]:
        print("%-15s %-5s want %-12r %.2f  top %s  | %s" % (
            entry["family"], entry["part"], entry["want"], entry["wantProbability"],
            ", ".join("%r %.2f" % (token, probability) for token, probability in entry["top"]), entry["question"][:60]))
    if arguments.json:
        with open(arguments.json, "w") as handle:
            json.dump(result, handle, indent=1)


if __name__ == "__main__":
    main()

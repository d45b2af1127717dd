"""Where a model's answers go wrong, teacher-forced, on a held-out evaluation set.

    python3 -m kvtrain.diagnose --gguf models/small.gguf --size 2k --workspaces 3 [--json OUT]

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

from .chat_format import LOSS_ANSWER, LOSS_REPEATED_HOP, LOSS_SECOND_HOP
from .data_stream import DATA_LAYOUTS, build_chat
from .evaluate import _encode_question, encode_prefix, generate_eval_set, prefill
from .gguf_io import load_gguf
from .tokenizer import shared_tokenizer

PARTS = ("pre", "first", "rest")


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
    parts = {}
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
    return {"parts": parts, "firstWrong": first_wrong}


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
    arguments = parser.parse_args(sys.argv[1:] if argv is None else argv)
    tokenizer = shared_tokenizer()
    model = load_gguf(arguments.gguf).to(arguments.device)
    if arguments.training_chats:
        counts = training_chat_accuracy(model, tokenizer, arguments.training_chats, arguments.chat_tokens, arguments.layout,
                                        arguments.restate_error_messages, arguments.device)
        for name, (right, total) in counts.items():
            print("%-13s %d/%d" % (name, right, total))
        if arguments.json:
            with open(arguments.json, "w") as handle:
                json.dump({"gguf": arguments.gguf, "training_chats": counts}, handle, indent=1)
        return counts
    workspaces = generate_eval_set(tokenizer, arguments.size, arguments.workspaces, arguments.restate_error_messages)
    result = diagnose_set(model, tokenizer, workspaces, arguments.device)
    result.update({"gguf": arguments.gguf, "size": arguments.size, "workspaces": arguments.workspaces})
    for family, counts in sorted(result["parts"].items()):
        print("%-16s " % family + "  ".join("%s %d/%d" % (part, counts[part][0], counts[part][1]) for part in PARTS))
    for entry in result["firstWrong"]:
        print("%-15s %-5s want %-12r %.2f  top %s  | %s" % (
            entry["family"], entry["part"], entry["want"], entry["wantProbability"],
            ", ".join("%r %.2f" % (token, probability) for token, probability in entry["top"]), entry["question"][:60]))
    if arguments.json:
        with open(arguments.json, "w") as handle:
            json.dump(result, handle, indent=1)


if __name__ == "__main__":
    main()

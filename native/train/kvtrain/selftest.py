"""Checks of the workspace-QA generator and the chat encoding that need no llama.cpp.

    python3 -m kvtrain.selftest      (exit status 0 when every check passes; prints one line per check)
"""
import random
import re
import sys

from .chat_format import LOSS_ANSWER, encode_chat, render_chat_text, render_file_block, render_workspace_blocks
from .data_stream import DATA_LAYOUTS, build_chat
from .eval_sets import generate_eval_set
from .qa_generator import (FAMILIES, PATH_ANSWER_FAMILIES, body_start_line, definition_line, generate_workspace,
                           pick_questions)
from .tokenizer import shared_tokenizer


def _facts_text(workspace):
    names = set()
    for fact in workspace.facts:
        for key in ("name", "key", "message", "function", "path", "expected"):
            if key in fact:
                names.add(fact[key])
    return names


def run_checks():
    tokenizer = shared_tokenizer()
    failures = []

    def check(condition, message):
        print(("ok   " if condition else "FAIL ") + message)
        if not condition:
            failures.append(message)

    def count(path, content):
        return len(tokenizer.encode(render_file_block(path, content)))

    train_names, eval_names = set(), set()
    for index in range(6):
        train_names |= _facts_text(generate_workspace(random.Random("selftest/train/%d" % index), "train", 3000, count))
        eval_names |= _facts_text(generate_workspace(random.Random("selftest/eval/%d" % index), "eval", 3000, count))
    shared = train_names & eval_names
    check(not shared, "train and eval splits share no identifier, message, path or value (%d shared: %s)" % (
        len(shared), sorted(shared)[:5]))

    first = generate_eval_set(tokenizer, "2k", 2)
    second = generate_eval_set(tokenizer, "2k", 2)
    check(first == second, "evaluation sets are the same for the same seed")

    all_found = True
    families = set()
    for workspace in generate_eval_set(tokenizer, "8k", 2):
        text = "".join(content for _path, content in workspace["files"])
        paths = {path for path, _content in workspace["files"]}
        for question in workspace["questions"]:
            families.add(question["family"])
            expected = question["expected"]
            if expected not in text and expected not in paths:
                all_found = False
    check(all_found, "every expected answer is an exact string of its workspace (content or path)")
    check(families <= set(FAMILIES) and len(families) >= 4, "the questions spread over the families (%s)" % sorted(families))

    sizes_ok = True
    for size_name, low, high in (("2k", 1900, 2600), ("8k", 7700, 8500), ("16k", 14700, 15900)):
        for workspace in generate_eval_set(tokenizer, size_name, 1):
            tokens = len(tokenizer.encode("".join(render_workspace_blocks(workspace["files"]))))
            if not low <= tokens <= high:
                sizes_ok = False
                print("     %s workspace has %d tokens" % (size_name, tokens))
    check(sizes_ok, "evaluation workspaces have their set's size in tokens")

    rng = random.Random("selftest/chat")
    workspace = generate_workspace(rng, "train", 1500, count)
    turns = [(question, answer) for _fact, question, answer in pick_questions(rng, workspace, 4)]
    blocks = render_workspace_blocks(workspace.files)
    ids, classes = encode_chat(tokenizer, blocks, turns)
    whole = tokenizer.encode(render_chat_text("".join(blocks), turns), parse_special=True, add_bos=True)
    check(ids == whole, "a chat encoded piece by piece equals the whole rendered chat tokenized at once")
    answer_text = tokenizer.decode([token for token, kind in zip(ids, classes) if kind == LOSS_ANSWER])
    check(all(answer in answer_text for _question, answer in turns), "the loss covers every answer's tokens")
    rng = random.Random("selftest/paths")
    workspace = generate_workspace(rng, "train", 8000, count)
    picked = pick_questions(rng, workspace, 48, one_path_answer_per_file=True)
    path_answers = [fact["path"] for fact, _question, _answer in picked if fact["family"] in PATH_ANSWER_FAMILIES]
    check(len(path_answers) == len(set(path_answers)) and len(picked) >= 24,
          "a training chat names each file's path in at most one answer (%d questions)" % len(picked))
    turn_ends = []
    ids, classes = encode_chat(tokenizer, blocks, turns, turn_ends=turn_ends)
    shorter, _classes = encode_chat(tokenizer, blocks, turns[:2])
    check(len(turn_ends) == len(turns) and turn_ends[-1] == len(ids) and ids[:turn_ends[1]] == shorter,
          "a chat cut at its second turn end equals the chat of its first two turns")

    def chat_about_one_workspace(max_tokens):
        return build_chat(random.Random("selftest/cut"), tokenizer, "train", 1500, None, 0.0, product_style=True,
                          layout=DATA_LAYOUTS["engine"], max_tokens=max_tokens)
    whole_chat, _classes = chat_about_one_workspace(None)
    room = len(whole_chat) - 30
    cut = chat_about_one_workspace(room)
    check(cut is not None and 0 < len(cut[0]) <= room and whole_chat[:len(cut[0])] == cut[0]
          and cut[0][-2] == tokenizer.im_end_id and chat_about_one_workspace(200) is None,
          "a training chat longer than its room keeps only whole question turns (or is dropped)")
    inserted_line = re.compile(r'^(\s+(console\.debug|logger\.debug|log\.Printf|log_trace|log::debug!)\("enter |(//|#|/\*) module \S+( \*/)?$)')
    plain = generate_workspace(random.Random("selftest/self-reference"), "train", 3000, count)
    referenced = generate_workspace(random.Random("selftest/self-reference"), "train", 3000, count, self_reference_share=1.0)
    plain_files = dict(plain.files)
    traced = [fact["name"] for fact in referenced.facts if fact["family"] == "function_file"]
    referenced_files = dict(referenced.files)
    stripped_same, each_traced, each_path = True, True, True
    for path, content in referenced.files:
        lines = content.split("\n")
        kept = [line for line in lines if not inserted_line.match(line)]
        stripped_same = stripped_same and plain_files.get(path) == "\n".join(kept)
    for fact in referenced.facts:
        if fact["family"] != "function_file":
            continue
        lines = referenced_files[fact["path"]].split("\n")
        opening = definition_line(lines, fact["name"])
        trace = lines[body_start_line(lines, fact["name"], fact["path"].rsplit(".", 1)[-1])]
        each_traced = each_traced and ("enter" in trace and fact["name"] in trace)
        module = [index for index, line in enumerate(lines) if ("module " + fact["path"]) in line]
        each_path = each_path and len(module) == 1 and module[0] < opening
    check(stripped_same and each_traced and each_path and len(traced) >= 3,
          "self references: each function's trace line follows its first line, each source file names its path "
          "before its first function, and without them the files are the workspace generated without the option")
    try:
        generate_workspace(random.Random(1), "eval", 500, count, self_reference_share=0.5)
        refused = False
    except ValueError:
        refused = True
    check(refused, "self references are refused for the evaluation split")
    engine = DATA_LAYOUTS["engine"]
    ablated = engine.overridden(file_list_share=0.0, one_path_answer_per_file=False)
    check(ablated.describe() == dict(engine.describe(), file_list_share=0.0, one_path_answer_per_file=False)
          and engine.file_list_share > 0 and engine.one_path_answer_per_file,
          "a layout override replaces only the choices it names")
    return failures


def main():
    failures = run_checks()
    print("%d check(s) failed" % len(failures) if failures else "all checks passed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()

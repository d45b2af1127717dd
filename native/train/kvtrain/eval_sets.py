"""Held-out evaluation sets: workspaces of the EVAL split with questions, by size (2k, 8k, 16k tokens).

The committed fixtures under test/fixtures/qa-eval/<size>/ are the first workspaces of these sets:
    python3 -m kvtrain.eval_sets --out test/fixtures/qa-eval --workspaces 3
writes <out>/<size>/<workspace>/<files...>, <out>/<size>/questions.jsonl (one question a line: id,
workspace, question, expected, family) and <out>/<size>/workspaces.jsonl (workspace, workspaceTokens:
the rendered workspace's token count, fileOrder: the file order the PyTorch evaluation renders).
"""
import argparse
import json
import os
import random
import sys

from .chat_format import NO_OUTLINE_STYLE, file_block_tokens, render_workspace_blocks
from .qa_generator import generate_workspace, pick_questions

# Workspace token targets per set: the workspace plus a question and answer fit the set's context.
EVAL_SIZES = {"2k": 1900, "8k": 7700, "16k": 14700}
QUESTIONS_PER_WORKSPACE = 10


def generate_eval_set(tokenizer, size_name, workspace_count, restate_error_messages=False, split="eval"):
    """The held-out set's workspaces and questions; restate_error_messages changes only the
    training-style "answer" of the error questions (qa_generator.RESTATED_ERROR_ANSWER), not what is asked.
    split "train": the same kind of set drawn from the training split's names and values (kvtrain.diagnose
    --split train), to tell what is not learnt from what does not carry over to unseen names."""
    workspaces = []
    for index in range(workspace_count):
        rng = random.Random("eval/%s/%d" % (size_name, index) if split == "eval" else "%s/%s/%d" % (split, size_name, index))

        def count(path, content):
            return file_block_tokens(tokenizer, path, content)
        workspace = generate_workspace(rng, split, EVAL_SIZES[size_name], count)
        # "answer": the training-style answer (kvtrain.diagnose feeds it teacher-forced); not in the fixtures.
        questions = [{"question": question, "expected": fact["expected"], "family": fact["family"], "answer": answer}
                     for fact, question, answer in pick_questions(rng, workspace, QUESTIONS_PER_WORKSPACE,
                                                                  restate_error_messages=restate_error_messages)]
        workspaces.append({"name": "%s%s-%02d" % ("" if split == "eval" else split + "-", size_name, index), "files": workspace.files, "questions": questions})
    return workspaces


def write_eval_fixtures(tokenizer, root, sizes, workspace_count):
    """Writes <root>/<size>/<workspace>/... and <root>/<size>/questions.jsonl."""
    for size_name in sizes:
        folder = os.path.join(root, size_name)
        os.makedirs(folder, exist_ok=True)
        lines, workspace_lines = [], []
        for workspace in generate_eval_set(tokenizer, size_name, workspace_count):
            for path, content in workspace["files"]:
                target = os.path.join(folder, workspace["name"], path)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with open(target, "w", encoding="utf-8", newline="\n") as handle:
                    handle.write(content)
            # Without the outline, as the fixtures were first written: a workspace's size is its files' and list's.
            prompt_tokens = len(tokenizer.encode("".join(render_workspace_blocks(workspace["files"], NO_OUTLINE_STYLE))))
            workspace_lines.append(json.dumps({
                "workspace": workspace["name"], "workspaceTokens": prompt_tokens,
                "fileOrder": [path for path, _content in workspace["files"]]}, sort_keys=True))
            for number, question in enumerate(workspace["questions"]):
                lines.append(json.dumps({
                    "id": "%s/%d" % (workspace["name"], number), "workspace": workspace["name"],
                    "question": question["question"], "expected": question["expected"],
                    "family": question["family"]}, sort_keys=True))
        for name, content in (("questions.jsonl", lines), ("workspaces.jsonl", workspace_lines)):
            with open(os.path.join(folder, name), "w", encoding="utf-8", newline="\n") as handle:
                handle.write("\n".join(content) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--workspaces", type=int, default=3)
    parser.add_argument("--sizes", default="2k,8k,16k")
    arguments = parser.parse_args(sys.argv[1:] if argv is None else argv)
    from .tokenizer import shared_tokenizer
    write_eval_fixtures(shared_tokenizer(), arguments.out, arguments.sizes.split(","), arguments.workspaces)


if __name__ == "__main__":
    main()

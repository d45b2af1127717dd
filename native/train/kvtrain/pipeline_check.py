"""Reference data for checking a GGUF against llama.cpp: token ids from the Python tokenizer and
PyTorch logits from the GGUF's own (dequantized) weights.

    python3 -m kvtrain.pipeline_check --out DIR              # trains the 'ci' model a few steps first (CI)
    python3 -m kvtrain.pipeline_check --out DIR --gguf models/tiny.gguf

Writes DIR/check.json: {gguf, f32Gguf (the same weights dequantized, as F32), tokenization: [{text,
parseSpecial, ids}], logits: {tokens, positions, values: [[vocab floats] per position]}, qa: [{tokens,
question, expected, torchAnswer}]}. test/train/trainPipeline.test.ts compares it with llama.cpp.
"""
import argparse
import json
import os
import random
import sys

import torch

from .chat_format import render_chat_text, render_workspace
from .evaluate import encode_prefix, generate_eval_set, greedy_answer, prefill
from .gguf_io import export_gguf, load_gguf
from .tokenizer import shared_tokenizer
from .llama_source import find_llama_source, VOCAB_FILE_NAME

CODE_SAMPLE = '''def parse_header(data: bytes) -> dict:
    """Reads the 16-byte header."""
    if len(data) < 16:
        raise ValueError("short header: %d bytes" % len(data))
    magic, version = data[:4], int.from_bytes(data[4:8], "little")
    return {"magic": magic, "version": version}  # TODO(#42): checksum
'''


def tokenization_samples(tokenizer):
    texts = []
    inp = os.path.join(find_llama_source(), "models", VOCAB_FILE_NAME + ".inp")
    if os.path.isfile(inp):
        with open(inp, encoding="utf-8") as handle:
            texts += handle.read().split("\n__ggml_vocab_test__\n")
    texts.append(CODE_SAMPLE)
    texts.append("\t  x  =  [1,2 ,  3];;\r\n\r\n  $a+=b<<2 || c>=d ~ ^e `f` | @g #h\n    \n")
    workspace = generate_eval_set(tokenizer, "2k", 1)[0]
    system = render_workspace(workspace["files"])
    texts.append(system)
    samples = [{"text": text, "parseSpecial": False, "ids": tokenizer.encode(text)} for text in texts]
    chat = render_chat_text(system, [("What is the value of X?", "X is 1.")], add_generation_prompt_for="Where?")
    samples.append({"text": chat, "parseSpecial": True, "ids": tokenizer.encode(chat, parse_special=True)})
    return samples


def logit_sample(model, tokenizer, positions_wanted=6):
    rng = random.Random(7)
    workspace = generate_eval_set(tokenizer, "2k", 1)[0]
    files = workspace["files"][:3]
    text = render_chat_text(render_workspace(files), [], add_generation_prompt_for=workspace["questions"][0]["question"])
    ids = tokenizer.encode(text, parse_special=True, add_bos=True)[:min(400, model.config.n_ctx)]
    positions = sorted(rng.sample(range(1, len(ids) - 1), positions_wanted - 1) + [len(ids) - 1])
    with torch.no_grad():
        logits = model(torch.tensor([ids]))[0]
    return {"tokens": ids, "positions": positions, "values": [logits[p].tolist() for p in positions]}


def qa_prompts(model, tokenizer, size_name, workspace_count, limit=None):
    """Prompt token ids (BOS, chat with the workspace, question, assistant turn), expected answers and
    PyTorch's greedy answers from the same (dequantized) weights."""
    prompts = []
    for workspace in generate_eval_set(tokenizer, size_name, workspace_count):
        system = render_workspace(workspace["files"])
        prefix_cache = prefill(model, encode_prefix(tokenizer, workspace["files"]), "cpu", 2048)
        for question in workspace["questions"][:limit]:
            text = render_chat_text(system, [], add_generation_prompt_for=question["question"])
            prompts.append({"tokens": tokenizer.encode(text, parse_special=True, add_bos=True),
                            "question": question["question"], "expected": question["expected"],
                            "torchAnswer": greedy_answer(model, tokenizer, prefix_cache, question["question"], "cpu")})
    return prompts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--gguf", help="check this GGUF instead of training the 'ci' model")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--qa-size", help="also write QA prompts of this evaluation set (2k, 8k, 16k)")
    parser.add_argument("--qa-workspaces", type=int, default=1)
    parser.add_argument("--qa-limit", type=int, default=None, help="at most this many QA prompts")
    arguments = parser.parse_args(sys.argv[1:] if argv is None else argv)
    os.makedirs(arguments.out, exist_ok=True)
    gguf_path = arguments.gguf
    if not gguf_path:
        from .train import main as train_main
        roots = [root for root in ("/usr/lib/python3/dist-packages/torch", "/usr/include") if os.path.isdir(root)]
        train_main(["--model", "ci", "--steps", str(arguments.steps), "--out", arguments.out, "--device", "cpu",
                    "--code-roots", ",".join(roots), "--code-file-limit", "100", "--log-every", "1", "--seq-len", "768"])
        gguf_path = os.path.join(arguments.out, "ci.gguf")
    tokenizer = shared_tokenizer()
    torch.manual_seed(0)
    model = load_gguf(gguf_path)
    model.eval()
    # The same weights as F32: llama.cpp must then match PyTorch closely; with the quantized file it
    # also quantizes activations in its matrix products, which adds a few percent of noise.
    f32_path = os.path.join(arguments.out, "f32-copy.gguf")
    export_gguf(model, tokenizer, f32_path, "f32 copy", "f32")
    result = {"gguf": os.path.abspath(gguf_path), "f32Gguf": os.path.abspath(f32_path),
              "tokenization": tokenization_samples(tokenizer),
              "logits": logit_sample(model, tokenizer),
              "qa": (qa_prompts(model, tokenizer, arguments.qa_size, arguments.qa_workspaces, arguments.qa_limit)
                     if arguments.qa_size else [])}
    with open(os.path.join(arguments.out, "check.json"), "w") as handle:
        json.dump(result, handle)
    print("wrote %s" % os.path.join(arguments.out, "check.json"))


if __name__ == "__main__":
    main()

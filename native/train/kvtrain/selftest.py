"""Checks of the workspace-QA generator and the chat encoding that need no llama.cpp.

    python3 -m kvtrain.selftest      (exit status 0 when every check passes; prints one line per check)
"""
import json
import os
import random
import re
import sys

from .chat_format import (NO_OUTLINE_STYLE, LOSS_ANSWER, LOSS_CONTEXT, LOSS_REPEATED_HOP, LOSS_SECOND_HOP, LOSS_SELF_REFERENCE, NO_ENCLOSING, encode_chat, self_reference_pieces,
                          render_chat_text, file_block_tokens, render_workspace_blocks)
from .data_stream import (DATA_LAYOUTS, HOP_FIELD_TOKENS, LOOKUP_FAMILIES, build_chat, hop_attention_targets, lookup_attention_targets, token_offsets,
                          workspace_block_spans)
from .eval_sets import generate_eval_set
from .evaluate import answer_matches
from .qa_generator import (FAMILIES, PATH_ANSWER_FAMILIES, SECOND_HOP_FIELDS, body_start_line, chat_second_hops, chat_turns_with_hops, definition_line,
                           generate_workspace,
                           pick_questions)
from .tokenizer import shared_tokenizer
from .workspace_outline import file_definitions, file_outline, render_outline

# The engine's test fixtures that this module holds kvtrain to.
ENGINE_FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "test", "fixtures")
ANSWER_MATCHING_CASES = os.path.join(ENGINE_FIXTURES, "qa-eval", "answer-matching.json")
OUTLINE_CASES = os.path.join(ENGINE_FIXTURES, "workspace-outline", "cases.json")


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
        return file_block_tokens(tokenizer, path, content)

    with open(ANSWER_MATCHING_CASES) as cases_file:
        matching_cases = json.load(cases_file)["cases"]
    check(len(matching_cases) >= 10 and all(answer_matches(case["answer"], case["expected"]) == case["matches"] for case in matching_cases),
          "answers are graded as the engine's benchmark grades them (test/fixtures/qa-eval/answer-matching.json)")
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
            tokens = len(tokenizer.encode("".join(render_workspace_blocks(workspace["files"], NO_OUTLINE_STYLE))))
            if not low <= tokens <= high:
                sizes_ok = False
                print("     %s workspace has %d tokens" % (size_name, tokens))
    check(sizes_ok, "evaluation workspaces have their set's size in tokens (files and file list, the outline not counted)")

    rng = random.Random("selftest/chat")
    workspace = generate_workspace(rng, "train", 1500, count)
    turns = [(question, answer) for _fact, question, answer in pick_questions(rng, workspace, 4)]
    blocks = render_workspace_blocks(workspace.files)
    ids, classes = encode_chat(tokenizer, blocks, turns)
    whole = tokenizer.encode(render_chat_text("".join(blocks), turns), parse_special=True, add_bos=True)
    check(ids == whole, "a chat encoded piece by piece equals the whole rendered chat tokenized at once")
    answer_text = tokenizer.decode([token for token, kind in zip(ids, classes) if kind == LOSS_ANSWER])
    check(all(answer in answer_text for _question, answer in turns), "the loss covers every answer's tokens")
    marked_right, marked_count, repeated_count = True, 0, 0
    for restate in (False, True):
        rng = random.Random("selftest/second-hop")
        workspace = generate_workspace(rng, "train", 3000, count)
        picked = pick_questions(rng, workspace, 24, restate_error_messages=restate)
        hop_turns = chat_turns_with_hops(picked, chat_second_hops(picked))
        hop_blocks = render_workspace_blocks(workspace.files)
        plain_ids, _ = encode_chat(tokenizer, hop_blocks, [turn[:2] for turn in hop_turns])
        hop_ids, hop_classes = encode_chat(tokenizer, hop_blocks, hop_turns)
        marked = [tokenizer.decode([token]) for token, kind in zip(hop_ids, hop_classes) if kind == LOSS_SECOND_HOP]
        marked_repeated = [tokenizer.decode([token]) for token, kind in zip(hop_ids, hop_classes) if kind == LOSS_REPEATED_HOP]
        expected, expected_repeated, earlier = [], [], ""
        for fact, _question, answer in picked:
            for field in SECOND_HOP_FIELDS.get(fact["family"], ()):
                first_token = tokenizer.decode(tokenizer.encode(" " + fact[field])[:1])
                (expected_repeated if fact[field] in earlier else expected).append(first_token)
            earlier += answer + "\n"
            if restate and fact["family"] in ("error_file", "error_function"):
                marked_right = marked_right and answer.startswith('"%s"' % fact["message"]) and fact["expected"] in answer
        marked_right = marked_right and plain_ids == hop_ids and marked == expected and marked_repeated == expected_repeated
        marked_count += len(marked)
        repeated_count += len(marked_repeated)
    check(marked_right and marked_count >= 10 and repeated_count >= 2,
          "second-hop answer tokens: exactly the first token of each path or function found back from its definition or "
          "message is marked, as a repeat where an earlier answer of the chat gives it; the tokens stay the same; restated error "
          "answers start with the message")
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
    key_plain = generate_workspace(random.Random("selftest/self-reference-key"), "train", 4000, count)
    key_placed = generate_workspace(random.Random("selftest/self-reference-key"), "train", 4000, count, self_reference_share=1.0,
                                    self_reference_placement="key")
    plain_files, inserted = dict(key_plain.files), key_placed.self_reference_lines
    # The inserted lines take tokens, so the placed workspace stops a few files earlier: compare the files both have.
    placed_paths = {path for path, _content in key_placed.files}
    first_function = {}  # path -> its first function (facts come in the order of the functions)
    for fact in key_plain.facts:
        if fact["family"] == "function_file" and fact["path"] in placed_paths:
            first_function.setdefault(fact["path"], fact["name"])
    messages = {fact["function"]: fact["message"] for fact in key_plain.facts
                if fact["family"] == "error_function" and fact["path"] in placed_paths}
    stripped_same, traced_after_message, path_after_opening = len(placed_paths & set(plain_files)) >= 8, 0, 0
    for path, content in key_placed.files:
        lines = content.split("\n")
        stripped_same = stripped_same and plain_files.get(path) == "\n".join(line for line in lines if line not in inserted)
        for index, line in enumerate(lines):
            named = inserted.get(line)
            if named == path:
                opening = index - (2 if path.endswith(".c") else 1)
                path_after_opening += int(lines[opening].split("(")[0].endswith(" " + first_function[path]))
            elif named in messages:
                traced_after_message += int(('"%s' % messages[named]) in lines[index - 1])
    expected_path_questions = {fact["name"] for fact in key_plain.facts
                               if fact["family"] == "function_file" and fact["path"] in placed_paths
                               and first_function[fact["path"]] != fact["name"]}
    check(stripped_same and traced_after_message == len(messages) >= 2 and path_after_opening == len(first_function) >= 2
          and not [fact for fact in key_placed.facts if fact["family"] in ("error_file", "error_function")]
          and {fact["name"] for fact in key_placed.facts if fact["family"] == "function_file"} == expected_path_questions,
          "self references at the key: each trace line follows its function's error message, each path comment its "
          "first function's opening line, the questions they would give away are not asked, and without them the "
          "files are the plain workspace")
    pieces_same, named_exactly = True, True
    for seed in range(6):
        workspace = generate_workspace(random.Random("selftest/self-reference-loss/%d" % seed), "train", 3000, count,
                                       self_reference_share=0.5)
        blocks = render_workspace_blocks(workspace.files)
        whole_ids, _ = encode_chat(tokenizer, blocks, [("q", "a")])
        split_ids, split_classes = encode_chat(tokenizer, [self_reference_pieces(block, workspace.self_reference_lines)
                                                           for block in blocks], [("q", "a")])
        pieces_same = pieces_same and whole_ids == split_ids and len(workspace.self_reference_lines) >= 2
        runs, previous = [], None
        for token, kind in zip(split_ids, split_classes):
            if kind == LOSS_SELF_REFERENCE:
                if previous != LOSS_SELF_REFERENCE:
                    runs.append([])
                runs[-1].append(token)
            previous = kind
        named = sorted(tokenizer.decode(run).strip() for run in runs)
        named_exactly = named_exactly and named == sorted(workspace.self_reference_lines.values())
    check(pieces_same and named_exactly,
          "the self reference names' own loss class: the pieces tokenize as the whole workspace, and the class "
          "covers exactly the names and paths the inserted lines name")
    check(enclosing_labels_right(tokenizer, count),
          "enclosing-probe labels: the tokens are unchanged, every token of an error message is labelled with its function's "
          "first token and its file's first path tokens, every workspace token with its file's, nothing outside the files")
    fresh_chat = build_chat(random.Random("selftest/fresh-hops"), tokenizer, "train", 6000, None, 0.0, layout=DATA_LAYOUTS["first"],
                            restate_error_messages=True, fresh_hops_only=True)
    plain_chat = build_chat(random.Random("selftest/fresh-hops"), tokenizer, "train", 6000, None, 0.0, layout=DATA_LAYOUTS["first"],
                            restate_error_messages=True)
    # A question with one repeated field goes whole, its fresh field with it: the fresh hops may drop a little.
    check(LOSS_REPEATED_HOP in plain_chat[1] and LOSS_REPEATED_HOP not in fresh_chat[1]
          and 0.8 * plain_chat[1].count(LOSS_SECOND_HOP) <= fresh_chat[1].count(LOSS_SECOND_HOP) <= plain_chat[1].count(LOSS_SECOND_HOP)
          and len(fresh_chat[0]) < len(plain_chat[0]),
          "--fresh-hops-only leaves out the questions whose second hop an earlier answer gives, and few others")
    check(hop_targets_right(tokenizer, count),
          "hop-attention targets: the first tokens of each second-hop answer field point back to its error message in the "
          "workspace, or to the name in its function's definition line in its file")
    check(lookup_targets_right(tokenizer, count),
          "lookup-attention targets: each one-hop answer's value (a constant's or config key's value, a parameter list) points "
          "back to that value next to its name in its file, every such question matched")
    check(hop_loss_matches_reference(tokenizer),
          "the batched hop-attention and hop-value loss equals a target-by-target computation (padding, both kinds, "
          "the readouts of a field's later tokens, the first token through the model's output or a private readout)")
    check(hop_value_loss_spares_output_weights(tokenizer),
          "the hop-value loss trains the supervised head, never the final norm or the token embedding every answer goes through")
    check(quiet_hop_head_loss_right(tokenizer),
          "--hop-head-quiet: the hop head's squared output size over the residual's, at the lookups only, weighted")
    check(delayed_hop_losses_leave_the_model_alone(tokenizer),
          "--hop-losses-from/-after-lookups: before the gate opens the hop losses give the model no gradient (the same as training without "
          "them), after it they do; it opens at the first step past both the step and the lookups' accuracy, and stays open")
    check(closed_gate_keeps_lookup_losses(tokenizer),
          "with the gate closed a lookup head's losses count all along, the second-hop ones (the quiet loss too) not")
    check(lookup_first_accuracy_right(tokenizer),
          "the gate's signal counts the model's first token right at the lookups only (not second hops, not padding)")
    check(other_heads_keep_the_parameters(tokenizer),
          "--heads H:KV splits the width into other heads with the same parameter count (H/KV kept), and refuses what does not divide")
    check(no_hop_guess_counted(tokenizer),
          "diagnose's no-hop guess (each field's most common first token in the workspace) is counted right")
    check(confined_hop_losses_reach_only_the_head(tokenizer),
          "--confine-hop-losses: the hop losses train the supervised block's attention projections only, not the layers below")
    check(attention_weights_right(tokenizer),
          "the hop-attention loss reads the attention weights the model computes (the same head, RoPE and causal mask), and the heads' outputs the hop-value loss reads add up to the block's attention output")
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
    outline_checks(tokenizer, count, check)
    return failures


def outline_checks(tokenizer, count, check):
    if os.path.exists(OUTLINE_CASES):  # the repository's fixture (absent from the folder carried to the GPU machine)
        with open(OUTLINE_CASES, encoding="utf-8") as handle:
            cases = json.load(handle)
        files = [(case["path"], case["content"]) for case in cases["files"]]
        same = all(file_outline(case["path"], case["content"]) == (case["symbols"], [tuple(pair) for pair in case["messages"]])
                   for case in cases["files"])
        check(same and render_outline(files) == cases["outline"] and len(cases["files"]) >= 6,
              "the outline matches the cases the engine's outline is tested with (test/fixtures/workspace-outline)")
        same_definitions = all(file_definitions(case["path"], case["content"]) ==
                               ([tuple(pair) for pair in case["definitions"]], [tuple(pair) for pair in case["messages"]],
                                [tuple(pair) for pair in case["settings"]]) for case in cases["files"])
        check(same_definitions and render_outline(files, "definitions") == cases["definitionsOutline"]
              and sum(len(case["settings"]) for case in cases["files"]) >= 10,
              "the outline with definitions matches the engine's cases too (test/fixtures/workspace-outline)")
    # Every generated definition and error message is in the outline, with its file and function: the
    # two-hop questions' answers follow their names there. With definitions, the one-hop answers
    # follow their names there too: a constant's value, a function's parameters, a configuration
    # key's value (with its file).
    listed, definitions_listed, families = True, True, set()
    for seed in range(4):
        workspace = generate_workspace(random.Random("selftest/outline/%d" % seed), "train", 3000, count)
        outline, definitions = render_outline(workspace.files), render_outline(workspace.files, "definitions")
        for fact in workspace.facts:
            if fact["family"] == "function_file":
                listed = listed and "\n- %s: %s\n" % (fact["name"], fact["path"]) in outline
            elif fact["family"] in ("error_file", "error_function"):
                listed = listed and '\n- "%s": %s in %s\n' % (fact["message"], fact["function"], fact["path"]) in outline
            elif fact["family"] == "const_value":
                entry = "\n- %s = %s: %s\n" % (fact["name"], fact["literal"], fact["path"])
            elif fact["family"] == "function_params":
                entry = "\n- %s(%s): %s\n" % (fact["name"], fact["params"], fact["path"])
            elif fact["family"] == "config_default":
                entry = "\n- %s = %s: %s\n" % (fact["key"], fact["literal"], fact["path"])
            if fact["family"] in ("const_value", "function_params", "config_default"):
                families.add(fact["family"])
                definitions_listed = definitions_listed and entry in definitions
    check(listed, "the outline of generated workspaces lists every definition's file and every message's function and file")
    check(definitions_listed and len(families) == 3,
          "the outline with definitions of generated workspaces lists every constant's value, function's parameters and setting")
    definitions_layout = DATA_LAYOUTS["first"].overridden(outline_share=1.0, outline_detail="definitions")
    chat = build_chat(random.Random(7), tokenizer, "train", 1500, None, 0.0, layout=definitions_layout, max_tokens=4096)
    text = tokenizer.decode(chat[0]) if chat else ""
    check(chat is not None and text.find("<workspace-settings>") > text.find("<workspace-symbols>") > text.rfind("</file>") > 0
          and definitions_layout.describe()["outline_detail"] == "definitions",
          "a layout with the outline's definitions ends its workspace with them")
    layout = DATA_LAYOUTS["first"].overridden(outline_share=1.0)
    rng = random.Random(7)
    chat = build_chat(rng, tokenizer, "train", 1500, None, 0.0, layout=layout, max_tokens=4096)
    text = tokenizer.decode(chat[0]) if chat else ""
    symbols_at = text.find("<workspace-symbols>")
    check(chat is not None and len(chat[0]) <= 4096 and symbols_at > text.rfind("</file>") > 0
          and text.find("<workspace-messages>") > symbols_at,
          "a layout with the outline ends its workspace with it, after the last file")
    draws = random.Random(3)
    unchanged = all(not DATA_LAYOUTS["first"].takes_outline(draws) for _ in range(3)) and layout.takes_outline(draws)
    check(unchanged and draws.random() == random.Random(3).random(),
          "the outline shares 0 and 1 take no random draw (earlier layouts' data streams stay as they were)")


def enclosing_labels_right(tokenizer, count):
    """The enclosing probe's labels (data_stream.workspace_block_spans, chat_format.encode_chat) on
    workspaces with and without self references."""
    right, messages_seen = True, 0
    for seed, share in ((0, 0.0), (1, 0.5), (2, 0.0)):
        workspace = generate_workspace(random.Random("selftest/enclosing/%d" % seed), "train", 3000, count,
                                       self_reference_share=share, self_reference_placement="key")
        blocks = render_workspace_blocks(workspace.files)
        if share:
            blocks = [self_reference_pieces(block, workspace.self_reference_lines) for block in blocks]
        plain_ids, plain_classes = encode_chat(tokenizer, blocks, [("q", "a")])
        labels = []
        ids, classes = encode_chat(tokenizer, blocks, [("q", "a")], block_spans=workspace_block_spans(tokenizer, blocks, workspace),
                                   enclosing_labels=labels)
        right = right and ids == plain_ids and classes == plain_classes and len(labels) == len(ids)
        # Walk the text token by token: which file each token is in, and where each message is.
        text, starts = token_offsets(tokenizer, ids)
        paths = [fact["path"] for fact in workspace.facts]
        for path, content in workspace.files:
            header = '<file path="%s"' % path
            begin = text.index(header)
            content_begin, content_end = text.index("\n", begin) + 1, text.index("</file>", begin)
            path_labels = tuple((tokenizer.encode(" " + path) + [-1] * 3)[:3])
            inside = [index for index, start in enumerate(starts) if content_begin <= start < content_end]
            right = right and bool(inside) and all(labels[index][1:] == path_labels for index in inside)
        for fact in workspace.facts:
            if fact["family"] != "error_function":
                continue
            quoted = '"%s' % fact["message"]  # C's messages end with \\n inside the quotes
            at = text.index(quoted)
            message_tokens = [index for index, start in enumerate(starts) if at + 1 <= start < at + len(quoted)]
            wanted = (tokenizer.encode(" " + fact["function"])[0],) + tuple((tokenizer.encode(" " + fact["path"]) + [-1] * 3)[:3])
            right = right and bool(message_tokens) and all(tuple(labels[index]) == wanted for index in message_tokens)
            messages_seen += 1
        outside = [index for index, kind in enumerate(classes) if kind != LOSS_CONTEXT and kind != LOSS_SELF_REFERENCE]
        right = right and all(labels[index] == NO_ENCLOSING for index in outside) and bool(paths)
    return right and messages_seen >= 3


def hop_targets_right(tokenizer, count):
    right, checked, multi_token_fields = True, 0, 0
    for restate in (False, True):
        rng = random.Random("selftest/hop-targets/%s" % restate)
        workspace = generate_workspace(rng, "train", 4000, count)
        picked = pick_questions(rng, workspace, 24, restate_error_messages=restate)
        blocks = render_workspace_blocks(workspace.files)
        hops = chat_second_hops(picked)
        ids, classes = encode_chat(tokenizer, blocks, chat_turns_with_hops(picked, hops))
        all_targets = hop_attention_targets(tokenizer, ids, classes, picked, hops)
        hop_tokens = [index for index, kind in enumerate(classes) if kind == LOSS_SECOND_HOP]
        system_end = ids.index(tokenizer.im_end_id)
        expected = [(fact, fact[field]) for (fact, _question, _answer), (fields, _repeated) in zip(picked, hops) for field, _offset in fields]
        # Each field's first tokens, in order: token k of the field is target k, and its source is the field's.
        targets = [(hop, first, end) for hop, first, end, place in all_targets if place == 0]
        right = right and [hop for hop, _first, _end in targets] == hop_tokens and len(expected) == len(targets)
        for (hop, first, end), (fact, value) in zip(targets, expected):
            later = [target for target in all_targets if target[0] > hop and target[1:3] == (first, end) and target[3] > 0
                     and target[0] - target[3] == hop]
            covered = tokenizer.decode(ids[hop:hop + 1 + len(later)])
            right = right and [target[3] for target in later] == list(range(1, 1 + len(later)))
            right = right and (" " + value).startswith(covered) and (len(later) == HOP_FIELD_TOKENS - 1 or covered == " " + value)
            multi_token_fields += len(later) == HOP_FIELD_TOKENS - 1
            source = tokenizer.decode(ids[first:end])
            before = tokenizer.decode(ids[:first])
            line_start = before[before.rfind("\n") + 1:]
            if fact["family"] == "function_file":
                file_header = before.rfind('<file path="')
                right = right and fact["name"] in source and before[file_header:].startswith('<file path="%s"' % fact["path"])
                right = right and not line_start[:1].isspace()
            else:
                right = right and source.strip() in fact["message"] and len(source.strip()) >= len(fact["message"]) - 2
            right = right and end <= system_end < hop
            checked += 1
        right = right and len(all_targets) == len(targets) + sum(1 for target in all_targets if target[3] > 0)
    return right and checked >= 10 and multi_token_fields >= checked // 2


def lookup_targets_right(tokenizer, count):
    right, asked, matched = True, 0, 0
    for seed in range(3):
        rng = random.Random("selftest/lookup-targets/%d" % seed)
        workspace = generate_workspace(rng, "train", 4000, count)
        picked = pick_questions(rng, workspace, 24)
        ids, _classes = encode_chat(tokenizer, render_workspace_blocks(workspace.files), [(question, answer) for _f, question, answer in picked])
        targets = lookup_attention_targets(tokenizer, ids, picked)
        facts = [fact for fact, _question, _answer in picked if fact["family"] in LOOKUP_FAMILIES]
        asked, matched = asked + len(facts), matched + len(targets)
        system_end = ids.index(tokenizer.im_end_id)
        for (answer, first, end, place), fact in zip(targets, facts):
            value = fact["params"] if fact["family"] == "function_params" else fact["literal"]
            before = tokenizer.decode(ids[:first])
            source_line = before[before.rfind("\n") + 1:] + tokenizer.decode(ids[first:end])
            named = fact["name"] if fact["family"] != "config_default" else fact["key"]
            right = right and place == 0 and end <= system_end < answer and value in tokenizer.decode(ids[first:end])
            right = right and named in source_line and before[before.rfind('<file path="'):].startswith('<file path="%s"' % fact["path"])
            right = right and value.startswith(tokenizer.decode(ids[answer:answer + 1]).lstrip(" ("))
    return right and asked >= 10 and matched == asked


def hop_loss_matches_reference(tokenizer):
    """The batched loss equals a target-by-target computation, with a field's first token read through
    the model's output (the default) and through the private readout (--hop-value-readout private)."""
    import torch
    import torch.nn.functional as F
    from .model import EnclosingProbe, LlamaModel, ModelConfig
    from .train import hop_attention_loss
    torch.manual_seed(1)
    config = ModelConfig.named("ci", tokenizer.vocab_size)
    model = LlamaModel(config)
    tokens = torch.randint(0, 1000, (2, 61))
    residual = model.hidden_and_layers(tokens[:, :-1], {1})[1][1]
    # (answer token, first, end source token, kind, place); kind 0: second hop, 1: lookup; -1 rows are padding.
    targets = torch.tensor([[[40, 5, 9, 0, 0], [41, 5, 9, 0, 1], [42, 5, 9, 0, 2], [50, 20, 23, 1, 0]],
                            [[30, 2, 4, 0, 0], [-1] * 5, [-1] * 5, [-1] * 5]])
    heads = {0: 0, 1: 1}
    right = True
    for first_through_output in (True, False):
        readout = EnclosingProbe(config, HOP_FIELD_TOKENS - (1 if first_through_output else 0))
        loss, stats = hop_attention_loss(model, residual, tokens, targets, 1, heads, 0.5, readout,
                                         first_through_output=first_through_output)
        expected, masses = 0.0, {}
        for kind in (0, 1):
            attention, values = [], []
            for row, answer, first, end, target_kind, place in [(row, *map(int, target)) for row in range(2) for target in targets[row]]:
                if answer <= 0 or target_kind != kind:
                    continue
                log_weights = model.attention_log_weights(residual[row], 1, heads[kind], torch.tensor([answer - 1]))
                attention.append(torch.logsumexp(log_weights[0, first:end], dim=0))
                output = model.attention_head_output(residual[row], 1, heads[kind], log_weights)
                if first_through_output:
                    logits = (model.logits_at(model.output_norm(output)) if place == 0
                              else readout.logits(output, place - 1, model.tok_embd.weight))
                else:
                    logits = readout.logits(output, place, model.tok_embd.weight)
                values.append(F.cross_entropy(logits.float(), tokens[row, answer:answer + 1]))
            expected = expected - torch.stack(attention).mean() + 0.5 * torch.stack(values).mean()
            masses[kind] = float(torch.stack(attention).exp().mean())
        right = right and (abs(float(loss) - float(expected)) < 1e-4 and abs(stats["hop_attention_mass"] - masses[0]) < 1e-5
                           and abs(stats["lookup_attention_mass"] - masses[1]) < 1e-5)
    return right


def hop_value_loss_spares_output_weights(tokenizer):
    import torch
    from .model import EnclosingProbe, LlamaModel, ModelConfig
    from .train import hop_attention_loss
    torch.manual_seed(2)
    config = ModelConfig.named("ci", tokenizer.vocab_size)
    model = LlamaModel(config)
    tokens = torch.randint(0, 1000, (1, 41))
    # Detached here so that the input embedding (the same tied matrix) gets no gradient through the residual.
    residual = model.hidden_and_layers(tokens[:, :-1], {1})[1][1].detach()
    targets = torch.tensor([[[30, 2, 6, 0, 0], [31, 2, 6, 0, 1]]])
    loss, _ = hop_attention_loss(model, residual, tokens, targets, 1, {0: 0}, 1.0, EnclosingProbe(config, HOP_FIELD_TOKENS - 1))
    loss.backward()
    head_value = model.blocks[1].attn.wv.weight.grad
    return (model.tok_embd.weight.grad is None and model.output_norm.weight.grad is None
            and head_value is not None and float(head_value.abs().sum()) > 0)


def hops_and_lookups_on_ci(tokenizer, seed):
    """(config, model, tokens, residual after block 1, targets) for the hop-loss checks: an untrained
    `ci` model seeded with `seed`, one 61-token row, two second-hop targets (the first two places of a
    field) and two lookups (kind 1)."""
    import torch
    from .model import LlamaModel, ModelConfig
    torch.manual_seed(seed)
    config = ModelConfig.named("ci", tokenizer.vocab_size)
    model = LlamaModel(config)
    tokens = torch.randint(0, 1000, (1, 61))
    residual = model.hidden_and_layers(tokens[:, :-1], {1})[1][1]
    targets = torch.tensor([[[40, 5, 9, 0, 0], [45, 5, 9, 0, 1], [50, 20, 23, 1, 0], [55, 30, 33, 1, 0]]])
    return config, model, tokens, residual, targets


def quiet_hop_head_loss_right(tokenizer):
    """--hop-head-quiet adds its weight times the second-hop head's squared output size over the
    residual's, averaged over the lookup targets only (computed here target by target)."""
    import torch
    from .train import hop_attention_loss
    _config, model, tokens, residual, targets = hops_and_lookups_on_ci(tokenizer, 4)
    # No lookup head: the lookups are only where the hop head must be quiet.
    plain, _ = hop_attention_loss(model, residual, tokens, targets, 1, {0: 0}, 0.5)
    quiet, stats = hop_attention_loss(model, residual, tokens, targets, 1, {0: 0}, 0.5, quiet_weight=2.0)
    shares = []
    for answer in (50, 55):
        log_weights = model.attention_log_weights(residual[0], 1, 0, torch.tensor([answer - 1]))
        output = model.attention_head_output(residual[0], 1, 0, log_weights)[0]
        shares.append(float(output.pow(2).sum() / residual[0, answer - 1].pow(2).sum()))
    no_lookups, _ = hop_attention_loss(model, residual, tokens, targets[:, :2], 1, {0: 0}, 0.5, quiet_weight=2.0)
    plain_no_lookups, _ = hop_attention_loss(model, residual, tokens, targets[:, :2], 1, {0: 0}, 0.5)
    expected = 2.0 * sum(shares) / 2
    return (expected > 0 and abs(float(quiet - plain) - expected) < 1e-4 * max(1.0, expected)
            and abs(stats["hop_head_size_at_lookups"] - sum(share ** 0.5 for share in shares) / 2) < 1e-4
            and abs(float(no_lookups - plain_no_lookups)) < 1e-6)


def delayed_hop_losses_leave_the_model_alone(tokenizer):
    """training_loss with the hop supervision at the gate's weight before its first step gives every model
    weight the gradient of the answer loss alone; at that step the supervised block's gradient differs.
    With a lookup accuracy too, the gate opens at the first step past both, and stays open."""
    import torch
    from .model import EnclosingProbe, LlamaModel, ModelConfig
    from .train import HopLossGate, HopSupervision, training_loss
    config = ModelConfig.named("ci", tokenizer.vocab_size)
    tokens = torch.randint(0, 1000, (1, 61), generator=torch.Generator().manual_seed(5))
    classes = torch.full((1, 61), LOSS_CONTEXT)
    classes[0, 40:44] = LOSS_ANSWER
    targets = torch.tensor([[[40, 5, 9, 0, 0], [41, 5, 9, 0, 1]]])
    gradients = {}
    for step in (None, 99, 100):
        torch.manual_seed(6)
        model = LlamaModel(config)
        readout = EnclosingProbe(config, HOP_FIELD_TOKENS - 1)
        hop = None if step is None else HopSupervision(targets, {0}, 1.0, 1, {0: 0}, 1.0, readout, False, True, 0.0,
                                                       1.0 if HopLossGate(100).is_open(step) else 0.0)

        def hidden_model(inputs, model=model, hop=hop):
            return model.hidden_and_layers(inputs, {1}) if hop is not None else model.hidden(inputs)
        loss, _ = training_loss(model, hidden_model, tokens, classes, 0.0, 0.0, torch.Generator().manual_seed(7), hop_attention=hop)
        loss.backward()
        gradients[step] = torch.cat([parameter.grad.flatten() for parameter in model.parameters()])
    by_lookups = HopLossGate(from_step=5, lookups_at_least=0.5, window=3)
    opened = []
    for step, accuracy in enumerate([0.1, 0.6, None, 0.6, 0.2, 0.8, 0.9, 0.0, 0.0, 0.0]):
        opened.append(by_lookups.is_open(step))
        by_lookups.record(accuracy)
    # Steps 0-4 are before from_step (and steps without lookups, None, do not count); at step 5 the last
    # three accuracies (0.6, 0.6, 0.2) average below 0.5, at step 6 (0.6, 0.2, 0.8) above: on from there.
    return (not HopLossGate(100).is_open(99) and HopLossGate(100).is_open(100)
            and opened == [False] * 6 + [True] * 4 and by_lookups.started_at == 6
            and not HopLossGate(lookups_at_least=0.5, window=3).is_open(10)
            and torch.allclose(gradients[None], gradients[99], atol=1e-7)
            and not torch.allclose(gradients[None], gradients[100], atol=1e-5))


def other_heads_keep_the_parameters(tokenizer):
    """`small` as 8 heads of 32 over 4 KV heads has the parameters of its 4 heads of 64 over 2; a model
    built so attends with 8 heads; --heads refuses a head count that does not divide the width."""
    import torch
    from .model import LlamaModel, ModelConfig
    from .train import parse_heads
    config = ModelConfig.named("ci", tokenizer.vocab_size)
    other = config.with_heads(*parse_heads("4:2", config.n_embd))
    plain, split = LlamaModel(config), LlamaModel(other)
    with torch.no_grad():
        hidden = split.hidden(torch.randint(0, 1000, (1, 9)))
    refused = []
    for text in ("3:1", "4:3", "4", "128:1"):
        try:
            parse_heads(text, config.n_embd)
            refused.append(False)
        except SystemExit:
            refused.append(True)
    return (other.n_head == 4 and other.n_head_kv == 2 and other.head_dim == 16 and split.parameter_count() == plain.parameter_count()
            and tuple(hidden.shape) == (1, 9, config.n_embd) and all(refused))


def closed_gate_keeps_lookup_losses(tokenizer):
    """With a lookup head and the gate closed (second_hop_scale 0), hop_attention_loss is the loss of the
    lookup targets alone; the quiet loss, a second-hop loss, is off too."""
    from .model import EnclosingProbe
    from .train import hop_attention_loss
    config, model, tokens, residual, targets = hops_and_lookups_on_ci(tokenizer, 9)
    readout = EnclosingProbe(config, HOP_FIELD_TOKENS - 1)
    closed, _ = hop_attention_loss(model, residual, tokens, targets, 1, {0: 0, 1: 1}, 0.5, readout, quiet_weight=2.0, second_hop_scale=0.0)
    lookups_only, _ = hop_attention_loss(model, residual, tokens, targets[:, 2:], 1, {0: 0, 1: 1}, 0.5, readout)
    opened, _ = hop_attention_loss(model, residual, tokens, targets, 1, {0: 0, 1: 1}, 0.5, readout, quiet_weight=2.0)
    return abs(float(closed - lookups_only)) < 1e-6 and float(opened - closed) > 0.1


def lookup_first_accuracy_right(tokenizer):
    """train.lookup_first_accuracy counts, over the lookup targets only (not second hops, not padding),
    how often the model's top prediction before the value's first token is that token."""
    import torch
    from .model import LlamaModel, ModelConfig
    from .train import lookup_first_accuracy
    torch.manual_seed(8)
    config = ModelConfig.named("ci", tokenizer.vocab_size)
    model = LlamaModel(config)
    tokens = torch.randint(0, 1000, (2, 41))
    with torch.no_grad():
        hidden = model.hidden(tokens[:, :-1])
        top = model.logits_at(hidden).argmax(-1)
    # Make two of the three lookups right: the token after each is set to the model's prediction there.
    tokens[0, 30], tokens[1, 20] = top[0, 29], top[1, 19]
    tokens[0, 35] = (top[0, 34] + 1) % 1000
    targets = torch.tensor([[[30, 2, 4, 1, 0], [35, 2, 4, 1, 0], [25, 2, 4, 0, 0]],
                            [[20, 2, 4, 1, 0], [-1] * 5, [-1] * 5]])
    no_lookups = targets.clone()
    no_lookups[..., 3] = 0
    return (abs(lookup_first_accuracy(model, hidden, tokens, targets) - 2 / 3) < 1e-9
            and lookup_first_accuracy(model, hidden, tokens, no_lookups) is None)


def no_hop_guess_counted(tokenizer):
    """diagnose.second_hop_prior on hand-made facts: two of three functions live under src/, so the
    no-hop guess names src for every path and is right for those two; 'parse' starts two of the
    three names, so it is right for the error whose function is parse_header."""
    from .diagnose import second_hop_prior
    facts = [{"family": "function_file", "name": "parse_header", "path": "src/a/b.py", "expected": "src/a/b.py"},
             {"family": "function_file", "name": "parse_body", "path": "src/c.py", "expected": "src/c.py"},
             {"family": "function_file", "name": "write_log", "path": "tools/d.py", "expected": "tools/d.py"},
             {"family": "error_function", "message": "m", "function": "parse_header", "path": "src/a/b.py", "expected": "parse_header"},
             {"family": "error_file", "message": "n", "function": "write_log", "path": "tools/d.py", "expected": "tools/d.py"},
             {"family": "const_value", "name": "X", "literal": "1", "expected": "1", "path": "src/c.py"}]
    # Fields: 3 function_file paths (2 right), error_function's function and path (both right),
    # error_file's function and path (both wrong).
    return second_hop_prior(tokenizer, facts) == (4, 7)


def confined_hop_losses_reach_only_the_head(tokenizer):
    """With confined=True the hop losses train the supervised block's attention projections and
    nothing below or beside them; unconfined, the layers below get gradient too (the control)."""
    import torch
    from .model import EnclosingProbe, LlamaModel, ModelConfig
    from .train import hop_attention_loss
    config = ModelConfig.named("ci", tokenizer.vocab_size)
    tokens = torch.randint(0, 1000, (1, 41), generator=torch.Generator().manual_seed(3))
    targets = torch.tensor([[[30, 2, 6, 0, 0], [31, 2, 6, 0, 1]]])
    reached = {}
    for confined in (True, False):
        torch.manual_seed(2)
        model = LlamaModel(config)
        residual = model.hidden_and_layers(tokens[:, :-1], {1})[1][1]
        loss, _ = hop_attention_loss(model, residual, tokens, targets, 1, {0: 0}, 1.0, EnclosingProbe(config, HOP_FIELD_TOKENS - 1),
                                     confined=confined)
        loss.backward()
        reached[confined] = {name for name, parameter in model.named_parameters()
                             if parameter.grad is not None and float(parameter.grad.abs().sum()) > 0}
    own = {"blocks.1.attn.%s.weight" % name for name in ("wq", "wk", "wv", "wo")}
    return reached[True] == own and any(name.startswith("blocks.0.") for name in reached[False])


def attention_weights_right(tokenizer):
    import torch
    from .model import LlamaModel, ModelConfig
    torch.manual_seed(0)
    config = ModelConfig.named("ci", tokenizer.vocab_size)
    model = LlamaModel(config)
    tokens = torch.randint(0, 1000, (1, 40))
    residual = model.hidden_and_layers(tokens, {1})[1][1]
    block = model.blocks[1]
    # The plain attention path's softmax, recomputed from the block's own projections.
    normed = block.attn_norm(residual)
    q = block.attn.wq(normed).view(1, 40, config.n_head, config.head_dim).transpose(1, 2)
    k = block.attn.wk(normed).view(1, 40, config.n_head_kv, config.head_dim).transpose(1, 2)
    from .model import apply_rope, rope_tables
    cos, sin = rope_tables(config.head_dim, torch.arange(40), config.rope_base, tokens.device)
    q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin).repeat_interleave(config.n_head // config.n_head_kv, dim=1)
    scores = torch.matmul(q, k.transpose(-1, -2)) / config.head_dim ** 0.5
    scores = scores.masked_fill(torch.ones(40, 40, dtype=torch.bool).triu(1), float("-inf"))
    expected = torch.log_softmax(scores, dim=-1)
    queries = torch.tensor([5, 17, 39])
    right = True
    head_outputs = 0
    for head in range(config.n_head):
        got = model.attention_log_weights(residual[0], 1, head, queries)
        want = expected[0, head, queries]
        finite = torch.isfinite(want)
        right = right and bool(torch.equal(finite, torch.isfinite(got))) and float((got[finite] - want[finite]).abs().max()) < 1e-4
        head_outputs = head_outputs + model.attention_head_output(residual[0], 1, head, got)
    # The heads' outputs (what the hop-value loss reads) add up to the block's own attention output.
    with torch.no_grad():
        whole = block.attn(normed, cos, sin)[0, queries]
    return right and float((head_outputs - whole).abs().max()) < 1e-4


def main():
    failures = run_checks()
    print("%d check(s) failed" % len(failures) if failures else "all checks passed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()

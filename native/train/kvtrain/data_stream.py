"""Training sequences: generated workspace-QA chats (most of the data) and plain code text, packed
into fixed-length token sequences with a loss class per token (chat_format.LOSS_*).

Worker processes build sequences; worker w builds sequences w, w + n, w + 2n, ... from its own seeded
generator and the main process reads them round-robin, so the stream depends only on the seed and
the worker count.
"""
import bisect
import multiprocessing
import random
import re

import numpy as np

from .chat_format import (ENCLOSING_PATH_TOKENS, LOSS_CONTEXT, LOSS_NONE, LOSS_SECOND_HOP, NO_ENCLOSING, self_reference_pieces, DEFAULT_PREAMBLE,
                          RenderStyle, encode_chat, file_block_tokens, render_workspace_blocks)
from .qa_generator import (PATH_ANSWER_FAMILIES, chat_second_hops, chat_turns_with_hops, enclosing_spans, generate_workspace, pick_questions,
                           without_repeated_hops)

# The families that need two hops (find the definition, then its file header or enclosing function)
# are learned far more slowly than plain value lookups; asking them more often helped tiny (2k
# workspaces) but slowed small's learning of the lookups themselves at 16k (models/small.md).
DEFAULT_PATH_FAMILY_WEIGHT = 3.0


def training_family_weights(path_family_weight):
    return {family: path_family_weight for family in PATH_ANSWER_FAMILIES}

PREAMBLES = [DEFAULT_PREAMBLE, DEFAULT_PREAMBLE, "", "The user's workspace:\n\n",
             "You answer questions about the workspace below. Its files follow.\n\n",
             "You are a coding assistant. Answer questions about these workspace files.\n\n"]


class DataLayout:
    """How training chats are rendered and asked: shares of chats with a blank line between files and
    with the engine's file list at the end, and whether a chat names each file's path in at most one
    answer."""

    def __init__(self, preambles, blank_line_share, file_list_share, one_path_answer_per_file, outline_share=0.0,
                 outline_detail="names"):
        self.preambles = preambles
        self.blank_line_share = blank_line_share
        self.file_list_share = file_list_share
        self.one_path_answer_per_file = one_path_answer_per_file
        # Chats whose workspace ends with the outline (workspace_outline.py), as the engine's prompts do.
        self.outline_share = outline_share
        # Its detail (workspace_outline.OUTLINE_DETAILS).
        self.outline_detail = outline_detail

    def overridden(self, blank_line_share=None, file_list_share=None, one_path_answer_per_file=None, outline_share=None,
                   outline_detail=None):
        """A copy with some choices replaced (None keeps this layout's), for ablations."""
        return DataLayout(self.preambles,
                          self.blank_line_share if blank_line_share is None else blank_line_share,
                          self.file_list_share if file_list_share is None else file_list_share,
                          self.one_path_answer_per_file if one_path_answer_per_file is None else one_path_answer_per_file,
                          self.outline_share if outline_share is None else outline_share,
                          self.outline_detail if outline_detail is None else outline_detail)

    def takes_outline(self, rng):
        # No draw at the shares 0 and 1, so the streams of layouts without the outline stay as they were.
        return self.outline_share >= 1 or (self.outline_share > 0 and rng.random() < self.outline_share)

    def describe(self):
        return {"preambles": len(self.preambles), "blank_line_share": self.blank_line_share,
                "file_list_share": self.file_list_share, "one_path_answer_per_file": self.one_path_answer_per_file,
                "outline_share": self.outline_share, "outline_detail": self.outline_detail}


DATA_LAYOUTS = {
    # Mostly the engine's own layout (its preamble, no blank line between files, the file list at the end).
    "engine": DataLayout(PREAMBLES, 0.3, 0.75, True),
    # The layout session 1's small was trained on (models/small.md): blank lines, no file list.
    "first": DataLayout(["You answer questions about the workspace below. Its files follow.\n\n", "",
                         "The user's workspace:\n\n",
                         "You are a coding assistant. Answer questions about these workspace files.\n\n"],
                        0.7, 0.0, False),
}

# Tokens kept free after the largest workspaces for their questions; questions that do not fit are
# dropped (whole turns), so the largest training workspaces reach the 16k evaluation set's size.
QUESTION_ROOM = 1100

# About how much longer the outline makes a generated workspace, per detail: with any outline share above
# 0, every chat's files' tokens are divided by this (whether a chat takes the outline is drawn later, in
# build_chat), so the largest still fit their sequence (the outline of the evaluation workspaces is
# 15-20% of their files' tokens with names, 40-66% with definitions: 2k 40-66%, 8k 43-58%, 16k 43-50%).
OUTLINE_GROWTH = {"names": 1.25, "definitions": 1.6}


class StreamSettings:
    def __init__(self, seq_len, code_share=0.15, real_file_share=0.12, min_workspace=300, seed=0,
                 path_family_weight=DEFAULT_PATH_FAMILY_WEIGHT, layout=DATA_LAYOUTS["engine"], self_reference_share=0.0,
                 restate_error_messages=False, self_reference_placement="start", enclosing_labels=False, hop_targets=False,
                 lookup_targets=False, fresh_hops_only=False):
        self.seq_len = seq_len
        self.enclosing_labels = enclosing_labels  # build the enclosing probe's labels (train.py --enclosing-loss-weight)
        self.hop_targets = hop_targets  # build the hop-attention targets (train.py --hop-attention-weight)
        self.lookup_targets = lookup_targets  # and the one-hop lookups' among them (--lookup-attention-head)
        self.fresh_hops_only = fresh_hops_only  # no question whose second hop an earlier answer gives (--fresh-hops-only)
        self.self_reference_placement = self_reference_placement  # qa_generator.SELF_REFERENCE_PLACEMENTS
        self.restate_error_messages = restate_error_messages  # qa_generator.RESTATED_ERROR_ANSWER
        self.layout = layout  # a DataLayout
        self.path_family_weight = path_family_weight  # how often the two-hop (path answer) families are asked
        self.code_share = code_share            # sequences of plain code text
        self.real_file_share = real_file_share  # share of workspace files taken from the code corpus
        self.min_workspace = min_workspace
        self.seed = seed
        self.self_reference_share = self_reference_share  # functions and files given a self reference (qa_generator)


def _workspace_target(rng, room):
    """Workspace sizes spread from short (many questions per token) to the whole context."""
    high = max(300, room)
    roll = rng.random()
    if roll < 0.3:
        return rng.randint(min(300, high), max(300, min(high, 2500)))
    if roll < 0.6:
        return rng.randint(min(300, high), high)
    return rng.randint(max(300, int(high * 0.6)), high)


def workspace_block_spans(tokenizer, blocks, workspace):
    """Per system block, None or the enclosing-probe spans of a file block (chat_format.encode_chat):
    the file's content labelled with the first tokens of its path, and inside it each generated
    function's body also with the first token of the function's name."""
    result = []
    for block in blocks:
        text = block if isinstance(block, str) else "".join(piece for piece, _loss_class in block)
        if not text.startswith('<file path="'):
            result.append(None)
            continue
        path = text.split('"', 2)[1]
        content_start, content_end = text.index("\n") + 1, text.rindex("</file>")
        path_labels = tuple((tokenizer.encode(" " + path) + [-1] * ENCLOSING_PATH_TOKENS)[:ENCLOSING_PATH_TOKENS])
        spans = []
        names = workspace.functions_by_path.get(path)
        if names:
            for start, end, name in enclosing_spans(text[content_start:content_end], names):
                spans.append((content_start + start, content_start + end, (tokenizer.encode(" " + name)[0],) + path_labels))
        spans.append((content_start, content_end, (-1,) + path_labels))
        result.append(spans)
    return result


# Hop-attention targets kept per training sequence (train.py --hop-attention-weight).
MAX_HOP_TARGETS = 512


def token_offsets(tokenizer, ids):
    """(text, start offset of each token) of decoded ids."""
    pieces = [tokenizer.decode([token_id]) for token_id in ids]
    starts, total = [], 0
    for piece in pieces:
        starts.append(total)
        total += len(piece)
    return "".join(pieces), starts


# How many tokens of each second-hop field the attention targets cover: past the top folder ("
# modules", "/", "endpoint") a path is mostly unique and the rest is copied from its header; a model
# supervised at the first token only named the right top folder and then a wrong file in it
# (models/small.md, "Session of 2026-12-07, second").
HOP_FIELD_TOKENS = ENCLOSING_PATH_TOKENS


def hop_attention_targets(tokenizer, ids, classes, questions, hops, offsets=None):
    """[(index of a second-hop answer token, first, end token of what it is found from, its index in its
    field)] for the first HOP_FIELD_TOKENS tokens of each second-hop field: the workspace's occurrence of
    the error message (error questions) or the name in the function's definition line (function_file),
    in token positions of ids; none for a field whose source cannot be found. hops:
    qa_generator.chat_second_hops(questions), as the chat was encoded with; offsets: token_offsets(ids)
    where the caller has them."""
    hop_indexes = [index for index, loss_class in enumerate(classes) if loss_class == LOSS_SECOND_HOP]
    if not hop_indexes:
        return []
    text, starts = offsets or token_offsets(tokenizer, ids)
    sources = []
    for (fact, _question, _answer), (fields, _repeated) in zip(questions, hops):
        if not fields:
            continue
        if fact["family"] == "function_file":
            block = text.find('<file path="%s"' % fact["path"])
            found = re.compile(r'(?m)^(?![ \t])[^\n]*?\b(%s)\(' % re.escape(fact["name"])).search(text, block) if block >= 0 else None
            span = found.span(1) if found else None
        else:
            at = text.find('"' + fact["message"])
            span = (at + 1, at + 1 + len(fact["message"])) if at >= 0 else None
        sources.extend((span, fact[field]) for field, _offset in fields)
    targets = []
    for hop_index, (span, value) in zip(hop_indexes, sources):
        if span is None:
            continue
        first = bisect.bisect_right(starts, span[0]) - 1  # the token holding its first character (" name" is one)
        end = bisect.bisect_left(starts, span[1])
        if not first < end < hop_index:
            continue
        field_end = starts[hop_index] + 1 + len(value)  # the field's token starts at the space before it
        for place in range(HOP_FIELD_TOKENS):
            if hop_index + place >= len(ids) or starts[hop_index + place] >= field_end:
                break
            targets.append((hop_index + place, first, end, place))
    return targets


# Kinds of attention targets (the fourth column of a sequence's targets): a second hop (a path or
# function found through the definition or message it belongs to), a one-hop lookup (a value or
# parameter list copied from next to the name the question gives).
TARGET_SECOND_HOP, TARGET_LOOKUP = 0, 1
LOOKUP_FAMILIES = ("const_value", "config_default", "function_params")


def lookup_source_pattern(fact):
    """A regex whose group 1 is, inside the fact's file, the value or parameter list a one-hop answer copies."""
    if fact["family"] == "function_params":
        return r"\b%s\((%s)\)" % (re.escape(fact["name"]), re.escape(fact["params"]))
    name = fact["name"] if fact["family"] == "const_value" else fact["key"]
    return r"(?m)%s\b[^\n]*?(%s)" % (re.escape(name), re.escape(fact["literal"]))


def lookup_attention_targets(tokenizer, ids, questions, offsets=None):
    """[(index of the answer token that starts the copied value, first, end token of that value in the
    workspace, 0)] for the one-hop questions (LOOKUP_FAMILIES) whose answers ids hold, in order;
    offsets: token_offsets(ids) where the caller has them."""
    text, starts = offsets or token_offsets(tokenizer, ids)
    system_end = text.find("<|im_end|>")
    targets, cursor = [], system_end
    for fact, question, answer in questions:
        asked = text.find(question, cursor)
        answered = text.find(answer, asked + len(question)) if asked >= 0 else -1
        if answered < 0:
            break  # this turn and the later ones were cut off
        cursor = answered + len(answer)
        if fact["family"] not in LOOKUP_FAMILIES:
            continue
        field = "(" + fact["params"] if fact["family"] == "function_params" else " " + fact["literal"]
        block = text.find('<file path="%s"' % fact["path"], 0, system_end)
        found = re.compile(lookup_source_pattern(fact)).search(text, block, system_end) if block >= 0 else None
        if found is None or field not in answer:
            continue
        answer_token = bisect.bisect_right(starts, answered + answer.index(field) + 1) - 1  # holds the value's first character
        first = bisect.bisect_right(starts, found.start(1)) - 1
        end = bisect.bisect_left(starts, found.end(1))
        if first < end <= answer_token - 1:
            targets.append((answer_token, first, end, 0))
    return targets


def build_chat(rng, tokenizer, split, target_tokens, corpus, real_file_share, product_style=False,
               path_family_weight=DEFAULT_PATH_FAMILY_WEIGHT, layout=DATA_LAYOUTS["engine"], max_tokens=None,
               self_reference_share=0.0, restate_error_messages=False, self_reference_placement="start", enclosing_labels=None,
               hop_targets=None, fresh_hops_only=False, lookup_targets=True):
    """Token ids and loss classes of one chat about a generated workspace; with max_tokens, the last
    question turns are left out so the chat fits (None when not even one turn fits). enclosing_labels
    (a list) receives the enclosing probe's labels, one tuple per token; hop_targets (a list) the
    attention targets, (answer token, first, end source token, TARGET_* kind, index in its field) in answer order: the second
    hops' (hop_attention_targets) and, with lookup_targets, the one-hop lookups' (lookup_attention_targets). fresh_hops_only: leave out the questions whose
    second-hop answer an earlier answer of the chat gives (qa_generator.without_repeated_hops)."""
    def count(path, content):
        return file_block_tokens(tokenizer, path, content)
    real_files = corpus.workspace_file if (corpus is not None and len(corpus) > 0) else None
    workspace = generate_workspace(rng, split, target_tokens, count, real_files, real_file_share if real_files else 0.0,
                                   self_reference_share, self_reference_placement)
    question_count = max(3, min(48, target_tokens // 250))
    questions = pick_questions(rng, workspace, question_count, family_weights=training_family_weights(path_family_weight),
                               one_path_answer_per_file=layout.one_path_answer_per_file,
                               restate_error_messages=restate_error_messages)
    if fresh_hops_only:
        questions = without_repeated_hops(questions)
    if product_style:
        style = RenderStyle()
    else:
        style = RenderStyle(preamble=rng.choice(layout.preambles), blank_line_between_files=rng.random() < layout.blank_line_share,
                            file_list_tail=rng.random() < layout.file_list_share, outline_tail=layout.takes_outline(rng),
                            outline_detail=layout.outline_detail)
    blocks = render_workspace_blocks(workspace.files, style)
    if workspace.self_reference_lines:
        blocks = [self_reference_pieces(block, workspace.self_reference_lines) for block in blocks]
    turn_ends = []
    block_spans = workspace_block_spans(tokenizer, blocks, workspace) if enclosing_labels is not None else None
    hops = chat_second_hops(questions)
    ids, classes = encode_chat(tokenizer, blocks, chat_turns_with_hops(questions, hops),
                               turn_ends=turn_ends, block_spans=block_spans, enclosing_labels=enclosing_labels)
    if max_tokens is not None and len(ids) > max_tokens:
        fitting = [end for end in turn_ends if end <= max_tokens]
        if not fitting:
            return None
        if enclosing_labels is not None:
            del enclosing_labels[fitting[-1]:]
        ids, classes = ids[:fitting[-1]], classes[:fitting[-1]]
    if hop_targets is not None:
        offsets = token_offsets(tokenizer, ids)
        found = [(TARGET_SECOND_HOP, hop_attention_targets(tokenizer, ids, classes, questions, hops, offsets))]
        if lookup_targets:
            found.append((TARGET_LOOKUP, lookup_attention_targets(tokenizer, ids, questions, offsets)))
        for kind, targets in found:
            hop_targets.extend((answer, first, end, kind, place) for answer, first, end, place in targets)
        hop_targets.sort()
    return ids, classes


def build_code_sequence(rng, tokenizer, corpus, seq_len, ids, classes, labels=None):
    while len(ids) < seq_len:
        found = corpus.random_text(rng) if corpus is not None and len(corpus) else None
        if found is None:
            break
        _relative, text = found
        piece = [tokenizer.bos_id] + tokenizer.encode(text)
        ids.extend(piece)
        classes.extend([LOSS_NONE] + [LOSS_CONTEXT] * (len(piece) - 1))
        if labels is not None:
            labels.extend([NO_ENCLOSING] * len(piece))


def build_sequence(rng, tokenizer, corpus, settings):
    """(token ids, loss classes, enclosing-probe labels [seq_len, 1 + ENCLOSING_PATH_TOKENS] or None,
    attention targets [MAX_HOP_TARGETS, 5] (answer token, first, end source token, TARGET_* kind, index in
    its field) padded with -1, or None)."""
    seq_len = settings.seq_len
    ids, classes = [], []
    labels = [] if settings.enclosing_labels else None
    hop_targets = [] if settings.hop_targets else None
    if corpus is not None and len(corpus) and rng.random() < settings.code_share:
        build_code_sequence(rng, tokenizer, corpus, seq_len, ids, classes, labels)
    else:
        failures = 0
        while seq_len - len(ids) >= settings.min_workspace + 400 and failures < 3:
            room = seq_len - len(ids)
            target = _workspace_target(rng, room - 400 - min(QUESTION_ROOM, int((room - 400) * 0.23)))
            if settings.layout.outline_share > 0:
                target = max(settings.min_workspace, int(target / OUTLINE_GROWTH[settings.layout.outline_detail]))
            chat_labels = [] if labels is not None else None
            chat_hops = [] if hop_targets is not None else None
            chat = build_chat(rng, tokenizer, "train", target, corpus, settings.real_file_share,
                              path_family_weight=settings.path_family_weight, layout=settings.layout, max_tokens=room,
                              self_reference_share=settings.self_reference_share,
                              restate_error_messages=settings.restate_error_messages,
                              self_reference_placement=settings.self_reference_placement, enclosing_labels=chat_labels,
                              hop_targets=chat_hops, fresh_hops_only=settings.fresh_hops_only,
                              lookup_targets=settings.lookup_targets)
            if chat is None:
                failures += 1
                continue
            if hop_targets is not None:
                hop_targets.extend((hop + len(ids), first + len(ids), end + len(ids), kind, place)
                                   for hop, first, end, kind, place in chat_hops)
            ids.extend(chat[0])
            classes.extend(chat[1])
            if labels is not None:
                labels.extend(chat_labels)
        if len(ids) < seq_len:
            build_code_sequence(rng, tokenizer, corpus, seq_len, ids, classes, labels)
    ids = (ids + [tokenizer.bos_id] * seq_len)[:seq_len]
    classes = (classes + [LOSS_NONE] * seq_len)[:seq_len]
    if labels is not None:
        labels = np.asarray((labels + [NO_ENCLOSING] * seq_len)[:seq_len], dtype=np.int32)
    if hop_targets is not None:
        kept = [target for target in hop_targets if target[0] < seq_len][:MAX_HOP_TARGETS]
        hop_targets = np.asarray((kept + [(-1,) * 5] * MAX_HOP_TARGETS)[:MAX_HOP_TARGETS], dtype=np.int32)
    return np.asarray(ids, dtype=np.int32), np.asarray(classes, dtype=np.int8), labels, hop_targets


def _worker(worker_index, worker_count, settings, tokenizer, corpus, queue):
    rng = random.Random("%d/%d/%d" % (settings.seed, worker_index, worker_count))
    try:
        while True:
            queue.put(build_sequence(rng, tokenizer, corpus, settings))
    except Exception:  # noqa: BLE001 (the reader re-raises it; a silent death would hang training)
        import traceback
        queue.put(WorkerFailure(traceback.format_exc()))
        raise


class WorkerFailure:
    """Put in a worker's queue in place of a sequence when the worker fails."""

    def __init__(self, traceback_text):
        self.traceback_text = traceback_text


class SequenceStream:
    """Batches [batch, seq_len] of token ids and loss classes from worker processes."""

    def __init__(self, tokenizer, corpus, settings, workers):
        self.tokenizer = tokenizer
        self.corpus = corpus
        self.settings = settings
        self.workers = workers
        self.next_worker = 0
        if workers == 0:
            self.rng = random.Random("%d/inline" % settings.seed)
            return
        context = multiprocessing.get_context("fork")
        self.queues = [context.Queue(maxsize=8) for _ in range(workers)]
        self.processes = [context.Process(target=_worker, args=(index, workers, settings, tokenizer, corpus, queue), daemon=True)
                          for index, queue in enumerate(self.queues)]
        for process in self.processes:
            process.start()

    def next_sequence(self):
        if self.workers == 0:
            return build_sequence(self.rng, self.tokenizer, self.corpus, self.settings)
        item = self.queues[self.next_worker].get()
        if isinstance(item, WorkerFailure):
            raise RuntimeError("data worker %d failed:\n%s" % (self.next_worker, item.traceback_text))
        self.next_worker = (self.next_worker + 1) % self.workers
        return item

    def next_batch(self, batch_size):
        """(token ids, loss classes, enclosing-probe labels or None, hop-attention targets or None),
        each stacked over the batch."""
        items = [self.next_sequence() for _ in range(batch_size)]
        labels = np.stack([item[2] for item in items]) if items[0][2] is not None else None
        hops = np.stack([item[3] for item in items]) if items[0][3] is not None else None
        return np.stack([item[0] for item in items]), np.stack([item[1] for item in items]), labels, hops

    def close(self):
        if self.workers:
            for process in self.processes:
                process.terminate()
            for process in self.processes:
                process.join(timeout=5)

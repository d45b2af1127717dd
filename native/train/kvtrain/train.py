"""Trains one model from scratch, exports it to GGUF and evaluates the exported weights.

    python3 -m kvtrain.train --model small --steps 2400 --out OUT/small [--fast]

Everything runs on one plain path (torch 1.13 on CPU in CI, torch 2.x on the GPU); --fast turns on
torch-2-only speedups (fused attention, bf16 autocast, fused AdamW) where they exist.

On several GPUs (started by torch.distributed.run, which sets WORLD_SIZE), every process trains the
same model on its own data stream and the gradients are averaged after each step; rank 0 logs,
exports and evaluates.
"""
import argparse
import collections
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

from .chat_format import ENCLOSING_PATH_TOKENS, LOSS_ANSWER, LOSS_CONTEXT, LOSS_REPEATED_HOP, LOSS_SECOND_HOP, LOSS_SELF_REFERENCE, RenderStyle
from .code_corpus import DEFAULT_CODE_ROOTS, CodeCorpus
from .data_stream import DATA_LAYOUTS, DEFAULT_PATH_FAMILY_WEIGHT, HOP_FIELD_TOKENS, TARGET_LOOKUP, TARGET_SECOND_HOP, SequenceStream, StreamSettings
from .evaluate import evaluate_set, generate_eval_set
from .gguf_io import QUANT_PLANS, export_gguf, load_gguf
from .model import CONFIGS, EnclosingProbe, LlamaModel, ModelConfig
from .qa_generator import SELF_REFERENCE_PLACEMENTS
from .tokenizer import shared_tokenizer
from .workspace_outline import OUTLINE_DETAILS

DEFAULTS = {
    # batch, learning rate, evaluation sets, data workers
    "tiny": dict(batch=16, lr=3e-3, eval_sizes="2k", workers=12),
    "small": dict(batch=4, lr=2e-3, eval_sizes="2k,8k,16k", workers=12),
    "ci": dict(batch=2, lr=3e-3, eval_sizes="", workers=0),
}


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=sorted(CONFIGS), required=True)
    parser.add_argument("--heads", help="H:KV, attention heads and KV heads instead of the model's own (the same width, so "
                                        "the same parameter count when H/KV is kept): e.g. 8:4 for `small`'s 4:2")
    parser.add_argument("--steps", type=int, required=True, help="optimizer steps (sets the learning-rate schedule)")
    parser.add_argument("--max-minutes", type=float, default=None, help="stop early after this much training time")
    parser.add_argument("--out", required=True, help="output folder (GGUF, loss log, evaluation)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--init-gguf", help="start from this GGUF's weights (dequantized; the same model, the context may differ) instead of "
                        "random ones: continues a kept model's training within another command's time limit")
    parser.add_argument("--batch", type=int)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--workers", type=int)
    parser.add_argument("--seq-len", type=int, help="training context (default: the model's)")
    parser.add_argument("--context", type=int, help="the model's context length instead of its own (trained at, and recorded in the GGUF)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--fast", action="store_true", help="torch 2 speedups: SDPA attention, bf16 autocast, fused AdamW")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model (torch 2 only)")
    parser.add_argument("--code-roots", default=",".join(DEFAULT_CODE_ROOTS))
    parser.add_argument("--code-file-limit", type=int, default=None)
    parser.add_argument("--context-loss-weight", type=float, default=0.2)
    parser.add_argument("--context-sample-rate", type=float, default=0.1,
                        help="share of workspace/code positions whose next-token loss is computed")
    parser.add_argument("--eval-sizes", help="comma list of 2k,8k,16k ('' for none)")
    parser.add_argument("--eval-workspaces", type=int, default=12)
    parser.add_argument("--quant", help="quantization plan (default: the model's)")
    parser.add_argument("--eval-float", action="store_true",
                        help="also evaluate the unquantized model on the first evaluation set")
    parser.add_argument("--path-family-weight", type=float, default=DEFAULT_PATH_FAMILY_WEIGHT,
                        help="how often the two-hop families (answers that are paths or enclosing functions) are asked, relative to the others")
    parser.add_argument("--data-layout", choices=sorted(DATA_LAYOUTS), default="engine",
                        help="how chats are rendered and asked (data_stream.DATA_LAYOUTS)")
    parser.add_argument("--blank-line-share", type=float, help="override the layout's share of chats with a blank line between files")
    parser.add_argument("--file-list-share", type=float, help="override the layout's share of chats ending with the file list")
    parser.add_argument("--outline-share", type=float,
                        help="override the layout's share of chats whose workspace ends with the outline (workspace_outline.py; the engine renders it)")
    parser.add_argument("--outline-detail", choices=OUTLINE_DETAILS, default="names",
                        help="the outline's detail in training chats and evaluation prompts (workspace_outline.OUTLINE_DETAILS; "
                             "the engine's --outline-detail)")
    parser.add_argument("--one-path-per-file", choices=["yes", "no"],
                        help="override whether a chat names each file's path in at most one answer")
    parser.add_argument("--self-reference-share", type=float, default=0.0,
                        help="share of generated functions and source files given a line naming them (qa_generator.add_self_references)")
    parser.add_argument("--self-reference-placement", choices=SELF_REFERENCE_PLACEMENTS, default="start",
                        help="start: after a function's first line and before the first function; key: right after the error "
                             "message and the first function's opening line, with the questions they would give away left out")
    parser.add_argument("--self-reference-loss-weight", type=float, default=1.0,
                        help="weight of the next-token loss on every name and path those lines name (always computed, not sampled)")
    parser.add_argument("--second-hop-loss-weight", type=float, default=0.0,
                        help="extra weight of the loss on the answer tokens that start a field found by a second hop "
                             "(a path after its definition, a function after its message); their loss and accuracy are logged anyway")
    parser.add_argument("--restate-error-messages", action="store_true",
                        help="answers to the error questions restate the message first (qa_generator.RESTATED_ERROR_ANSWER)")
    parser.add_argument("--enclosing-loss-weight", type=float, default=0.0,
                        help="weight of a training-only probe's loss: after --enclosing-layer blocks, every workspace token "
                             "predicts the first token of its enclosing function's name and the first tokens of its file's path "
                             "(model.EnclosingProbe; the features a second hop reads); 0: off")
    parser.add_argument("--enclosing-layer", type=int, help="blocks before the enclosing probe (default: half the model's)")
    parser.add_argument("--enclosing-sample-rate", type=float, default=0.05,
                        help="share of the labelled workspace tokens the enclosing probe is trained on per step")
    parser.add_argument("--hop-attention-weight", type=float, default=0.0,
                        help="weight of a loss on one attention head: from the place that predicts each second-hop answer token, "
                             "attend to what it is found from (the workspace's error message, the name in the definition line); 0: off")
    parser.add_argument("--hop-attention-layer", type=int, help="the block whose head is supervised (default: three quarters in)")
    parser.add_argument("--hop-attention-head", type=int, default=0)
    parser.add_argument("--lookup-attention-head", type=int,
                        help="with --hop-attention-weight: also supervise this head of the same block, the same way, on the "
                             "one-hop answers (a constant's or config key's value, a parameter list): attend to the value "
                             "in the workspace and carry it (data_stream.lookup_attention_targets); default: off")
    parser.add_argument("--hop-value-weight", type=float, default=0.0,
                        help="with --hop-attention-weight: also read each second-hop answer token from that head's output "
                             "alone, this weight times its cross-entropy (relative to the hop-attention loss); 0: off")
    parser.add_argument("--hop-value-readout", choices=["output", "private"], default="output",
                        help="with --hop-value-weight: read a field's first token through the model's own (frozen) final norm "
                             "and tied output (output), or, as its later tokens, through a training-only projection (private), "
                             "so that the supervised head need not push the final logits itself")
    parser.add_argument("--hop-head-quiet", type=float, default=0.0,
                        help="with --hop-value-weight: plus this weight times the squared size of the supervised head's "
                             "output, against the residual's, where a one-hop lookup's answer is predicted: the head must "
                             "not push hop tokens there (models/small.md, session of 2026-12-07, fourth); 0: off")
    parser.add_argument("--hop-losses-from", type=int, default=0,
                        help="with --hop-attention-weight: the second-hop losses count only from this step on, so that the "
                             "one-hop lookups form before the hop losses compete with them (before, they are computed and "
                             "logged at weight 0; a --lookup-attention-head's losses count from the start); 0: from the start")
    parser.add_argument("--hop-losses-after-lookups", type=float, default=None,
                        help="with --hop-attention-weight: the hop losses count only once the one-hop lookups have formed: "
                             "their answers' first token right at least this share of the time over the last 100 steps (and "
                             "the step at least --hop-losses-from). They form 2 000 to 4 000 steps in, varying from run to run")
    parser.add_argument("--confine-hop-losses", action="store_true",
                        help="the hop-attention and hop-value losses reach only the supervised heads' own projections, not the "
                             "layers below them: a loss no single head can bring low otherwise unsettles what every answer "
                             "shares (models/small.md, session of 2026-12-07, fourth)")
    parser.add_argument("--fresh-hops-only", action="store_true",
                        help="leave out of training chats the questions whose second-hop answer (a function or path) an earlier "
                             "answer of the chat already gives: such answers are copies, not hops (models/small.md)")
    parser.add_argument("--short-seq-len", type=int, default=0,
                        help="curriculum: train on sequences of this length first; 0: off")
    parser.add_argument("--short-batch", type=int, default=0,
                        help="batch of the short sequences (default: as many tokens per step as the long ones); a small one gives "
                             "many cheap steps, and the answer lookups emerge after a number of steps rather than of tokens")
    parser.add_argument("--short-share", type=float, default=0.3,
                        help="share of the training (by steps or by --max-minutes, whichever is further) on the short sequences")
    parser.add_argument("--log-every", type=int, default=25)
    arguments = parser.parse_args(argv)
    for key, value in DEFAULTS[arguments.model].items():
        if getattr(arguments, key) is None:
            setattr(arguments, key, value)
    if arguments.workers < 0:
        parser.error("--workers must be 0 (build sequences in this process) or more")
    return arguments


def learning_rate(step, total, peak, time_progress=0.0):
    """Warmup, then cosine decay to 10%; time_progress (share of --max-minutes used) can only advance
    the decay, so a run stopped by time still ends annealed."""
    warmup = max(1, min(200, total // 20))
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, max((step - warmup) / max(1, total - warmup), time_progress))
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def make_optimizer(model, lr, fast, extra_parameters=()):
    parameters = list(model.parameters()) + list(extra_parameters)
    decay = [p for p in parameters if p.dim() >= 2]
    no_decay = [p for p in parameters if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}]
    if fast:
        try:
            return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95), fused=True)
        except (TypeError, RuntimeError):
            pass
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95))


def enclosing_probe_loss(model, probe, intermediate, labels, sample_rate, generator):
    """(mean cross-entropy over the probe's targets, stats) at a random sample of the labelled
    positions; labels [batch, time, targets] with -1 where a token has none."""
    flat_labels = labels.reshape(-1, labels.shape[-1])
    labelled = flat_labels.max(dim=1).values >= 0
    sampled = torch.rand(labelled.shape, generator=generator, device="cpu").to(labelled.device) < sample_rate
    index = torch.nonzero(labelled & sampled).squeeze(1)
    if not index.numel():
        return None, {}
    residual = intermediate.reshape(-1, intermediate.shape[-1]).index_select(0, index)
    picked = flat_labels.index_select(0, index)
    losses, stats = [], {}
    for target in range(picked.shape[1]):
        wanted = picked[:, target]
        if not bool((wanted >= 0).any()):
            continue
        logits = probe.logits(residual, target, model.tok_embd.weight).float()
        losses.append(F.cross_entropy(logits, wanted, ignore_index=-1))
        if target <= 1:  # the function's first token, the path's first token
            known = wanted >= 0
            accuracy = float((logits[known].argmax(-1) == wanted[known]).float().mean())
            stats["enclosing_function_accuracy" if target == 0 else "enclosing_path_accuracy"] = accuracy
    loss = sum(losses) / len(losses)
    stats["enclosing_loss"] = float(loss.detach())
    return loss, stats


# What training's hop losses need besides the model and the residual stream (training_loss):
# targets [batch, targets, 5] and the kinds among them (a host-side set), the loss weight, the
# supervised block and heads by target kind, then hop_attention_loss's options.
HopSupervision = collections.namedtuple("HopSupervision", "targets kinds_present weight layer heads value_weight readout confined "
                                                          "first_through_output quiet_weight second_hop_scale", defaults=(1.0,))


def parse_heads(text, width):
    """(heads, KV heads) from --heads H:KV; refused unless KV divides H and H divides the width evenly."""
    try:
        heads, kv_heads = (int(part) for part in text.split(":"))
    except ValueError:
        raise SystemExit("--heads takes H:KV, e.g. 8:4")
    if heads <= 0 or kv_heads <= 0 or heads % kv_heads or width % heads or (width // heads) % 2:
        raise SystemExit("--heads %s: KV must divide H, and H the width %d into an even head size" % (text, width))
    return heads, kv_heads


class HopLossGate:
    """When the second-hop losses count (before, they are computed and logged at weight 0: no gradient;
    a supervised lookup head's losses count from the start): from step `from_step` on and, with
    `lookups_at_least`, only once the one-hop lookups have formed: their answers' first token right
    (training_loss's lookup_first_accuracy) at least that often over the last `window` steps that had
    lookups. Once open, it stays open. Each process decides from its own batches: in a data-parallel
    run the processes may open it a few steps apart (their gradients are averaged all the same)."""

    def __init__(self, from_step=0, lookups_at_least=None, window=100):
        self.from_step, self.lookups_at_least = from_step, lookups_at_least
        self.recent = collections.deque(maxlen=window)
        self.started_at = None

    def record(self, lookup_accuracy):
        if lookup_accuracy is not None:
            self.recent.append(lookup_accuracy)

    def is_open(self, step):
        if self.started_at is None and step >= self.from_step and (
                self.lookups_at_least is None
                or (len(self.recent) == self.recent.maxlen and sum(self.recent) / len(self.recent) >= self.lookups_at_least)):
            self.started_at = step
        return self.started_at is not None


def hop_attention_loss(model, residual, tokens, hop_targets, layer, heads, value_weight=0.0, readout=None, kinds_present=None,
                       confined=False, first_through_output=True, quiet_weight=0.0, second_hop_scale=1.0):
    """(loss, stats): for each kind of target (data_stream.TARGET_*) that `heads` gives a head of block
    `layer`, the mean -log of the attention mass that head puts, at the place predicting the target's
    answer token, on what that token is found from (second hops: the workspace's error message or the
    name in the definition line; lookups: the value itself); with value_weight, plus that weight times
    the cross-entropy of the answer token read from the head's own output alone, which makes the head
    carry what it attends to rather than only look at it: a field's first token through the final norm
    and the tied output (their weights detached: model.frozen_output_logits), its later ones through `readout` (model.EnclosingProbe, one projection per
    later token), so that the one head output carries the field's first tokens all together.
    hop_targets [batch, targets, 5]: (answer token, first, end source token, kind, index in its field),
    -1 padded; tokens [batch, time]: the sequences. The whole batch at once, with masks instead of
    data-dependent shapes, so that the GPU never waits for the host; kinds_present (the kinds with
    targets, known on the host) spares the check (None: look). confined: the loss reaches only the
    supervised heads' projections (model._head_inputs). first_through_output False: every token, the
    first too, is read through `readout` (one projection per token of a field). quiet_weight (with
    value_weight): plus that weight times the mean squared size of the second-hop head's output, over
    the residual's, where a lookup's answer is predicted (lookup targets in hop_targets).
    second_hop_scale multiplies the second-hop kind's losses (its attention, value and quiet ones):
    0 while HopLossGate is closed, when only a lookup head's losses count."""
    answer, kinds, places = hop_targets[..., 0], hop_targets[..., 3], hop_targets[..., 4]
    positions = torch.arange(residual.shape[1], device=residual.device)
    # Padding slots attend "to" position 0, a finite stand-in, and are masked out of every mean.
    queries = (answer - 1).clamp(min=0)
    inside = (positions >= hop_targets[..., 1:2]) & (positions < hop_targets[..., 2:3]) | ((answer <= 0)[..., None] & (positions == 0))
    wanted = torch.gather(tokens, 1, answer.clamp(min=0))

    def targets_of(kind):
        """(mask of that kind's targets, whether it has any: from the host's count when given)."""
        mask = targets_of_kind(hop_targets, kind)
        return mask, (kind in kinds_present if kinds_present is not None else bool(mask.any()))

    losses, stats = [], {}
    for kind, name in ((TARGET_SECOND_HOP, "hop"), (TARGET_LOOKUP, "lookup")):
        head = heads.get(kind)
        chosen, any_chosen = targets_of(kind)
        if head is None or not any_chosen:
            continue
        scale = second_hop_scale if kind == TARGET_SECOND_HOP else 1.0
        count = chosen.sum().clamp(min=1)
        log_weights = model.attention_log_weights(residual, layer, head, queries, confined)
        log_mass = torch.logsumexp(log_weights.masked_fill(~inside, float("-inf")), dim=-1)
        attention_loss = -(log_mass * chosen).sum() / count
        losses.append(scale * attention_loss)
        stats.update({name + "_attention_loss": attention_loss.detach(),
                      name + "_attention_mass": (log_mass.detach().exp() * chosen).sum() / count})
        if not value_weight:
            continue
        output = model.attention_head_output(residual, layer, head, log_weights, confined)
        value_loss_sum, value_right_sum = 0.0, 0.0
        through_output = 1 if first_through_output else 0
        read_places = (through_output + len(readout.projections)) if readout is not None and kind == TARGET_SECOND_HOP else 1
        value_count = (chosen & (places < read_places)).sum().clamp(min=1)
        for place in range(read_places):
            if place < through_output:
                logits = model.frozen_output_logits(output)
            else:
                logits = readout.logits(output, place - through_output, model.tok_embd.weight).float()
            at = chosen & (places == place)
            cross_entropy = F.cross_entropy(logits.flatten(0, 1), wanted.flatten(), reduction="none").view_as(wanted)
            value_loss_sum = value_loss_sum + (cross_entropy * at).sum()
            value_right_sum = value_right_sum + ((logits.argmax(-1) == wanted) & at).sum()
        value_loss = value_loss_sum / value_count
        losses.append(scale * value_weight * value_loss)
        stats.update({name + "_value_loss": value_loss.detach(), name + "_value_accuracy": value_right_sum / value_count})
        if not (quiet_weight and kind == TARGET_SECOND_HOP):
            continue
        at_lookups, any_lookups = targets_of(TARGET_LOOKUP)
        if any_lookups:
            # The head's queries cover every target, so its output where lookups are answered is already here.
            at_queries = torch.gather(residual, 1, queries[..., None].expand(-1, -1, residual.shape[-1])).detach().float()
            share = output.float().pow(2).sum(-1) / at_queries.pow(2).sum(-1).clamp(min=1e-6)
            lookups = at_lookups.sum().clamp(min=1)
            losses.append(scale * quiet_weight * (share * at_lookups).sum() / lookups)
            stats["hop_head_size_at_lookups"] = (share.detach().sqrt() * at_lookups).sum() / lookups
    if not losses:
        return None, {}
    return sum(losses), {key: float(value) for key, value in stats.items()}


def targets_of_kind(hop_targets, kind):
    """The mask of hop_targets' rows of that kind (data_stream.TARGET_*), padding left out."""
    return (hop_targets[..., 0] > 0) & (hop_targets[..., 3] == kind)


def lookup_first_counts(model, hidden, tokens, hop_targets):
    """(right, lookups): how often the model's own answer gets a one-hop lookup's value's first token
    (hop_targets rows of kind TARGET_LOOKUP) as its top prediction, out of how many lookups."""
    chosen = targets_of_kind(hop_targets, TARGET_LOOKUP)
    count = int(chosen.sum())
    if not count:
        return 0, 0
    answer = hop_targets[..., 0]
    with torch.no_grad():
        at = (answer - 1).clamp(min=0)
        predicted = model.logits_at(torch.gather(hidden, 1, at[..., None].expand(-1, -1, hidden.shape[-1]))).argmax(-1)
        wanted = torch.gather(tokens, 1, answer.clamp(min=0))
        return int(((predicted == wanted) & chosen).sum()), count


def lookup_first_accuracy(model, hidden, tokens, hop_targets):
    """lookup_first_counts as a share; None without lookups. The signal that the lookups have formed
    (HopLossGate)."""
    right, count = lookup_first_counts(model, hidden, tokens, hop_targets)
    return right / count if count else None


def training_loss(model, hidden_model, tokens, classes, context_rate, context_weight, generator, self_reference_weight=1.0,
                  second_hop_weight=0.0, enclosing=None, hop_attention=None):
    """Next-token loss on every answer token plus a random sample of workspace/code tokens, plus the
    loss on every self reference name (none unless --self-reference-share), plus, with enclosing
    (probe, labels, sample rate, weight, layer), the enclosing probe's loss, plus, with hop_attention
    (a HopSupervision), its weight x
    hop_attention_loss."""
    inputs, targets, target_classes = tokens[:, :-1], tokens[:, 1:], classes[:, 1:]
    if enclosing is not None or hop_attention is not None:
        hidden, residual_after = hidden_model(inputs)
    else:
        hidden = hidden_model(inputs)
    flat_hidden = hidden.reshape(-1, hidden.shape[-1])
    flat_targets = targets.reshape(-1)
    flat_classes = target_classes.reshape(-1)
    answer_index = torch.nonzero((flat_classes == LOSS_ANSWER) | (flat_classes == LOSS_SECOND_HOP)
                                 | (flat_classes == LOSS_REPEATED_HOP)).squeeze(1)
    sampled = torch.rand(flat_classes.shape, generator=generator, device="cpu").to(flat_classes.device) < context_rate
    context_index = torch.nonzero((flat_classes == LOSS_CONTEXT) & sampled).squeeze(1)
    self_reference_index = torch.nonzero(flat_classes == LOSS_SELF_REFERENCE).squeeze(1)

    def scored(index):
        """(logits, targets, mean cross-entropy) at the flat positions `index`."""
        logits = model.logits_at(flat_hidden.index_select(0, index)).float()
        targets_at = flat_targets.index_select(0, index)
        return logits, targets_at, F.cross_entropy(logits, targets_at)

    stats = {}
    loss = flat_hidden.sum() * 0.0
    if answer_index.numel():
        logits, answer_targets, answer_loss = scored(answer_index)
        loss = loss + answer_loss
        stats["answer_loss"] = float(answer_loss.detach())
        stats["answer_accuracy"] = float((logits.argmax(-1) == answer_targets).float().mean())
        second_hop = flat_classes.index_select(0, answer_index) == LOSS_SECOND_HOP
        if bool(second_hop.any()):
            second_hop_loss = F.cross_entropy(logits[second_hop], answer_targets[second_hop])
            if second_hop_weight:
                loss = loss + second_hop_weight * second_hop_loss
            stats["second_hop_loss"] = float(second_hop_loss.detach())
            stats["second_hop_accuracy"] = float((logits[second_hop].argmax(-1) == answer_targets[second_hop]).float().mean())
        repeated = flat_classes.index_select(0, answer_index) == LOSS_REPEATED_HOP
        if bool(repeated.any()):
            stats["repeated_hop_accuracy"] = float((logits[repeated].argmax(-1) == answer_targets[repeated]).float().mean())
    if context_index.numel():
        _logits, _targets, context_loss = scored(context_index)
        loss = loss + context_weight * context_loss
        stats["context_loss"] = float(context_loss.detach())
    if self_reference_index.numel():
        logits, self_reference_targets, self_reference_loss = scored(self_reference_index)
        loss = loss + self_reference_weight * self_reference_loss
        stats["self_reference_loss"] = float(self_reference_loss.detach())
        stats["self_reference_accuracy"] = float((logits.argmax(-1) == self_reference_targets).float().mean())
    if enclosing is not None:
        probe, labels, sample_rate, weight, layer = enclosing
        probe_loss, probe_stats = enclosing_probe_loss(model, probe, residual_after[layer], labels[:, :-1], sample_rate, generator)
        if probe_loss is not None:
            loss = loss + weight * probe_loss
            stats.update(probe_stats)
    if hop_attention is not None:
        hop = hop_attention
        lookup_accuracy = lookup_first_accuracy(model, hidden, tokens, hop.targets)
        if lookup_accuracy is not None:
            stats["lookup_first_accuracy"] = lookup_accuracy
        # value_weight and quiet_weight are relative to the attention loss's weight: the whole is scaled by `weight`.
        attention_loss, attention_stats = hop_attention_loss(model, residual_after[hop.layer], tokens, hop.targets, hop.layer, hop.heads,
                                                             hop.value_weight, hop.readout, hop.kinds_present, hop.confined,
                                                             hop.first_through_output, hop.quiet_weight, hop.second_hop_scale)
        if attention_loss is not None:
            loss = loss + hop.weight * attention_loss
            stats.update(attention_stats)
    return loss, stats


def start_distributed(requested_device):
    """(world size, rank, device): one process per GPU under torch.distributed.run, else (1, 0, requested)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 1, 0, torch.device(requested_device)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.device(requested_device).type != "cuda":
        dist.init_process_group("gloo")  # CPU processes (a check of this path without GPUs)
        return world, dist.get_rank(), torch.device("cpu")
    torch.cuda.set_device(local_rank)
    dist.init_process_group("nccl")
    return world, dist.get_rank(), torch.device("cuda", local_rank)


def average_gradients(parameters, time_progress, world, device):
    """Averages the gradients over the processes (one flat all-reduce) and the share of the time cap
    used, so every process takes the same learning rate and stops at the same step."""
    if world <= 1:
        return time_progress
    gradients = [p.grad if p.grad is not None else torch.zeros_like(p) for p in parameters]
    flat = torch.cat([g.reshape(-1).float() for g in gradients] + [torch.tensor([time_progress], device=device)])
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for parameter, gradient in zip(parameters, gradients):
        count = gradient.numel()
        parameter.grad = flat[offset:offset + count].view_as(gradient).to(gradient.dtype)
        offset += count
    return float(flat[-1])


def plot_losses(history, path, title):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    steps = [entry["step"] for entry in history]
    figure, axis = plt.subplots(figsize=(7, 4))
    for key, label in (("answer_loss", "answer tokens"), ("context_loss", "workspace/code tokens")):
        values = [entry.get(key) for entry in history]
        if any(value is not None for value in values):
            axis.plot(steps, [np.nan if value is None else value for value in values], label=label)
    axis.set_xlabel("step")
    axis.set_ylabel("cross-entropy")
    axis.set_yscale("log")
    axis.set_title(title)
    axis.legend()
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return True


def main(argv=None):
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    os.makedirs(arguments.out, exist_ok=True)
    log_file = open(os.path.join(arguments.out, "%s-log.txt" % arguments.model), "a")

    def log(message):
        line = "[%s %7.1fs] %s" % (arguments.model, time.time() - started, message)
        print(line, flush=True)
        log_file.write(line + "\n")
        log_file.flush()

    started = time.time()
    world, rank, device = start_distributed(arguments.device)
    if rank != 0:
        log_file.close()
        log = lambda message: None  # noqa: E731 (rank 0 reports for all)
    random.seed(arguments.seed)
    torch.manual_seed(arguments.seed)
    tokenizer = shared_tokenizer()
    config = ModelConfig.named(arguments.model, tokenizer.vocab_size)
    if arguments.heads:
        config = config.with_heads(*parse_heads(arguments.heads, config.n_embd))
    if arguments.context:
        config = config.with_context(arguments.context)
    seq_len = arguments.seq_len or config.n_ctx
    corpus = CodeCorpus([root for root in arguments.code_roots.split(",") if root], tokenizer, arguments.code_file_limit)
    log("torch %s, device %s, %d code files, tokenizer ready" % (torch.__version__, device, len(corpus)))
    layout = DATA_LAYOUTS[arguments.data_layout].overridden(
        arguments.blank_line_share, arguments.file_list_share,
        None if arguments.one_path_per_file is None else arguments.one_path_per_file == "yes", arguments.outline_share,
        arguments.outline_detail)

    def open_stream(length):
        settings = StreamSettings(seq_len=length + 1, seed=arguments.seed + 1000 * rank,
                                  path_family_weight=arguments.path_family_weight, layout=layout,
                                  self_reference_share=arguments.self_reference_share,
                                  restate_error_messages=arguments.restate_error_messages,
                                  self_reference_placement=arguments.self_reference_placement,
                                  enclosing_labels=arguments.enclosing_loss_weight > 0,
                                  hop_targets=arguments.hop_attention_weight > 0,
                                  lookup_targets=(arguments.lookup_attention_head is not None or arguments.hop_head_quiet > 0
                                                  or arguments.hop_losses_after_lookups is not None),
                                  fresh_hops_only=arguments.fresh_hops_only)
        return SequenceStream(tokenizer, corpus, settings, arguments.workers)
    short_phase = 0 < arguments.short_seq_len < seq_len
    stream = open_stream(arguments.short_seq_len if short_phase else seq_len)
    if world > 1:
        log("%d processes, one per GPU, gradients averaged" % world)

    model = LlamaModel(config, fast_attention=arguments.fast)
    if arguments.init_gguf:
        starting_point = load_gguf(arguments.init_gguf)
        # The context length and the norm epsilon (stored as float32) may differ: neither shapes a weight.
        shapes = lambda settings: {key: value for key, value in settings.to_dict().items() if key not in ("n_ctx", "norm_eps")}  # noqa: E731
        if shapes(starting_point.config) != shapes(config):
            raise SystemExit("--init-gguf %s is %s, not this run's model %s (pass the same --model and --heads)" % (
                arguments.init_gguf, json.dumps(starting_point.config.to_dict()), json.dumps(config.to_dict())))
        model.load_state_dict(starting_point.state_dict())
        log("weights from %s" % arguments.init_gguf)
    model = model.to(device)
    log("model %s: %d parameters, config %s" % (arguments.model, model.parameter_count(), json.dumps(config.to_dict())))
    hidden_model = model.hidden
    probe = None
    enclosing_layer = arguments.enclosing_layer or config.n_layer // 2
    hop_layer = arguments.hop_attention_layer if arguments.hop_attention_layer is not None else (3 * config.n_layer) // 4
    if arguments.enclosing_loss_weight > 0:
        probe = EnclosingProbe(config, 1 + ENCLOSING_PATH_TOKENS).to(device)
        log("enclosing probe after block %d of %d, weight %g, on %g of the labelled tokens" % (
            enclosing_layer, config.n_layer, arguments.enclosing_loss_weight, arguments.enclosing_sample_rate))
    if arguments.hop_attention_weight > 0:
        if arguments.hop_value_weight < 0:
            raise SystemExit("--hop-value-weight must not be negative")
        if arguments.hop_head_quiet < 0 or (arguments.hop_head_quiet and not arguments.hop_value_weight):
            raise SystemExit("--hop-head-quiet must not be negative, and needs --hop-value-weight")
        if not (0 <= hop_layer < config.n_layer and 0 <= arguments.hop_attention_head < config.n_head):
            raise SystemExit("--hop-attention-layer/--hop-attention-head out of range")
        if arguments.lookup_attention_head is not None and not (
                0 <= arguments.lookup_attention_head < config.n_head and arguments.lookup_attention_head != arguments.hop_attention_head):
            raise SystemExit("--lookup-attention-head must be another head of the model")
        if arguments.hop_losses_from < 0:
            raise SystemExit("--hop-losses-from must not be negative")
        log("hop attention: head %d of block %d (counting from 0), weight %g, value weight %g, from step %d%s" % (
            arguments.hop_attention_head, hop_layer, arguments.hop_attention_weight, arguments.hop_value_weight,
            arguments.hop_losses_from, "" if arguments.hop_losses_after_lookups is None
            else ", once the lookups' first token is right %g of the time" % arguments.hop_losses_after_lookups))
        if arguments.lookup_attention_head is not None:
            log("lookup attention: head %d of the same block" % arguments.lookup_attention_head)
    elif (arguments.hop_value_weight or arguments.lookup_attention_head is not None or arguments.confine_hop_losses
          or arguments.hop_value_readout != "output" or arguments.hop_head_quiet or arguments.hop_losses_from
          or arguments.hop_losses_after_lookups is not None):
        raise SystemExit("--hop-value-weight, --hop-value-readout, --hop-head-quiet, --hop-losses-from/-after-lookups, --lookup-attention-head and "
                         "--confine-hop-losses need --hop-attention-weight")
    attention_heads = {TARGET_SECOND_HOP: arguments.hop_attention_head, TARGET_LOOKUP: arguments.lookup_attention_head}
    hop_gate = (HopLossGate(arguments.hop_losses_from, arguments.hop_losses_after_lookups)
                if arguments.hop_attention_weight > 0 else None)
    # The residual streams (after how many blocks) the enclosing probe and the hop-attention loss read.
    layers = {layer for layer, used in ((enclosing_layer, probe is not None), (hop_layer, arguments.hop_attention_weight > 0)) if used}
    if layers:
        def hidden_model(inputs):
            return model.hidden_and_layers(inputs, layers)
    if arguments.compile and hasattr(torch, "compile"):
        hidden_model = torch.compile(hidden_model)
    # The hop-value loss reads a second-hop field's later tokens (with --hop-value-readout private, all
    # of them) from the supervised head's output through training-only projections, as the enclosing
    # probe reads the residual stream.
    private_tokens = HOP_FIELD_TOKENS if arguments.hop_value_readout == "private" else HOP_FIELD_TOKENS - 1
    hop_readout = (EnclosingProbe(config, private_tokens).to(device)
                   if arguments.hop_attention_weight > 0 and arguments.hop_value_weight > 0 else None)
    probe_parameters = [parameter for module in (probe, hop_readout) if module is not None for parameter in module.parameters()]
    optimizer = make_optimizer(model, arguments.lr, arguments.fast, probe_parameters)
    parameters = list(model.parameters()) + probe_parameters
    use_autocast = arguments.fast and device.type == "cuda"
    generator = torch.Generator().manual_seed(arguments.seed)
    history = []
    tokens_seen = 0
    train_started = time.time()
    window_started, window_tokens, window_stats = time.time(), 0, []
    step = 0
    time_progress = 0.0  # share of --max-minutes used, as agreed by all processes at the last step
    try:
        for step in range(arguments.steps):
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(step, arguments.steps, arguments.lr, time_progress)
            if short_phase and max(step / arguments.steps, time_progress) >= arguments.short_share:
                stream.close()
                stream = open_stream(seq_len)
                short_phase = False
                log("step %d: curriculum switches to %d-token sequences" % (step, seq_len))
            batch_size = arguments.batch
            if short_phase:
                batch_size = arguments.short_batch or arguments.batch * (seq_len // arguments.short_seq_len)
            batch_tokens, batch_classes, batch_labels, batch_hops = stream.next_batch(batch_size)
            tokens = torch.from_numpy(batch_tokens.astype(np.int64)).to(device, non_blocking=True)
            classes = torch.from_numpy(batch_classes).to(device, non_blocking=True)
            enclosing = None
            if probe is not None:
                labels = torch.from_numpy(batch_labels.astype(np.int64)).to(device, non_blocking=True)
                enclosing = (probe, labels, arguments.enclosing_sample_rate, arguments.enclosing_loss_weight, enclosing_layer)
            hop_attention = None
            if batch_hops is not None:
                # Trimmed to the longest row's targets and the kinds counted here, on the host: the loss then needs no
                # data-dependent shape on the GPU.
                slots = max(1, int((batch_hops[..., 0] > 0).sum(axis=1).max()))
                kinds_present = set(np.unique(batch_hops[..., 3][batch_hops[..., 0] > 0]).tolist())
                hop_attention = HopSupervision(
                    torch.from_numpy(np.ascontiguousarray(batch_hops[:, :slots]).astype(np.int64)).to(device, non_blocking=True),
                    kinds_present, arguments.hop_attention_weight, hop_layer, attention_heads, arguments.hop_value_weight,
                    hop_readout, arguments.confine_hop_losses, arguments.hop_value_readout == "output", arguments.hop_head_quiet,
                    1.0 if hop_gate.is_open(step) else 0.0)
            if use_autocast:
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    loss, stats = training_loss(model, hidden_model, tokens, classes, arguments.context_sample_rate,
                                                arguments.context_loss_weight, generator, arguments.self_reference_loss_weight,
                                                arguments.second_hop_loss_weight, enclosing, hop_attention)
            else:
                loss, stats = training_loss(model, hidden_model, tokens, classes, arguments.context_sample_rate,
                                            arguments.context_loss_weight, generator, arguments.self_reference_loss_weight,
                                            arguments.second_hop_loss_weight, enclosing, hop_attention)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            own_progress = ((time.time() - train_started) / (arguments.max_minutes * 60)) if arguments.max_minutes else 0.0
            time_progress = average_gradients(parameters, own_progress, world, device)
            torch.nn.utils.clip_grad_norm_(parameters, 1.0)
            optimizer.step()
            tokens_seen += tokens.numel() * world
            window_tokens += tokens.numel() * world
            window_stats.append(stats)
            if hop_gate is not None:
                hop_gate.record(stats.get("lookup_first_accuracy"))
                if hop_gate.started_at == step and (hop_gate.from_step or hop_gate.lookups_at_least is not None):
                    log("step %d: the hop losses are on" % step)
            if (step + 1) % arguments.log_every == 0 or step == arguments.steps - 1:
                elapsed = time.time() - window_started
                entry = {"step": step + 1, "tokens": tokens_seen, "lr": optimizer.param_groups[0]["lr"],
                         "tokens_per_second": window_tokens / max(elapsed, 1e-9)}
                for key in ("answer_loss", "context_loss", "answer_accuracy", "self_reference_loss", "self_reference_accuracy",
                            "second_hop_loss", "second_hop_accuracy", "repeated_hop_accuracy", "enclosing_loss", "enclosing_function_accuracy",
                            "enclosing_path_accuracy", "hop_attention_loss", "hop_attention_mass", "hop_value_loss", "hop_value_accuracy",
                            "lookup_attention_loss", "lookup_attention_mass", "lookup_value_loss", "lookup_value_accuracy",
                            "hop_head_size_at_lookups", "lookup_first_accuracy"):
                    values = [s[key] for s in window_stats if key in s]
                    if values:
                        entry[key] = sum(values) / len(values)
                history.append(entry)
                second_hop = (" hop2_loss %.3f hop2_acc %.3f" % (entry["second_hop_loss"], entry["second_hop_accuracy"])
                              if "second_hop_loss" in entry else "")
                if "repeated_hop_accuracy" in entry:
                    second_hop += " repeated_acc %.3f" % entry["repeated_hop_accuracy"]
                self_reference = (" self_ref_loss %.3f self_ref_acc %.3f" % (entry["self_reference_loss"], entry["self_reference_accuracy"])
                                  if "self_reference_loss" in entry else "")
                enclosing_text = (" enclosing_loss %.3f function_acc %.3f path_acc %.3f" % (
                    entry["enclosing_loss"], entry.get("enclosing_function_accuracy", float("nan")),
                    entry.get("enclosing_path_accuracy", float("nan"))) if "enclosing_loss" in entry else "")
                if "hop_attention_mass" in entry:
                    enclosing_text += " hop_attention_mass %.3f" % entry["hop_attention_mass"]
                if "hop_value_loss" in entry:
                    enclosing_text += " hop_value_loss %.3f hop_value_acc %.3f" % (entry["hop_value_loss"], entry["hop_value_accuracy"])
                if "hop_head_size_at_lookups" in entry:
                    enclosing_text += " hop_head_size_at_lookups %.3f" % entry["hop_head_size_at_lookups"]
                if "lookup_first_accuracy" in entry:
                    enclosing_text += " lookup_first_acc %.3f" % entry["lookup_first_accuracy"]
                if "lookup_attention_mass" in entry:
                    enclosing_text += " lookup_attention_mass %.3f" % entry["lookup_attention_mass"]
                if "lookup_value_loss" in entry:
                    enclosing_text += " lookup_value_acc %.3f" % entry["lookup_value_accuracy"]
                log("step %d/%d answer_loss %.4f answer_acc %.3f context_loss %.3f%s%s%s lr %.2e %.0f tok/s" % (
                    step + 1, arguments.steps, entry.get("answer_loss", float("nan")), entry.get("answer_accuracy", float("nan")),
                    entry.get("context_loss", float("nan")), second_hop, self_reference, enclosing_text, entry["lr"],
                    entry["tokens_per_second"]))
                window_started, window_tokens, window_stats = time.time(), 0, []
            if time_progress >= 1.0:
                log("stopping at step %d: --max-minutes reached" % (step + 1))
                break
    finally:
        stream.close()
    steps_done = history[-1]["step"] if history else step + 1
    training_seconds = time.time() - train_started
    log("trained %d steps, %d tokens in %.0f s" % (steps_done, tokens_seen, training_seconds))
    if world > 1:
        dist.destroy_process_group()  # the last collective is behind every process
    if rank != 0:
        return None

    gguf_path = os.path.join(arguments.out, "%s.gguf" % arguments.model)
    plan = arguments.quant or (arguments.model if arguments.model in QUANT_PLANS else "f32")
    model_cpu = model.to("cpu").float()
    export_gguf(model_cpu, tokenizer, gguf_path, "kv-distill-%s" % arguments.model, plan,
                "kv-distill reference model '%s', trained from scratch on generated workspace QA and code" % arguments.model)
    log("exported %s (%d bytes, plan %s)" % (gguf_path, os.path.getsize(gguf_path), plan))

    summary = {"model": arguments.model, "config": config.to_dict(), "parameters": model_cpu.parameter_count(),
               "steps": steps_done, "batch": arguments.batch * world, "seq_len": seq_len, "tokens": tokens_seen,
               "processes": world, "data_layout": dict(layout.describe(), name=arguments.data_layout),
               "self_reference_share": arguments.self_reference_share,
               "self_reference_loss_weight": arguments.self_reference_loss_weight,
               "self_reference_placement": arguments.self_reference_placement,
               "second_hop_loss_weight": arguments.second_hop_loss_weight,
               "restate_error_messages": arguments.restate_error_messages,
               "fresh_hops_only": arguments.fresh_hops_only,
               "enclosing_probe": ({"weight": arguments.enclosing_loss_weight, "layer": enclosing_layer,
                                    "sample_rate": arguments.enclosing_sample_rate} if probe is not None else None),
               "hop_attention": ({"weight": arguments.hop_attention_weight, "layer": hop_layer, "head": arguments.hop_attention_head,
                                 "value_weight": arguments.hop_value_weight, "lookup_head": arguments.lookup_attention_head,
                                 "confined": arguments.confine_hop_losses, "readout": arguments.hop_value_readout,
                                 "quiet": arguments.hop_head_quiet, "from_step": arguments.hop_losses_from,
                                 "after_lookups": arguments.hop_losses_after_lookups,
                                 "started_at": hop_gate.started_at if hop_gate is not None else None}
                                 if arguments.hop_attention_weight > 0 else None),
               "curriculum": ({"short_seq_len": arguments.short_seq_len, "short_share": arguments.short_share,
                               "short_batch": arguments.short_batch or arguments.batch * (seq_len // arguments.short_seq_len)}
                              if arguments.short_seq_len else None),
               "training_seconds": training_seconds, "lr": arguments.lr, "seed": arguments.seed,
               "quant_plan": plan, "gguf_bytes": os.path.getsize(gguf_path), "torch": torch.__version__,
               "device": str(device), "device_name": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
               "command": " ".join(sys.argv), "history": history, "evaluation": {}}
    summary_path = os.path.join(arguments.out, "%s-summary.json" % arguments.model)

    def write_summary():
        with open(summary_path, "w") as handle:
            json.dump(summary, handle, indent=1)
    # Written before the (slow) evaluation too, so that a run cut short still reports its training.
    write_summary()
    plot_losses(history, os.path.join(arguments.out, "%s-loss.png" % arguments.model), "kv-distill-%s training loss" % arguments.model)
    # The product's prompt, with the outline at the detail trained on.
    eval_style = RenderStyle(outline_detail=arguments.outline_detail)
    if arguments.eval_sizes and arguments.eval_float:
        size_name = arguments.eval_sizes.split(",")[0]
        workspaces = generate_eval_set(tokenizer, size_name, arguments.eval_workspaces)
        float_model = model_cpu.to(device)
        summary["evaluation_float"] = {size_name: evaluate_set(float_model, tokenizer, workspaces, device,
                                                               log=lambda m: log("%s float %s" % (size_name, m)), style=eval_style)}
        model_cpu = float_model.to("cpu")
    # A continued run also evaluates the GGUF it started from, the same way in the same run, to compare.
    evaluated = [("evaluation", gguf_path, "")] + ([("evaluation_start", arguments.init_gguf, "start ")] if arguments.init_gguf else [])
    for key, evaluated_path, label in evaluated if arguments.eval_sizes else []:
        exported = load_gguf(evaluated_path, fast_attention=arguments.fast).to(device)
        summary.setdefault(key, {})
        for size_name in arguments.eval_sizes.split(","):
            workspaces = generate_eval_set(tokenizer, size_name, arguments.eval_workspaces)
            eval_started = time.time()
            result = evaluate_set(exported, tokenizer, workspaces, device, log=lambda m: log("%s%s %s" % (label, size_name, m)), style=eval_style)
            result["seconds"] = time.time() - eval_started
            summary[key][size_name] = result
            write_summary()
    write_summary()
    log("done in %.0f s" % (time.time() - started))
    return summary


if __name__ == "__main__":
    main()

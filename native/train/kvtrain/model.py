"""A llama-architecture decoder exactly as llama.cpp computes LLM_ARCH_LLAMA: RMSNorm, attention with
ggml's "normal" RoPE (adjacent pairs rotate), grouped KV heads, SwiGLU feed-forward, tied output.

The plain path runs on torch 1.13 (Debian's python3-torch, CI) and 2.x alike; `fast_attention`
switches to torch 2's fused scaled_dot_product_attention where it exists.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

CONFIGS = {
    # name: width, layers, heads, kv heads, feed-forward width, training context
    "tiny": dict(n_embd=128, n_layer=4, n_head=4, n_head_kv=2, n_ff=256, n_ctx=4096),
    "small": dict(n_embd=256, n_layer=8, n_head=4, n_head_kv=2, n_ff=640, n_ctx=20480),
    # a few-second CPU configuration for CI
    "ci": dict(n_embd=64, n_layer=2, n_head=2, n_head_kv=1, n_ff=128, n_ctx=512),
}


class ModelConfig:
    def __init__(self, vocab_size, n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx,
                 rope_base=10000.0, norm_eps=1e-5):
        self.vocab_size = vocab_size
        self.n_embd = n_embd
        self.n_layer = n_layer
        self.n_head = n_head
        self.n_head_kv = n_head_kv
        self.n_ff = n_ff
        self.n_ctx = n_ctx
        self.rope_base = rope_base
        self.norm_eps = norm_eps
        self.head_dim = n_embd // n_head

    def with_heads(self, n_head, n_head_kv):
        """The same model with its width split into other attention heads."""
        return ModelConfig(self.vocab_size, self.n_embd, self.n_layer, n_head, n_head_kv, self.n_ff, self.n_ctx,
                           self.rope_base, self.norm_eps)

    def with_context(self, n_ctx):
        """The same model with another context length (what it is trained at and its GGUF records)."""
        return ModelConfig(self.vocab_size, self.n_embd, self.n_layer, self.n_head, self.n_head_kv, self.n_ff, n_ctx,
                           self.rope_base, self.norm_eps)

    def to_dict(self):
        return dict(self.__dict__)

    @classmethod
    def named(cls, name, vocab_size):
        return cls(vocab_size=vocab_size, **CONFIGS[name])


def rms_normalize(x, eps):
    """x scaled to unit root mean square over its last dimension, in float32 (RMSNorm before its gain)."""
    x32 = x.float()
    return x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)


class RmsNorm(nn.Module):
    def __init__(self, width, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(width))
        self.eps = eps

    def forward(self, x):
        return rms_normalize(x, self.eps).to(x.dtype) * self.weight.to(x.dtype)

    def with_gain_detached(self, x):
        """The norm in float32 with its gain detached: training-only readouts that must not move it."""
        return rms_normalize(x, self.eps) * self.weight.detach().float()


def rope_tables(head_dim, positions, base, device):
    inverse = 1.0 / (base ** (torch.arange(0, head_dim, 2, device=device, dtype=torch.float32) / head_dim))
    angles = positions.to(device=device, dtype=torch.float32)[:, None] * inverse[None, :]
    return torch.cos(angles), torch.sin(angles)


def apply_rope(x, cos, sin):
    """x: [batch, heads, time, head_dim]; rotates pairs (2i, 2i+1) as ggml's GGML_ROPE_TYPE_NORM."""
    shape = x.shape
    pairs = x.float().reshape(shape[0], shape[1], shape[2], shape[3] // 2, 2)
    even, odd = pairs[..., 0], pairs[..., 1]
    rotated_even = even * cos - odd * sin
    rotated_odd = even * sin + odd * cos
    return torch.stack((rotated_even, rotated_odd), dim=-1).reshape(shape).to(x.dtype)


class Attention(nn.Module):
    def __init__(self, config, fast_attention):
        super().__init__()
        self.config = config
        self.fast_attention = fast_attention and hasattr(F, "scaled_dot_product_attention")
        width, head_dim = config.n_embd, config.head_dim
        self.wq = nn.Linear(width, config.n_head * head_dim, bias=False)
        self.wk = nn.Linear(width, config.n_head_kv * head_dim, bias=False)
        self.wv = nn.Linear(width, config.n_head_kv * head_dim, bias=False)
        self.wo = nn.Linear(config.n_head * head_dim, width, bias=False)

    def forward(self, x, cos, sin, past=None):
        """past: (k, v) of earlier positions, or None; returns (output, (k, v)) when past is given."""
        batch, time, _ = x.shape
        config = self.config
        q = self.wq(x).view(batch, time, config.n_head, config.head_dim).transpose(1, 2)
        k = self.wk(x).view(batch, time, config.n_head_kv, config.head_dim).transpose(1, 2)
        v = self.wv(x).view(batch, time, config.n_head_kv, config.head_dim).transpose(1, 2)
        q = apply_rope(q, cos, sin)
        k = apply_rope(k, cos, sin)
        if past is not None:
            if past[0] is not None:
                k = torch.cat((past[0], k), dim=2)
                v = torch.cat((past[1], v), dim=2)
            present = (k, v)
        group = config.n_head // config.n_head_kv
        if group > 1:
            # llama.cpp's query head h reads KV head h // group.
            k = k.repeat_interleave(group, dim=1)
            v = v.repeat_interleave(group, dim=1)
        total = k.shape[2]
        if self.fast_attention and total == time:
            out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            scores = torch.matmul(q.float(), k.float().transpose(-1, -2)) / math.sqrt(config.head_dim)
            # Query i (at absolute position total - time + i) sees keys up to that position.
            mask = torch.ones(time, total, dtype=torch.bool, device=x.device).triu(total - time + 1)
            scores = scores.masked_fill(mask, float("-inf"))
            out = torch.matmul(torch.softmax(scores, dim=-1), v.float()).to(x.dtype)
        out = self.wo(out.transpose(1, 2).reshape(batch, time, config.n_head * config.head_dim))
        return out if past is None else (out, present)


class FeedForward(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.gate = nn.Linear(config.n_embd, config.n_ff, bias=False)
        self.up = nn.Linear(config.n_embd, config.n_ff, bias=False)
        self.down = nn.Linear(config.n_ff, config.n_embd, bias=False)

    def forward(self, x):
        return self.down(F.silu(self.gate(x)) * self.up(x))


class Block(nn.Module):
    def __init__(self, config, fast_attention):
        super().__init__()
        self.attn_norm = RmsNorm(config.n_embd, config.norm_eps)
        self.attn = Attention(config, fast_attention)
        self.ffn_norm = RmsNorm(config.n_embd, config.norm_eps)
        self.ffn = FeedForward(config)

    def forward(self, x, cos, sin, past=None):
        if past is None:
            x = x + self.attn(self.attn_norm(x), cos, sin)
            return x + self.ffn(self.ffn_norm(x))
        attended, present = self.attn(self.attn_norm(x), cos, sin, past)
        x = x + attended
        return x + self.ffn(self.ffn_norm(x)), present


class LlamaModel(nn.Module):
    def __init__(self, config, fast_attention=False):
        super().__init__()
        self.config = config
        self.tok_embd = nn.Embedding(config.vocab_size, config.n_embd)
        self.blocks = nn.ModuleList([Block(config, fast_attention) for _ in range(config.n_layer)])
        self.output_norm = RmsNorm(config.n_embd, config.norm_eps)
        self.reset_parameters()

    def reset_parameters(self):
        std = 0.02
        nn.init.normal_(self.tok_embd.weight, std=std)
        for block in self.blocks:
            for linear in (block.attn.wq, block.attn.wk, block.attn.wv, block.ffn.gate, block.ffn.up):
                nn.init.normal_(linear.weight, std=std)
            for linear in (block.attn.wo, block.ffn.down):
                nn.init.normal_(linear.weight, std=std / math.sqrt(2 * self.config.n_layer))

    def hidden(self, tokens, start_position=0):
        return self.hidden_and_layers(tokens, None, start_position)

    def hidden_and_layers(self, tokens, layers, start_position=0):
        """The final hidden states; with layers (counts of blocks), also the residual stream after
        each of those many blocks, as (final, {layer: residual}): what training's enclosing probe and
        hop-attention loss read."""
        time = tokens.shape[1]
        positions = torch.arange(start_position, start_position + time)
        cos, sin = rope_tables(self.config.head_dim, positions, self.config.rope_base, tokens.device)
        x = self.tok_embd(tokens)
        captured = {}
        for index, block in enumerate(self.blocks):
            if layers is not None and index in layers:
                captured[index] = x
            x = block(x, cos, sin)
        if layers is None:
            return self.output_norm(x)
        if len(self.blocks) in layers:
            captured[len(self.blocks)] = x
        return self.output_norm(x), captured

    def attention_log_weights(self, residual, layer, head, query_positions, confined=False):
        """log softmax of head `head` of block `layer` at query_positions over the positions before
        them, from the residual stream entering that block: what training's hop-attention loss
        supervises. residual [time, width] of one sequence with query_positions [queries], returning
        [queries, time]; or a batch, [batch, time, width] with [batch, queries], returning [batch,
        queries, time]. confined: see _head_inputs."""
        if residual.dim() == 2:
            return self.attention_log_weights(residual[None], layer, head, query_positions[None], confined)[0]
        block, normed, head_slice, kv_slice = self._head_inputs(residual, layer, head, confined)
        config = self.config
        positions = torch.arange(residual.shape[1], device=residual.device)
        cos, sin = rope_tables(config.head_dim, positions, config.rope_base, residual.device)
        at_queries = torch.gather(normed, 1, query_positions[:, :, None].expand(-1, -1, normed.shape[2]))
        q = F.linear(at_queries, block.attn.wq.weight.float()[head_slice])
        k = F.linear(normed, block.attn.wk.weight.float()[kv_slice])
        q = apply_rope(q[:, None], cos[query_positions][:, None], sin[query_positions][:, None])[:, 0]
        k = apply_rope(k[:, None], cos, sin)[:, 0]
        scores = torch.matmul(q, k.transpose(1, 2)) / math.sqrt(config.head_dim)
        later = positions[None, None, :] > query_positions[:, :, None]
        return torch.log_softmax(scores.masked_fill(later, float("-inf")), dim=-1)

    def attention_head_output(self, residual, layer, head, log_weights, confined=False):
        """What head `head` of block `layer` adds to the residual stream at the queries whose log
        weights (attention_log_weights, one sequence or a batch) are given: its attention-weighted
        values through its slice of the output projection. Returns [(batch,) queries, width]: what
        training's hop-value loss reads out. confined: see _head_inputs."""
        block, normed, head_slice, kv_slice = self._head_inputs(residual, layer, head, confined)
        v = F.linear(normed, block.attn.wv.weight.float()[kv_slice])
        mixed = torch.matmul(log_weights.exp(), v)
        return F.linear(mixed, block.attn.wo.weight.float()[:, head_slice])

    def _head_inputs(self, residual, layer, head, confined=False):
        """(block, its normed input, the query head's and its KV head's slices of the projections):
        what attention_log_weights and attention_head_output start from. confined: the residual and
        the block's norm gain detached, so that a loss on the head reaches only its own projections,
        not the layers below it nor what the block's other heads share."""
        block, config = self.blocks[layer], self.config
        kv_head = head // (config.n_head // config.n_head_kv)  # llama.cpp's query head h reads KV head h // group
        if confined:
            normed = block.attn_norm.with_gain_detached(residual.detach())
        else:
            normed = block.attn_norm(residual).float()
        return (block, normed, slice(head * config.head_dim, (head + 1) * config.head_dim),
                slice(kv_head * config.head_dim, (kv_head + 1) * config.head_dim))

    def forward(self, tokens):
        """Logits [batch, time, vocab] (tied output: the token embedding)."""
        return F.linear(self.hidden(tokens), self.tok_embd.weight)

    def logits_at(self, hidden):
        return F.linear(hidden, self.tok_embd.weight)

    def frozen_output_logits(self, hidden):
        """The model's own output (final norm, then the tied embedding) applied to `hidden` with both
        weights detached: a training-only readout of one head must not move the weights that every
        answer goes through (with them attached, the hop-value loss wrecked the one-hop lookups)."""
        return F.linear(self.output_norm.with_gain_detached(hidden), self.tok_embd.weight.detach().float())

    def forward_cached(self, tokens, cache, all_positions=False):
        """Evaluates tokens after the cached ones; cache: list of (k, v) per layer or None.
        Returns (logits of the last token [batch, vocab], or of every token [batch, time, vocab] with
        all_positions, new cache). Used by evaluation."""
        start = 0 if cache is None else cache[0][0].shape[2]
        time = tokens.shape[1]
        positions = torch.arange(start, start + time)
        cos, sin = rope_tables(self.config.head_dim, positions, self.config.rope_base, tokens.device)
        x = self.tok_embd(tokens)
        new_cache = []
        for index, block in enumerate(self.blocks):
            x, present = block(x, cos, sin, (None, None) if cache is None else cache[index])
            new_cache.append(present)
        if all_positions:
            return self.logits_at(self.output_norm(x)), new_cache
        last = self.output_norm(x[:, -1:, :])
        return self.logits_at(last)[:, 0, :], new_cache

    def parameter_count(self):
        return sum(parameter.numel() for parameter in self.parameters())


class EnclosingProbe(nn.Module):
    """Training only, never exported: reads the residual stream after some block and predicts, at
    each workspace token, the first token of its enclosing function's name and the first tokens of
    its file's path, through the (detached) token embedding. A loss on it puts at every place the
    features the two-hop answers must read there (chat_format.NO_ENCLOSING, train.py)."""

    def __init__(self, config, targets):
        super().__init__()
        self.norm = RmsNorm(config.n_embd, config.norm_eps)
        self.projections = nn.ModuleList([nn.Linear(config.n_embd, config.n_embd, bias=False) for _ in range(targets)])
        for projection in self.projections:
            nn.init.normal_(projection.weight, std=0.02)

    def logits(self, residual, target, embedding):
        return F.linear(self.projections[target](self.norm(residual)), embedding.detach())

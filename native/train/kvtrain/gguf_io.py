"""GGUF export (gguf-py from node-llama-cpp's llama.cpp tree) and re-import of the dequantized weights.

Tensor names and layouts are llama.cpp's for LLM_ARCH_LLAMA; there is no output.weight, so llama.cpp
uses the token embedding as the output head, like the PyTorch model. The vocabulary is the
deepseek-coder vocabulary GGUF's, with the two chat tokens of tokenizer.CHAT_TOKENS.
"""
import numpy as np
import torch

from .chat_format import CHAT_TEMPLATE
from .llama_source import import_gguf
from .model import LlamaModel, ModelConfig

# Quantization plans: tensor kind -> GGML type name. Norms stay F32.
QUANT_PLANS = {
    "tiny": {"token_embd": "Q4_0", "layers": "Q5_0", "file_type": "MOSTLY_Q4_0"},
    "small": {"token_embd": "Q8_0", "layers": "Q8_0", "file_type": "MOSTLY_Q8_0"},
    "ci": {"token_embd": "Q8_0", "layers": "Q4_0", "file_type": "MOSTLY_Q8_0"},
    "f32": {"token_embd": "F32", "layers": "F32", "file_type": "ALL_F32"},
}


def tensor_map(model):
    """(gguf name, torch tensor, kind) for every weight."""
    items = [("token_embd.weight", model.tok_embd.weight, "token_embd")]
    for index, block in enumerate(model.blocks):
        prefix = "blk.%d." % index
        items += [
            (prefix + "attn_norm.weight", block.attn_norm.weight, "norm"),
            (prefix + "attn_q.weight", block.attn.wq.weight, "layers"),
            (prefix + "attn_k.weight", block.attn.wk.weight, "layers"),
            (prefix + "attn_v.weight", block.attn.wv.weight, "layers"),
            (prefix + "attn_output.weight", block.attn.wo.weight, "layers"),
            (prefix + "ffn_norm.weight", block.ffn_norm.weight, "norm"),
            (prefix + "ffn_gate.weight", block.ffn.gate.weight, "layers"),
            (prefix + "ffn_up.weight", block.ffn.up.weight, "layers"),
            (prefix + "ffn_down.weight", block.ffn.down.weight, "layers"),
        ]
    items.append(("output_norm.weight", model.output_norm.weight, "norm"))
    return items


def export_gguf(model, tokenizer, path, model_name, plan_name, description=""):
    gguf = import_gguf()
    plan = QUANT_PLANS[plan_name]
    config = model.config
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_name(model_name)
    if description:
        writer.add_description(description)
    writer.add_context_length(config.n_ctx)
    writer.add_embedding_length(config.n_embd)
    writer.add_block_count(config.n_layer)
    writer.add_feed_forward_length(config.n_ff)
    writer.add_head_count(config.n_head)
    writer.add_head_count_kv(config.n_head_kv)
    writer.add_rope_freq_base(config.rope_base)
    writer.add_rope_dimension_count(config.head_dim)
    writer.add_layer_norm_rms_eps(config.norm_eps)
    writer.add_vocab_size(config.vocab_size)
    writer.add_file_type(int(getattr(gguf.LlamaFileType, plan["file_type"])))
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(tokenizer.pre)
    writer.add_token_list(tokenizer.tokens)
    writer.add_token_types(tokenizer.token_types)
    writer.add_token_merges(tokenizer.merges)
    writer.add_bos_token_id(tokenizer.bos_id)
    writer.add_eos_token_id(tokenizer.im_end_id)
    writer.add_eot_token_id(tokenizer.im_end_id)
    writer.add_pad_token_id(tokenizer.im_end_id)
    writer.add_add_bos_token(tokenizer.add_bos)
    writer.add_add_eos_token(False)
    writer.add_chat_template(CHAT_TEMPLATE)
    for name, tensor, kind in tensor_map(model):
        data = tensor.detach().float().cpu().numpy().astype(np.float32)
        qtype_name = "F32" if kind == "norm" else plan[kind]
        qtype = getattr(gguf.GGMLQuantizationType, qtype_name)
        if qtype_name == "F32":
            writer.add_tensor(name, data)
        else:
            writer.add_tensor(name, gguf.quants.quantize(data, qtype), raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def load_gguf(path, fast_attention=False):
    """A LlamaModel holding the GGUF's weights, dequantized to float32 (what llama.cpp computes with)."""
    gguf = import_gguf()
    reader = gguf.GGUFReader(path)

    def field(name):
        return reader.fields[name].contents()

    config = ModelConfig(
        vocab_size=len(reader.fields["tokenizer.ggml.tokens"].data),
        n_embd=int(field("llama.embedding_length")), n_layer=int(field("llama.block_count")),
        n_head=int(field("llama.attention.head_count")), n_head_kv=int(field("llama.attention.head_count_kv")),
        n_ff=int(field("llama.feed_forward_length")), n_ctx=int(field("llama.context_length")),
        rope_base=float(field("llama.rope.freq_base")), norm_eps=float(field("llama.attention.layer_norm_rms_epsilon")))
    model = LlamaModel(config, fast_attention=fast_attention)
    tensors = {tensor.name: tensor for tensor in reader.tensors}
    with torch.no_grad():
        for name, target, _kind in tensor_map(model):
            tensor = tensors[name]
            values = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
            values = np.asarray(values, dtype=np.float32).reshape(tuple(target.shape))
            target.copy_(torch.from_numpy(values.copy()))
    return model

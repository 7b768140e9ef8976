#!/usr/bin/env python3
"""Writes the Hugging Face equivalence fixtures of vbg/vit_test.go and vbg/bert_test.go.

Run with the test environment (scripts/setup-pyenv.sh):

    .venv/bin/python scripts/make-hf-fixtures.py [--out vbg/testdata/hf]

For every tiny, seeded configuration below it builds transformers' ViTModel or
BertModel (transformers 4.41.2, torch 2.1.0, CPU, fp32), gives every parameter
random values of order one (so that a wrong bias, scale or norm shows up in the
outputs), and writes three files:

    <name>.json               the config (Hugging Face config.json names)
    <name>.safetensors        the state dict, keys exactly as Hugging Face saves them
    <name>_io.safetensors     inputs and reference outputs, "<case>.<tensor>"

The output is byte-for-byte deterministic: fixed seeds, CPU kernels, sorted
JSON, safetensors without free-form metadata. Re-running rewrites identical
files (the script checks nothing else).
"""
import argparse
import json
import math
import os

import numpy as np
import torch
from safetensors.torch import save_file
from transformers import BertConfig, BertModel, ViTConfig, ViTModel

# Config fields the Go side reads (vbg.ViTConfig / vbg.BertConfig json tags).
VIT_KEYS = ["hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
            "hidden_act", "layer_norm_eps", "image_size", "patch_size", "num_channels",
            "qkv_bias", "hidden_dropout_prob", "attention_probs_dropout_prob"]
BERT_KEYS = ["vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
             "intermediate_size", "max_position_embeddings", "type_vocab_size", "pad_token_id",
             "hidden_act", "layer_norm_eps", "hidden_dropout_prob", "attention_probs_dropout_prob"]

VITS = {
    # Pooler, qkv bias, exact GELU; 32x32 images, 8x8 patches (4x4 grid).
    "vit_tiny": dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=64, hidden_act="gelu", layer_norm_eps=1e-12,
                     image_size=32, patch_size=8, num_channels=3, qkv_bias=True,
                     hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                     add_pooling_layer=True),
    # No pooler, no qkv bias, tanh GELU, 2 channels, eps 1e-6.
    "vit_variant": dict(hidden_size=24, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=40, hidden_act="gelu_pytorch_tanh", layer_norm_eps=1e-6,
                        image_size=24, patch_size=8, num_channels=2, qkv_bias=False,
                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                        add_pooling_layer=False),
}

BERTS = {
    "bert_tiny": dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                      intermediate_size=64, max_position_embeddings=24, type_vocab_size=2,
                      pad_token_id=0, hidden_act="gelu", layer_norm_eps=1e-12,
                      hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                      add_pooling_layer=True),
    # The paper's FFN (eq. 13) uses ReLU; no pooler; three segment types.
    "bert_relu": dict(vocab_size=50, hidden_size=24, num_hidden_layers=1, num_attention_heads=3,
                      intermediate_size=48, max_position_embeddings=16, type_vocab_size=3,
                      pad_token_id=1, hidden_act="relu", layer_norm_eps=1e-5,
                      hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                      add_pooling_layer=False),
}


def randomize(model, gen):
    """Order-one random parameters: weights ~ N(0, 1/fan_in), norms 1 + N(0, 0.2²), biases N(0, 0.2²)."""
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if name.endswith("bias"):
                p.copy_(0.2 * torch.randn(p.shape, generator=gen))
            elif "layernorm" in name.lower():
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=gen))
            elif p.dim() >= 2 and "embeddings" not in name.split(".")[-2] and "cls_token" not in name \
                    and "position_embeddings" not in name:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=gen) / math.sqrt(fan_in))
            else:  # embedding tables, cls token, position embeddings
                p.copy_(0.5 * torch.randn(p.shape, generator=gen))


def state_dict(model):
    return {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}


def write(out, name, cfg, keys, model, io):
    conf = {k: cfg[k] for k in keys}
    conf["add_pooling_layer"] = cfg["add_pooling_layer"]
    with open(os.path.join(out, name + ".json"), "w") as f:
        json.dump(conf, f, indent=1, sort_keys=True)
        f.write("\n")
    save_file(state_dict(model), os.path.join(out, name + ".safetensors"), metadata={"format": "pt"})
    save_file({k: v.contiguous() for k, v in io.items()}, os.path.join(out, name + "_io.safetensors"))


def run(build, fwd):
    """The model and its outputs under torch.no_grad().

    transformers 4.41.2 enables its SDPA attention only with torch >= 2.1.1, so
    with torch 2.1.0 the reference is the eager path: softmax(QK^T/sqrt(d) + mask)V.
    """
    model = build("eager")
    with torch.no_grad():
        return model, fwd(model)


def vit_fixture(out, name, cfg, seed):
    hf = ViTConfig(**{k: cfg[k] for k in VIT_KEYS})

    def build(impl):
        hf._attn_implementation = impl
        m = ViTModel(hf, add_pooling_layer=cfg["add_pooling_layer"]).eval()
        randomize(m, torch.Generator().manual_seed(seed))
        return m

    gen = torch.Generator().manual_seed(seed + 1)
    s, c = cfg["image_size"], cfg["num_channels"]
    p = cfg["patch_size"]
    io = {
        # The configured size, and a larger non-square one (interpolated positions).
        "default.pixel_values": torch.randn(2, c, s, s, generator=gen),
        "resized.pixel_values": torch.randn(2, c, s + 2 * p, s + p, generator=gen),
    }

    def fwd(m):
        r = []
        for case in ("default", "resized"):
            o = m(pixel_values=io[case + ".pixel_values"], interpolate_pos_encoding=(case == "resized"))
            r += [o.last_hidden_state, o.pooler_output]
        return r

    model, res = run(build, fwd)
    for i, case in enumerate(("default", "resized")):
        io[case + ".last_hidden_state"] = res[2 * i]
        if res[2 * i + 1] is not None:
            io[case + ".pooler_output"] = res[2 * i + 1]
    write(out, name, cfg, VIT_KEYS, model, io)


def bert_fixture(out, name, cfg, seed):
    hf = BertConfig(**{k: cfg[k] for k in BERT_KEYS})

    def build(impl):
        hf._attn_implementation = impl
        m = BertModel(hf, add_pooling_layer=cfg["add_pooling_layer"]).eval()
        randomize(m, torch.Generator().manual_seed(seed))
        return m

    gen = torch.Generator().manual_seed(seed + 1)
    v, pad, types = cfg["vocab_size"], cfg["pad_token_id"], cfg["type_vocab_size"]
    # A padded batch: lengths 10, 7, 1 of 10, pad ids and mask 0 after the end.
    lengths = [10, 7, 1]
    ids = torch.randint(0, v, (3, 10), generator=gen)
    ids[ids == pad] = (pad + 1) % v
    tt = torch.randint(0, types, (3, 10), generator=gen)
    mask = torch.zeros(3, 10, dtype=torch.int64)
    for b, n in enumerate(lengths):
        ids[b, n:] = pad
        tt[b, n:] = 0
        mask[b, :n] = 1
    io = {
        "padded.input_ids": ids, "padded.token_type_ids": tt, "padded.attention_mask": mask,
        # No segment ids and no mask: segment 0, no padding.
        "plain.input_ids": torch.randint(0, v, (2, 6), generator=gen),
    }

    def fwd(m):
        a = m(input_ids=ids, token_type_ids=tt, attention_mask=mask)
        b = m(input_ids=io["plain.input_ids"])
        return [a.last_hidden_state, a.pooler_output, b.last_hidden_state, b.pooler_output]

    model, res = run(build, fwd)
    for i, case in enumerate(("padded", "plain")):
        io[case + ".last_hidden_state"] = res[2 * i]
        if res[2 * i + 1] is not None:
            io[case + ".pooler_output"] = res[2 * i + 1]
    write(out, name, cfg, BERT_KEYS, model, io)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "vbg", "testdata", "hf"))
    args = ap.parse_args()
    assert torch.__version__.startswith("2.1.0"), torch.__version__
    torch.set_num_threads(1)  # identical reductions on every machine
    torch.use_deterministic_algorithms(True)
    os.makedirs(args.out, exist_ok=True)
    for i, (name, cfg) in enumerate(VITS.items()):
        vit_fixture(args.out, name, cfg, seed=100 + i)
    for i, (name, cfg) in enumerate(BERTS.items()):
        bert_fixture(args.out, name, cfg, seed=200 + i)
    for f in sorted(os.listdir(args.out)):
        print(f"{os.path.getsize(os.path.join(args.out, f)):8d}  {f}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Loads a safetensors file with Hugging Face ViT names into transformers'
ViTForImageClassification and prints its logits as JSON.

Usage: hf-vit-logits.py WEIGHTS.safetensors FIXTURE.json
FIXTURE.json is pretrained/testdata/vit_layouts.json (its "tiny" config and
input). Fails when transformers reports missing or unexpected keys.
"""
import json
import sys

import torch
from safetensors.torch import load_file
from transformers import ViTConfig, ViTForImageClassification


def main():
    weights, fixture = sys.argv[1], sys.argv[2]
    with open(fixture) as f:
        tiny = json.load(f)["tiny"]
    cfg = ViTConfig(hidden_act="gelu", qkv_bias=True, num_channels=3, **tiny["config"])
    model = ViTForImageClassification(cfg).eval()
    missing, unexpected = model.load_state_dict(load_file(weights), strict=False)
    if missing or unexpected:
        sys.exit(f"missing {missing}, unexpected {unexpected}")
    pixels = torch.tensor(tiny["pixels"], dtype=torch.float32).reshape(tiny["pixel_shape"])
    with torch.no_grad():
        logits = model(pixel_values=pixels).logits
    json.dump(logits.tolist(), sys.stdout)


if __name__ == "__main__":
    main()

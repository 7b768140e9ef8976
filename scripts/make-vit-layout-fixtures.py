#!/usr/bin/env python3
"""Writes the ViT layout fixtures of pretrained/testdata from real timm and
torchvision models (no weights are downloaded: models are randomly initialised).

Needs timm and torchvision next to the test environment's torch 2.1.0, e.g.:

    .venv/bin/python -m pip install --no-deps --target /tmp/vbgvision torchvision==0.16.0 timm==1.0.9
    PYTHONPATH=/tmp/vbgvision .venv/bin/python scripts/make-vit-layout-fixtures.py

Outputs:
  vit_timm_tiny.bin                 torch.save(state_dict) of a tiny timm VisionTransformer
  vit_torchvision_tiny.safetensors  state dict of a tiny torchvision VisionTransformer
  vit_layouts.json                  the tiny config, an input image, both models' logits,
                                    the tensor names and shapes of the same-size
                                    transformers ViTForImageClassification,
                                    and the tensor names and shapes of the full-size
                                    timm vit_base_patch16_224, torchvision vit_b_16 and
                                    transformers ViTForImageClassification (ViTConfig()).
"""
import json
import os

import timm
import torch
import torchvision
import transformers
from safetensors.torch import save_file
from timm.models.vision_transformer import VisionTransformer as TimmViT
from torchvision.models.vision_transformer import VisionTransformer as TvViT

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "pretrained", "testdata")

TINY = dict(image_size=16, patch_size=8, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=32, num_labels=3, layer_norm_eps=1e-6)


def randomize(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    return model.eval()


def shapes(sd):
    return {k: list(v.shape) for k, v in sd.items()}


def main():
    torch.manual_seed(0)
    c = TINY
    timm_tiny = randomize(TimmViT(img_size=c["image_size"], patch_size=c["patch_size"], embed_dim=c["hidden_size"],
                                  depth=c["num_hidden_layers"], num_heads=c["num_attention_heads"],
                                  mlp_ratio=c["intermediate_size"] / c["hidden_size"], num_classes=c["num_labels"]), 1)
    tv_tiny = randomize(TvViT(image_size=c["image_size"], patch_size=c["patch_size"], num_layers=c["num_hidden_layers"],
                              num_heads=c["num_attention_heads"], hidden_dim=c["hidden_size"],
                              mlp_dim=c["intermediate_size"], num_classes=c["num_labels"]), 2)
    pixels = torch.randn(2, 3, c["image_size"], c["image_size"], generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        timm_logits = timm_tiny(pixels)
        tv_logits = tv_tiny(pixels)
    torch.save(timm_tiny.state_dict(), os.path.join(OUT, "vit_timm_tiny.bin"))
    save_file({k: v.contiguous() for k, v in tv_tiny.state_dict().items()},
              os.path.join(OUT, "vit_torchvision_tiny.safetensors"), metadata={"format": "pt"})

    full_timm = timm.create_model("vit_base_patch16_224", pretrained=False)
    full_tv = torchvision.models.vit_b_16(weights=None)
    full_hf = transformers.ViTForImageClassification(transformers.ViTConfig(num_labels=1000))
    tiny_hf = transformers.ViTForImageClassification(transformers.ViTConfig(qkv_bias=True, **c))
    out = {
        "generator": "scripts/make-vit-layout-fixtures.py",
        "versions": {"torch": torch.__version__, "timm": timm.__version__, "torchvision": torchvision.__version__,
                     "transformers": transformers.__version__},
        "tiny": {
            "config": c,
            "pixel_shape": list(pixels.shape),
            "pixels": [round(x, 6) for x in pixels.flatten().tolist()],
            "timm_logits": timm_logits.tolist(),
            "torchvision_logits": tv_logits.tolist(),
            "hf_names": shapes(tiny_hf.state_dict()),
        },
        "names": {
            "timm_vit_base_patch16_224": shapes(full_timm.state_dict()),
            "torchvision_vit_b_16": shapes(full_tv.state_dict()),
            "hf_vit_for_image_classification": shapes(full_hf.state_dict()),
        },
    }
    with open(os.path.join(OUT, "vit_layouts.json"), "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()

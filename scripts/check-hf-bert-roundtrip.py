#!/usr/bin/env python3
"""Checks that transformers loads a BERT model folder written by VBG and
reproduces the original model.

Usage: .venv/bin/python scripts/check-hf-bert-roundtrip.py OURS_DIR ORIGINAL_DIR FIXTURE.json

OURS_DIR holds config.json and the model.safetensors VBG saved; ORIGINAL_DIR
is the original model folder; FIXTURE.json is make-minilm-fixtures.py's output
(sentences, max_seq_length, reference embeddings). Prints JSON:
  missing, unexpected, mismatched     transformers' loading report for OURS_DIR
  max_abs_weight                      largest weight difference to the original
  max_abs_hidden                      largest last_hidden_state difference (padded batch, real tokens)
  min_cos_embedding                   smallest cosine between the sentence embeddings computed
                                      from OURS_DIR (mean pooling, L2 norm) and the fixture's
"""
import json
import sys

import torch
from transformers import BertModel, BertTokenizerFast


def embed(model, enc):
    with torch.no_grad():
        h = model(**enc).last_hidden_state
    m = enc["attention_mask"].unsqueeze(-1).to(h.dtype)
    e = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
    return h, torch.nn.functional.normalize(e, p=2, dim=1)


def main():
    ours_dir, orig_dir, fixture = sys.argv[1:4]
    with open(fixture) as f:
        fx = json.load(f)
    ours, info = BertModel.from_pretrained(ours_dir, output_loading_info=True)
    orig = BertModel.from_pretrained(orig_dir)
    ours.eval()
    orig.eval()
    tok = BertTokenizerFast.from_pretrained(orig_dir)
    enc = tok(fx["sentences"], padding=True, truncation=True, max_length=fx["max_seq_length"], return_tensors="pt")
    h1, e1 = embed(ours, enc)
    h0, _ = embed(orig, enc)
    mask = enc["attention_mask"].bool()
    ref = torch.tensor(fx["embeddings"], dtype=torch.float32)
    ref = torch.nn.functional.normalize(ref, p=2, dim=1)
    sd0, sd1 = orig.state_dict(), ours.state_dict()
    out = {
        "missing": info["missing_keys"],
        "unexpected": info["unexpected_keys"],
        "mismatched": [list(map(str, m)) for m in info["mismatched_keys"]],
        "max_abs_weight": max(float((sd0[k] - sd1[k]).abs().max()) if sd0[k].numel() else 0.0 for k in sd0),
        "max_abs_hidden": float((h1 - h0).abs()[mask].max()),
        "min_cos_embedding": float((e1 * ref).sum(1).min()),
    }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()

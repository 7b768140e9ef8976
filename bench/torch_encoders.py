#!/usr/bin/env python3
"""PyTorch eager reference for vbg's encoder benchmarks (see bench/README.md).

Times the inference forward of transformers' ViTModel (ViT-B/16, batch 8,
224x224) and BertModel (BERT-Base, batch 8, 128 tokens, all-ones attention
mask) on the CPU, under torch.no_grad(), with randomly initialised weights.
With torch 2.1.0, transformers 4.41.2 uses its eager attention
(softmax(QK^T/sqrt(d) + mask)V), like the Go side's libtorch math path.

    .venv/bin/python bench/torch_encoders.py --threads 2 --iters 5
"""
import argparse
import os
import statistics
import time

import torch
from transformers import BertConfig, BertModel, ViTConfig, ViTModel


def timeit(fn, iters):
    fn()  # warm-up
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.mean(times), min(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=int(os.environ.get("VBG_THREADS", os.cpu_count())))
    ap.add_argument("--iters", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, iters {args.iters}")

    vit = ViTModel(ViTConfig(), add_pooling_layer=True).eval()  # = google/vit-base-patch16-224 sizes
    pixels = torch.randn(8, 3, 224, 224)
    bert = BertModel(BertConfig(), add_pooling_layer=True).eval()  # = bert-base-uncased sizes
    ids = torch.randint(0, 30522, (8, 128))
    mask = torch.ones(8, 128, dtype=torch.int64)
    with torch.no_grad():
        for name, fn in [("ViTBase16Forward", lambda: vit(pixel_values=pixels)),
                         ("BertBaseForward", lambda: bert(input_ids=ids, attention_mask=mask))]:
            mean, best = timeit(fn, args.iters)
            print(f"{name}\t{mean * 1e3:.1f} ms/op (mean)\t{best * 1e3:.1f} ms (min)\tattn={vit.config._attn_implementation}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes PyTorch checkpoints for pretrained's pytorch_model.bin tests.

Usage: make-torch-fixtures.py OUTDIR   (run with .venv/bin/python)

  mixed.bin              torch.save of a state dict with every dtype the reader
                         supports, a transposed (non-contiguous) tensor, two
                         views of one storage, a scalar and an empty tensor
  expected.safetensors   the same tensors, contiguous (safetensors.torch)
  nested.bin             {"epoch": 3, "state_dict": <a few tensors>} as
                         training checkpoints are saved
  legacy.bin             the pre-1.6 format (_use_new_zipfile_serialization=False)
  sharded/               pytorch_model-0000{1,2}-of-00002.bin and
                         pytorch_model.bin.index.json
"""
import collections
import json
import os
import sys

import torch
from safetensors.torch import save_file


def main():
    out = sys.argv[1]
    os.makedirs(os.path.join(out, "sharded"), exist_ok=True)
    g = torch.Generator().manual_seed(0)
    base = torch.randn(4, 6, generator=g)
    shared = torch.arange(10, dtype=torch.float32)
    sd = collections.OrderedDict()
    sd["f32"] = torch.randn(2, 3, generator=g)
    sd["f16"] = torch.randn(5, generator=g).half()
    sd["bf16"] = torch.randn(3, 2, generator=g).bfloat16()
    sd["f64"] = torch.randn(2, generator=g).double()
    sd["i64"] = torch.tensor([1, -2, 1 << 40])
    sd["i32"] = torch.tensor([7, -8], dtype=torch.int32)
    sd["i16"] = torch.tensor([300, -300], dtype=torch.int16)
    sd["i8"] = torch.tensor([-5, 5], dtype=torch.int8)
    sd["u8"] = torch.tensor([0, 255], dtype=torch.uint8)
    sd["bool"] = torch.tensor([True, False, True])
    sd["transposed"] = base.t()
    sd["view.a"] = shared[2:5]
    sd["view.b"] = shared[5:].view(5, 1)
    sd["scalar"] = torch.tensor(3.5)
    sd["empty"] = torch.zeros(0, 4)
    sd["param"] = torch.nn.Parameter(torch.ones(2))
    torch.save(sd, os.path.join(out, "mixed.bin"))
    save_file({k: v.detach().contiguous().clone() for k, v in sd.items()}, os.path.join(out, "expected.safetensors"))
    torch.save({"epoch": 3, "state_dict": {"a.weight": torch.ones(2, 2), "a.bias": torch.zeros(2)}},
               os.path.join(out, "nested.bin"))
    torch.save({"x": torch.ones(2)}, os.path.join(out, "legacy.bin"), _use_new_zipfile_serialization=False)
    torch.save({"a": torch.ones(1)}, os.path.join(out, "sharded", "pytorch_model-00001-of-00002.bin"))
    torch.save({"b": torch.full((2,), 2.0)}, os.path.join(out, "sharded", "pytorch_model-00002-of-00002.bin"))
    with open(os.path.join(out, "sharded", "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": 12}, "weight_map": {
            "a": "pytorch_model-00001-of-00002.bin", "b": "pytorch_model-00002-of-00002.bin"}}, f)


if __name__ == "__main__":
    main()

"""One VBG training step in PyTorch eager, for comparison with Go's
BenchmarkTrainStepBase: ViT-B/16 + BERT-Base (transformers, random init) +
the bidirectional cross-attention fusion + head, batch 8, 224x224 images,
64 tokens, AdamW, gradient clipping at 1.0. Same libtorch (2.1.0).

    .venv/bin/python bench/train_step.py --threads 2 --steps 3
"""
import argparse
import math
import resource
import time

import torch
from transformers import BertConfig, BertModel, ViTConfig, ViTModel


class CrossAttention(torch.nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value, self.output = (torch.nn.Linear(dim, dim) for _ in range(4))

    def forward(self, q_in, kv_in, kv_mask=None):
        b, nq, d = q_in.shape
        nk, hd = kv_in.shape[1], d // self.heads
        q = self.query(q_in).view(b, nq, self.heads, hd).transpose(1, 2)
        k = self.key(kv_in).view(b, nk, self.heads, hd).transpose(1, 2)
        v = self.value(kv_in).view(b, nk, self.heads, hd).transpose(1, 2)
        mask = None if kv_mask is None else kv_mask[:, None, None, :].bool()
        o = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.output(o.transpose(1, 2).reshape(b, nq, d))


class VBG(torch.nn.Module):
    def __init__(self, classes=8, dim=768, heads=8):
        super().__init__()
        self.vit = ViTModel(ViTConfig(), add_pooling_layer=False)
        self.bert = BertModel(BertConfig(), add_pooling_layer=False)
        self.proj_image, self.proj_text = torch.nn.Linear(768, dim), torch.nn.Linear(768, dim)
        self.image_to_text, self.text_to_image = CrossAttention(dim, heads), CrossAttention(dim, heads)
        self.norm_image, self.norm_text = torch.nn.LayerNorm(dim, eps=1e-12), torch.nn.LayerNorm(dim, eps=1e-12)
        self.gate = torch.nn.Parameter(torch.zeros(1))
        self.dropout = torch.nn.Dropout(0.5)
        self.dense = torch.nn.Linear(dim, classes)

    def forward(self, pixels, ids, mask):
        img = self.proj_image(self.vit(pixel_values=pixels).last_hidden_state)
        txt = self.proj_text(self.bert(input_ids=ids, attention_mask=mask).last_hidden_state)
        ia = self.norm_image(img + self.image_to_text(img, txt, mask))
        ta = self.norm_text(txt + self.text_to_image(txt, img))
        m = mask[..., None].float()
        vt = (ta * m).sum(1) / m.sum(1).clamp(min=1)
        a = torch.sigmoid(self.gate)
        return self.dense(self.dropout(a * ia.mean(1) + (1 - a) * vt))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--steps", type=int, default=3)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    model = VBG().train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
    pixels = torch.randn(8, 3, 224, 224)
    ids = torch.randint(0, 30522, (8, 64))
    mask = torch.ones(8, 64, dtype=torch.long)
    y = torch.randint(0, 8, (8,))

    def step():
        logits = model(pixels, ids, mask)
        loss = torch.nn.functional.cross_entropy(logits, y) + 0.001 * model.dense.weight.square().sum()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad()

    step()  # warm-up
    times = []
    for _ in range(args.steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    mean = sum(times) / len(times)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"pytorch {torch.__version__} threads={torch.get_num_threads()} steps={args.steps}: "
          f"{1/mean:.4f} steps/s (mean {mean*1000:.0f} ms, min {min(times)*1000:.0f} ms), peak RSS {rss:.0f} MB")


if __name__ == "__main__":
    main()

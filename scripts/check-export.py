"""Reloads a `vbg export` folder with safetensors and transformers only and
checks that it reproduces VBG's logits (and token ids).

    .venv/bin/python scripts/check-export.py EXPORT_DIR INPUTS.safetensors [TEXTS.json]

INPUTS.safetensors holds what the Go side fed its model and what it got:
pixels [B,3,H,W] (already normalised), input_ids and attention_mask [B,L],
logits [B,K]. TEXTS.json, when given, is {"texts": [...], "input_ids":
[[...]]} as VBG tokenized them; the exported tokenizer must give the same
ids. The fusion layer and head are written out here from vbg.json and the
paper's equations, independently of the Go code. Exit status 1 on a mismatch.
"""
import json
import math
import sys

import torch
from safetensors.torch import load_file
from transformers import BertModel, BertTokenizerFast, ViTModel

TOL = 1e-4


def main():
    exp, inputs_path = sys.argv[1], sys.argv[2]
    man = json.load(open(f"{exp}/vbg.json"))
    assert man["format"] == "vbg-export/1", man["format"]
    inp = load_file(inputs_path)
    head = load_file(f"{exp}/{man['head']}")
    torch.set_grad_enabled(False)
    eps = man["fusion"]["layer_norm_eps"]
    heads = man["fusion"]["heads"]

    img = txt = mask = None
    if man.get("image"):
        vit = ViTModel.from_pretrained(f"{exp}/{man['image']['folder']}", add_pooling_layer=False).eval()
        img = vit(pixel_values=inp["pixels"]).last_hidden_state
    if man.get("text"):
        bert = BertModel.from_pretrained(f"{exp}/{man['text']['folder']}", add_pooling_layer=False).eval()
        mask = inp["attention_mask"]
        txt = bert(input_ids=inp["input_ids"], attention_mask=mask).last_hidden_state

    def lin(x, name):
        return x @ head[name + ".weight"].T + head[name + ".bias"]

    def ln(x, name):
        return torch.nn.functional.layer_norm(x, (x.shape[-1],), head[name + ".weight"], head[name + ".bias"], eps)

    def attention(q_in, kv_in, name, kv_mask):
        q, k, v = lin(q_in, name + ".query"), lin(kv_in, name + ".key"), lin(kv_in, name + ".value")
        b, nq, d = q.shape
        nk, hd = k.shape[1], d // heads
        q = q.view(b, nq, heads, hd).transpose(1, 2)
        k = k.view(b, nk, heads, hd).transpose(1, 2)
        v = v.view(b, nk, heads, hd).transpose(1, 2)
        s = q @ k.transpose(-1, -2) / math.sqrt(hd)
        if kv_mask is not None:
            s = s.masked_fill(kv_mask[:, None, None, :] == 0, float("-inf"))
        o = (s.softmax(-1) @ v).transpose(1, 2).reshape(b, nq, d)
        return lin(o, name + ".output")

    def pool(x, m=None):
        if m is None:
            return x.mean(1)
        m = m[..., None].to(x.dtype)
        return (x * m).sum(1) / m.sum(1).clamp(min=1)

    kind = man["fusion"]["type"]
    if kind == "bidirectional":
        ip, tp = lin(img, "fusion.proj_image"), lin(txt, "fusion.proj_text")
        ia = ln(ip + attention(ip, tp, "fusion.image_to_text", mask), "fusion.norm_image")  # image attends to text
        ta = ln(tp + attention(tp, ip, "fusion.text_to_image", None), "fusion.norm_text")  # text attends to image
        alpha = torch.sigmoid(head["fusion.gate"])
        fused = alpha * pool(ia) + (1 - alpha) * pool(ta, mask)
    elif kind == "concat":
        fused = lin(torch.cat([pool(img), pool(txt, mask)], 1), "fusion.proj")
    elif kind == "image":
        fused = lin(pool(img), "fusion.proj")
    else:
        fused = lin(pool(txt, mask), "fusion.proj")
    logits = lin(fused, "classifier.dense")

    diff = (logits - inp["logits"]).abs().max().item()
    print(f"logits: max |transformers - vbg| = {diff:.3g} over {tuple(logits.shape)}")
    ok = diff <= TOL
    if len(sys.argv) > 3 and man.get("text"):
        want = json.load(open(sys.argv[3]))
        tok = BertTokenizerFast.from_pretrained(f"{exp}/{man['text']['folder']}")
        enc = tok(want["texts"], max_length=man["text"]["max_length"], truncation=True, padding="max_length")
        same = enc["input_ids"] == want["input_ids"]
        print(f"token ids: {'identical' if same else 'DIFFERENT'} on {len(want['texts'])} texts")
        ok = ok and same
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

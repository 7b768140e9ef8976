#!/usr/bin/env python3
"""Sweeps every Unicode code point through Hugging Face tokenizers' BERT stages.

Writes, to stdout, one line per code point whose treatment is not "kept as is,
part of a word":

    <hex code point> TAB <uncased normalized, hex, space-separated>
                     TAB <lowercase-only normalized, hex> TAB <class>

"uncased" is BertNormalizer(clean_text, handle_chinese_chars, strip_accents,
lowercase) as in bert-base-uncased; "lowercase-only" is the same with
strip_accents=False. <class> is what BertPreTokenizer makes of the raw
character between two letters: o (part of the word), w (white space: splits,
dropped) or p (punctuation: a word of its own).

Used by pretrained's TestBertNormalizerSweep (run with the .venv python) to
check VBG's Go normalizer against the Rust one on all of Unicode.
"""
import sys

from tokenizers import normalizers, pre_tokenizers

uncased = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=True, lowercase=True)
lower_only = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=True)
pre = pre_tokenizers.BertPreTokenizer()


def hexs(s):
    return " ".join("%x" % ord(ch) for ch in s)


out = sys.stdout
for cp in range(0x110000):
    if 0xD800 <= cp <= 0xDFFF:
        continue
    c = chr(cp)
    a = uncased.normalize_str(c)
    b = lower_only.normalize_str(c)
    cls = {1: "o", 2: "w", 3: "p"}[len(pre.pre_tokenize_str("a" + c + "a"))]
    if a != c or b != c or cls != "o":
        out.write("%x\t%s\t%s\t%s\n" % (cp, hexs(a), hexs(b), cls))

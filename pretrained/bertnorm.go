package pretrained

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// BertNormalizer reproduces the BertNormalizer of Hugging Face tokenizers
// (the Rust library behind BertTokenizerFast), which runs, in this order:
//
//  1. clean_text: drop NUL, U+FFFD and control characters (general category
//     C*, except tab, newline and carriage return), and turn every white
//     space character into a plain space;
//  2. handle_chinese_chars: put spaces around CJK ideographs;
//  3. strip_accents (default: same as lowercase): NFD, then drop non-spacing
//     marks (Mn);
//  4. lowercase: full Unicode lowercase mapping, character by character.
//
// sugarme/tokenizer's own normalizer.BertNormalizer deviates from this (see
// Tokenizer), which is why VBG uses this one.
type BertNormalizer struct {
	CleanText          bool
	HandleChineseChars bool
	StripAccents       bool
	Lowercase          bool
}

// Normalize applies the normalizer to a string.
func (n BertNormalizer) Normalize(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	var buf [4]rune
	for _, c := range s {
		out := buf[:0]
		if n.CleanText {
			if c == 0 || c == 0xFFFD || isBertControl(c) {
				continue
			}
			if isBertWhitespace(c) {
				c = ' '
			}
		}
		chinese := n.HandleChineseChars && isCJK(c)
		if chinese {
			b.WriteByte(' ')
		}
		out = append(out, c)
		if n.StripAccents {
			// NFD of one character, without its non-spacing marks.
			d := string(c)
			if !hfNoDecompose[c] {
				d = norm.NFD.String(d)
			}
			out = out[:0]
			for _, r := range d {
				if !isMn(r) {
					out = append(out, r)
				}
			}
		}
		for _, r := range out {
			if n.Lowercase {
				writeLower(&b, r)
			} else {
				b.WriteRune(r)
			}
		}
		if chinese {
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// writeLower writes the full lowercase mapping of r. Unicode has exactly one
// character whose lowercase is longer than one character: U+0130 (İ), which
// lowercases to "i̇" (i + combining dot above).
func writeLower(b *strings.Builder, r rune) {
	if r == '\u0130' {
		b.WriteString("i\u0307")
		return
	}
	b.WriteRune(unicode.ToLower(r))
}

// isBertWhitespace is Rust's char::is_whitespace (the White_Space property)
// plus tab, newline and carriage return.
func isBertWhitespace(c rune) bool {
	return unicode.IsSpace(c)
}

// isBertControl is "general category Cc, Cf, Co or Cs" except tab, newline
// and carriage return, as Hugging Face's tables classify it. Unassigned code
// points (Cn) are kept, as in the Rust implementation.
func isBertControl(c rune) bool {
	if isBertControlGo(c) {
		return !hfNotControl[c]
	}
	return hfExtraControl[c]
}

// isBertControlGo is isBertControl with Go's Unicode tables.
func isBertControlGo(c rune) bool {
	switch c {
	case '\t', '\n', '\r':
		return false
	}
	return unicode.In(c, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs)
}

// isMn reports a non-spacing mark as Hugging Face's tables classify it.
func isMn(r rune) bool {
	if unicode.Is(unicode.Mn, r) {
		return !hfNotMn[r]
	}
	return hfExtraMn[r]
}

// runeSet builds a set of code points.
func runeSet(rs ...rune) map[rune]bool {
	m := make(map[rune]bool, len(rs))
	for _, r := range rs {
		m[r] = true
	}
	return m
}

// isBertPunct is BertPreTokenizer's split class: ASCII punctuation (which
// includes symbols such as $ + < = > ^ ` | ~) or Unicode punctuation (P*),
// as Hugging Face's tables classify it.
func isBertPunct(c rune) bool {
	if isBertPunctGo(c) {
		return !hfNotPunct[c]
	}
	return hfExtraPunct[c]
}

// isBertPunctGo is isBertPunct with Go's Unicode tables.
func isBertPunctGo(c rune) bool {
	if c < 0x80 {
		return c >= 33 && c <= 47 || c >= 58 && c <= 64 || c >= 91 && c <= 96 || c >= 123 && c <= 126
	}
	return unicode.IsPunct(c)
}

// isCJK is BERT's "Chinese character" test (CJK Unified Ideographs and their
// extensions, and the compatibility ideographs).
func isCJK(c rune) bool {
	return c >= 0x4E00 && c <= 0x9FFF ||
		c >= 0x3400 && c <= 0x4DBF ||
		c >= 0x20000 && c <= 0x2A6DF ||
		c >= 0x2A700 && c <= 0x2B73F ||
		c >= 0x2B740 && c <= 0x2B81F ||
		c >= 0x2B920 && c <= 0x2CEAF ||
		c >= 0xF900 && c <= 0xFAFF ||
		c >= 0x2F800 && c <= 0x2FA1F
}

// bertPreTokenize splits normalized text the way BertPreTokenizer does:
// white space separates words and is dropped; every punctuation character
// becomes a word of its own.
func bertPreTokenize(s string) []string {
	var words []string
	start := -1
	flush := func(end int) {
		if start >= 0 {
			words = append(words, s[start:end])
			start = -1
		}
	}
	for i, c := range s {
		switch {
		case unicode.IsSpace(c):
			flush(i)
		case isBertPunct(c):
			flush(i)
			words = append(words, string(c))
		default:
			if start < 0 {
				start = i
			}
		}
	}
	flush(len(s))
	return words
}

package pretrained

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vbg-museum/vbg/tensor"
)

// The fuzz targets of the pretrained package besides FuzzParseHeader (safetensors_test.go);
// see FUZZ.md. Their seeds run as ordinary tests.

// FuzzTorchBin opens any bytes as a PyTorch checkpoint (zip + pickle, or the legacy
// format) and reads every tensor: errors, never a panic, a hang or an allocation larger
// than the file.
func FuzzTorchBin(f *testing.F) {
	for _, name := range []string{"fuzz_tiny.bin", "fuzz_tiny_legacy.bin"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	for _, b := range torchBinHostile(f) {
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte("PK\x03\x04truncated"))
	f.Add([]byte{0x80, 0x02, 'K', 1, '.'})
	f.Add([]byte("this is not a checkpoint"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "x.bin")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		before := tensor.Live()
		src, err := OpenTorchBin(p)
		if err != nil {
			if !strings.Contains(err.Error(), p) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		defer src.Close()
		for _, n := range src.Names() {
			shape, ok := src.Shape(n)
			if !ok {
				t.Fatalf("listed tensor %q has no shape", n)
			}
			x, err := src.Tensor(n)
			if err != nil {
				continue
			}
			got, err := sizeOf(x)
			x.Drop()
			if err != nil || fmt.Sprint(got) != fmt.Sprint(shape) {
				t.Fatalf("tensor %q: shape %v, listed %v (%v)", n, got, shape, err)
			}
		}
		if tensor.Live() != before {
			t.Fatalf("%d tensors leaked", tensor.Live()-before)
		}
	})
}

// fuzzTokenizerJSON is a small BERT tokenizer.json.
const fuzzTokenizerJSON = `{"added_tokens": [{"id": 0, "content": "[PAD]", "special": true}, {"id": 1, "content": "[UNK]", "special": true},
 {"id": 2, "content": "[CLS]", "special": true}, {"id": 3, "content": "[SEP]", "special": true},
 {"id": 9, "content": "<x>", "special": false, "normalized": true, "single_word": true, "lstrip": true, "rstrip": true}],
 "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
 "pre_tokenizer": {"type": "BertPreTokenizer"},
 "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "[CLS]"}}, {"Sequence": {"id": "A"}}, {"SpecialToken": {"id": "[SEP]"}}]},
 "padding": {"pad_token": "[PAD]", "pad_id": 0},
 "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
  "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "a": 4, "cat": 5, "##s": 6, "the": 7, "vase": 8, "<x>": 9, "##é": 10, "东": 11}}}`

// checkEncoding checks the invariants of an encoding: equal lengths, ids the tokenizer
// knows, the length limit kept.
func checkEncoding(t *testing.T, tok *Tokenizer, e *Encoding, maxLen int) {
	t.Helper()
	n := len(e.IDs)
	if len(e.Tokens) != n || len(e.TypeIDs) != n || len(e.AttentionMask) != n {
		t.Fatalf("lengths %d %d %d %d", n, len(e.Tokens), len(e.TypeIDs), len(e.AttentionMask))
	}
	for i, id := range e.IDs {
		if _, ok := tok.IDToToken(id); !ok {
			t.Fatalf("token %d has id %d, outside the vocabulary of %d", i, id, tok.VocabSize())
		}
	}
	if maxLen >= 3 && n > maxLen {
		t.Fatalf("%d tokens, limit %d", n, maxLen)
	}
}

// FuzzTokenizerJSON parses any tokenizer.json and encodes a text and a pair with what it
// builds: errors, never a panic, and encodings that keep their invariants.
func FuzzTokenizerJSON(f *testing.F) {
	f.Add([]byte(fuzzTokenizerJSON), "The cats <x> vase")
	f.Add([]byte(strings.Replace(fuzzTokenizerJSON, `"id": 9,`, `"id": -9,`, 1)), "negative id")
	f.Add([]byte(strings.Replace(fuzzTokenizerJSON, `"id": 9,`, `"id": 999999999999,`, 1)), "huge id")
	f.Add([]byte(strings.Replace(fuzzTokenizerJSON, `"cat": 5`, `"cat": 99999999`, 1)), "sparse id")
	f.Add([]byte(strings.Replace(fuzzTokenizerJSON, `"content": "<x>"`, `"content": ""`, 1)), "empty added token")
	f.Add([]byte(strings.Replace(fuzzTokenizerJSON, `"max_input_chars_per_word": 100`, `"max_input_chars_per_word": -1`, 1)), "cats")
	f.Add([]byte(strings.Replace(fuzzTokenizerJSON, `"continuing_subword_prefix": "##"`, `"continuing_subword_prefix": ""`, 1)), "cats")
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{}},"pre_tokenizer":{"type":"BertPreTokenizer"}}`), "x")
	f.Add([]byte(`{"model":`), "x")
	f.Add([]byte(`{"model":{"type":"WordPiece","unk_token":"[UNK]","vocab":{"[UNK]":0,"[CLS]":1,"[SEP]":2,"[PAD]":3}},"pre_tokenizer":{"type":"BertPreTokenizer"},"post_processor":{"type":"BertProcessing","cls":[1,1],"sep":["[SEP]",2]}}`), "x")
	f.Fuzz(func(t *testing.T, data []byte, text string) {
		tok, _, err := parseTokenizerBytes(data)
		if err != nil {
			return
		}
		for _, maxLen := range []int{0, 5} {
			opts := EncodeOptions{MaxLength: maxLen, Padding: PadMaxLength}
			checkEncoding(t, tok, tok.Encode(text, opts), maxLen)
			checkEncoding(t, tok, tok.EncodePair(text, strings.ToUpper(text), opts), maxLen)
		}
		tok.Tokenize(text)
	})
}

// FuzzTokenizerEncode encodes any text (and pair, and length limit) with the small
// tokenizer above and with the vocab.txt path: ids, type ids and masks keep their
// invariants and truncation its limit.
func FuzzTokenizerEncode(f *testing.F) {
	for _, s := range []string{"The cats sat.", "Ünïcödé çafé Ελληνικά 东京 😀", "[CLS] [SEP] [PAD] <x> a<x>b", "\x00\x01\u200b\ufeff\u00a0\u3000",
		strings.Repeat("long", 300), "a\tb\nc\r\nd", "\xff\xfe invalid utf-8 \xc3", "##s ## #", ""} {
		f.Add(s, "a cat", 8)
	}
	f.Add("a b c d e f g h", "i j k l m n o p q", 3)
	f.Add("a", "", -1)
	tok, _, err := parseTokenizerBytes([]byte(fuzzTokenizerJSON))
	if err != nil {
		f.Fatal(err)
	}
	vocabFile := filepath.Join(f.TempDir(), "vocab.txt")
	if err := os.WriteFile(vocabFile, []byte("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\ncat\n##s\nthe\n"), 0o644); err != nil {
		f.Fatal(err)
	}
	vocab, err := LoadVocabTokenizer(vocabFile, DefaultUncasedConfig())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, a, b string, maxLen int) {
		maxLen = maxLen % 600
		for _, tk := range []*Tokenizer{tok, vocab} {
			for _, pad := range []Padding{PadNone, PadMaxLength} {
				opts := EncodeOptions{MaxLength: maxLen, Padding: pad}
				if maxLen < 0 {
					opts.MaxLength = -1 // ModelMaxLength (0 here: no limit)
				}
				checkEncoding(t, tk, tk.Encode(a, opts), opts.MaxLength)
				checkEncoding(t, tk, tk.EncodePair(a, b, opts), opts.MaxLength)
			}
			batch := tk.EncodeBatch([]string{a, b}, EncodeOptions{Padding: PadLongest})
			if batch.Encodings[0].Len() != batch.Encodings[1].Len() {
				t.Fatalf("padded batch of lengths %d and %d", batch.Encodings[0].Len(), batch.Encodings[1].Len())
			}
		}
	})
}

// torchBinHostile derives hostile checkpoints from testdata/fuzz_tiny*.bin: a storage that
// claims 2^31-1 or 2^40 elements, a string that claims 2 GB, a shape far beyond its storage,
// and a legacy file whose storage size field claims 2^40 elements.
func torchBinHostile(t testing.TB) [][]byte {
	t.Helper()
	zipped, err := os.ReadFile(filepath.Join("testdata", "fuzz_tiny.bin"))
	if err != nil {
		t.Fatal(err)
	}
	legacy, err := os.ReadFile(filepath.Join("testdata", "fuzz_tiny_legacy.bin"))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, r := range [][2]string{
		{"cpuq\x07K\x06t", "cpuq\x07J\xff\xff\xff\x7ft"},
		{"cpuq\x07K\x06t", "cpuq\x07\x8a\x06\x00\x00\x00\x00\x00\x01t"},
		{"X\x08\x00\x00\x00a.weight", "X\xff\xff\xff\x7fa.weight"},
		{"QK\x00K\x02K\x03\x86", "QK\x00J\xff\xff\xff\x7fK\x03\x86"},
		{"QK\x00K\x02K\x03\x86q\tK\x03K\x01", "QK\x00K\x02K\x03\x86q\tK\x03J\xff\xff\xff\x7f"},
	} {
		out = append(out, rewriteZipRecord(t, zipped, "data.pkl", r[0], r[1]))
	}
	i := strings.LastIndex(string(legacy), "\x06\x00\x00\x00\x00\x00\x00\x00")
	bad := append([]byte{}, legacy...)
	copy(bad[i:], "\x00\x00\x00\x00\x00\x01\x00\x00")
	return append(out, bad)
}

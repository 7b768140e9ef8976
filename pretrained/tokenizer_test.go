package pretrained

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
)

type encFixture struct {
	InputIDs      [][]int `json:"input_ids"`
	TokenTypeIDs  [][]int `json:"token_type_ids"`
	AttentionMask [][]int `json:"attention_mask"`
}

type tokFixtures struct {
	Sentences   []string       `json:"sentences"`
	CasedConfig map[string]any `json:"cased_config"`
	Pairs       [][2]string    `json:"pairs"`
	Configs     map[string]struct {
		Single       [][]int    `json:"single"`
		Tokens       [][]string `json:"tokens"`
		BatchMax24   encFixture `json:"batch_max24"`
		BatchLongest encFixture `json:"batch_longest_first12"`
		PairsMax32   encFixture `json:"pairs_max32"`
	} `json:"configs"`
}

func loadTokFixtures(t *testing.T) *tokFixtures {
	t.Helper()
	b, err := os.ReadFile("testdata/tokenizer_fixtures.json")
	if err != nil {
		t.Fatalf("%v (regenerate with .venv/bin/python scripts/make-tokenizer-fixtures.py)", err)
	}
	var f tokFixtures
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return &f
}

// fixtureTokenizers builds our tokenizer for each fixture configuration.
func fixtureTokenizers(t *testing.T, dir string, casedConfig map[string]any) map[string]*Tokenizer {
	t.Helper()
	vocab := filepath.Join(dir, "vocab.txt")
	no := false
	casedCfg := DefaultUncasedConfig()
	casedCfg.DoLowerCase = false
	keep := DefaultUncasedConfig()
	keep.StripAccents = &no
	out := map[string]*Tokenizer{}
	var err error
	if out["tokenizer.json"], err = LoadTokenizer(dir); err != nil {
		t.Fatal(err)
	}
	// tokenizer.json with a tokenizer_config.json that overrides its normalizer.
	cased := t.TempDir()
	tj, err := os.ReadFile(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	if casedConfig == nil {
		casedConfig = map[string]any{"do_lower_case": false}
	}
	cj, _ := json.Marshal(casedConfig)
	if err := os.WriteFile(filepath.Join(cased, "tokenizer.json"), tj, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cased, "tokenizer_config.json"), cj, 0o644); err != nil {
		t.Fatal(err)
	}
	if out["json-cased-config"], err = LoadTokenizer(cased); err != nil {
		t.Fatal(err)
	}
	for name, cfg := range map[string]TokenizerConfig{"vocab-uncased": DefaultUncasedConfig(), "vocab-cased": casedCfg, "vocab-keep-accents": keep} {
		if out[name], err = LoadVocabTokenizer(vocab, cfg); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func checkEnc(t *testing.T, what string, got []*Encoding, want encFixture) int {
	t.Helper()
	ok := 0
	for i, e := range got {
		if reflect.DeepEqual(e.IDs, want.InputIDs[i]) && reflect.DeepEqual(e.TypeIDs, want.TokenTypeIDs[i]) &&
			reflect.DeepEqual(e.AttentionMask, want.AttentionMask[i]) {
			ok++
			continue
		}
		t.Errorf("%s #%d:\n got ids %v types %v mask %v\nwant ids %v types %v mask %v", what, i,
			e.IDs, e.TypeIDs, e.AttentionMask, want.InputIDs[i], want.TokenTypeIDs[i], want.AttentionMask[i])
	}
	return ok
}

// TestTokenizerMatchesHF compares our token ids with BertTokenizerFast's on
// the committed fixtures, for tokenizer.json and three vocab.txt
// configurations, alone, truncated and padded, and in pairs.
func TestTokenizerMatchesHF(t *testing.T) {
	fx := loadTokFixtures(t)
	toks := fixtureTokenizers(t, miniLMDir(t), fx.CasedConfig)
	total, matched := 0, 0
	for _, name := range sortedKeys(fx.Configs) {
		want := fx.Configs[name]
		tok := toks[name]
		if tok == nil {
			t.Fatalf("no tokenizer for fixture config %q", name)
		}
		t.Run(name, func(t *testing.T) {
			for i, s := range fx.Sentences {
				total++
				e := tok.Encode(s, EncodeOptions{})
				if reflect.DeepEqual(e.IDs, want.Single[i]) && reflect.DeepEqual(e.Tokens, want.Tokens[i]) {
					matched++
				} else {
					t.Errorf("sentence %d %q:\n got %v %q\nwant %v %q", i, s, e.IDs, e.Tokens, want.Single[i], want.Tokens[i])
				}
			}
			b := tok.EncodeBatch(fx.Sentences, EncodeOptions{MaxLength: 24, Padding: PadMaxLength})
			total += len(b.Encodings)
			matched += checkEnc(t, "batch max 24", b.Encodings, want.BatchMax24)
			b = tok.EncodeBatch(fx.Sentences[:12], EncodeOptions{Padding: PadLongest})
			total += len(b.Encodings)
			matched += checkEnc(t, "batch padded to longest", b.Encodings, want.BatchLongest)
			var pairs []*Encoding
			for _, p := range fx.Pairs {
				pairs = append(pairs, tok.EncodePair(p[0], p[1], EncodeOptions{MaxLength: 32, Padding: PadMaxLength}))
			}
			total += len(pairs)
			matched += checkEnc(t, "pairs max 32", pairs, want.PairsMax32)
		})
	}
	t.Logf("token ids identical to BertTokenizerFast on %d of %d encodings (%d sentences x %d configurations, plus batches and pairs)",
		matched, total, len(fx.Sentences), len(fx.Configs))
}

func TestTokenizerBatchTensors(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tok := fixtureTokenizers(t, miniLMDir(t), nil)["tokenizer.json"]
	b := tok.EncodeBatch([]string{"a museum", "the harvesters by bruegel"}, EncodeOptions{Padding: PadLongest})
	ids, mask, types, err := b.Tensors(gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer ids.Drop()
	defer mask.Drop()
	defer types.Drop()
	shape, _ := ids.Size()
	if !reflect.DeepEqual(shape, []int64{2, int64(b.Encodings[1].Len())}) {
		t.Fatalf("shape %v", shape)
	}
	if got := mask.Int64Values(); got[len(got)/2-1] != 0 || got[len(got)-1] != 1 {
		t.Fatalf("mask %v", got)
	}
	if _, _, _, err := tok.EncodeBatch([]string{"a", "b c d"}, EncodeOptions{}).Tensors(gotch.CPU); err == nil {
		t.Fatal("ragged batch: want an error")
	}
}

func TestTruncateLongestFirst(t *testing.T) {
	mk := func(n int) []piece { return make([]piece, n) }
	for _, c := range []struct {
		a, b, room, wantA, wantB int
	}{
		{3, 4, 10, 3, 4},
		{3, 20, 10, 3, 7},
		{20, 3, 10, 7, 3},
		{20, 20, 10, 5, 5},
		{20, 20, 9, 4, 5},
		{12, 11, 9, 5, 4},
		{0, 20, 5, 0, 5},
	} {
		a, b := truncateLongestFirst(mk(c.a), mk(c.b), true, c.room)
		if len(a) != c.wantA || len(b) != c.wantB {
			t.Errorf("a=%d b=%d room=%d: got %d,%d want %d,%d", c.a, c.b, c.room, len(a), len(b), c.wantA, c.wantB)
		}
	}
}

func TestSplitAdded(t *testing.T) {
	added := []addedToken{{Content: "[MASK]", ID: 1}, {Content: "[MA", ID: 2}, {Content: "<s>", ID: 3, LStrip: true, RStrip: true}, {Content: "w", ID: 4, SingleWord: true}}
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"a [MASK] b", []string{"a ", "#1", " b"}},
		{"[MASK][MA", []string{"#1", "#2"}},
		{"x <s> y", []string{"x", "#3", "y"}},
		{"w ww w", []string{"#4", " ww ", "#4"}},
		{"none", []string{"none"}},
	} {
		added := append([]addedToken{}, added...)
		var got []string
		for _, s := range splitAdded(c.in, sortLongest(added)) {
			if s.added != nil {
				got = append(got, "#"+string(rune('0'+s.added.ID)))
			} else {
				got = append(got, s.text)
			}
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: got %q want %q", c.in, got, c.want)
		}
	}
}

func sortLongest(a []addedToken) []addedToken {
	for i := range a {
		for j := i + 1; j < len(a); j++ {
			if len(a[j].Content) > len(a[i].Content) {
				a[i], a[j] = a[j], a[i]
			}
		}
	}
	return a
}

func TestLoadTokenizerErrors(t *testing.T) {
	dir := t.TempDir()
	bad := map[string]string{
		"bpe.json":    `{"model":{"type":"BPE","vocab":{}},"pre_tokenizer":{"type":"BertPreTokenizer"}}`,
		"norm.json":   `{"model":{"type":"WordPiece","vocab":{"[UNK]":0}},"normalizer":{"type":"NFC"},"pre_tokenizer":{"type":"BertPreTokenizer"}}`,
		"nounk.json":  `{"model":{"type":"WordPiece","unk_token":"[UNK]","vocab":{"a":0}},"pre_tokenizer":{"type":"BertPreTokenizer"}}`,
		"broken.json": `{"model":`,
	}
	for name, content := range bad {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadTokenizerJSON(p); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
	if _, err := LoadTokenizer(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing path: want an error")
	}
}

func TestEncodeOptionsModelMaxLength(t *testing.T) {
	tok := fixtureTokenizers(t, miniLMDir(t), nil)["tokenizer.json"]
	if tok.ModelMaxLength != 512 {
		t.Fatalf("model max length %d", tok.ModelMaxLength)
	}
	long := strings.Repeat("museum ", 600)
	if n := tok.Encode(long, EncodeOptions{MaxLength: -1}).Len(); n != 512 {
		t.Fatalf("MaxLength -1 gave %d tokens, want 512", n)
	}
	if n := tok.Encode(long, EncodeOptions{}).Len(); n != 602 {
		t.Fatalf("no truncation gave %d tokens, want 602", n)
	}
	e := tok.Encode("a b", EncodeOptions{MaxLength: 6, Padding: PadMaxLength, NoSpecialTokens: true})
	if !reflect.DeepEqual(e.AttentionMask, []int{1, 1, 0, 0, 0, 0}) || e.IDs[2] != tok.PadID {
		t.Fatalf("no special tokens, padded: %+v", e)
	}
	if id, ok := tok.TokenToID("[MASK]"); !ok || id != 103 {
		t.Fatalf("[MASK] = %d %v", id, ok)
	}
	if s, ok := tok.IDToToken(2293); !ok || s != "love" {
		t.Fatalf("2293 = %q", s)
	}
}

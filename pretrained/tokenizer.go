package pretrained

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
	"github.com/sugarme/tokenizer/model"
	"github.com/sugarme/tokenizer/model/wordpiece"
)

// Tokenizer is a BERT WordPiece tokenizer whose ids, type ids and attention
// masks equal those of transformers' BertTokenizerFast built from the same
// files (tokenizer.json, or vocab.txt with tokenizer_config.json).
//
// The sub-word model is sugarme/tokenizer's wordpiece.WordPiece (greedy
// longest-match-first, "##" continuation, [UNK] for words it cannot cover or
// longer than max_input_chars_per_word characters). The other stages are
// VBG's, because sugarme/tokenizer v0.3.0 deviates from Hugging Face there;
// its own pipeline (pretrained.FromFile on all-MiniLM-L6-v2's tokenizer.json)
// gives the ids of BertTokenizerFast on only 45 of the 57 fixture sentences:
//
//   - normalizer.BertNormalizer strips accents by dropping Mn marks without
//     NFD first, so precomposed letters (é, ö, ř, Hangul syllables) keep
//     their accents and become [UNK]; its clean_text only turns white space
//     into a space next to a removed control character; its lowercase
//     rewrites the string without updating the alignments;
//     NormalizedString.Map ignores its function; its CJK table has 0x2B820
//     where Hugging Face has 0x2B920.
//   - pretokenizer.BertPreTokenizer splits on the regexp \s, which is ASCII
//     only in Go, so U+00A0, U+3000 and U+2009 do not separate words.
//   - [CLS] and [SEP] written in the text are not recognised as special
//     tokens.
//   - Tokenizer.EncodeBatch calls log.Fatal on an error, and
//     wordpiece.WordPiece.ReadFiles writes into a nil map; vocab files are
//     read here instead (trailing white space trimmed, as Hugging Face does).
//
// BertNormalizer, bertPreTokenize and the added-token splitting reproduce the
// Rust implementation, including the places where its Unicode tables are
// older than Go's (bertnorm_tables.go); TestBertNormalizerSweep checks every
// Unicode code point against it.
//
// A Tokenizer is safe for concurrent use.
type Tokenizer struct {
	wp       wordpiece.WordPiece
	vocab    map[string]int
	inv      []string
	norm     *BertNormalizer // nil: no normalizer
	added    []addedToken    // matched on raw text, longest first
	addedN   []addedToken    // matched on normalized text, longest first
	specials map[string]bool

	// Special token ids used by encoding. PadID is also the padding id.
	CLSID, SEPID, PadID, UnkID int
	// ModelMaxLength is tokenizer_config.json's model_max_length (0 when
	// unknown); EncodeOptions.MaxLength -1 truncates to it.
	ModelMaxLength int
}

type addedToken struct {
	Content    string
	ID         int
	Special    bool
	Normalized bool
	LStrip     bool
	RStrip     bool
	SingleWord bool
}

// TokenizerConfig holds the settings of a vocab.txt-based tokenizer, as in
// tokenizer_config.json.
type TokenizerConfig struct {
	// DoLowerCase lowercases the text (uncased models).
	DoLowerCase bool
	// StripAccents removes accents; nil means "same as DoLowerCase", as in
	// Hugging Face.
	StripAccents *bool
	// TokenizeChineseChars splits around CJK ideographs.
	TokenizeChineseChars bool
	// ModelMaxLength is the longest input the model accepts (0: unknown).
	ModelMaxLength int
	// Special tokens (defaults [UNK] [SEP] [PAD] [CLS] [MASK]).
	UnkToken, SepToken, PadToken, ClsToken, MaskToken string
}

// DefaultUncasedConfig is bert-base-uncased's tokenizer configuration.
func DefaultUncasedConfig() TokenizerConfig {
	return TokenizerConfig{
		DoLowerCase: true, TokenizeChineseChars: true, ModelMaxLength: 512,
		UnkToken: "[UNK]", SepToken: "[SEP]", PadToken: "[PAD]", ClsToken: "[CLS]", MaskToken: "[MASK]",
	}
}

// LoadTokenizer loads a tokenizer from a model folder (tokenizer.json if
// present, else vocab.txt with tokenizer_config.json), or from a
// tokenizer.json or vocab.txt file. tokenizer_config.json next to the file,
// when present, supplies model_max_length.
func LoadTokenizer(path string) (*Tokenizer, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	dir, file := path, ""
	if st.IsDir() {
		for _, n := range []string{"tokenizer.json", "vocab.txt"} {
			if fileExists(filepath.Join(dir, n)) {
				file = filepath.Join(dir, n)
				break
			}
		}
		if file == "" {
			return nil, fmt.Errorf("tokenizer: %s has neither tokenizer.json nor vocab.txt", dir)
		}
	} else {
		dir, file = filepath.Dir(path), path
	}
	cfgPath := filepath.Join(dir, "tokenizer_config.json")
	cfg, err := readTokenizerConfig(cfgPath)
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(file, ".json") {
		t, state, err := parseTokenizerJSON(file)
		if err != nil {
			return nil, err
		}
		t.ModelMaxLength = cfg.ModelMaxLength
		if fileExists(cfgPath) && state != nil {
			t.overrideNormalizer(state, cfg)
		}
		return t, nil
	}
	return LoadVocabTokenizer(file, cfg)
}

// normState is a tokenizer.json BertNormalizer as written (nil: absent).
type normState struct {
	CleanText, HandleChineseChars, StripAccents, Lowercase *bool
}

// overrideNormalizer does what transformers' BertTokenizerFast does when
// tokenizer_config.json disagrees with tokenizer.json's normalizer on
// do_lower_case, strip_accents or tokenize_chinese_chars: the
// tokenizer_config.json values win.
func (t *Tokenizer) overrideNormalizer(st *normState, cfg TokenizerConfig) {
	lower, chinese := cfg.DoLowerCase, cfg.TokenizeChineseChars
	boolDiffers := func(p *bool, v bool) bool { return p != nil && *p != v }
	stripDiffers := (st.StripAccents == nil) != (cfg.StripAccents == nil) ||
		st.StripAccents != nil && *st.StripAccents != *cfg.StripAccents
	if !boolDiffers(st.Lowercase, lower) && !boolDiffers(st.HandleChineseChars, chinese) && !stripDiffers {
		return
	}
	strip := lower
	if cfg.StripAccents != nil {
		strip = *cfg.StripAccents
	}
	clean := true
	if st.CleanText != nil {
		clean = *st.CleanText
	}
	t.norm = &BertNormalizer{CleanText: clean, HandleChineseChars: chinese, StripAccents: strip, Lowercase: lower}
}

// readTokenizerConfig reads tokenizer_config.json; a missing file gives the
// bert-base-uncased defaults.
func readTokenizerConfig(path string) (TokenizerConfig, error) {
	cfg := DefaultUncasedConfig()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return cfg, nil
	}
	if err != nil {
		return cfg, fmt.Errorf("tokenizer config: %w", err)
	}
	c, err := ParseConfig(b)
	if err != nil {
		return cfg, fmt.Errorf("tokenizer config %s: %w", path, err)
	}
	c.Path = path
	if v, ok := c.Bool("do_lower_case"); ok {
		cfg.DoLowerCase = v
	}
	if v, ok := c.Bool("strip_accents"); ok {
		cfg.StripAccents = &v
	}
	if v, ok := c.Bool("tokenize_chinese_chars"); ok {
		cfg.TokenizeChineseChars = v
	}
	// model_max_length is sometimes a huge float meaning "no limit".
	if f, ok, err := c.Float("model_max_length"); err == nil && ok && f > 0 && f < 1e9 {
		cfg.ModelMaxLength = int(f)
	} else if err == nil && ok {
		cfg.ModelMaxLength = 0
	}
	for key, dst := range map[string]*string{
		"unk_token": &cfg.UnkToken, "sep_token": &cfg.SepToken, "pad_token": &cfg.PadToken,
		"cls_token": &cfg.ClsToken, "mask_token": &cfg.MaskToken,
	} {
		if s, ok := c.String(key); ok {
			*dst = s
		}
	}
	return cfg, nil
}

// ReadVocab reads a vocab.txt: one token per line, ids by line number,
// trailing white space trimmed.
func ReadVocab(path string) (map[string]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("vocab: %w", err)
	}
	defer f.Close()
	vocab := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	i := 0
	for sc.Scan() {
		vocab[strings.TrimRightFunc(sc.Text(), unicode.IsSpace)] = i
		i++
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("vocab %s: %w", path, err)
	}
	if len(vocab) == 0 {
		return nil, fmt.Errorf("vocab %s: empty", path)
	}
	return vocab, nil
}

// LoadVocabTokenizer builds a tokenizer from a vocab.txt and settings, the
// way transformers converts a BertTokenizer to a BertTokenizerFast.
func LoadVocabTokenizer(vocabPath string, cfg TokenizerConfig) (*Tokenizer, error) {
	vocab, err := ReadVocab(vocabPath)
	if err != nil {
		return nil, err
	}
	strip := cfg.DoLowerCase
	if cfg.StripAccents != nil {
		strip = *cfg.StripAccents
	}
	norm := &BertNormalizer{CleanText: true, HandleChineseChars: cfg.TokenizeChineseChars, StripAccents: strip, Lowercase: cfg.DoLowerCase}
	var added []addedToken
	for _, s := range []string{cfg.PadToken, cfg.UnkToken, cfg.ClsToken, cfg.SepToken, cfg.MaskToken} {
		id, ok := vocab[s]
		if !ok {
			return nil, fmt.Errorf("vocab %s: special token %q is not in the vocabulary", vocabPath, s)
		}
		added = append(added, addedToken{Content: s, ID: id, Special: true})
	}
	t, err := newTokenizer(vocab, cfg.UnkToken, "##", 100, norm, added, cfg.ClsToken, cfg.SepToken, cfg.PadToken)
	if err != nil {
		return nil, fmt.Errorf("vocab %s: %w", vocabPath, err)
	}
	t.ModelMaxLength = cfg.ModelMaxLength
	return t, nil
}

// tokenizerJSON is the part of tokenizer.json a BERT tokenizer uses.
type tokenizerJSON struct {
	AddedTokens []struct {
		ID         int    `json:"id"`
		Content    string `json:"content"`
		SingleWord bool   `json:"single_word"`
		LStrip     bool   `json:"lstrip"`
		RStrip     bool   `json:"rstrip"`
		Normalized bool   `json:"normalized"`
		Special    bool   `json:"special"`
	} `json:"added_tokens"`
	Normalizer *struct {
		Type               string `json:"type"`
		CleanText          *bool  `json:"clean_text"`
		HandleChineseChars *bool  `json:"handle_chinese_chars"`
		StripAccents       *bool  `json:"strip_accents"`
		Lowercase          *bool  `json:"lowercase"`
	} `json:"normalizer"`
	PreTokenizer *struct {
		Type string `json:"type"`
	} `json:"pre_tokenizer"`
	PostProcessor *struct {
		Type          string `json:"type"`
		Sep           []any  `json:"sep"`
		Cls           []any  `json:"cls"`
		SpecialTokens map[string]struct {
			IDs []int `json:"ids"`
		} `json:"special_tokens"`
		Single []map[string]struct {
			ID string `json:"id"`
		} `json:"single"`
	} `json:"post_processor"`
	Padding *struct {
		PadToken string `json:"pad_token"`
		PadID    int    `json:"pad_id"`
	} `json:"padding"`
	Model struct {
		Type                    string         `json:"type"`
		UnkToken                string         `json:"unk_token"`
		ContinuingSubwordPrefix *string        `json:"continuing_subword_prefix"`
		MaxInputCharsPerWord    *int           `json:"max_input_chars_per_word"`
		Vocab                   map[string]int `json:"vocab"`
	} `json:"model"`
}

// LoadTokenizerJSON loads a Hugging Face tokenizer.json of the BERT family:
// a WordPiece model, a BertNormalizer (or none), a BertPreTokenizer, and a
// BERT-style post-processor ([CLS] A [SEP] B [SEP]). Other pipelines are
// rejected with an error rather than tokenized differently.
func LoadTokenizerJSON(path string) (*Tokenizer, error) {
	t, _, err := parseTokenizerJSON(path)
	return t, err
}

func parseTokenizerJSON(path string) (t *Tokenizer, state *normState, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("tokenizer: %w", err)
	}
	t, state, err = parseTokenizerBytes(b)
	if err != nil {
		return nil, nil, fmt.Errorf("tokenizer %s: %w", path, err)
	}
	return t, state, nil
}

// parseTokenizerBytes builds a tokenizer from the content of a
// tokenizer.json.
func parseTokenizerBytes(b []byte) (*Tokenizer, *normState, error) {
	var tj tokenizerJSON
	if err := json.Unmarshal(b, &tj); err != nil {
		return nil, nil, err
	}
	if tj.Model.Type != "WordPiece" {
		return nil, nil, fmt.Errorf("model type %q is not supported (only WordPiece)", tj.Model.Type)
	}
	norm, state, err := tj.normalizer()
	if err != nil {
		return nil, nil, err
	}
	if p := tj.PreTokenizer; p == nil || p.Type != "BertPreTokenizer" {
		typ := "none"
		if p != nil {
			typ = p.Type
		}
		return nil, nil, fmt.Errorf("pre-tokenizer %q is not supported (only BertPreTokenizer)", typ)
	}
	var added []addedToken
	for _, a := range tj.AddedTokens {
		added = append(added, addedToken{Content: a.Content, ID: a.ID, Special: a.Special, Normalized: a.Normalized,
			LStrip: a.LStrip, RStrip: a.RStrip, SingleWord: a.SingleWord})
	}
	cls, sep, err := tj.clsSep()
	if err != nil {
		return nil, nil, err
	}
	pad := "[PAD]"
	if tj.Padding != nil && tj.Padding.PadToken != "" {
		pad = tj.Padding.PadToken
	}
	prefix := "##"
	if tj.Model.ContinuingSubwordPrefix != nil {
		prefix = *tj.Model.ContinuingSubwordPrefix
	}
	maxChars := 100
	if tj.Model.MaxInputCharsPerWord != nil {
		maxChars = *tj.Model.MaxInputCharsPerWord
	}
	t, err := newTokenizer(tj.Model.Vocab, tj.Model.UnkToken, prefix, maxChars, norm, added, cls, sep, pad)
	if err != nil {
		return nil, nil, err
	}
	return t, state, nil
}

// normalizer is the file's BertNormalizer (nil: none) with Hugging Face's
// defaults for absent settings, and the settings as written.
func (tj *tokenizerJSON) normalizer() (*BertNormalizer, *normState, error) {
	n := tj.Normalizer
	if n == nil {
		return nil, nil, nil
	}
	if n.Type != "BertNormalizer" {
		return nil, nil, fmt.Errorf("normalizer %q is not supported (only BertNormalizer)", n.Type)
	}
	def := func(p *bool, d bool) bool {
		if p == nil {
			return d
		}
		return *p
	}
	state := &normState{CleanText: n.CleanText, HandleChineseChars: n.HandleChineseChars, StripAccents: n.StripAccents, Lowercase: n.Lowercase}
	lower := def(n.Lowercase, true)
	return &BertNormalizer{
		CleanText:          def(n.CleanText, true),
		HandleChineseChars: def(n.HandleChineseChars, true),
		StripAccents:       def(n.StripAccents, lower),
		Lowercase:          lower,
	}, state, nil
}

// clsSep reads the [CLS] and [SEP] tokens from the post-processor (BERT's
// by default); a template other than [CLS] $A [SEP] is refused.
func (tj *tokenizerJSON) clsSep() (cls, sep string, err error) {
	cls, sep = "[CLS]", "[SEP]"
	pp := tj.PostProcessor
	if pp == nil {
		return cls, sep, nil
	}
	switch pp.Type {
	case "BertProcessing":
		if len(pp.Cls) == 2 && len(pp.Sep) == 2 {
			cls, _ = pp.Cls[0].(string)
			sep, _ = pp.Sep[0].(string)
		}
	case "TemplateProcessing":
		var seq []string
		for _, piece := range pp.Single {
			for kind, v := range piece {
				if kind == "SpecialToken" {
					seq = append(seq, v.ID)
				} else {
					seq = append(seq, "$"+v.ID)
				}
			}
		}
		if len(seq) != 3 || seq[1] != "$A" {
			return "", "", fmt.Errorf("post-processor template %v is not BERT's [CLS] $A [SEP]", seq)
		}
		cls, sep = seq[0], seq[2]
	default:
		return "", "", fmt.Errorf("post-processor %q is not supported", pp.Type)
	}
	return cls, sep, nil
}

// MaxVocabSize bounds the token ids of a tokenizer file (real vocabularies
// have up to a few hundred thousand).
const MaxVocabSize = 1 << 22

func newTokenizer(vocab map[string]int, unk, prefix string, maxChars int, norm *BertNormalizer,
	added []addedToken, cls, sep, pad string) (*Tokenizer, error) {
	t := &Tokenizer{vocab: vocab, norm: norm, specials: map[string]bool{}}
	maxID := -1
	for tok, id := range vocab {
		if id < 0 || id >= MaxVocabSize {
			return nil, fmt.Errorf("token %q has id %d, outside [0, %d)", tok, id, MaxVocabSize)
		}
		maxID = max(maxID, id)
	}
	for _, a := range added {
		if a.ID < 0 || a.ID >= MaxVocabSize {
			return nil, fmt.Errorf("added token %q has id %d, outside [0, %d)", a.Content, a.ID, MaxVocabSize)
		}
		maxID = max(maxID, a.ID)
	}
	t.inv = make([]string, maxID+1)
	for tok, id := range vocab {
		t.inv[id] = tok
	}
	for _, a := range added {
		if a.Content == "" {
			continue
		}
		t.inv[a.ID] = a.Content
		if a.Special {
			t.specials[a.Content] = true
		}
		if a.Normalized && !a.Special {
			t.addedN = append(t.addedN, a)
		} else {
			t.added = append(t.added, a)
		}
	}
	longestFirst := func(s []addedToken) {
		sort.SliceStable(s, func(i, j int) bool { return len(s[i].Content) > len(s[j].Content) })
	}
	longestFirst(t.added)
	longestFirst(t.addedN)
	var ok bool
	for _, x := range []struct {
		name string
		dst  *int
	}{{unk, &t.UnkID}, {cls, &t.CLSID}, {sep, &t.SEPID}, {pad, &t.PadID}} {
		if *x.dst, ok = t.TokenToID(x.name); !ok {
			return nil, fmt.Errorf("special token %q is not in the vocabulary", x.name)
		}
	}
	v := model.Vocab(vocab)
	t.wp = wordpiece.NewWordPieceBuilder().Vocab(&v).UnkToken(unk).
		ContinuingSubwordPrefix(prefix).MaxInputCharsPerWord(maxChars).Build()
	return t, nil
}

// VocabSize is the number of ids (vocabulary plus added tokens).
func (t *Tokenizer) VocabSize() int { return len(t.inv) }

// TokenToID looks up a token (vocabulary or added token).
func (t *Tokenizer) TokenToID(tok string) (int, bool) {
	for _, a := range t.added {
		if a.Content == tok {
			return a.ID, true
		}
	}
	for _, a := range t.addedN {
		if a.Content == tok {
			return a.ID, true
		}
	}
	id, ok := t.vocab[tok]
	return id, ok
}

// IDToToken looks up an id.
func (t *Tokenizer) IDToToken(id int) (string, bool) {
	if id < 0 || id >= len(t.inv) {
		return "", false
	}
	return t.inv[id], true
}

// piece is a token produced by tokenize.
type piece struct {
	id  int
	tok string
}

// tokenize turns one text into WordPiece tokens (no [CLS]/[SEP]).
func (t *Tokenizer) tokenize(text string) []piece {
	var out []piece
	for _, seg := range splitAdded(text, t.added) {
		if seg.added != nil {
			out = append(out, piece{seg.added.ID, seg.added.Content})
			continue
		}
		s := seg.text
		if t.norm != nil {
			s = t.norm.Normalize(s)
		}
		for _, seg2 := range splitAdded(s, t.addedN) {
			if seg2.added != nil {
				out = append(out, piece{seg2.added.ID, seg2.added.Content})
				continue
			}
			for _, w := range bertPreTokenize(seg2.text) {
				toks, err := t.wp.Tokenize(w)
				if err != nil { // only when [UNK] is missing, checked at load
					out = append(out, piece{t.UnkID, t.inv[t.UnkID]})
					continue
				}
				for _, tk := range toks {
					out = append(out, piece{tk.Id, tk.Value})
				}
			}
		}
	}
	return out
}

// Tokenize returns the WordPiece tokens of a text, without special tokens.
func (t *Tokenizer) Tokenize(text string) []string {
	ps := t.tokenize(text)
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.tok
	}
	return out
}

type segment struct {
	text  string
	added *addedToken
}

// splitAdded cuts text around added tokens, matching leftmost-longest as
// Hugging Face's added vocabulary does, honouring lstrip, rstrip and
// single_word.
func splitAdded(text string, added []addedToken) []segment {
	if len(added) == 0 {
		return []segment{{text: text}}
	}
	var out []segment
	last := 0 // start of the pending plain text
	i := 0
	for i < len(text) {
		var hit *addedToken
		for k := range added {
			a := &added[k]
			if strings.HasPrefix(text[i:], a.Content) && (!a.SingleWord || wordBoundary(text, i, i+len(a.Content))) {
				hit = a // added is sorted longest first
				break
			}
		}
		if hit == nil {
			_, n := utf8.DecodeRuneInString(text[i:])
			i += n
			continue
		}
		start, end := i, i+len(hit.Content)
		if hit.LStrip {
			for start > last {
				r, n := utf8.DecodeLastRuneInString(text[last:start])
				if !unicode.IsSpace(r) {
					break
				}
				start -= n
			}
		}
		if hit.RStrip {
			for end < len(text) {
				r, n := utf8.DecodeRuneInString(text[end:])
				if !unicode.IsSpace(r) {
					break
				}
				end += n
			}
		}
		if start > last {
			out = append(out, segment{text: text[last:start]})
		}
		out = append(out, segment{added: hit})
		last, i = end, end
	}
	if last < len(text) {
		out = append(out, segment{text: text[last:]})
	}
	return out
}

func wordBoundary(s string, start, end int) bool {
	isWord := func(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }
	if start > 0 {
		if r, _ := utf8.DecodeLastRuneInString(s[:start]); isWord(r) {
			return false
		}
	}
	if end < len(s) {
		if r, _ := utf8.DecodeRuneInString(s[end:]); isWord(r) {
			return false
		}
	}
	return true
}

// Padding chooses how EncodeBatch pads.
type Padding int

// Padding strategies.
const (
	// PadNone leaves every sequence at its own length.
	PadNone Padding = iota
	// PadLongest pads to the longest sequence of the batch.
	PadLongest
	// PadMaxLength pads to EncodeOptions.MaxLength.
	PadMaxLength
)

// EncodeOptions are the call-time settings of an encoding, as in
// transformers' tokenizer(...) call.
type EncodeOptions struct {
	// MaxLength truncates to this many tokens, special tokens included; 0
	// does not truncate; -1 means ModelMaxLength.
	MaxLength int
	// Padding pads with PadID (attention mask 0, type id 0) on the right.
	Padding Padding
	// NoSpecialTokens leaves out [CLS] and [SEP].
	NoSpecialTokens bool
}

// Encoding is one encoded sequence (or pair).
type Encoding struct {
	IDs           []int
	TypeIDs       []int
	AttentionMask []int
	Tokens        []string
}

// Len is the number of tokens, padding included.
func (e *Encoding) Len() int { return len(e.IDs) }

func (o EncodeOptions) maxLen(t *Tokenizer) int {
	if o.MaxLength < 0 {
		return t.ModelMaxLength
	}
	return o.MaxLength
}

// Encode encodes one text.
func (t *Tokenizer) Encode(text string, opts EncodeOptions) *Encoding {
	return t.encode(text, nil, opts)
}

// EncodePair encodes a pair of texts ([CLS] a [SEP] b [SEP], type ids 0 for
// a and its [SEP], 1 for b and its [SEP]). Truncation removes tokens from
// the longer text first (Hugging Face's longest_first).
func (t *Tokenizer) EncodePair(a, b string, opts EncodeOptions) *Encoding {
	return t.encode(a, &b, opts)
}

func (t *Tokenizer) encode(a string, b *string, opts EncodeOptions) *Encoding {
	pa := t.tokenize(a)
	var pb []piece
	if b != nil {
		pb = t.tokenize(*b)
	}
	maxLen := opts.maxLen(t)
	if maxLen > 0 {
		room := maxLen
		if !opts.NoSpecialTokens {
			room -= 2
			if b != nil {
				room--
			}
		}
		room = max(room, 0)
		pa, pb = truncateLongestFirst(pa, pb, b != nil, room)
	}
	e := &Encoding{}
	add := func(p piece, typ int) {
		e.IDs = append(e.IDs, p.id)
		e.Tokens = append(e.Tokens, p.tok)
		e.TypeIDs = append(e.TypeIDs, typ)
		e.AttentionMask = append(e.AttentionMask, 1)
	}
	cls, sep := piece{t.CLSID, t.inv[t.CLSID]}, piece{t.SEPID, t.inv[t.SEPID]}
	if !opts.NoSpecialTokens {
		add(cls, 0)
	}
	for _, p := range pa {
		add(p, 0)
	}
	if !opts.NoSpecialTokens {
		add(sep, 0)
	}
	if b != nil {
		for _, p := range pb {
			add(p, 1)
		}
		if !opts.NoSpecialTokens {
			add(sep, 1)
		}
	}
	if opts.Padding == PadMaxLength && maxLen > 0 {
		t.pad(e, maxLen)
	}
	return e
}

// truncateLongestFirst cuts two token lists to fit room tokens together the
// way Hugging Face's longest_first strategy does.
func truncateLongestFirst(a, b []piece, pair bool, room int) ([]piece, []piece) {
	if !pair {
		if len(a) > room {
			a = a[:room]
		}
		return a, b
	}
	if len(a)+len(b) <= room {
		return a, b
	}
	n1, n2 := len(a), len(b)
	swap := n1 > n2
	if swap {
		n1, n2 = n2, n1
	}
	if n1 > room {
		n2 = n1
	} else {
		n2 = max(n1, room-n1)
	}
	if n1+n2 > room {
		n1 = room / 2
		n2 = n1 + room%2
	}
	if swap {
		n1, n2 = n2, n1
	}
	return a[:min(n1, len(a))], b[:min(n2, len(b))]
}

func (t *Tokenizer) pad(e *Encoding, n int) {
	for len(e.IDs) < n {
		e.IDs = append(e.IDs, t.PadID)
		e.Tokens = append(e.Tokens, t.inv[t.PadID])
		e.TypeIDs = append(e.TypeIDs, 0)
		e.AttentionMask = append(e.AttentionMask, 0)
	}
}

// Batch is a padded batch of encodings.
type Batch struct {
	Encodings []*Encoding
}

// EncodeBatch encodes texts and pads them as opts says (PadNone leaves them
// ragged).
func (t *Tokenizer) EncodeBatch(texts []string, opts EncodeOptions) *Batch {
	b := &Batch{Encodings: make([]*Encoding, len(texts))}
	longest := 0
	for i, s := range texts {
		b.Encodings[i] = t.Encode(s, opts)
		longest = max(longest, b.Encodings[i].Len())
	}
	if opts.Padding == PadLongest {
		for _, e := range b.Encodings {
			t.pad(e, longest)
		}
	}
	return b
}

// Tensors returns the batch as three int64 tensors of shape [batch, length]
// (input ids, attention mask, token type ids) on the given device. All
// encodings must have the same length (pad the batch).
func (b *Batch) Tensors(device gotch.Device) (ids, mask, types *ts.Tensor, err error) {
	if len(b.Encodings) == 0 {
		return nil, nil, nil, errors.New("empty batch")
	}
	n, l := len(b.Encodings), b.Encodings[0].Len()
	flat := [3][]int64{make([]int64, 0, n*l), make([]int64, 0, n*l), make([]int64, 0, n*l)}
	for i, e := range b.Encodings {
		if e.Len() != l {
			return nil, nil, nil, fmt.Errorf("encoding %d has %d tokens, encoding 0 has %d: pad the batch", i, e.Len(), l)
		}
		for j := range e.IDs {
			flat[0] = append(flat[0], int64(e.IDs[j]))
			flat[1] = append(flat[1], int64(e.AttentionMask[j]))
			flat[2] = append(flat[2], int64(e.TypeIDs[j]))
		}
	}
	var out [3]*ts.Tensor
	for k := range flat {
		x, err := ts.OfSlice(flat[k])
		if err == nil {
			var y *ts.Tensor
			y, err = x.Reshape([]int64{int64(n), int64(l)}, true)
			if err == nil && device != gotch.CPU {
				y, err = y.To(device, true)
			}
			x = y
		}
		if err != nil {
			for _, t := range out[:k] {
				t.Drop()
			}
			return nil, nil, nil, fmt.Errorf("batch tensor: %w", err)
		}
		out[k] = x
	}
	return out[0], out[1], out[2], nil
}

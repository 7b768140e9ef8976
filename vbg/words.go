package vbg

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"unicode"

	"github.com/vbg-museum/vbg/atomicfile"
)

// Tokenizer turns texts into fixed-length id and attention-mask rows.
type Tokenizer interface {
	// Encode returns row-major [len(texts), maxLen] ids and mask (1 = token).
	Encode(texts []string, maxLen int) (ids, mask []int64, err error)
	// VocabSize is the number of distinct ids.
	VocabSize() int
}

// Special tokens of WordVocab, at fixed ids.
const (
	PadID = 0
	UnkID = 1
	ClsID = 2
	SepID = 3
)

// WordVocab is a word-level tokenizer built from training texts: lower-cased
// runs of letters and digits, each other symbol a token of its own. It serves
// small models trained from scratch; pretrained BERTs use their WordPiece
// vocabulary instead.
type WordVocab struct {
	Words []string       `json:"words"` // id -> word; 0..3 are [PAD] [UNK] [CLS] [SEP]
	index map[string]int // word -> id
}

// splitWords is WordVocab's pre-tokenizer.
func splitWords(s string) []string {
	var out []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, cur.String())
			cur.Reset()
		}
	}
	for _, r := range strings.ToLower(s) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			cur.WriteRune(r)
		case unicode.IsSpace(r):
			flush()
		default:
			flush()
			out = append(out, string(r))
		}
	}
	flush()
	return out
}

// BuildWordVocab keeps the words seen at least minCount times, most frequent
// first (ties alphabetical, so the vocabulary is deterministic).
func BuildWordVocab(texts []string, minCount int) *WordVocab {
	counts := map[string]int{}
	for _, t := range texts {
		for _, w := range splitWords(t) {
			counts[w]++
		}
	}
	words := make([]string, 0, len(counts))
	for w, c := range counts {
		if c >= minCount {
			words = append(words, w)
		}
	}
	sort.Slice(words, func(i, j int) bool {
		if counts[words[i]] != counts[words[j]] {
			return counts[words[i]] > counts[words[j]]
		}
		return words[i] < words[j]
	})
	v := &WordVocab{Words: append([]string{"[PAD]", "[UNK]", "[CLS]", "[SEP]"}, words...)}
	v.reindex()
	return v
}

func (v *WordVocab) reindex() {
	v.index = make(map[string]int, len(v.Words))
	for i, w := range v.Words {
		v.index[w] = i
	}
}

// VocabSize implements Tokenizer.
func (v *WordVocab) VocabSize() int { return len(v.Words) }

// Encode implements Tokenizer: [CLS] words... [SEP], truncated to maxLen and
// padded with [PAD].
func (v *WordVocab) Encode(texts []string, maxLen int) (ids, mask []int64, err error) {
	if maxLen < 3 {
		return nil, nil, fmt.Errorf("word vocab: max length %d leaves no room for a word", maxLen)
	}
	ids = make([]int64, len(texts)*maxLen)
	mask = make([]int64, len(texts)*maxLen)
	for i, t := range texts {
		row := ids[i*maxLen : (i+1)*maxLen]
		m := mask[i*maxLen : (i+1)*maxLen]
		row[0] = ClsID
		n := 1
		for _, w := range splitWords(t) {
			if n == maxLen-1 {
				break
			}
			id, ok := v.index[w]
			if !ok {
				id = UnkID
			}
			row[n] = int64(id)
			n++
		}
		row[n] = SepID
		n++
		for j := 0; j < n; j++ {
			m[j] = 1
		}
	}
	return ids, mask, nil
}

// Save writes the vocabulary as JSON.
func (v *WordVocab) Save(path string) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, b)
}

// LoadWordVocab reads a vocabulary written by Save.
func LoadWordVocab(path string) (*WordVocab, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("word vocab: %w", err)
	}
	v := &WordVocab{}
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("word vocab %s: %w", path, err)
	}
	if len(v.Words) < 4 || v.Words[PadID] != "[PAD]" || v.Words[UnkID] != "[UNK]" {
		return nil, fmt.Errorf("word vocab %s: missing special tokens", path)
	}
	v.reindex()
	return v, nil
}

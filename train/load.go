package train

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sugarme/gotch/nn"

	"github.com/vbg-museum/vbg/config"
	"github.com/vbg-museum/vbg/data"
	"github.com/vbg-museum/vbg/device"
	"github.com/vbg-museum/vbg/metrics"
	"github.com/vbg-museum/vbg/vbg"
)

// Loaded is a trained run opened for inference: its config, classes,
// tokenizer and network with the weights of one checkpoint.
type Loaded struct {
	Dir       string
	Config    *config.Config
	Labels    []string
	Tokenizer vbg.Tokenizer
	Net       vbg.Network
	VS        *nn.VarStore
	Worker    *device.Worker
}

// OpenRun rebuilds the network of the run in dir from its config.yaml,
// labels.json and tokenizer, and loads checkpoints/<which>.safetensors
// (which is "best" or "last"). It must be called on w's thread (inside
// w.Do).
func OpenRun(dir string, w *device.Worker, which string) (*Loaded, error) {
	cfg, err := config.Load(filepath.Join(dir, ConfigFile), nil)
	if err != nil {
		return nil, fmt.Errorf("open run %s: %w", dir, err)
	}
	l := &Loaded{Dir: dir, Config: cfg, Worker: w}
	b, err := os.ReadFile(filepath.Join(dir, LabelsFile))
	if err != nil {
		return nil, fmt.Errorf("open run %s: %w", dir, err)
	}
	if err := json.Unmarshal(b, &l.Labels); err != nil {
		return nil, fmt.Errorf("open run %s: %s: %w", dir, LabelsFile, err)
	}
	if cfg.Model.Fusion.Type != "image" || cfg.Model.Arch != "vbg" {
		switch cfg.Model.Text.Tokenizer {
		case "words":
			if l.Tokenizer, err = vbg.LoadWordVocab(filepath.Join(dir, VocabFile)); err != nil && cfg.Model.Fusion.Type != "image" {
				return nil, fmt.Errorf("open run %s: %w", dir, err)
			}
		case "pretrained":
			if l.Tokenizer, err = loadPretrainedTokenizer(cfg); err != nil {
				return nil, fmt.Errorf("open run %s: %w", dir, err)
			}
		}
	}
	vocab := 0
	if l.Tokenizer != nil {
		vocab = l.Tokenizer.VocabSize()
	}
	l.VS = nn.NewVarStore(w.Device)
	if l.Net, err = NewNetwork(l.VS.Root(), cfg, vocab, len(l.Labels)); err != nil {
		return nil, fmt.Errorf("open run %s: %w", dir, err)
	}
	ck, err := LoadCheckpoint(filepath.Join(dir, CheckDir, which+".safetensors"))
	if err != nil {
		return nil, err
	}
	defer ck.Drop()
	if err := ck.Restore(l.VS); err != nil {
		return nil, err
	}
	return l, nil
}

// Evaluate runs the loaded network over records (eval mode, no gradients)
// and returns the metrics report, the mean loss and the probabilities.
// Call it on the worker's thread.
func (l *Loaded) Evaluate(recs []data.Record) (*metrics.Report, float64, [][]float64, error) {
	t := &trainer{cfg: l.Config, dir: l.Dir, ds: &Dataset{Labels: l.Labels}, tok: l.Tokenizer, w: l.Worker, model: l.Net, vs: l.VS}
	loader, err := t.newLoader(recs, false)
	if err != nil {
		return nil, 0, nil, err
	}
	return t.evaluateProbs(loader)
}

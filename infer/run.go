package infer

import (
	"fmt"
	"path/filepath"

	"github.com/sugarme/gotch/nn"

	"github.com/vbg-museum/vbg/checkpoint"
	"github.com/vbg-museum/vbg/config"
	"github.com/vbg-museum/vbg/data"
	"github.com/vbg-museum/vbg/device"
	"github.com/vbg-museum/vbg/experiment"
	"github.com/vbg-museum/vbg/runfolder"
)

// Run is a trained run opened for inference: its config and the model
// with the weights of one checkpoint.
type Run struct {
	Dir    string
	Config *config.Config
	*Model
	VS     *nn.VarStore
	Worker *device.Worker
}

// Open rebuilds the network of the run in dir from its config.yaml,
// labels.json and tokenizer, and loads checkpoints/<which>.safetensors
// (which is "best" or "last"). Call it on w's goroutine (inside w.Do).
func Open(dir string, w *device.Worker, which string) (*Run, error) {
	cfg, err := experiment.Load(filepath.Join(dir, runfolder.ConfigFile), nil)
	if err != nil {
		return nil, fmt.Errorf("open run %s: %w", dir, err)
	}
	labels, err := runfolder.ReadLabels(dir)
	if err != nil {
		return nil, fmt.Errorf("open run %s: %w", dir, err)
	}
	tok, err := experiment.Tokenizer(cfg, dir, nil)
	if err != nil {
		return nil, fmt.Errorf("open run %s: %w", dir, err)
	}
	vocab := 0
	if tok != nil {
		vocab = tok.VocabSize()
	}
	vs := nn.NewVarStore(w.Device)
	net, err := experiment.Build(vs.Root(), cfg, vocab, len(labels))
	if err != nil {
		return nil, fmt.Errorf("open run %s: %w", dir, err)
	}
	ck, err := checkpoint.Load(filepath.Join(dir, runfolder.CheckDir, which+".safetensors"))
	if err != nil {
		return nil, err
	}
	defer ck.Drop()
	if err := ck.CheckLabels(labels, filepath.Join(dir, runfolder.LabelsFile)); err != nil {
		return nil, err
	}
	if err := ck.Restore(vs); err != nil {
		return nil, err
	}
	return &Run{Dir: dir, Config: cfg, Model: NewModel(cfg, net, tok, labels, w.Device), VS: vs, Worker: w}, nil
}

// EvaluateRecords runs the loaded network over records (eval mode, no
// gradients). Call it on the worker's goroutine.
func (r *Run) EvaluateRecords(recs []data.Record) (*Evaluation, error) {
	l, err := data.NewLoader(recs, LoaderConfig(r.Config))
	if err != nil {
		return nil, err
	}
	return r.Evaluate(l)
}

// Dataset opens the dataset the run was trained on, wherever the current
// directory is (the run folder records its absolute path), and refuses
// one that changed since.
func (r *Run) Dataset() (*experiment.Dataset, error) {
	cfg := *r.Config
	if err := experiment.UseRecordedData(&cfg, r.Dir); err != nil {
		return nil, err
	}
	return experiment.LoadDataset(&cfg, r.Dir)
}

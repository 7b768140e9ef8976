package experiment

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"sort"

	"github.com/vbg-museum/vbg/config"
	"github.com/vbg-museum/vbg/data"
)

// Dataset is the three splits of an experiment with their class names.
type Dataset struct {
	Labels           []string
	Train, Val, Test []data.Record
}

// LoadDataset opens the experiment's data: a prepared folder, or the
// synthetic set generated into the run folder. With
// data.max_train_per_class the training split keeps at most that many
// records per class.
func LoadDataset(cfg *config.Config, runDir string) (*Dataset, error) {
	ds, err := loadDataset(cfg, runDir)
	if err != nil || cfg.Data.MaxTrainPerClass <= 0 {
		return ds, err
	}
	ds.Train = CapPerClass(ds.Train, cfg.Data.MaxTrainPerClass, uint64(cfg.Seed))
	return ds, nil
}

// CapPerClass keeps at most max records of each label, chosen by a hash of
// (seed, record id) so the choice does not depend on record order; the
// kept records stay in their original order.
func CapPerClass(recs []data.Record, max int, seed uint64) []data.Record {
	type ranked struct {
		i int
		h uint64
	}
	byLabel := map[int][]ranked{}
	for i, r := range recs {
		h := fnv.New64a()
		fmt.Fprintf(h, "%d\x00%s", seed, r.ID)
		byLabel[r.LabelID] = append(byLabel[r.LabelID], ranked{i, h.Sum64()})
	}
	keep := make([]bool, len(recs))
	for _, rs := range byLabel {
		sort.Slice(rs, func(a, b int) bool { return rs[a].h < rs[b].h || (rs[a].h == rs[b].h && rs[a].i < rs[b].i) })
		for _, r := range rs[:min(max, len(rs))] {
			keep[r.i] = true
		}
	}
	out := make([]data.Record, 0, len(recs))
	for i, r := range recs {
		if keep[i] {
			out = append(out, r)
		}
	}
	return out
}

func loadDataset(cfg *config.Config, runDir string) (*Dataset, error) {
	d := cfg.Data
	switch d.Source {
	case "synthetic":
		recs, labels, err := data.Synthetic(filepath.Join(runDir, "synthetic"), data.SyntheticOptions{
			Classes: d.Synthetic.Classes, PerClass: d.Synthetic.PerClass, ImageSize: d.ImageSize, Seed: uint64(cfg.Seed)})
		if err != nil {
			return nil, err
		}
		split, err := data.Split(recs, data.DefaultRatios, uint64(cfg.Seed), nil)
		if err != nil {
			return nil, err
		}
		pick := func(idx []int) []data.Record {
			out := make([]data.Record, len(idx))
			for i, j := range idx {
				out[i] = recs[j]
			}
			return out
		}
		return &Dataset{Labels: labels, Train: pick(split.Train), Val: pick(split.Val), Test: pick(split.Test)}, nil
	case "prepared":
		if _, err := os.Stat(d.Dir); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("data.dir %s does not exist: prepare it first with `vbg data prepare SOURCE --out %s` (SOURCE is met, coco, manifest or emoji; the experiment file's comments give the full command)", d.Dir, d.Dir)
		}
		p, err := data.Open(d.Dir)
		if err != nil {
			return nil, fmt.Errorf("data.dir: %w", err)
		}
		ds := &Dataset{Labels: p.Labels, Train: p.Split(data.Train), Val: p.Split(data.Val), Test: p.Split(data.Test)}
		if len(ds.Train) == 0 || len(ds.Val) == 0 || len(ds.Test) == 0 {
			return nil, fmt.Errorf("data.dir %s: a split is empty (train %d, val %d, test %d)", d.Dir, len(ds.Train), len(ds.Val), len(ds.Test))
		}
		return ds, nil
	}
	return nil, fmt.Errorf("data.source: unknown %q", d.Source)
}

// ConfigHash identifies a resolved config, so that a checkpoint is never
// resumed under another one. Threads and device are left out: a run may
// resume on another machine.
func ConfigHash(c *config.Config) string {
	cc := *c
	cc.Threads, cc.Device = 0, ""
	y, _ := cc.Marshal()
	s := sha256.Sum256(y)
	return hex.EncodeToString(s[:8])
}

// Preflight checks what a run needs before its folder is made: that the
// prepared dataset and the pretrained weights it names are there. Each
// error says what to prepare or download, and with which command.
func Preflight(cfg *config.Config) error {
	if cfg.Data.Source == "prepared" {
		if _, err := os.Stat(filepath.Join(cfg.Data.Dir, data.MetaFile)); err != nil {
			return fmt.Errorf("data.dir %s is not a prepared dataset: prepare it first with `vbg data prepare SOURCE --out %s` (SOURCE is met, coco, manifest or emoji; the experiment file's comments give the full command)", cfg.Data.Dir, cfg.Data.Dir)
		}
	}
	kind := cfg.Model.Fusion.Type
	if name := cfg.Model.Image.Pretrained; name != "" && kind != "text" {
		if _, err := ModelFolder("model.image.pretrained", name); err != nil {
			return err
		}
	}
	if name := cfg.Model.Text.Pretrained; name != "" && kind != "image" {
		if _, err := ModelFolder("model.text.pretrained", name); err != nil {
			return err
		}
	}
	return nil
}

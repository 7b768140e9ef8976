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
	"github.com/vbg-museum/vbg/runfolder"
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

// RecordData resolves the experiment's data to an absolute folder, writes
// it into cfg.Data.Dir and returns what the run folder records of it
// (runfolder.DataFile): the folder and a digest of the dataset. The split
// sizes are filled in by the caller.
func RecordData(cfg *config.Config, runDir string) (runfolder.Data, error) {
	d := runfolder.Data{Source: cfg.Data.Source}
	var err error
	switch cfg.Data.Source {
	case "synthetic":
		s := cfg.Data.Synthetic
		d.Dir, err = filepath.Abs(filepath.Join(runDir, "synthetic"))
		d.Digest = digest([]byte(fmt.Sprintf("synthetic v1 classes=%d per_class=%d image_size=%d seed=%d", s.Classes, s.PerClass, cfg.Data.ImageSize, cfg.Seed)))
	case "prepared":
		if d.Dir, err = filepath.Abs(cfg.Data.Dir); err == nil {
			d.Dir, err = filepath.EvalSymlinks(d.Dir)
		}
		if err == nil {
			d.Digest, err = preparedDigest(d.Dir)
		}
		cfg.Data.Dir = d.Dir
	default:
		err = fmt.Errorf("unknown data.source %q", cfg.Data.Source)
	}
	if err != nil {
		return d, fmt.Errorf("data.dir: %w", err)
	}
	return d, nil
}

// UseRecordedData points cfg at the data recorded in runDir (a resumed or
// finished run, whatever the current directory) and checks that it has not
// changed since the run started. A run folder without data.json (made
// before VBG recorded it) keeps cfg as it is.
func UseRecordedData(cfg *config.Config, runDir string) error {
	rec, err := runfolder.ReadData(runDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if rec.Source != cfg.Data.Source {
		return fmt.Errorf("%s says data.source %s, the run's config %s", filepath.Join(runDir, runfolder.DataFile), rec.Source, cfg.Data.Source)
	}
	if rec.Source == "prepared" {
		cfg.Data.Dir = rec.Dir
	}
	now, err := RecordData(cfg, runDir)
	if err != nil {
		return err
	}
	if now.Digest != rec.Digest {
		return fmt.Errorf("the dataset %s changed since the run %s started (digest %.12s…, recorded %.12s…): prepare it as it was, or start a new run", rec.Dir, runDir, now.Digest, rec.Digest)
	}
	return nil
}

// preparedDigest hashes the files that define a prepared dataset: its
// metadata, labels, records and split lists.
func preparedDigest(dir string) (string, error) {
	h := sha256.New()
	names := []string{data.MetaFile, data.LabelsFile, data.ManifestFile}
	for _, split := range []string{data.Train, data.Val, data.Test} {
		names = append(names, filepath.Join(data.SplitsDir, split+".txt"))
	}
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", name, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
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

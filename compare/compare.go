// Package compare runs a list of models × seeds on one base experiment under
// a shared budget and writes the paper's comparison tables: Table 3
// (baselines, `vbg compare`) and Table 4 (ablations, `vbg ablate`).
//
// A comparison file names the base experiment, the overrides every run
// shares (the budget: image size, epochs, ...), the seeds and the models,
// each a name plus its own --set style overrides:
//
//	base: demo.yaml               # relative to this file
//	title: Baselines on emoji
//	set: [data.image_size=32, train.epochs=3]
//	seeds: [1, 2, 3]
//	out: runs/compare
//	max_minutes: 40               # stop starting runs after this (0 = no limit)
//	models:
//	  - name: VBG
//	    set: [model.arch=vbg]
//	  - name: ResNet-18
//	    set: [model.arch=resnet18]
//
// Every model × seed is a run folder out/runs/NAME-sSEED. A finished run
// (summary.json present) is skipped, so an interrupted comparison resumes
// where it stopped; a run interrupted after an epoch resumes from its last
// checkpoint (deleted once the run finishes; the best one is kept). Runs whose resolved configs are identical (for example "no
// GAN" when the base experiment has the GAN off) share one folder.
package compare

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/vbg-museum/vbg/config"
	"github.com/vbg-museum/vbg/experiment"
)

// Spec is a comparison file.
type Spec struct {
	// Source is the file the spec was read from (not part of the YAML).
	Source string `yaml:"-"`
	// Base is the experiment every run starts from, relative to the spec.
	Base  string `yaml:"base"`
	Title string `yaml:"title"`
	// Note is printed under the table (budget, caveats).
	Note string `yaml:"note"`
	// Set are overrides applied to every run after the base: the shared
	// budget.
	Set   []string `yaml:"set"`
	Seeds []int64  `yaml:"seeds"`
	// Out is the comparison folder (relative to the working directory).
	Out string `yaml:"out"`
	// MaxMinutes stops starting new runs once the comparison has run this
	// long (0 = no limit); rerunning continues.
	MaxMinutes float64 `yaml:"max_minutes"`
	// Figures makes attention and feature-space figures for the first
	// finished run of each VBG entry with both encoders.
	Figures bool    `yaml:"figures"`
	Models  []Entry `yaml:"models"`
}

// Entry is one row of the table.
type Entry struct {
	Name string   `yaml:"name"`
	Set  []string `yaml:"set"`
	// Note explains the row in the table (e.g. how a component was removed).
	Note string `yaml:"note"`
	// Skip keeps the row in the table with its note but runs nothing.
	Skip bool `yaml:"skip"`
}

// LoadSpec reads a comparison file strictly (unknown keys are errors).
func LoadSpec(path string) (*Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("comparison: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	s := &Spec{}
	if err := dec.Decode(s); err != nil {
		return nil, fmt.Errorf("comparison %s: %w", path, err)
	}
	s.Source = path
	if s.Base != "" && !filepath.IsAbs(s.Base) {
		s.Base = filepath.Join(filepath.Dir(path), s.Base)
	}
	return s, s.validate()
}

// IsSpec reports whether a YAML file is a comparison file (it has a
// models: or base: key) rather than an experiment.
func IsSpec(path string) (bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("comparison: %w", err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	_, models := m["models"]
	_, base := m["base"]
	return models || base, nil
}

func (s *Spec) validate() error {
	var errs []error
	if s.Base == "" {
		errs = append(errs, errors.New("base: the experiment to start from is required"))
	}
	if s.Out == "" {
		errs = append(errs, errors.New("out: the comparison folder is required"))
	}
	if len(s.Seeds) == 0 {
		errs = append(errs, errors.New("seeds: want at least one seed"))
	}
	if len(s.Models) == 0 {
		errs = append(errs, errors.New("models: want at least one model"))
	}
	seen := map[string]bool{}
	for i, m := range s.Models {
		if m.Name == "" {
			errs = append(errs, fmt.Errorf("models[%d]: name is required", i))
		}
		if seen[Slug(m.Name)] {
			errs = append(errs, fmt.Errorf("models[%d]: name %q repeats an earlier one", i, m.Name))
		}
		seen[Slug(m.Name)] = true
	}
	if s.MaxMinutes < 0 {
		errs = append(errs, errors.New("max_minutes: must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("comparison %s: %w", s.Source, err)
	}
	return nil
}

// Slug turns a row name into a folder name: "ResNet-18" -> "resnet-18",
// "− ViT − GAN" -> "vit-gan" with "no-" for a leading minus sign.
func Slug(name string) string {
	s := strings.NewReplacer("−", " no ", "+", " plus ").Replace(strings.ToLower(name))
	var b strings.Builder
	dash := false
	for _, r := range s {
		if ('a' <= r && r <= 'z') || ('0' <= r && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash {
			b.WriteByte('-') // a run of other characters becomes one dash
			dash = true
		}
	}
	s = strings.Trim(b.String(), "-")
	if s == "" {
		s = "model"
	}
	return s
}

// Plan is one model × seed run.
type Plan struct {
	Entry  int   // index into Spec.Models
	Seed   int64 // the seed
	Config *config.Config
	Dir    string // run folder
	// SameAs is the index of an earlier plan with the identical resolved
	// config, whose folder this plan shares; -1 when none.
	SameAs int
}

// Plans resolves every model × seed (seeds outer, so an interrupted
// comparison has every model at the first seeds) with sets applied after
// the spec's shared ones. Every config is validated before anything runs.
func (s *Spec) Plans(extraSets []string, seeds []int64, out string) ([]*Plan, error) {
	if len(seeds) == 0 {
		seeds = s.Seeds
	}
	if out == "" {
		out = s.Out
	}
	var plans []*Plan
	byKey := map[string]int{}
	var errs []error
	for _, seed := range seeds {
		for i, m := range s.Models {
			if m.Skip {
				continue
			}
			name := fmt.Sprintf("%s-s%d", Slug(m.Name), seed)
			sets := append(append(append([]string(nil), s.Set...), extraSets...), m.Set...)
			sets = append(sets, fmt.Sprintf("seed=%d", seed), "output.dir="+filepath.Join(out, "runs"))
			cfg, err := experiment.Load(s.Base, append(sets, "name="+name))
			if err != nil {
				errs = append(errs, fmt.Errorf("model %q seed %d: %w", m.Name, seed, err))
				continue
			}
			p := &Plan{Entry: i, Seed: seed, Config: cfg, Dir: filepath.Join(out, "runs", name), SameAs: -1}
			key, err := configKey(cfg)
			if err != nil {
				return nil, err
			}
			if j, ok := byKey[key]; ok {
				p.SameAs = j
				p.Dir = plans[j].Dir
				p.Config = plans[j].Config
			} else {
				byKey[key] = len(plans)
			}
			plans = append(plans, p)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return plans, nil
}

// configKey identifies a resolved config up to its name, threads and
// device (which do not change results).
func configKey(c *config.Config) (string, error) {
	cc := *c
	cc.Name, cc.Threads, cc.Device = "", 0, ""
	b, err := cc.Marshal()
	return string(b), err
}

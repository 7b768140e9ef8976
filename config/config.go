// Package config is the experiment file: one struct tree that mirrors the
// YAML, the defaults, and the rules a valid experiment follows.
//
// Load reads a file with its includes and command-line overrides, rejects
// unknown keys and wrong types, validates ranges, and reports every problem
// at once with file, line and key. The resolved config is written into each
// run folder and is enough to rebuild the model for eval, predict and export.
package config

import (
	"fmt"
	"runtime"
	"strings"
)

// Config is one experiment.
type Config struct {
	// Source is the file the config was loaded from (not part of the YAML).
	Source string `yaml:"-"`

	Name    string `yaml:"name"`    // run name; the run folder is output.dir/name-TIMESTAMP
	Seed    int64  `yaml:"seed"`    // seeds data order, initialisation and dropout
	Device  string `yaml:"device"`  // cpu, cuda or cuda:N
	Threads int    `yaml:"threads"` // libtorch intra-op threads; 0 = one per core

	Data   Data   `yaml:"data"`
	Model  Model  `yaml:"model"`
	Train  Train  `yaml:"train"`
	GAN    GAN    `yaml:"gan"`
	Output Output `yaml:"output"`
}

// Data says where examples come from and how they become tensors.
type Data struct {
	// Source is "synthetic" (generated from a seed, for tests and smoke
	// runs) or "prepared" (a folder written by `vbg data prepare`).
	Source     string    `yaml:"source"`
	Dir        string    `yaml:"dir"`          // prepared dataset folder (source: prepared)
	ImageSize  int       `yaml:"image_size"`   // square input size in pixels
	MaxTextLen int       `yaml:"max_text_len"` // tokens, [CLS] and [SEP] included
	Workers    int       `yaml:"workers"`      // image decoding goroutines; 0 = one per core
	Mean       []float64 `yaml:"mean"`         // per-channel normalisation
	Std        []float64 `yaml:"std"`
	Augment    Augment   `yaml:"augment"`
	Synthetic  Synthetic `yaml:"synthetic"`
	// MaxTrainPerClass keeps at most this many training records per class
	// (a deterministic subsample by seed), for scarce-data experiments; 0 = all.
	MaxTrainPerClass int `yaml:"max_train_per_class"`
}

// Augment is train-time image augmentation.
type Augment struct {
	Flip      bool    `yaml:"flip"`       // random horizontal flip
	CropScale float64 `yaml:"crop_scale"` // random resized crop keeps at least this share of the area; 1 = off
}

// Synthetic is the generated dataset: classes that need both the image and
// the text to be told apart.
type Synthetic struct {
	Classes  int `yaml:"classes"`
	PerClass int `yaml:"per_class"`
}

// Model is the VBG network: image encoder, text encoder, fusion, head.
type Model struct {
	// Arch is "vbg" or a baseline's name (resnet18, textcnn, ...; see
	// package baselines).
	Arch   string       `yaml:"arch"`
	Image  ImageEncoder `yaml:"image"`
	Text   TextEncoder  `yaml:"text"`
	Fusion Fusion       `yaml:"fusion"`
	Head   Head         `yaml:"head"`
	// Baseline holds the baselines' own settings (see config/baselines.go).
	Baseline Baseline `yaml:"baseline"`
}

// ImageEncoder is a ViT. Preset fills the sizes; explicit sizes override it.
type ImageEncoder struct {
	Preset     string  `yaml:"preset"`     // a preset of package vbg: vit-b16, vit-tiny or custom
	Pretrained string  `yaml:"pretrained"` // hub repo id or local folder; empty = random init
	Freeze     bool    `yaml:"freeze"`     // keep the weights fixed (no gradients, eval mode)
	Hidden     int     `yaml:"hidden"`
	Layers     int     `yaml:"layers"`
	Heads      int     `yaml:"heads"`
	MLP        int     `yaml:"mlp"`
	Patch      int     `yaml:"patch"`
	Dropout    float64 `yaml:"dropout"`
}

// TextEncoder is a BERT. Preset fills the sizes; explicit sizes override it.
type TextEncoder struct {
	Preset     string `yaml:"preset"`     // a preset of package vbg: bert-base, minilm-l6, bert-tiny or custom
	Pretrained string `yaml:"pretrained"` // hub repo id or local folder; empty = random init
	// Tokenizer is "words" (a word-level vocabulary built from the training
	// texts) or "pretrained" (the WordPiece vocabulary of Pretrained).
	Tokenizer string  `yaml:"tokenizer"`
	Freeze    bool    `yaml:"freeze"` // keep the weights fixed (no gradients, eval mode)
	Hidden    int     `yaml:"hidden"`
	Layers    int     `yaml:"layers"`
	Heads     int     `yaml:"heads"`
	MLP       int     `yaml:"mlp"`
	Dropout   float64 `yaml:"dropout"`
}

// Fusion combines image and text features.
type Fusion struct {
	// Type is bidirectional (cross-attention both ways, weighted sum),
	// concat (pooled features concatenated), image (image only) or text.
	Type  string `yaml:"type"`
	Dim   int    `yaml:"dim"`   // fused feature size; 0 = the encoders' hidden size
	Heads int    `yaml:"heads"` // cross-attention heads
}

// Head is the classifier on the fused vector.
type Head struct {
	Dropout      float64 `yaml:"dropout"`       // paper: 0.5
	L2           float64 `yaml:"l2"`            // paper: 0.001, on the head's weights
	ClassWeights string  `yaml:"class_weights"` // none or inverse (inverse class frequency)
}

// Train is the optimisation schedule.
type Train struct {
	Epochs         int     `yaml:"epochs"`
	BatchSize      int     `yaml:"batch_size"`
	LR             float64 `yaml:"lr"`         // fusion and head
	EncoderLR      float64 `yaml:"encoder_lr"` // ViT and BERT; 0 = lr
	WeightDecay    float64 `yaml:"weight_decay"`
	WarmupSteps    int     `yaml:"warmup_steps"` // linear warmup, then cosine decay
	ClipNorm       float64 `yaml:"clip_norm"`    // 0 = off
	Accumulate     int     `yaml:"accumulate"`   // gradient accumulation steps
	FreezeEncoders bool    `yaml:"freeze_encoders"`
	// Precision is fp32, or bf16: the forward pass runs under autocast in
	// bfloat16 (weights, optimizer state and loss stay fp32), on CUDA or
	// on the CPU.
	Precision string    `yaml:"precision"`
	EarlyStop EarlyStop `yaml:"early_stop"`
	// Checkpoint adds step checkpoints inside epochs (every epoch always
	// ends with one): a killed run resumes at the last of them.
	Checkpoint StepCheckpoints `yaml:"checkpoint"`
}

// StepCheckpoints says how often the last checkpoint is also written in the
// middle of an epoch: after every_steps optimizer steps and/or when
// every_minutes have passed since the last one (0 turns either off).
type StepCheckpoints struct {
	EverySteps   int     `yaml:"every_steps"`
	EveryMinutes float64 `yaml:"every_minutes"`
}

// EarlyStop stops training when a validation metric stops improving.
type EarlyStop struct {
	Metric   string `yaml:"metric"`   // val metric to select the best checkpoint: accuracy, macro_f1, loss
	Patience int    `yaml:"patience"` // epochs without improvement; 0 = never stop early
}

// Output says where runs go.
type Output struct {
	Dir string `yaml:"dir"` // parent folder of run folders
}

// Default is the config every experiment file starts from.
func Default() *Config {
	return &Config{
		Name:    "vbg",
		Seed:    42,
		Device:  "cpu",
		Threads: 0,
		Data: Data{
			Source:     "prepared",
			ImageSize:  224,
			MaxTextLen: 64,
			Mean:       []float64{0.5, 0.5, 0.5},
			Std:        []float64{0.5, 0.5, 0.5},
			Augment:    Augment{Flip: true, CropScale: 1},
			Synthetic:  Synthetic{Classes: 4, PerClass: 64},
		},
		Model: Model{
			Arch:     "vbg",
			Image:    ImageEncoder{Preset: "vit-b16"},
			Text:     TextEncoder{Preset: "bert-base", Tokenizer: "pretrained"},
			Fusion:   Fusion{Type: "bidirectional", Heads: 8},
			Head:     Head{Dropout: 0.5, L2: 0.001, ClassWeights: "none"},
			Baseline: defaultBaseline(),
		},
		Train: Train{
			Epochs:      10,
			BatchSize:   16,
			LR:          1e-4,
			WeightDecay: 0.01,
			ClipNorm:    1,
			Accumulate:  1,
			Precision:   "fp32",
			EarlyStop:   EarlyStop{Metric: "accuracy"},
			Checkpoint:  StepCheckpoints{EveryMinutes: 15},
		},
		GAN:    defaultGAN(),
		Output: Output{Dir: "runs"},
	}
}

// Validate returns every out-of-range or inconsistent value. Key holds the
// dotted path; Load fills in file and line.
func (c *Config) Validate() []Problem {
	var ps []Problem
	bad := func(key, format string, args ...any) {
		ps = append(ps, Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	oneOf := func(key, v string, allowed ...string) {
		for _, a := range allowed {
			if v == a {
				return
			}
		}
		bad(key, "%q is not one of %s", v, strings.Join(allowed, ", "))
	}
	positive := func(key string, v int) {
		if v <= 0 {
			bad(key, "must be positive, got %d", v)
		}
	}
	nonNeg := func(key string, v int) {
		if v < 0 {
			bad(key, "must not be negative, got %d", v)
		}
	}
	prob := func(key string, v float64) {
		if v < 0 || v >= 1 {
			bad(key, "must be in [0, 1), got %g", v)
		}
	}
	if c.Name == "" || strings.ContainsAny(c.Name, `/\`) {
		bad("name", "must be a non-empty name without slashes, got %q", c.Name)
	}
	if c.Device != "cpu" && c.Device != "cuda" && !strings.HasPrefix(c.Device, "cuda:") {
		bad("device", "%q is not one of cpu, cuda, cuda:N", c.Device)
	}
	if c.Threads < 0 || c.Threads > 4*runtime.NumCPU()+64 {
		bad("threads", "must be 0 (one per core) or a thread count, got %d", c.Threads)
	}

	d := c.Data
	oneOf("data.source", d.Source, "synthetic", "prepared")
	if d.Source == "prepared" && d.Dir == "" {
		bad("data.dir", "is required when data.source is prepared (make one with `vbg data prepare`)")
	}
	positive("data.image_size", d.ImageSize)
	if d.MaxTextLen < 3 || d.MaxTextLen > 512 {
		bad("data.max_text_len", "must be in [3, 512], got %d", d.MaxTextLen)
	}
	nonNeg("data.workers", d.Workers)
	nonNeg("data.max_train_per_class", d.MaxTrainPerClass)
	if len(d.Mean) != 3 {
		bad("data.mean", "want 3 values (R, G, B), got %d", len(d.Mean))
	}
	if len(d.Std) != 3 {
		bad("data.std", "want 3 values (R, G, B), got %d", len(d.Std))
	}
	for i, s := range d.Std {
		if s <= 0 {
			bad(fmt.Sprintf("data.std[%d]", i), "must be positive, got %g", s)
		}
	}
	if d.Augment.CropScale <= 0 || d.Augment.CropScale > 1 {
		bad("data.augment.crop_scale", "must be in (0, 1], got %g", d.Augment.CropScale)
	}
	if d.Source == "synthetic" {
		if d.Synthetic.Classes < 2 || d.Synthetic.Classes%2 != 0 {
			bad("data.synthetic.classes", "must be an even number >= 2, got %d", d.Synthetic.Classes)
		}
		if d.Synthetic.PerClass < 10 {
			bad("data.synthetic.per_class", "must be at least 10 (3 per split), got %d", d.Synthetic.PerClass)
		}
	}

	m := c.Model
	if m.Arch == "" {
		bad("model.arch", "must name an architecture (vbg or a baseline)")
	}
	oneOf("model.text.tokenizer", m.Text.Tokenizer, "words", "pretrained")
	if m.Text.Tokenizer == "pretrained" && m.Text.Pretrained == "" && m.Fusion.Type != "image" {
		bad("model.text.tokenizer", "pretrained needs model.text.pretrained (a hub id or folder); use words for a vocabulary built from the data")
	}
	for _, kv := range []struct {
		key string
		v   int
	}{
		{"model.image.hidden", m.Image.Hidden}, {"model.image.layers", m.Image.Layers},
		{"model.image.heads", m.Image.Heads}, {"model.image.mlp", m.Image.MLP}, {"model.image.patch", m.Image.Patch},
		{"model.text.hidden", m.Text.Hidden}, {"model.text.layers", m.Text.Layers},
		{"model.text.heads", m.Text.Heads}, {"model.text.mlp", m.Text.MLP},
		{"model.fusion.dim", m.Fusion.Dim},
	} {
		nonNeg(kv.key, kv.v)
	}
	if m.Image.Patch > 0 && d.ImageSize%m.Image.Patch != 0 {
		bad("model.image.patch", "data.image_size %d is not a multiple of the patch size %d", d.ImageSize, m.Image.Patch)
	}
	prob("model.image.dropout", m.Image.Dropout)
	prob("model.text.dropout", m.Text.Dropout)
	oneOf("model.fusion.type", m.Fusion.Type, "bidirectional", "concat", "image", "text")
	positive("model.fusion.heads", m.Fusion.Heads)
	prob("model.head.dropout", m.Head.Dropout)
	if m.Head.L2 < 0 {
		bad("model.head.l2", "must not be negative, got %g", m.Head.L2)
	}
	oneOf("model.head.class_weights", m.Head.ClassWeights, "none", "inverse")
	ps = append(ps, m.Baseline.problems()...)

	t := c.Train
	positive("train.epochs", t.Epochs)
	positive("train.batch_size", t.BatchSize)
	if !(t.LR > 0) || t.LR > 10 {
		bad("train.lr", "must be in (0, 10], got %g", t.LR)
	}
	if t.EncoderLR < 0 || t.EncoderLR > 10 {
		bad("train.encoder_lr", "must be in [0, 10] (0 = train.lr), got %g", t.EncoderLR)
	}
	if t.WeightDecay < 0 {
		bad("train.weight_decay", "must not be negative, got %g", t.WeightDecay)
	}
	nonNeg("train.warmup_steps", t.WarmupSteps)
	if t.ClipNorm < 0 {
		bad("train.clip_norm", "must not be negative (0 = off), got %g", t.ClipNorm)
	}
	positive("train.accumulate", t.Accumulate)
	oneOf("train.precision", t.Precision, "fp32", "bf16")
	oneOf("train.early_stop.metric", t.EarlyStop.Metric, "accuracy", "macro_f1", "loss")
	nonNeg("train.checkpoint.every_steps", t.Checkpoint.EverySteps)
	if m := t.Checkpoint.EveryMinutes; !(m >= 0 && m <= 7*24*60) {
		bad("train.checkpoint.every_minutes", "must be in [0, %d] (0 = off), got %g", 7*24*60, m)
	}
	nonNeg("train.early_stop.patience", t.EarlyStop.Patience)
	if c.Output.Dir == "" {
		bad("output.dir", "must not be empty")
	}
	ps = append(ps, c.GAN.problems()...)
	return ps
}

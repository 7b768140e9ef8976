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
	"math"
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
	Source     string `yaml:"source"`
	Dir        string `yaml:"dir"`          // prepared dataset folder (source: prepared)
	ImageSize  int    `yaml:"image_size"`   // square input size in pixels
	MaxTextLen int    `yaml:"max_text_len"` // tokens, [CLS] and [SEP] included
	Workers    int    `yaml:"workers"`      // image decoding goroutines; 0 = one per core
	// MaxImagePixels bounds width × height of an image, read from its header
	// before it is decoded; 0 = data.DefaultMaxImagePixels (89,478,485).
	MaxImagePixels int64     `yaml:"max_image_pixels"`
	Mean           []float64 `yaml:"mean"` // per-channel normalisation
	Std            []float64 `yaml:"std"`
	Augment        Augment   `yaml:"augment"`
	Synthetic      Synthetic `yaml:"synthetic"`
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
// dotted path; Load fills in file and line. Every number that sizes memory
// has an upper bound (see MaxImageSize and the other Max constants).
func (c *Config) Validate() []Problem {
	ck := &checker{}
	if c.Name == "" || strings.ContainsAny(c.Name, `/\`) {
		ck.bad("name", "must be a non-empty name without slashes, got %q", c.Name)
	}
	if c.Device != "cpu" && c.Device != "cuda" && !strings.HasPrefix(c.Device, "cuda:") {
		ck.bad("device", "%q is not one of cpu, cuda, cuda:N", c.Device)
	}
	if c.Threads < 0 || c.Threads > 4*runtime.NumCPU()+64 {
		ck.bad("threads", "must be 0 (one per core) or a thread count up to %d, got %d", 4*runtime.NumCPU()+64, c.Threads)
	}
	c.Data.check(ck)
	c.Model.check(ck, c.Data.ImageSize)
	c.Train.check(ck, c.Data.ImageSize)
	if c.Output.Dir == "" {
		ck.bad("output.dir", "must not be empty")
	}
	ps := append(ck.ps, c.Model.Baseline.problems()...)
	return append(ps, c.GAN.problems()...)
}

// check validates the data: section.
func (d Data) check(ck *checker) {
	ck.oneOf("data.source", d.Source, "synthetic", "prepared")
	if d.Source == "prepared" && d.Dir == "" {
		ck.bad("data.dir", "is required when data.source is prepared (make one with `vbg data prepare`)")
	}
	ck.intIn("data.image_size", d.ImageSize, 1, MaxImageSize)
	ck.intIn("data.max_text_len", d.MaxTextLen, 3, MaxTextLen)
	ck.intIn("data.workers", d.Workers, 0, MaxWorkers, "0 = one per core")
	ck.nonNeg("data.max_train_per_class", d.MaxTrainPerClass)
	if d.MaxImagePixels < 0 || d.MaxImagePixels > MaxImagePixels {
		ck.bad("data.max_image_pixels", "must be in [0, %d] (0 = the default, 89478485), got %d", int64(MaxImagePixels), d.MaxImagePixels)
	}
	if len(d.Mean) != 3 {
		ck.bad("data.mean", "want 3 values (R, G, B), got %d", len(d.Mean))
	}
	if len(d.Std) != 3 {
		ck.bad("data.std", "want 3 values (R, G, B), got %d", len(d.Std))
	}
	for i, m := range d.Mean {
		ck.finite(fmt.Sprintf("data.mean[%d]", i), m)
	}
	for i, s := range d.Std {
		if !(s > 0) || math.IsInf(s, 0) {
			ck.bad(fmt.Sprintf("data.std[%d]", i), "must be positive, got %g", s)
		}
	}
	if !(d.Augment.CropScale > 0 && d.Augment.CropScale <= 1) {
		ck.bad("data.augment.crop_scale", "must be in (0, 1], got %g", d.Augment.CropScale)
	}
	if d.Source == "synthetic" {
		if d.Synthetic.Classes < 2 || d.Synthetic.Classes%2 != 0 || d.Synthetic.Classes > MaxSyntheticClasses {
			ck.bad("data.synthetic.classes", "must be an even number in [2, %d], got %d", MaxSyntheticClasses, d.Synthetic.Classes)
		}
		if d.Synthetic.PerClass < 10 || d.Synthetic.PerClass > MaxSyntheticPerClass {
			ck.bad("data.synthetic.per_class", "must be in [10, %d] (at least 3 per split), got %d", MaxSyntheticPerClass, d.Synthetic.PerClass)
		}
	}
}

// check validates the model: section (the baselines' settings apart).
func (m Model) check(ck *checker, imageSize int) {
	if m.Arch == "" {
		ck.bad("model.arch", "must name an architecture (vbg or a baseline)")
	}
	ck.oneOf("model.text.tokenizer", m.Text.Tokenizer, "words", "pretrained")
	if m.Text.Tokenizer == "pretrained" && m.Text.Pretrained == "" && m.Fusion.Type != "image" {
		ck.bad("model.text.tokenizer", "pretrained needs model.text.pretrained (a hub id or folder); use words for a vocabulary built from the data")
	}
	// Sizes: 0 keeps the preset's.
	for _, kv := range []struct {
		key   string
		v, hi int
	}{
		{"model.image.hidden", m.Image.Hidden, MaxHidden}, {"model.image.layers", m.Image.Layers, MaxLayers},
		{"model.image.heads", m.Image.Heads, MaxHeads}, {"model.image.mlp", m.Image.MLP, MaxMLP},
		{"model.image.patch", m.Image.Patch, max(imageSize, 1)},
		{"model.text.hidden", m.Text.Hidden, MaxHidden}, {"model.text.layers", m.Text.Layers, MaxLayers},
		{"model.text.heads", m.Text.Heads, MaxHeads}, {"model.text.mlp", m.Text.MLP, MaxMLP},
		{"model.fusion.dim", m.Fusion.Dim, MaxHidden},
	} {
		ck.intIn(kv.key, kv.v, 0, kv.hi, "0 = the preset's")
	}
	if m.Image.Patch > 0 && imageSize%m.Image.Patch != 0 {
		ck.bad("model.image.patch", "data.image_size %d is not a multiple of the patch size %d", imageSize, m.Image.Patch)
	}
	ck.prob("model.image.dropout", m.Image.Dropout)
	ck.prob("model.text.dropout", m.Text.Dropout)
	ck.oneOf("model.fusion.type", m.Fusion.Type, "bidirectional", "concat", "image", "text")
	ck.intIn("model.fusion.heads", m.Fusion.Heads, 1, MaxHeads)
	ck.prob("model.head.dropout", m.Head.Dropout)
	ck.floatIn("model.head.l2", m.Head.L2, 0, 1e6)
	ck.oneOf("model.head.class_weights", m.Head.ClassWeights, "none", "inverse")
}

// check validates the train: section.
func (t Train) check(ck *checker, imageSize int) {
	ck.positive("train.epochs", t.Epochs)
	ck.intIn("train.batch_size", t.BatchSize, 1, MaxBatchSize)
	if bytes := int64(t.BatchSize) * 3 * int64(imageSize) * int64(imageSize) * 4; t.BatchSize <= MaxBatchSize &&
		imageSize <= MaxImageSize && bytes > MaxBatchBytes {
		ck.bad("train.batch_size", "a batch of %d images of %d×%d pixels takes %d GiB, more than the %d GiB allowed: use a smaller batch (and train.accumulate)",
			t.BatchSize, imageSize, imageSize, bytes>>30, int64(MaxBatchBytes)>>30)
	}
	if !(t.LR > 0) || t.LR > 10 {
		ck.bad("train.lr", "must be in (0, 10], got %g", t.LR)
	}
	ck.floatIn("train.encoder_lr", t.EncoderLR, 0, 10, "0 = train.lr")
	ck.floatIn("train.weight_decay", t.WeightDecay, 0, 1e6)
	ck.intIn("train.warmup_steps", t.WarmupSteps, 0, MaxSteps)
	ck.floatIn("train.clip_norm", t.ClipNorm, 0, 1e12, "0 = off")
	ck.intIn("train.accumulate", t.Accumulate, 1, MaxAccumulate)
	ck.oneOf("train.precision", t.Precision, "fp32", "bf16")
	ck.oneOf("train.early_stop.metric", t.EarlyStop.Metric, "accuracy", "macro_f1", "loss")
	ck.nonNeg("train.checkpoint.every_steps", t.Checkpoint.EverySteps)
	ck.floatIn("train.checkpoint.every_minutes", t.Checkpoint.EveryMinutes, 0, 7*24*60, "0 = off")
	ck.nonNeg("train.early_stop.patience", t.EarlyStop.Patience)
}

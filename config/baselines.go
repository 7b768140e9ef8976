package config

import (
	"fmt"
	"math"
)

// Baseline is model.baseline: the settings of the baseline architectures
// (model.arch other than vbg; see package baselines). VBG ignores it.
type Baseline struct {
	// Weights is a user-supplied weights file (safetensors) for the baseline,
	// with torchvision's parameter names (resnet18, densenet121, swin_t, ...);
	// empty = train from scratch. The final classifier is skipped when its
	// class count differs.
	Weights  string   `yaml:"weights"`
	Swin     Swin     `yaml:"swin"`
	TextCNN  TextCNN  `yaml:"textcnn"`
	GBDT     GBDT     `yaml:"gbdt"`
	LogReg   LogReg   `yaml:"logreg"`
	Features Features `yaml:"features"`
}

// Swin sizes the Swin Transformer baseline (the paper's "SWIM-ViT"). The
// defaults are Swin-T; smaller values suit CPU runs.
type Swin struct {
	Patch    int     `yaml:"patch"`     // patch size of the embedding (Swin-T: 4)
	Dim      int     `yaml:"dim"`       // embedding dim C of stage 1 (Swin-T: 96)
	Depths   [4]int  `yaml:"depths"`    // blocks per stage, 4 stages (Swin-T: 2, 2, 6, 2)
	Heads    [4]int  `yaml:"heads"`     // attention heads per stage (Swin-T: 3, 6, 12, 24)
	Window   int     `yaml:"window"`    // window size M (Swin-T: 7)
	MLPRatio float64 `yaml:"mlp_ratio"` // MLP width / dim (4)
	DropPath float64 `yaml:"drop_path"` // stochastic depth rate of the last block (Swin-T: 0.2)
}

// TextCNN sizes the TextCNN baseline (Kim, 2014).
type TextCNN struct {
	Embed   int     `yaml:"embed"`   // word embedding size
	Filters int     `yaml:"filters"` // feature maps per kernel size
	Kernels [3]int  `yaml:"kernels"` // the three kernel widths in tokens
	Dropout float64 `yaml:"dropout"` // before the classifier
}

// GBDT is the gradient-boosted trees baseline (XGBoost's role in the paper),
// fitted on fixed features (model.baseline.features).
type GBDT struct {
	Rounds       int     `yaml:"rounds"`        // boosting rounds (one tree per class each)
	Depth        int     `yaml:"depth"`         // maximum tree depth
	LearningRate float64 `yaml:"learning_rate"` // shrinkage
	Bins         int     `yaml:"bins"`          // histogram bins per feature (exact when a feature has fewer distinct values)
	MinLeaf      int     `yaml:"min_leaf"`      // minimum samples in a leaf
}

// LogReg is the multinomial logistic regression baseline on fixed features.
type LogReg struct {
	C       float64 `yaml:"c"`        // inverse L2 strength, as scikit-learn's C
	MaxIter int     `yaml:"max_iter"` // L-BFGS iterations
}

// Features are the fixed features of the gbdt and logreg baselines.
type Features struct {
	// Image is "pixels" (the normalised image average-pooled to a Grid×Grid
	// grid per channel) or "encoder" (the mean-pooled tokens of the image
	// encoder in model.image, with its pretrained weights when set), or
	// "none".
	Image string `yaml:"image"`
	Grid  int    `yaml:"grid"`
	// Text is "bow" (binary bag of the Vocab most frequent training words),
	// "bow+encoder" (plus the mean-pooled text encoder of model.text), or "none".
	Text  string `yaml:"text"`
	Vocab int    `yaml:"vocab"`
}

func defaultBaseline() Baseline {
	return Baseline{
		Swin:     Swin{Patch: 4, Dim: 96, Depths: [4]int{2, 2, 6, 2}, Heads: [4]int{3, 6, 12, 24}, Window: 7, MLPRatio: 4, DropPath: 0.2},
		TextCNN:  TextCNN{Embed: 128, Filters: 100, Kernels: [3]int{3, 4, 5}, Dropout: 0.5},
		GBDT:     GBDT{Rounds: 100, Depth: 3, LearningRate: 0.1, Bins: 64, MinLeaf: 1},
		LogReg:   LogReg{C: 1, MaxIter: 500},
		Features: Features{Image: "pixels", Grid: 8, Text: "bow", Vocab: 1000},
	}
}

// problems validates model.baseline; keys start with "model.baseline.".
// Every size has an upper bound.
func (b Baseline) problems() []Problem {
	ck := &checker{prefix: "model.baseline."}
	s := b.Swin
	ck.intIn("swin.patch", s.Patch, 1, 64)
	ck.intIn("swin.dim", s.Dim, 1, MaxChannels)
	ck.intIn("swin.window", s.Window, 1, 64)
	for i, d := range s.Depths {
		ck.intIn(fmt.Sprintf("swin.depths[%d]", i), d, 1, 64)
		if dim := s.Dim << i; s.Heads[i] <= 0 || s.Heads[i] > MaxHeads || s.Dim > MaxChannels || dim%s.Heads[i] != 0 {
			ck.bad(fmt.Sprintf("swin.heads[%d]", i), "stage %d has dim %d, not a multiple of %d heads (at most %d)", i+1, dim, s.Heads[i], MaxHeads)
		}
	}
	ck.floatIn("swin.mlp_ratio", s.MLPRatio, 0.01, 16)
	ck.prob("swin.drop_path", s.DropPath)
	t := b.TextCNN
	ck.intIn("textcnn.embed", t.Embed, 1, MaxChannels)
	ck.intIn("textcnn.filters", t.Filters, 1, MaxChannels)
	for i, k := range t.Kernels {
		ck.intIn(fmt.Sprintf("textcnn.kernels[%d]", i), k, 1, 64)
	}
	ck.prob("textcnn.dropout", t.Dropout)
	g := b.GBDT
	ck.intIn("gbdt.rounds", g.Rounds, 1, 100_000)
	ck.intIn("gbdt.depth", g.Depth, 1, 16)
	ck.intIn("gbdt.min_leaf", g.MinLeaf, 1, MaxCount)
	ck.intIn("gbdt.bins", g.Bins, 2, 65535)
	if !(g.LearningRate > 0) || g.LearningRate > 1 {
		ck.bad("gbdt.learning_rate", "must be in (0, 1], got %g", g.LearningRate)
	}
	if !(b.LogReg.C > 0) || math.IsInf(b.LogReg.C, 0) {
		ck.bad("logreg.c", "must be positive, got %g", b.LogReg.C)
	}
	ck.intIn("logreg.max_iter", b.LogReg.MaxIter, 1, MaxCount)
	f := b.Features
	ck.oneOf("features.image", f.Image, "pixels", "encoder", "none")
	ck.oneOf("features.text", f.Text, "bow", "bow+encoder", "none")
	if f.Image == "none" && f.Text == "none" {
		ck.bad("features.text", "features.image and features.text are both none: no features left")
	}
	ck.intIn("features.grid", f.Grid, 1, 64)
	ck.intIn("features.vocab", f.Vocab, 1, MaxCount)
	return ck.ps
}

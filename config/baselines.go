package config

import "fmt"

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
func (b Baseline) problems() []Problem {
	var ps []Problem
	bad := func(key, format string, args ...any) {
		ps = append(ps, Problem{Key: "model.baseline." + key, Msg: fmt.Sprintf(format, args...)})
	}
	pos := func(key string, v int) {
		if v <= 0 {
			bad(key, "must be positive, got %d", v)
		}
	}
	s := b.Swin
	pos("swin.patch", s.Patch)
	pos("swin.dim", s.Dim)
	pos("swin.window", s.Window)
	for i, d := range s.Depths {
		if d <= 0 {
			bad(fmt.Sprintf("swin.depths[%d]", i), "must be positive, got %d", d)
		}
		if dim := s.Dim << i; s.Heads[i] <= 0 || dim%s.Heads[i] != 0 {
			bad(fmt.Sprintf("swin.heads[%d]", i), "stage %d has dim %d, not a multiple of %d heads", i+1, dim, s.Heads[i])
		}
	}
	if s.MLPRatio <= 0 {
		bad("swin.mlp_ratio", "must be positive, got %g", s.MLPRatio)
	}
	if s.DropPath < 0 || s.DropPath >= 1 {
		bad("swin.drop_path", "must be in [0, 1), got %g", s.DropPath)
	}
	t := b.TextCNN
	pos("textcnn.embed", t.Embed)
	pos("textcnn.filters", t.Filters)
	for i, k := range t.Kernels {
		if k <= 0 {
			bad(fmt.Sprintf("textcnn.kernels[%d]", i), "must be positive, got %d", k)
		}
	}
	if t.Dropout < 0 || t.Dropout >= 1 {
		bad("textcnn.dropout", "must be in [0, 1), got %g", t.Dropout)
	}
	g := b.GBDT
	pos("gbdt.rounds", g.Rounds)
	pos("gbdt.depth", g.Depth)
	pos("gbdt.min_leaf", g.MinLeaf)
	if g.Bins < 2 || g.Bins > 65535 {
		bad("gbdt.bins", "must be in [2, 65535], got %d", g.Bins)
	}
	if !(g.LearningRate > 0) || g.LearningRate > 1 {
		bad("gbdt.learning_rate", "must be in (0, 1], got %g", g.LearningRate)
	}
	if !(b.LogReg.C > 0) {
		bad("logreg.c", "must be positive, got %g", b.LogReg.C)
	}
	pos("logreg.max_iter", b.LogReg.MaxIter)
	f := b.Features
	switch f.Image {
	case "pixels", "encoder", "none":
	default:
		bad("features.image", "%q is not one of pixels, encoder, none", f.Image)
	}
	switch f.Text {
	case "bow", "bow+encoder", "none":
	default:
		bad("features.text", "%q is not one of bow, bow+encoder, none", f.Text)
	}
	if f.Image == "none" && f.Text == "none" {
		bad("features.text", "features.image and features.text are both none: no features left")
	}
	pos("features.grid", f.Grid)
	pos("features.vocab", f.Vocab)
	return ps
}

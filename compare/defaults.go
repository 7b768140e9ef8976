package compare

import "github.com/vbg-museum/vbg/experiment"

// DefaultSeeds are the seeds of a comparison made from a plain experiment.
var DefaultSeeds = []int64{1, 2, 3}

// DefaultComparison compares VBG (the base experiment as it is) with every
// baseline of package baselines, in the order of the paper's Table 3.
func DefaultComparison(base, out string) *Spec {
	s := &Spec{Source: base, Base: base, Title: "Comparison with baselines (Table 3)", Seeds: DefaultSeeds, Out: out, Figures: true}
	s.Models = append(s.Models, Entry{Name: "VBG", Set: []string{"model.arch=vbg"}})
	for _, a := range experiment.Archs() {
		if a.Name == "majority" || a.Name == "vbg" {
			continue
		}
		s.Models = append(s.Models, Entry{Name: a.Title, Set: []string{"model.arch=" + a.Name}})
	}
	return s
}

// Ablations are the rows of the paper's Table 4: VBG with ViT, BERT and the
// GAN removed one at a time and in pairs. Removing ViT leaves text-only
// fusion, removing BERT image-only fusion, removing the GAN sets
// gan.enabled false; with both encoders removed nothing reads the inputs,
// so that row is the majority-class baseline (the training class prior).
func Ablations() []Entry {
	return []Entry{
		{Name: "VBG (full)"},
		{Name: "− ViT", Set: []string{"model.fusion.type=text"}, Note: "image encoder removed: the fusion layer sees only the text tokens (model.fusion.type=text)"},
		{Name: "− BERT", Set: []string{"model.fusion.type=image"}, Note: "text encoder removed: the fusion layer sees only the image tokens (model.fusion.type=image)"},
		{Name: "− GAN", Set: []string{"gan.enabled=false"}, Note: "no generated training pairs (gan.enabled=false)"},
		{Name: "− ViT − GAN", Set: []string{"model.fusion.type=text", "gan.enabled=false"}},
		{Name: "− BERT − GAN", Set: []string{"model.fusion.type=image", "gan.enabled=false"}},
		{Name: "− ViT − BERT", Set: []string{"model.arch=majority", "gan.enabled=false"},
			Note: "with both encoders removed no input is read, and the GAN only feeds them: the row is the majority-class baseline (training class prior), the floor every other row should beat"},
	}
}

// DefaultAblation is the ablation study of a plain experiment.
func DefaultAblation(base, out string) *Spec {
	return &Spec{Source: base, Base: base, Title: "Ablation (Table 4)", Seeds: DefaultSeeds, Out: out, Figures: false, Models: Ablations()}
}

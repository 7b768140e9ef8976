package pretrained

import (
	"fmt"
	"strings"
)

// Layout names the naming scheme of a checkpoint.
type Layout string

// Known layouts. LayoutHF is the Hugging Face transformers naming (also used
// for any checkpoint that is not recognised as another layout).
const (
	LayoutAuto           Layout = ""
	LayoutHF             Layout = "hf"
	LayoutTimmViT        Layout = "timm-vit"
	LayoutTorchvisionViT Layout = "torchvision-vit"
)

// DetectLayout recognises a checkpoint's layout from its tensor names:
// timm's VisionTransformer (patch_embed.proj + blocks.N), torchvision's
// vit_b_16 family (conv_proj + encoder.layers.encoder_layer_N), or else
// Hugging Face.
func DetectLayout(names []string) Layout {
	has := func(pred func(string) bool) bool {
		for _, n := range names {
			if pred(n) {
				return true
			}
		}
		return false
	}
	eq := func(s string) func(string) bool { return func(n string) bool { return n == s } }
	pre := func(s string) func(string) bool { return func(n string) bool { return strings.HasPrefix(n, s) } }
	switch {
	case has(eq("patch_embed.proj.weight")) && has(pre("blocks.0.")):
		return LayoutTimmViT
	case has(eq("conv_proj.weight")) && has(pre("encoder.layers.encoder_layer_0.")):
		return LayoutTorchvisionViT
	}
	return LayoutHF
}

// recipe says how to build one model tensor from the checkpoint: the source
// tensor, or part Part (0-based) of Parts equal chunks along dimension 0 of it.
type recipe struct {
	Source string
	Part   int
	Parts  int // 0: the whole tensor
}

// translated is a checkpoint tensor renamed into the Hugging Face namespace.
type translated struct {
	Name string
	recipe
}

var (
	qkvSuffix  = []string{"query", "key", "value"}
	timmSimple = map[string]string{
		"cls_token":               "embeddings.cls_token",
		"pos_embed":               "embeddings.position_embeddings",
		"patch_embed.proj.weight": "embeddings.patch_embeddings.projection.weight",
		"patch_embed.proj.bias":   "embeddings.patch_embeddings.projection.bias",
		"norm.weight":             "layernorm.weight",
		"norm.bias":               "layernorm.bias",
		"head.weight":             "classifier.weight",
		"head.bias":               "classifier.bias",
		"pre_logits.fc.weight":    "pooler.dense.weight",
		"pre_logits.fc.bias":      "pooler.dense.bias",
	}
	timmInBlock = map[string]string{
		"norm1":     "layernorm_before",
		"attn.proj": "attention.output.dense",
		"norm2":     "layernorm_after",
		"mlp.fc1":   "intermediate.dense",
		"mlp.fc2":   "output.dense",
	}
	tvSimple = map[string]string{
		"class_token":             "embeddings.cls_token",
		"encoder.pos_embedding":   "embeddings.position_embeddings",
		"conv_proj.weight":        "embeddings.patch_embeddings.projection.weight",
		"conv_proj.bias":          "embeddings.patch_embeddings.projection.bias",
		"encoder.ln.weight":       "layernorm.weight",
		"encoder.ln.bias":         "layernorm.bias",
		"heads.head.weight":       "classifier.weight",
		"heads.head.bias":         "classifier.bias",
		"heads.pre_logits.weight": "pooler.dense.weight",
		"heads.pre_logits.bias":   "pooler.dense.bias",
	}
	tvInBlock = map[string]string{
		"ln_1":                    "layernorm_before",
		"self_attention.out_proj": "attention.output.dense",
		"ln_2":                    "layernorm_after",
		"mlp.0":                   "intermediate.dense",
		"mlp.3":                   "output.dense",
		"mlp.linear_1":            "intermediate.dense", // torchvision < 0.13 names
		"mlp.linear_2":            "output.dense",
	}
)

// blockName splits a block tensor name "<prefix><layer>.<rest>" (for example
// "blocks.3.attn.qkv.weight" with prefix "blocks.") into the layer number and
// the rest: the layer is one or more ASCII digits, the rest is not empty and
// has no line break.
func blockName(name, prefix string) (layer, rest string, ok bool) {
	tail, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return "", "", false
	}
	n := 0
	for n < len(tail) && tail[n] >= '0' && tail[n] <= '9' {
		n++
	}
	if n == 0 || n+1 >= len(tail) || tail[n] != '.' {
		return "", "", false
	}
	layer, rest = tail[:n], tail[n+1:]
	if strings.ContainsRune(rest, '\n') {
		return "", "", false
	}
	return layer, rest, true
}

// splitParam splits "a.b.weight" into ("a.b", "weight").
func splitParam(s string) (module, param string) {
	i := strings.LastIndexByte(s, '.')
	if i < 0 {
		return "", s
	}
	return s[:i], s[i+1:]
}

// translateLayout renames checkpoint tensors into the Hugging Face ViTModel
// namespace (without the "vit." prefix; the prefix logic of LoadInto adds it
// when the model has it). Fused q/k/v projections become three recipes.
// Names it does not know pass through unchanged.
func translateLayout(layout Layout, names []string) ([]translated, error) {
	out := make([]translated, 0, len(names))
	for _, n := range names {
		whole := translated{Name: n, recipe: recipe{Source: n}}
		switch layout {
		case LayoutHF, LayoutAuto:
			out = append(out, whole)
		case LayoutTimmViT:
			if t, ok := timmSimple[n]; ok {
				out = append(out, translated{Name: t, recipe: recipe{Source: n}})
				continue
			}
			layer, rest, ok := blockName(n, "blocks.")
			if !ok {
				out = append(out, whole)
				continue
			}
			mod, param := splitParam(rest)
			if mod == "attn.qkv" && (param == "weight" || param == "bias") {
				for i, s := range qkvSuffix {
					out = append(out, translated{
						Name:   fmt.Sprintf("encoder.layer.%s.attention.attention.%s.%s", layer, s, param),
						recipe: recipe{Source: n, Part: i, Parts: 3},
					})
				}
				continue
			}
			if t, ok := timmInBlock[mod]; ok {
				out = append(out, translated{Name: fmt.Sprintf("encoder.layer.%s.%s.%s", layer, t, param), recipe: recipe{Source: n}})
				continue
			}
			out = append(out, whole)
		case LayoutTorchvisionViT:
			if t, ok := tvSimple[n]; ok {
				out = append(out, translated{Name: t, recipe: recipe{Source: n}})
				continue
			}
			layer, rest, ok := blockName(n, "encoder.layers.encoder_layer_")
			if !ok {
				out = append(out, whole)
				continue
			}
			if rest == "self_attention.in_proj_weight" || rest == "self_attention.in_proj_bias" {
				param := "weight"
				if strings.HasSuffix(rest, "bias") {
					param = "bias"
				}
				for i, s := range qkvSuffix {
					out = append(out, translated{
						Name:   fmt.Sprintf("encoder.layer.%s.attention.attention.%s.%s", layer, s, param),
						recipe: recipe{Source: n, Part: i, Parts: 3},
					})
				}
				continue
			}
			mod, param := splitParam(rest)
			if t, ok := tvInBlock[mod]; ok {
				out = append(out, translated{Name: fmt.Sprintf("encoder.layer.%s.%s.%s", layer, t, param), recipe: recipe{Source: n}})
				continue
			}
			out = append(out, whole)
		default:
			return nil, fmt.Errorf("unknown layout %q", layout)
		}
	}
	return out, nil
}

// fixLegacyName maps the old TensorFlow-era LayerNorm parameter names
// (gamma, beta) to weight and bias, component-wise.
func fixLegacyName(name string) string {
	mod, param := splitParam(name)
	switch param {
	case "gamma":
		param = "weight"
	case "beta":
		param = "bias"
	default:
		return name
	}
	if mod == "" {
		return param
	}
	return mod + "." + param
}

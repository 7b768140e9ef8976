package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ucli "github.com/urfave/cli/v2"
)

// runCLI runs the vbg app with args and returns stdout, stderr and the exit
// code it asked for.
func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	app := App()
	app.Writer, app.ErrWriter = &out, &errOut
	code := 0
	prev := ucli.OsExiter
	ucli.OsExiter = func(c int) { code = c }
	defer func() { ucli.OsExiter = prev }()
	if err := Run(app, append([]string{"vbg"}, args...)); err != nil && code == 0 {
		code = 1
	}
	return out.String(), errOut.String(), code
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil {
			names = append(names, p)
		}
		return nil
	})
	return names
}

// TestRunBadInput checks that each kind of bad experiment gives one line
// naming the file, line and key, a non-zero exit, and writes nothing.
func TestRunBadInput(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "runs")
	existing := filepath.Join(out, "old-run")
	if err := os.MkdirAll(existing, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(existing, "config.yaml"), []byte("name: old\ndata:\n  source: synthetic\nmodel:\n  text:\n    tokenizer: words\ntrain:\n  lr: -1\n"), 0o644)
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o644)
		return p
	}
	base := "name: x\ndata:\n  source: synthetic\nmodel:\n  text:\n    tokenizer: words\noutput:\n  dir: " + out + "\n"
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"missing file", []string{"run", filepath.Join(dir, "nope.yaml")}, []string{"nope.yaml", "no such file"}},
		{"unknown key", []string{"run", write("unknown.yaml", base+"train:\n  epoks: 3\n")}, []string{"unknown.yaml:10: train.epoks: unknown key"}},
		{"wrong type", []string{"run", write("type.yaml", base+"train:\n  epochs: three\n")}, []string{"type.yaml:10: train.epochs: want an integer"}},
		{"negative learning rate", []string{"run", write("lr.yaml", base+"train:\n  lr: -0.001\n")}, []string{"lr.yaml:10: train.lr: must be in (0, 10]"}},
		{"bad override", []string{"run", write("ok.yaml", base), "--set", "train.lr=-1"}, []string{"--set: train.lr: must be in (0, 10]"}},
		{"bad resume config", []string{"run", "--resume", existing}, []string{"config.yaml:8: train.lr: must be in (0, 10]"}},
		{"no experiment", []string{"run"}, []string{"usage: vbg run"}},
		{"nested command error", []string{"data", "prepare", "emoji", "--src", filepath.Join(dir, "none"), "--out", filepath.Join(dir, "prep")}, []string{"vbg:", "none"}},
		{"nested required flag", []string{"data", "prepare", "emoji", "--src", dir}, []string{"vbg:", `"out"`}},
		{"data not prepared", []string{"run", write("nodata.yaml", "data:\n  dir: "+filepath.Join(dir, "none")+"\nmodel:\n  text:\n    tokenizer: words\noutput:\n  dir: "+out+"\n")}, []string{"vbg data prepare SOURCE --out"}},
		{"model shape", []string{"run", write("ok.yaml", base), "--set", "model.image.hidden=64", "--set", "model.image.heads=5"}, []string{"--set: model.image.heads: vit config: hidden size 64 is not a multiple"}},
		{"predict top 0", []string{"predict", existing, "--image", "x.png", "-k", "0"}, []string{"--top 0: want at least 1 class"}},
		{"weights not downloaded", []string{"run", write("noweights.yaml", strings.Replace(base, "    tokenizer: words\n", "    tokenizer: words\n    pretrained: some-org/no-such-model\n", 1))}, []string{"vbg pretrained download some-org/no-such-model"}},
	}
	before := listDir(t, out)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, tc.args...)
			if code == 0 {
				t.Fatalf("exit code 0; stderr %q", stderr)
			}
			msg := strings.TrimSpace(stderr)
			if strings.Count(msg, "\n") != 0 {
				t.Errorf("want one line, got %q", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("stderr %q does not contain %q", msg, w)
				}
			}
		})
	}
	if after := listDir(t, out); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("bad input wrote into the output folder:\nbefore %v\nafter  %v", before, after)
	}
}

func TestHelpExplainsItself(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--help"}, []string{"run", "eval", "predict", "export", "data", "pretrained", "gan", "compare", "ablate", "explain"}},
		{[]string{"run", "--help"}, []string{"EXPERIMENT.yaml"}},
		{[]string{"eval", "--help"}, []string{"RUN_DIR", "mAP"}},
		{[]string{"export", "--help"}, []string{"transformers", "safetensors"}},
	} {
		stdout, _, code := runCLI(t, tc.args...)
		if code != 0 {
			t.Errorf("%v: exit %d", tc.args, code)
		}
		for _, w := range tc.want {
			if !strings.Contains(stdout, w) {
				t.Errorf("%v: help lacks %q:\n%s", tc.args, w, stdout)
			}
		}
	}
	stdout, _, _ := runCLI(t, "run", "--help")
	for _, w := range []string{"--set", "--resume", "--threads", "metrics.jsonl", "summary.json", "checkpoints"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("run --help lacks %q", w)
		}
	}
}

func TestIntersperse(t *testing.T) {
	app := App()
	tests := []struct{ in, want string }{
		{"vbg run x.yaml --set a=1 --quiet", "vbg run --set a=1 --quiet x.yaml"},
		{"vbg run --set a=1 x.yaml", "vbg run --set a=1 x.yaml"},
		{"vbg run x.yaml --threads=2", "vbg run --threads=2 x.yaml"},
		{"vbg data prepare emoji --out d", "vbg data prepare emoji --out d"},
		{"vbg data prepare emoji --src s --out d", "vbg data prepare emoji --src s --out d"},
		{"vbg data card DIR --help", "vbg data card --help DIR"},
		{"vbg eval RUN --split val", "vbg eval --split val RUN"},
		{"vbg --help", "vbg --help"},
	}
	for _, tc := range tests {
		got := strings.Join(Intersperse(app, strings.Fields(tc.in)), " ")
		if got != tc.want {
			t.Errorf("Intersperse(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

package export

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/sugarme/gotch/ts"

	"github.com/vbg-museum/vbg/data"
	"github.com/vbg-museum/vbg/device"
	"github.com/vbg-museum/vbg/experiment"
	"github.com/vbg-museum/vbg/infer"
	"github.com/vbg-museum/vbg/pretrained"
	"github.com/vbg-museum/vbg/runfolder"
	"github.com/vbg-museum/vbg/tensor"
	"github.com/vbg-museum/vbg/train"
	"github.com/vbg-museum/vbg/vbg"
)

// venvPython is the test-only Python environment with the references.
func venvPython(t *testing.T) string {
	t.Helper()
	py, _ := filepath.Abs("../.venv/bin/python")
	if _, err := os.Stat(py); err != nil {
		t.Fatalf("%s is missing: run scripts/setup-pyenv.sh (scripts/test.sh does)", py)
	}
	return py
}

// TestExportReloadsInTransformers trains a tiny run, exports it, and has
// scripts/check-export.py reload the export with safetensors and
// transformers alone and reproduce VBG's logits to 1e-4 and its token ids.
func TestExportReloadsInTransformers(t *testing.T) {
	py := venvPython(t)
	cfg, err := experiment.Load("../experiments/smoke.yaml", []string{"output.dir=" + t.TempDir(), "threads=2", "train.epochs=1"})
	if err != nil {
		t.Fatal(err)
	}
	dir, err := runfolder.New(cfg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := train.Run(cfg, dir, train.Options{Quiet: true, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	w, err := device.Start(device.Config{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	tmp := t.TempDir()
	if d := os.Getenv("VBG_KEEP_EXPORT"); d != "" {
		tmp = d
	}
	exp := filepath.Join(tmp, "export")
	var texts []string
	var ids [][]int64
	err = w.Do(func() error {
		l, err := infer.Open(dir, w, "best")
		if err != nil {
			return err
		}
		ds, err := experiment.LoadDataset(l.Config, dir)
		if err != nil {
			return err
		}
		loader, err := data.NewLoader(ds.Test, infer.LoaderConfig(l.Config))
		if err != nil {
			return err
		}
		for b, err := range loader.Epoch(0) {
			if err != nil {
				return err
			}
			texts = b.Texts
			saveErr := tensor.NoGrad(func() error {
				bt, err := l.Batch(b)
				if err != nil {
					return err
				}
				defer bt.Drop()
				in := bt.In
				out, err := l.Net.Forward(in, false)
				if err != nil {
					return err
				}
				defer out.Drop()
				size, err := in.InputIDs.Size()
				if err != nil {
					return err
				}
				flat, err := tensor.Int64s(in.InputIDs)
				if err != nil {
					return err
				}
				for i := int64(0); i < size[0]; i++ {
					ids = append(ids, append([]int64(nil), flat[i*size[1]:(i+1)*size[1]]...))
				}
				return pretrained.WriteSafetensors(filepath.Join(tmp, "inputs.safetensors"), map[string]*ts.Tensor{
					"pixels": in.Pixels, "input_ids": in.InputIDs, "attention_mask": in.AttentionMask, "logits": out.Logits}, nil)
			})
			if saveErr != nil {
				return saveErr
			}
			break
		}
		return Export(l, exp)
	})
	if err != nil {
		t.Fatal(err)
	}
	// Our batches are trimmed to the longest text; the Python side pads to
	// max_text_len, so pad our ids the same way for the comparison.
	for i := range ids {
		for len(ids[i]) < cfg.Data.MaxTextLen {
			ids[i] = append(ids[i], vbg.PadID)
		}
	}
	b, _ := json.Marshal(map[string]any{"texts": texts, "input_ids": ids})
	os.WriteFile(filepath.Join(tmp, "texts.json"), b, 0o644)
	cmd := exec.Command(py, "../scripts/check-export.py", exp, filepath.Join(tmp, "inputs.safetensors"), filepath.Join(tmp, "texts.json"))
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("check-export.py: %v", err)
	}
}

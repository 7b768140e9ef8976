package train

import (
	"bufio"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vbg-museum/vbg/experiment"
	"github.com/vbg-museum/vbg/report"
	"github.com/vbg-museum/vbg/runfolder"
)

// resumeSets shrinks the smoke experiment so that each epoch takes a moment.
var resumeSets = []string{"train.epochs=4", "data.synthetic.per_class=30", "threads=1"}

// TestResumeChild is the process that TestResumeAfterSIGKILL kills: it
// trains the run in VBG_RESUME_DIR and prints a line per epoch.
func TestResumeChild(t *testing.T) {
	dir := os.Getenv("VBG_RESUME_DIR")
	if dir == "" {
		t.Skip("helper process of TestResumeAfterSIGKILL")
	}
	cfg, err := experiment.Load(filepath.Join(dir, runfolder.ConfigFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Run(cfg, dir, Options{Resume: os.Getenv("VBG_RESUME_FROM"), Quiet: true, Log: os.Stdout}); err != nil {
		t.Fatal(err)
	}
}

// TestResumeAfterSIGKILL kills a training process with SIGKILL in the middle
// of its third epoch, resumes it, and checks that every logged epoch and the
// final test metrics equal those of an uninterrupted run.
func TestResumeAfterSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("trains two small runs; run without -short")
	}
	// The uninterrupted reference.
	ref := smokeConfig(t, resumeSets...)
	refDir, err := runfolder.New(ref, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	refSum, err := Run(ref, refDir, Options{Quiet: true, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}

	// The same run in a child process, killed after epoch 2 is logged.
	cfg := smokeConfig(t, resumeSets...)
	dir, err := runfolder.New(cfg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	y, _ := cfg.Marshal()
	if err := os.WriteFile(filepath.Join(dir, runfolder.ConfigFile), y, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestResumeChild$", "-test.v")
	cmd.Env = append(os.Environ(), "VBG_RESUME_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "epoch 2/") {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
			break
		}
	}
	io.Copy(io.Discard, out)
	werr := cmd.Wait()
	if !killed {
		t.Fatalf("child finished without logging epoch 2: %v", werr)
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child was not killed by SIGKILL: %v", werr)
	}

	sum, err := Run(cfg, dir, Options{Resume: dir, Quiet: true, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	got, err := report.ReadMetricsJSONL(filepath.Join(dir, runfolder.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	want, err := report.ReadMetricsJSONL(filepath.Join(refDir, runfolder.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("resumed run logged %d epochs, uninterrupted %d", len(got), len(want))
	}
	for i := range want {
		if math.Abs(got[i].TrainLoss-want[i].TrainLoss) > 1e-6 || math.Abs(got[i].ValLoss-want[i].ValLoss) > 1e-6 {
			t.Errorf("epoch %d: resumed train/val loss %.8f/%.8f, uninterrupted %.8f/%.8f",
				i+1, got[i].TrainLoss, got[i].ValLoss, want[i].TrainLoss, want[i].ValLoss)
		}
	}
	if sum.Test.Accuracy != refSum.Test.Accuracy || math.Abs(sum.Test.MacroF1-refSum.Test.MacroF1) > 1e-9 ||
		math.Abs(sum.Test.MAP-refSum.Test.MAP) > 1e-9 || sum.BestEpoch != refSum.BestEpoch {
		t.Errorf("resumed test acc %.4f F1 %.4f mAP %.4f best %d; uninterrupted %.4f %.4f %.4f %d",
			sum.Test.Accuracy, sum.Test.MacroF1, sum.Test.MAP, sum.BestEpoch,
			refSum.Test.Accuracy, refSum.Test.MacroF1, refSum.Test.MAP, refSum.BestEpoch)
	}
	t.Logf("killed after epoch 2; resumed: test acc %.4f, macro-F1 %.4f (uninterrupted: %.4f, %.4f)",
		sum.Test.Accuracy, sum.Test.MacroF1, refSum.Test.Accuracy, refSum.Test.MacroF1)
}

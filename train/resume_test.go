package train

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vbg-museum/vbg/experiment"
	"github.com/vbg-museum/vbg/report"
	"github.com/vbg-museum/vbg/runfolder"
)

// resumeSets shrinks the smoke experiment (6 optimizer steps per epoch) and
// writes a step checkpoint every 2 steps.
var resumeSets = []string{"train.epochs=4", "data.synthetic.per_class=30", "threads=1", "train.checkpoint.every_steps=2"}

// TestResumeChild is the process that TestResumeAfterKills kills: it
// trains (or resumes) the run in VBG_RESUME_DIR and kills itself with
// SIGKILL at VBG_KILL ("step:N" after optimizer step N, "checkpoint:N"
// halfway through a checkpoint written after step N).
func TestResumeChild(t *testing.T) {
	dir := os.Getenv("VBG_RESUME_DIR")
	if dir == "" {
		t.Skip("helper process of TestResumeAfterKills")
	}
	cfg, err := experiment.Load(filepath.Join(dir, runfolder.ConfigFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	point, at, _ := strings.Cut(os.Getenv("VBG_KILL"), ":")
	step, _ := strconv.ParseInt(at, 10, 64)
	probe := func(p string, s int64) {
		if p == point && s == step {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
	}
	if _, err := Run(cfg, dir, Options{Resume: os.Getenv("VBG_RESUME_FROM"), Quiet: true, Log: io.Discard, Probe: probe}); err != nil {
		t.Fatal(err)
	}
}

// killedRun runs the child on dir until it kills itself at kill.
func killedRun(t *testing.T, dir, kill string, resume bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestResumeChild$")
	cmd.Env = append(os.Environ(), "VBG_RESUME_DIR="+dir, "VBG_KILL="+kill)
	if resume {
		cmd.Env = append(cmd.Env, "VBG_RESUME_FROM="+dir)
	}
	out, err := cmd.CombinedOutput()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child with VBG_KILL=%s was not killed: %v\n%s", kill, err, out)
	}
}

// sameEpochs compares two metrics.jsonl files in everything but time.
func sameEpochs(t *testing.T, got, want []report.Epoch) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("resumed run logged %d epochs, uninterrupted %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		g.Seconds, w.Seconds = 0, 0
		if !reflect.DeepEqual(g, w) {
			t.Errorf("epoch %d differs:\n resumed       %+v\n uninterrupted %+v", i+1, g, w)
		}
	}
}

// TestResumeAfterKills kills a training process with SIGKILL several
// times, at random optimizer steps (one inside epoch 1) and halfway
// through a checkpoint write, resuming each time, and checks that every
// epoch's metrics and the test metrics equal an uninterrupted run's bit
// for bit, and that no temporary file survives.
func TestResumeAfterKills(t *testing.T) {
	if testing.Short() {
		t.Skip("trains several small runs; run without -short")
	}
	ref := smokeConfig(t, resumeSets...)
	refDir, err := runfolder.New(ref, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	refSum, err := Run(ref, refDir, Options{Quiet: true, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	seed := uint64(time.Now().UnixNano())
	r := rand.New(rand.NewPCG(seed, 1))
	const stepsPerEpoch, total = 6, 24
	kills := []string{
		fmt.Sprintf("step:%d", 1+r.IntN(stepsPerEpoch-1)), // inside epoch 1
		fmt.Sprintf("checkpoint:%d", stepsPerEpoch+2*(1+r.IntN(2))), // a step checkpoint in epoch 2
		fmt.Sprintf("checkpoint:%d", 2*stepsPerEpoch), // the end of epoch 2: best and last
		fmt.Sprintf("step:%d", 2*stepsPerEpoch+1+r.IntN(total-2*stepsPerEpoch-1)),
	}
	t.Logf("seed %d: kills at %v", seed, kills)
	cfg := smokeConfig(t, resumeSets...)
	dir, err := runfolder.New(cfg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	y, _ := cfg.Marshal()
	if err := os.WriteFile(filepath.Join(dir, runfolder.ConfigFile), y, 0o644); err != nil {
		t.Fatal(err)
	}
	for i, k := range kills {
		killedRun(t, dir, k, i > 0)
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
	sameEpochs(t, got, want)
	if !reflect.DeepEqual(sum.Test, refSum.Test) || sum.BestEpoch != refSum.BestEpoch || sum.Steps != refSum.Steps {
		t.Errorf("resumed test %+v best %d steps %d; uninterrupted %+v %d %d", sum.Test, sum.BestEpoch, sum.Steps, refSum.Test, refSum.BestEpoch, refSum.Steps)
	}
	for _, d := range []string{dir, filepath.Join(dir, runfolder.CheckDir)} {
		left, _ := filepath.Glob(filepath.Join(d, ".*.tmp-*"))
		if len(left) > 0 {
			t.Errorf("temporary files left: %v", left)
		}
	}
}

package baselines

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/vbg-museum/vbg/config"
	"github.com/vbg-museum/vbg/train"
)

// TestRunFitted fits each fixed-feature baseline on the synthetic set through
// Run and checks the run folder and that gbdt and logreg beat the majority
// class (the synthetic classes need image and text together; either alone
// gives half of them).
func TestRunFitted(t *testing.T) {
	acc := map[string]float64{}
	for _, arch := range []string{"majority", "gbdt", "logreg"} {
		cfg, err := config.Load("../experiments/smoke.yaml", []string{"model.arch=" + arch, "output.dir=" + t.TempDir(),
			"data.synthetic.per_class=30", "model.baseline.gbdt.rounds=20", "model.baseline.features.grid=4"})
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(cfg.Output.Dir, arch)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		sum, err := Run(cfg, dir, train.Options{Quiet: true, Log: io.Discard})
		if err != nil {
			t.Fatalf("%s: %v", arch, err)
		}
		for _, f := range []string{train.ConfigFile, train.LabelsFile, train.MetricsFile, train.SummaryFile, train.ReportFile, filepath.Join(train.CheckDir, ModelFile)} {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Errorf("%s: run folder lacks %s", arch, f)
			}
		}
		acc[arch] = sum.Test.Accuracy
		t.Logf("%s: test accuracy %.3f, %d parameters", arch, sum.Test.Accuracy, sum.Parameters)
	}
	for _, arch := range []string{"gbdt", "logreg"} {
		if acc[arch] <= acc["majority"]+0.1 {
			t.Errorf("%s test accuracy %.3f is not above the majority class (%.3f)", arch, acc[arch], acc["majority"])
		}
	}
}

// TestRegister checks that every baseline network is a model.arch of the
// training loop and that fitted ones explain themselves.
func TestRegister(t *testing.T) {
	Register()
	Register() // idempotent
	cfg := config.Default()
	cfg.Model.Arch = "gbdt"
	if _, err := train.NewNetwork(nil, cfg, 10, 3); err == nil {
		t.Error("gbdt built as a network")
	}
	if Title("vbg") != "VBG" || Title("resnet18") != "ResNet-18" || Title("x") != "x" {
		t.Error("titles")
	}
}

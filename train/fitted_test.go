package train

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/vbg-museum/vbg/experiment"
	"github.com/vbg-museum/vbg/runfolder"
)

// TestRunFitted fits each fixed-feature baseline on the synthetic set through
// Run and checks the run folder and that gbdt and logreg beat the majority
// class (the synthetic classes need image and text together; either alone
// gives half of them).
func TestRunFitted(t *testing.T) {
	acc := map[string]float64{}
	for _, arch := range []string{"majority", "gbdt", "logreg"} {
		cfg, err := experiment.Load("../experiments/smoke.yaml", []string{"model.arch=" + arch, "output.dir=" + t.TempDir(),
			"data.synthetic.per_class=30", "model.baseline.gbdt.rounds=20", "model.baseline.features.grid=4"})
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(cfg.Output.Dir, arch)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		sum, err := Run(cfg, dir, Options{Quiet: true, Log: io.Discard})
		if err != nil {
			t.Fatalf("%s: %v", arch, err)
		}
		for _, f := range []string{runfolder.ConfigFile, runfolder.LabelsFile, runfolder.MetricsFile, runfolder.SummaryFile, runfolder.ReportFile, filepath.Join(runfolder.CheckDir, FittedModelFile)} {
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

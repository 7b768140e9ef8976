package report

import (
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"
)

func testImage(size int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			img.Set(x, y, color.RGBA{R: uint8(4 * x), G: uint8(4 * y), B: 128, A: 255})
		}
	}
	return img
}

// TestOverlay checks that the hot corner of a map turns the image red and
// the cold corner blue.
func TestOverlay(t *testing.T) {
	m := HeatMap{Name: "m", GridH: 2, GridW: 2, Values: []float64{0, 0, 0, 1}} // bottom right hot
	out, err := Overlay(testImage(32), m, 64, 0.8)
	if err != nil {
		t.Fatal(err)
	}
	hot := out.RGBAAt(60, 60)
	cold := out.RGBAAt(3, 3)
	if !(hot.R > hot.B && cold.B > cold.R) {
		t.Errorf("hot pixel %v, cold pixel %v: want red over blue and blue over red", hot, cold)
	}
	if _, err := Overlay(testImage(8), HeatMap{GridH: 2, GridW: 2, Values: []float64{1}}, 8, 0.5); err == nil {
		t.Error("bad grid accepted")
	}
}

func TestAttentionAndFeatureFigures(t *testing.T) {
	dir := t.TempDir()
	panel := AttentionPanel{Image: testImage(32), Title: "true: a\npredicted: a (0.90)",
		Maps:   []HeatMap{{Name: "rollout", GridH: 4, GridW: 4, Values: make([]float64, 16)}, {Name: "t2i", GridH: 4, GridW: 4, Values: make([]float64, 16)}},
		Tokens: []TokenWeight{{"red", 0.6}, {"apple", 0.4}}}
	p := filepath.Join(dir, "att.png")
	if err := PlotAttention(p, []AttentionPanel{panel, panel}); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, p, pixels(4*2.3), pixels(2*2.3))
	var pts []FeaturePoint
	r := rand.New(rand.NewPCG(1, 1))
	for i := 0; i < 60; i++ {
		pts = append(pts, FeaturePoint{X: r.NormFloat64() + float64(i%3)*4, Y: r.NormFloat64(), Class: i % 3, Kind: i % 2})
	}
	p = filepath.Join(dir, "feat.png")
	if err := PlotFeatureSpace(p, "t", pts, []string{"a", "b", "c"}, []string{"image", "text"}); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, p, pixels(9.5), pixels(6))
	p = filepath.Join(dir, "bars.png")
	if err := PlotBars(p, "top", "p", []string{"x", "y"}, []float64{0.7, 0.3}); err != nil {
		t.Fatal(err)
	}
}

// TestEmbeddings: two well separated clusters stay separated in 2-D by
// t-SNE and by PCA.
func TestEmbeddings(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var x [][]float64
	for i := 0; i < 40; i++ {
		row := make([]float64, 10)
		for k := range row {
			row[k] = r.NormFloat64() * 0.3
		}
		if i%2 == 1 {
			row[0] += 5
			row[3] -= 5
		}
		x = append(x, row)
	}
	for name, embed := range map[string]func([][]float64) ([][2]float64, error){
		"tsne": func(x [][]float64) ([][2]float64, error) {
			return TSNE(x, TSNEOptions{Perplexity: 8, Iterations: 300, Seed: 1})
		},
		"pca": PCA2,
	} {
		y, err := embed(x)
		if err != nil {
			t.Fatal(err)
		}
		// Nearest neighbour of every point is in its own cluster.
		for i := range y {
			best, bd := -1, math.Inf(1)
			for j := range y {
				if i == j {
					continue
				}
				d := math.Hypot(y[i][0]-y[j][0], y[i][1]-y[j][1])
				if d < bd {
					best, bd = j, d
				}
			}
			if best%2 != i%2 {
				t.Errorf("%s: point %d's nearest neighbour %d is in the other cluster", name, i, best)
				break
			}
		}
	}
	if _, err := TSNE(x[:3], TSNEOptions{}); err == nil {
		t.Error("tsne of 3 points accepted")
	}
}

// TestNiceTicksTinyRange: a range at float64 resolution (a majority-class
// run's train and val loss differ by 4e-16) gives no ticks instead of
// looping ~1e17 times.
func TestNiceTicksTinyRange(t *testing.T) {
	if got := (niceTicks{max: 6}).Ticks(2.197224577336215, 2.1972245773362156); got != nil {
		t.Errorf("ticks %v", got)
	}
	epochs := []Epoch{{Epoch: 1, TrainLoss: 2.1972245773362156, ValLoss: 2.197224577336215, ValAccuracy: 0.1}}
	if err := PlotLoss(filepath.Join(t.TempDir(), "loss.png"), epochs); err != nil {
		t.Fatal(err)
	}
}

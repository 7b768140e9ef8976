package data

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"

	"github.com/vbg-museum/vbg/seed"
)

// SyntheticSet is a small deterministic dataset for model tests whose classes need both
// modalities: the class is (colour of the shape in the image) x (material word in the text).
// An image-only model can tell the colour but not the word, a text-only model the word but
// not the colour; only both together separate every class.
type SyntheticSet struct {
	// Records have Image empty until WritePNGs or WriteDataset; Images[i] belongs to Records[i].
	Records []Record
	Images  []*image.NRGBA
	// Labels maps label ids to names ("red-bronze", ...).
	Labels []string
	// Colors and Words are the two factors: the best accuracy from the image alone is
	// 1/Words, from the text alone 1/Colors.
	Colors, Words int
}

var (
	synthColors = []struct {
		name string
		c    [3]uint8
	}{
		{"red", [3]uint8{220, 40, 40}}, {"green", [3]uint8{40, 180, 60}}, {"blue", [3]uint8{40, 70, 220}},
		{"yellow", [3]uint8{230, 210, 40}}, {"magenta", [3]uint8{210, 50, 200}}, {"cyan", [3]uint8{40, 200, 210}},
		{"orange", [3]uint8{240, 140, 30}}, {"purple", [3]uint8{120, 50, 170}},
	}
	synthWords     = []string{"bronze", "ivory", "silk", "jade", "glass", "wooden", "paper", "stone"}
	synthTemplates = []string{"a %s object on display", "museum piece made of %s", "%s artifact from the collection",
		"an old %s item", "the %s work in the gallery"}
	synthFiller = []string{"small", "large", "ancient", "restored", "famous", "plain", "decorated", "rare", "simple", "fine"}
)

// MaxSyntheticPerClass bounds SyntheticOptions.PerClass (the set is built in memory).
const MaxSyntheticPerClass = 100_000

// SyntheticOptions configures the synthetic dataset.
type SyntheticOptions struct {
	// Seed fixes every image and text: the same options always give the same set.
	Seed uint64
	// Classes must factor as colors x words with both factors in 2..8; the factors are
	// chosen as close to each other as possible (4 = 2x2, 6 = 3x2, 9 = 3x3).
	Classes int
	// PerClass is the number of examples per class; ImageSize the image side in pixels.
	PerClass, ImageSize int
}

// Synthetic builds the synthetic set, writes its images to dir as PNG files (so the normal
// loader reads them) and returns the records, with resolved image paths and label ids, and
// the label names.
func Synthetic(dir string, o SyntheticOptions) ([]Record, []string, error) {
	s, err := NewSynthetic(o)
	if err != nil {
		return nil, nil, err
	}
	if err := s.WritePNGs(dir); err != nil {
		return nil, nil, err
	}
	return s.Records, s.Labels, nil
}

// NewSynthetic builds the synthetic set in memory (Records have no Image path yet).
func NewSynthetic(o SyntheticOptions) (*SyntheticSet, error) {
	perClass, classes, imageSize, base := o.PerClass, o.Classes, o.ImageSize, o.Seed
	if perClass <= 0 || perClass > MaxSyntheticPerClass || imageSize < 8 || imageSize > MaxImageSize {
		return nil, fmt.Errorf("synthetic: need PerClass in [1, %d] and ImageSize in [8, %d], got %d, %d",
			MaxSyntheticPerClass, MaxImageSize, perClass, imageSize)
	}
	colors, words := 0, 0
	for w := 2; w <= 8; w++ {
		if classes%w == 0 && classes/w >= w && classes/w <= 8 {
			colors, words = classes/w, w
		}
	}
	if colors == 0 {
		return nil, fmt.Errorf("synthetic: %d classes is not colors x words with both in 2..8 (try 4, 6, 8, 9, 12, 16)", classes)
	}
	s := &SyntheticSet{Colors: colors, Words: words}
	for k := 0; k < classes; k++ {
		s.Labels = append(s.Labels, synthColors[k/words].name+"-"+synthWords[k%words])
	}
	for i := 0; i < perClass*classes; i++ {
		k := i % classes
		r := newRNG(seed.Mix(base, 0x73796e7468, uint64(i)))
		img := synthImage(r, synthColors[k/words].c, imageSize)
		t := fmt.Sprintf(synthTemplates[r.intn(len(synthTemplates))], synthWords[k%words])
		t = synthFiller[r.intn(len(synthFiller))] + " " + t
		id := fmt.Sprintf("syn-%05d", i)
		s.Records = append(s.Records, Record{ID: id, Texts: []string{t}, Label: s.Labels[k], LabelID: k,
			Attrs: map[string]string{"color": synthColors[k/words].name, "word": synthWords[k%words]}})
		s.Images = append(s.Images, img)
	}
	return s, nil
}

// synthImage draws a noisy grey background and a disc or square of colour c (jittered) at a
// random place; the shape carries no class information.
func synthImage(r *rng, c [3]uint8, size int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	for i := 0; i < size*size; i++ {
		g := uint8(80 + r.intn(97))
		img.Pix[4*i], img.Pix[4*i+1], img.Pix[4*i+2], img.Pix[4*i+3] = g, g, g, 255
	}
	var jc [3]uint8
	for ch := range jc {
		jc[ch] = uint8(min(max(int(c[ch])+r.intn(41)-20, 0), 255))
	}
	side := size/4 + r.intn(size/4+1)
	x0, y0 := r.intn(size-side+1), r.intn(size-side+1)
	disc := r.intn(2) == 1
	rad := float64(side) / 2
	for y := y0; y < y0+side; y++ {
		for x := x0; x < x0+side; x++ {
			if disc {
				dx, dy := float64(x-x0)+0.5-rad, float64(y-y0)+0.5-rad
				if dx*dx+dy*dy > rad*rad {
					continue
				}
			}
			img.SetNRGBA(x, y, color.NRGBA{jc[0], jc[1], jc[2], 255})
		}
	}
	return img
}

// WritePNGs writes every image to dir as <id>.png and sets the records' Image paths.
func (s *SyntheticSet) WritePNGs(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("synthetic: %w", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return fmt.Errorf("synthetic: %w", err)
	}
	for i := range s.Records {
		var buf bytes.Buffer
		if err := png.Encode(&buf, s.Images[i]); err != nil {
			return fmt.Errorf("synthetic: encode %s: %w", s.Records[i].ID, err)
		}
		p := filepath.Join(abs, s.Records[i].ID+".png")
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("synthetic: %w", err)
		}
		s.Records[i].Image = p
	}
	return nil
}

// WriteDataset writes the images to dir/images and a prepared dataset (8:1:1 split, seed 42)
// to dir, then opens it: the full Open/Loader path on synthetic data.
func (s *SyntheticSet) WriteDataset(dir string) (*Prepared, error) {
	if err := s.WritePNGs(filepath.Join(dir, "images")); err != nil {
		return nil, err
	}
	root, err := filepath.Abs(filepath.Join(dir, "images"))
	if err != nil {
		return nil, fmt.Errorf("synthetic: %w", err)
	}
	c := &candidates{source: "synthetic", imageRoot: root, labelField: "color-word",
		inputs:  map[string]string{},
		options: map[string]string{"colors": fmt.Sprint(s.Colors), "words": fmt.Sprint(s.Words)},
		notes:   []string{"class = colour (image) x word (text): " + strings.Join(s.Labels, ", ")}}
	c.recs = make([]Record, len(s.Records))
	copy(c.recs, s.Records)
	o := DefaultPrepareOptions(dir)
	o.Quiet = true
	if _, err := finish(c, o); err != nil {
		return nil, fmt.Errorf("synthetic: %w", err)
	}
	return Open(dir)
}

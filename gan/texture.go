package gan

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"

	"github.com/vbg-museum/vbg/data"
)

// TextureLibrary holds the reference patches of the style constraint loss:
// per class, square RGB patches (CHW float32 in [-1, 1], the generator's
// range) cut from real images at the generator's scale.
type TextureLibrary struct {
	PatchSize int
	// Patches[c] are class c's patches, each 3·PatchSize² floats.
	Patches [][][]float32
}

// Count returns the number of patches of class c.
func (l *TextureLibrary) Count(c int) int {
	if l == nil || c < 0 || c >= len(l.Patches) {
		return 0
	}
	return len(l.Patches[c])
}

// SamplePatches cuts perClass patches of side patch per class from images
// (each 3·size² floats, CHW, of class labels[i]) at positions drawn from a
// generator seeded by seed: the texture library of "patches sampled from
// real training images of the same class". Classes without images get no
// patches.
func SamplePatches(images [][]float32, labels []int, classes, size, patch, perClass int, seed uint64) (*TextureLibrary, error) {
	if patch < 1 || patch > size {
		return nil, fmt.Errorf("texture patches: patch %d outside [1, %d]", patch, size)
	}
	if len(images) != len(labels) {
		return nil, fmt.Errorf("texture patches: %d images for %d labels", len(images), len(labels))
	}
	byClass := make([][]int, classes)
	for i, c := range labels {
		if c < 0 || c >= classes {
			return nil, fmt.Errorf("texture patches: image %d has label %d of %d classes", i, c, classes)
		}
		if len(images[i]) != 3*size*size {
			return nil, fmt.Errorf("texture patches: image %d has %d values, want 3×%d×%d", i, len(images[i]), size, size)
		}
		byClass[c] = append(byClass[c], i)
	}
	lib := &TextureLibrary{PatchSize: patch, Patches: make([][][]float32, classes)}
	r := rand.New(rand.NewPCG(seed, 0x7465787475726573))
	for c, idx := range byClass {
		if len(idx) == 0 {
			continue
		}
		for k := 0; k < perClass; k++ {
			img := images[idx[r.IntN(len(idx))]]
			x, y := r.IntN(size-patch+1), r.IntN(size-patch+1)
			lib.Patches[c] = append(lib.Patches[c], crop(img, size, x, y, patch))
		}
	}
	return lib, nil
}

// crop cuts a patch×patch window at (x, y) out of a CHW image of side size.
func crop(img []float32, size, x, y, patch int) []float32 {
	out := make([]float32, 3*patch*patch)
	for ch := 0; ch < 3; ch++ {
		for row := 0; row < patch; row++ {
			src := img[ch*size*size+(y+row)*size+x:]
			copy(out[ch*patch*patch+row*patch:ch*patch*patch+(row+1)*patch], src[:patch])
		}
	}
	return out
}

// Slug is a folder-friendly form of a class name: lower case, runs of
// anything but letters and digits turned into one hyphen.
func Slug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

// LoadTextureFolder builds the library from a folder of images: images in
// a sub-folder named like a class (its name or Slug) serve that class, and
// images directly in dir serve every class. Each image is resized to side
// size (center crop) and perClass patches per class are sampled as in
// SamplePatches. Classes the folder does not cover get no patches.
func LoadTextureFolder(dir string, classes []string, size, patch, perClass int, seed uint64) (*TextureLibrary, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("texture folder: %w", err)
	}
	lc := data.DefaultLoaderConfig(false)
	lc.ImageSize, lc.ResizeSize, lc.BaseSize = size, size, size
	lc.Mean, lc.Std = data.HalfMean, data.HalfStd
	var images [][]float32
	var labels []int
	isImage := func(name string) bool {
		switch strings.ToLower(filepath.Ext(name)) {
		case ".png", ".jpg", ".jpeg":
			return true
		}
		return false
	}
	add := func(path string, cls []int) error {
		img, err := data.LoadImage(path, lc)
		if err != nil {
			return fmt.Errorf("texture folder: %w", err)
		}
		for _, c := range cls {
			images = append(images, img)
			labels = append(labels, c)
		}
		return nil
	}
	all := make([]int, len(classes))
	for i := range all {
		all[i] = i
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	for _, e := range entries {
		if !e.IsDir() {
			if isImage(e.Name()) {
				if err := add(filepath.Join(dir, e.Name()), all); err != nil {
					return nil, err
				}
			}
			continue
		}
		c := -1
		for i, name := range classes {
			if e.Name() == name || e.Name() == Slug(name) {
				c = i
			}
		}
		if c < 0 {
			continue
		}
		sub, err := os.ReadDir(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("texture folder: %w", err)
		}
		for _, f := range sub {
			if !f.IsDir() && isImage(f.Name()) {
				if err := add(filepath.Join(dir, e.Name(), f.Name()), []int{c}); err != nil {
					return nil, err
				}
			}
		}
	}
	if len(images) == 0 {
		return nil, fmt.Errorf("texture folder %s: no PNG or JPEG images for any class (put them in the folder or in sub-folders named like the classes)", dir)
	}
	return SamplePatches(images, labels, len(classes), size, patch, perClass, seed)
}

package data

import (
	"bytes"
	"fmt"
	"image/jpeg"
	"os"
	"path/filepath"
	"strconv"

	"github.com/vbg-museum/vbg/atomicfile"
)

// BaseImages describes the shrunk copies of the images that prepare stored in a prepared
// folder (PrepareOptions.BaseSize), as recorded in dataset.json. A loader whose base size
// (LoaderConfig.BaseSize) is at most Size, with the same background, decodes these instead
// of the originals, so a 224-pixel batch never decodes a full-size photo.
type BaseImages struct {
	// Dir is the folder inside the prepared folder that holds them ("base-256").
	Dir string `json:"dir"`
	// Size is the shorter side of every stored image. Images whose shorter side was at most
	// Size are not stored: their records have no Base and the original is read.
	Size int `json:"size"`
	// Format is the file format ("jpeg") and Quality its quality setting (1..100).
	Format  string `json:"format"`
	Quality int    `json:"quality"`
	// Background is the colour transparent pixels were composited over (white).
	Background [3]uint8 `json:"background"`
}

// BaseQuality is the JPEG quality of stored base images: chosen by measurement (bench/README.md,
// data loading): decoding a 256-pixel JPEG of quality 90 with Go's image/jpeg is about 3 times
// faster than decoding the same image as PNG.
const BaseQuality = 90

// baseStore writes base images into a prepared folder.
type baseStore struct {
	out string
	bi  BaseImages
}

func newBaseStore(out string, size int) *baseStore {
	return &baseStore{out: out, bi: BaseImages{Dir: "base-" + strconv.Itoa(size), Size: size, Format: "jpeg",
		Quality: BaseQuality, Background: [3]uint8{255, 255, 255}}}
}

// meta is the store's description for dataset.json.
func (s *baseStore) meta() *BaseImages {
	bi := s.bi
	return &bi
}

// put decodes the image at path (after chk's checks) and, when its shorter side is longer
// than the store's size, writes it shrunk as <Dir>/<rel>.jpg. It returns that name relative
// to the prepared folder, or "" when the original is small enough to be used as it is.
func (s *baseStore) put(chk imageCheck, path, rel string) (string, error) {
	img, err := chk.decode(path)
	if err != nil {
		return "", err
	}
	if b := img.Bounds(); min(b.Dx(), b.Dy()) <= s.bi.Size {
		return "", nil
	}
	base := shrinkTo(toRGB(img, s.bi.Background), s.bi.Size)
	name := s.bi.Dir + "/" + rel + ".jpg"
	file := filepath.Join(s.out, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return "", fmt.Errorf("base image: %w", err)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, base.toRGBA(), &jpeg.Options{Quality: s.bi.Quality}); err != nil {
		return "", fmt.Errorf("base image %s: %w", name, err)
	}
	if err := atomicfile.Write(file, buf.Bytes()); err != nil {
		return "", fmt.Errorf("base image: %w", err)
	}
	return name, nil
}

// usable reports whether a loader with base size baseSize and background bg may read these
// base images instead of the originals.
func (bi *BaseImages) usable(baseSize int, bg [3]uint8) bool {
	return bi != nil && bi.Format == "jpeg" && baseSize > 0 && baseSize <= bi.Size && bi.Background == bg
}

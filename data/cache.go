package data

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"

	"github.com/vbg-museum/vbg/atomicfile"
)

// diskCache stores base images (decoded, shrunk to the base size) as PNG files. The key
// covers the file's absolute path, size and modification time and the base settings, so an
// edited image or a changed setting never reads a stale entry. PNG keeps the cache lossless:
// a cached image gives exactly the pixels a fresh decode gives.
type diskCache struct {
	dir  string
	base int
	bg   [3]uint8
}

func (c *diskCache) key(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("cache key for %s: %w", path, err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return "", &ImageError{Path: path, Kind: BadMissingImage, Err: err}
	}
	h := sha256.New()
	fmt.Fprintf(h, "vbg-cache-1\x00%s\x00%d\x00%d\x00%d\x00%v", abs, st.Size(), st.ModTime().UnixNano(), c.base, c.bg)
	return hex.EncodeToString(h.Sum(nil))[:32], nil
}

// get returns the base image of path, decoding and storing it on a miss. A damaged entry is
// replaced.
func (c *diskCache) get(path string, chk imageCheck) (*rgbImage, error) {
	k, err := c.key(path)
	if err != nil {
		return nil, err
	}
	file := filepath.Join(c.dir, k[:2], k+".png")
	if img, err := (imageCheck{maxPixels: chk.maxPixels}).decode(file); err == nil {
		return toRGB(img, c.bg), nil
	}
	base, err := decodeBase(path, c.base, c.bg, chk)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return nil, fmt.Errorf("image cache: %w", err)
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&buf, base.toRGBA()); err != nil {
		return nil, fmt.Errorf("image cache: encode %s: %w", path, err)
	}
	if err := atomicfile.Write(file, buf.Bytes()); err != nil {
		return nil, fmt.Errorf("image cache: %w", err)
	}
	return base, nil
}

// toRGBA converts to an opaque *image.RGBA (which the PNG encoder stores as 8-bit RGB).
func (m *rgbImage) toRGBA() *image.RGBA {
	out := image.NewRGBA(image.Rect(0, 0, m.W, m.H))
	for i, j := 0, 0; i < len(m.Pix); i, j = i+3, j+4 {
		out.Pix[j], out.Pix[j+1], out.Pix[j+2], out.Pix[j+3] = m.Pix[i], m.Pix[i+1], m.Pix[i+2], 255
	}
	return out
}

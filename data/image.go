package data

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"os"
)

// ImageError is an image that could not be used, with the kind of problem (BadMissingImage,
// BadUnsupportedImage, BadCorruptImage, BadImageTooLarge or BadPathEscapes).
type ImageError struct {
	Path string
	Kind Kind
	Err  error
}

// Error formats the path, the kind and the cause.
func (e *ImageError) Error() string { return fmt.Sprintf("image %s: %s: %v", e.Path, e.Kind, e.Err) }

// Unwrap returns the underlying error.
func (e *ImageError) Unwrap() error { return e.Err }

// sniffFormat reads the first bytes and names the format: "jpeg", "png", another known
// format's name, or "" when unknown.
func sniffFormat(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte{0xff, 0xd8, 0xff}):
		return "jpeg"
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return "png"
	case bytes.HasPrefix(head, []byte("GIF8")):
		return "gif"
	case len(head) >= 12 && bytes.Equal(head[:4], []byte("RIFF")) && bytes.Equal(head[8:12], []byte("WEBP")):
		return "webp"
	case bytes.HasPrefix(head, []byte("BM")):
		return "bmp"
	case bytes.HasPrefix(head, []byte("II*\x00")), bytes.HasPrefix(head, []byte("MM\x00*")):
		return "tiff"
	case len(head) >= 12 && bytes.Equal(head[4:8], []byte("ftyp")):
		return "heif/avif"
	}
	return ""
}

// DefaultMaxImagePixels is the largest image (width × height, read from the file's header
// before anything is decoded) that prepare and the loader accept by default: 89,478,485
// pixels, Pillow's MAX_IMAGE_PIXELS (for example 9459 × 9459). Decoding one costs about 4
// bytes per pixel for the decoded image plus 3 for its RGB copy. Raise it with
// PrepareOptions.MaxImagePixels (`vbg data prepare --max-image-pixels`) and
// LoaderConfig.MaxImagePixels (the experiment key data.max_image_pixels).
const DefaultMaxImagePixels = 89_478_485

// imageCheck is what is checked before an image is decoded.
type imageCheck struct {
	// root, when set, is the resolved folder the file must stay in once its symbolic links
	// are resolved.
	root string
	// maxPixels bounds width × height (0: DefaultMaxImagePixels).
	maxPixels int64
}

// limit is the pixel limit in force.
func (c imageCheck) limit() int64 {
	if c.maxPixels > 0 {
		return c.maxPixels
	}
	return DefaultMaxImagePixels
}

// imageHeader is what an image file's header says.
type imageHeader struct {
	format        string // "jpeg" or "png"
	width, height int
}

// open confines and opens path, checks that it is a regular JPEG or PNG file and reads its
// header: the size is checked against the pixel limit before any pixel is decoded. The
// returned reader is positioned at the start of the file.
func (c imageCheck) open(path string) (*os.File, *bufio.Reader, imageHeader, error) {
	var h imageHeader
	real := path
	if c.root != "" {
		r, err := resolveUnder(c.root, path)
		if err != nil {
			return nil, nil, h, err
		}
		real = r
	}
	f, err := openRegular(real)
	if err != nil {
		kind := BadCorruptImage
		if errors.Is(err, os.ErrNotExist) {
			kind = BadMissingImage
		}
		return nil, nil, h, &ImageError{Path: path, Kind: kind, Err: err}
	}
	fail := func(kind Kind, err error) (*os.File, *bufio.Reader, imageHeader, error) {
		f.Close()
		return nil, nil, h, &ImageError{Path: path, Kind: kind, Err: err}
	}
	br := bufio.NewReaderSize(f, 64<<10)
	head, _ := br.Peek(16)
	h.format = sniffFormat(head)
	switch h.format {
	case "jpeg", "png":
	case "":
		if len(head) == 0 {
			return fail(BadCorruptImage, errors.New("empty file"))
		}
		return fail(BadCorruptImage, errors.New("not an image file (unknown signature; JPEG and PNG are supported)"))
	default:
		return fail(BadUnsupportedImage, fmt.Errorf("%s file; only JPEG and PNG are supported: convert it first", h.format))
	}
	var cfg image.Config
	if h.format == "jpeg" {
		cfg, err = jpeg.DecodeConfig(br)
	} else {
		cfg, err = png.DecodeConfig(br)
	}
	if err != nil {
		return fail(BadCorruptImage, err)
	}
	h.width, h.height = cfg.Width, cfg.Height
	if h.width <= 0 || h.height <= 0 {
		return fail(BadCorruptImage, fmt.Errorf("size %dx%d", h.width, h.height))
	}
	if px := int64(h.width) * int64(h.height); px > c.limit() {
		return fail(BadImageTooLarge, fmt.Errorf("the header says %d×%d = %d pixels, more than the limit of %d "+
			"(raise it with --max-image-pixels or data.max_image_pixels)", h.width, h.height, px, c.limit()))
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fail(BadCorruptImage, err)
	}
	br.Reset(f)
	return f, br, h, nil
}

// check verifies an image file: the header only, or a full decode when full is set.
func (c imageCheck) check(path string, full bool) error {
	if full {
		_, err := c.decode(path)
		return err
	}
	f, _, _, err := c.open(path)
	if err != nil {
		return err
	}
	return f.Close()
}

// decode decodes a JPEG or PNG file after the checks of open.
func (c imageCheck) decode(path string) (image.Image, error) {
	f, br, h, err := c.open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return decodeReader(path, br, h.format)
}

func decodeReader(path string, r io.Reader, format string) (image.Image, error) {
	var img image.Image
	var err error
	if format == "jpeg" {
		img, err = jpeg.Decode(r)
	} else {
		img, err = png.Decode(r)
	}
	if err != nil {
		return nil, &ImageError{Path: path, Kind: BadCorruptImage, Err: err}
	}
	if b := img.Bounds(); b.Dx() <= 0 || b.Dy() <= 0 {
		return nil, &ImageError{Path: path, Kind: BadCorruptImage, Err: fmt.Errorf("size %dx%d", b.Dx(), b.Dy())}
	}
	return img, nil
}

// rgbImage is an 8-bit RGB image, pixels interleaved row by row.
type rgbImage struct {
	W, H int
	Pix  []uint8
}

// toRGB converts any image to RGB, compositing transparency over bg.
func toRGB(img image.Image, bg [3]uint8) *rgbImage {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := &rgbImage{W: w, H: h, Pix: make([]uint8, w*h*3)}
	p := out.Pix
	switch m := img.(type) {
	case *image.YCbCr:
		ycbcrToRGB(m, p)
	case *image.Gray:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			o := y * w * 3
			for _, v := range row {
				p[o], p[o+1], p[o+2] = v, v, v
				o += 3
			}
		}
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			o := y * w * 3
			for x := 0; x < 4*w; x += 4 {
				a := uint32(row[x+3])
				if a == 255 {
					p[o], p[o+1], p[o+2] = row[x], row[x+1], row[x+2]
				} else {
					for c := 0; c < 3; c++ {
						p[o+c] = uint8((uint32(row[x+c])*a + uint32(bg[c])*(255-a) + 127) / 255)
					}
				}
				o += 3
			}
		}
	case *image.RGBA:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			o := y * w * 3
			for x := 0; x < 4*w; x += 4 {
				a := uint32(row[x+3])
				for c := 0; c < 3; c++ {
					p[o+c] = uint8(min(255, uint32(row[x+c])+(uint32(bg[c])*(255-a)+127)/255))
				}
				o += 3
			}
		}
	case *image.Paletted:
		pal := make([][3]uint8, len(m.Palette))
		for i, c := range m.Palette {
			pal[i] = compositeRGB(c, bg)
		}
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			o := y * w * 3
			for _, v := range row {
				var c [3]uint8
				if int(v) < len(pal) {
					c = pal[v]
				}
				p[o], p[o+1], p[o+2] = c[0], c[1], c[2]
				o += 3
			}
		}
	default:
		for y := 0; y < h; y++ {
			o := y * w * 3
			for x := 0; x < w; x++ {
				c := compositeRGB(img.At(b.Min.X+x, b.Min.Y+y), bg)
				p[o], p[o+1], p[o+2] = c[0], c[1], c[2]
				o += 3
			}
		}
	}
	return out
}

// ycbcrToRGB converts a decoded JPEG to interleaved RGB, with the JFIF integer formula
// that image/color.YCbCrToRGB uses (the results are identical). In the common layouts
// (4:4:4, 4:2:2, 4:2:0) each row's chroma samples are read by a running index.
func ycbcrToRGB(m *image.YCbCr, p []uint8) {
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	for y := 0; y < h; y++ {
		yi := m.YOffset(b.Min.X, b.Min.Y+y)
		yrow := m.Y[yi : yi+w]
		out := p[y*w*3 : (y+1)*w*3]
		c0 := m.COffset(b.Min.X, b.Min.Y+y)
		switch m.SubsampleRatio {
		case image.YCbCrSubsampleRatio444:
			yccRow(yrow, m.Cb[c0:c0+w], m.Cr[c0:c0+w], 0, 0, out)
		case image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420:
			odd := b.Min.X & 1
			n := (w + odd + 1) / 2
			yccRow(yrow, m.Cb[c0:c0+n], m.Cr[c0:c0+n], odd, 1, out)
		default:
			for x := range yrow {
				ci := m.COffset(b.Min.X+x, b.Min.Y+y)
				yccRow(yrow[x:x+1], m.Cb[ci:ci+1], m.Cr[ci:ci+1], 0, 0, out[3*x:3*x+3])
			}
		}
	}
}

// yccRow converts one row: pixel x takes chroma sample (x+odd)>>shift.
func yccRow(yrow, cbs, crs []uint8, odd int, shift uint, out []uint8) {
	out = out[:3*len(yrow)]
	for x, yv := range yrow {
		ci := (x + odd) >> shift
		yy := int32(yv) * 0x10101
		cb := int32(cbs[ci]) - 128
		cr := int32(crs[ci]) - 128
		o := out[3*x : 3*x+3 : 3*x+3]
		o[0] = clamp16(yy + 91881*cr)
		o[1] = clamp16(yy - 22554*cb - 46802*cr)
		o[2] = clamp16(yy + 116130*cb)
	}
}

// clamp16 is v>>16 clamped to [0, 255].
func clamp16(v int32) uint8 {
	if uint32(v)&0xff000000 == 0 {
		return uint8(v >> 16)
	}
	return uint8(^(v >> 31))
}

// compositeRGB converts one color to 8-bit RGB over the background.
func compositeRGB(c color.Color, bg [3]uint8) [3]uint8 {
	r, g, b, a := c.RGBA() // premultiplied, 16 bit
	inv := 0xffff - a
	var out [3]uint8
	for i, v := range [3]uint32{r, g, b} {
		v16 := v + (uint32(bg[i])*0x101*inv+0x7fff)/0xffff
		out[i] = uint8(min(v16, 0xffff) >> 8)
	}
	return out
}

// kernel holds resampling weights: output i reads count[i] input samples from start[i],
// with weights w[i*taps:].
type kernel struct {
	start, count []int
	taps         int
	w            []float32 // len(start)*taps, zero-padded
}

// newKernel maps the input interval [off, off+span) onto out samples with a triangle
// (bilinear) filter widened by the scale when shrinking, so downscaling averages every input
// pixel (antialiasing) and upscaling interpolates linearly. Samples outside [0, in) are
// clamped away and the weights renormalised.
func newKernel(in, out int, off, span float64) kernel {
	scale := span / float64(out)
	support := max(scale, 1)
	taps := int(2*support) + 3
	k := kernel{start: make([]int, out), count: make([]int, out), taps: taps, w: make([]float32, out*taps)}
	for i := 0; i < out; i++ {
		center := off + (float64(i)+0.5)*scale
		lo := max(int(center-support-0.5), 0)
		hi := min(int(center+support+0.5)+1, in)
		if hi-lo > taps {
			hi = lo + taps
		}
		if lo >= hi { // centre outside the image: use the nearest edge pixel
			lo = min(max(int(center), 0), in-1)
			hi = lo + 1
		}
		k.start[i] = lo
		ws := k.w[i*taps : i*taps+taps]
		sum := 0.0
		for j := lo; j < hi; j++ {
			d := (float64(j) + 0.5 - center) / support
			if d < 0 {
				d = -d
			}
			if d < 1 {
				ws[j-lo] = float32(1 - d)
				sum += 1 - d
			}
		}
		if sum == 0 {
			ws[0] = 1
			sum = 1
		}
		for j := range ws {
			ws[j] = float32(float64(ws[j]) / sum)
		}
		// Trim zero weights at both ends.
		first, last := 0, len(ws)-1
		for last > 0 && ws[last] == 0 {
			last--
		}
		for first < last && ws[first] == 0 {
			first++
		}
		copy(ws, ws[first:last+1])
		clear(ws[last+1-first:])
		k.start[i] = lo + first
		k.count[i] = last + 1 - first
	}
	return k
}

// rect is a region of an image in pixel coordinates.
type rect struct{ x, y, w, h float64 }

// resample resizes the region r of src to outW x outH and returns RGB float32 values in
// [0, 255], interleaved. The horizontal pass (horizontalPass) only runs over the rows the
// vertical pass needs.
func resample(src *rgbImage, r rect, outW, outH int) []float32 {
	kx := newKernel(src.W, outW, r.x, r.w)
	ky := newKernel(src.H, outH, r.y, r.h)
	tmp, y0 := horizontalPass(src, kx, ky)
	defer scratch.Put(tmp)
	rowLen := outW * 3
	out := make([]float32, outH*rowLen)
	for j := 0; j < outH; j++ {
		s := ky.start[j] - y0
		ws := ky.w[j*ky.taps : j*ky.taps+ky.count[j]]
		o := out[j*rowLen : (j+1)*rowLen]
		for t, wt := range ws {
			in := (*tmp)[(s+t)*rowLen : (s+t+1)*rowLen]
			in = in[:len(o)]
			for x := range o {
				o[x] += wt * in[x]
			}
		}
	}
	return out
}

// shrinkTo downscales src so that its shorter side is at most side pixels (antialiased);
// smaller images are returned unchanged.
func shrinkTo(src *rgbImage, side int) *rgbImage {
	short := min(src.W, src.H)
	if side <= 0 || short <= side {
		return src
	}
	scale := float64(side) / float64(short)
	w := max(1, int(float64(src.W)*scale+0.5))
	h := max(1, int(float64(src.H)*scale+0.5))
	if src.W <= src.H {
		w = side
	} else {
		h = side
	}
	f := resample(src, rect{0, 0, float64(src.W), float64(src.H)}, w, h)
	out := &rgbImage{W: w, H: h, Pix: make([]uint8, len(f))}
	for i, v := range f {
		out.Pix[i] = uint8(min(max(v+0.5, 0), 255))
	}
	return out
}

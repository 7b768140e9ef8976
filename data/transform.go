package data

import (
	"fmt"
	"math"
	"sync"
)

// Normalisation constants.
var (
	// ImageNetMean and ImageNetStd are the usual ImageNet statistics (RGB, 0..1 scale).
	ImageNetMean = [3]float32{0.485, 0.456, 0.406}
	ImageNetStd  = [3]float32{0.229, 0.224, 0.225}
	// HalfMean and HalfStd map 0..1 to -1..1, as Hugging Face ViT checkpoints expect.
	HalfMean = [3]float32{0.5, 0.5, 0.5}
	HalfStd  = [3]float32{0.5, 0.5, 0.5}
)

// Augment configures train-time augmentation. The zero value does none.
type Augment struct {
	// RandomResizedCrop crops a random region of Scale (share of the area) and Ratio
	// (width/height) and resizes it to the output size, as torchvision does.
	RandomResizedCrop bool
	Scale             [2]float64
	Ratio             [2]float64
	// HFlip mirrors half of the images left to right.
	HFlip bool
}

// DefaultAugment is the usual ImageNet recipe: random resized crop (scale 0.08–1, ratio
// 3/4–4/3) and horizontal flip.
func DefaultAugment() Augment {
	return Augment{RandomResizedCrop: true, Scale: [2]float64{0.08, 1}, Ratio: [2]float64{3.0 / 4, 4.0 / 3}, HFlip: true}
}

// imageTransform turns a base image into a normalised float32 CHW buffer.
type imageTransform struct {
	size, resize, base int
	scale, shift       [3]float32 // out = v*scale + shift, v in 0..255
	bg                 [3]uint8
	aug                Augment
}

func newTransform(c LoaderConfig) (*imageTransform, error) {
	t := &imageTransform{size: c.ImageSize, resize: c.ResizeSize, base: c.BaseSize, aug: c.Augment}
	if t.size <= 0 || t.size > MaxImageSize {
		return nil, fmt.Errorf("image size %d: must be in [1, %d]", t.size, MaxImageSize)
	}
	if t.resize < t.size || t.resize > 4*MaxImageSize {
		return nil, fmt.Errorf("resize size %d: must be in [image size %d, %d]", t.resize, t.size, 4*MaxImageSize)
	}
	for i := 0; i < 3; i++ {
		if c.Std[i] <= 0 {
			return nil, fmt.Errorf("std %v: must be positive", c.Std)
		}
		t.scale[i] = 1 / (255 * c.Std[i])
		t.shift[i] = -c.Mean[i] / c.Std[i]
	}
	if c.Background != nil {
		t.bg = compositeRGB(c.Background, [3]uint8{})
	} else {
		t.bg = [3]uint8{255, 255, 255}
	}
	if t.aug.RandomResizedCrop {
		s, r := t.aug.Scale, t.aug.Ratio
		if !(s[0] > 0 && s[0] <= s[1] && s[1] <= 1) {
			return nil, fmt.Errorf("augment scale %v: need 0 < min <= max <= 1", s)
		}
		if !(r[0] > 0 && r[0] <= r[1]) {
			return nil, fmt.Errorf("augment ratio %v: need 0 < min <= max", r)
		}
	}
	return t, nil
}

// centerRect is the region that "resize the shorter side to resize, then centre-crop size"
// selects, in the base image's coordinates.
func (t *imageTransform) centerRect(w, h int) rect {
	s := float64(min(w, h)) / float64(t.resize) // base pixels per resized pixel
	side := float64(t.size) * s
	cw, ch := min(side, float64(w)), min(side, float64(h))
	return rect{(float64(w) - cw) / 2, (float64(h) - ch) / 2, cw, ch}
}

// randomRect samples a random resized crop region (torchvision's algorithm: ten tries of a
// random area and log-uniform aspect ratio, then a centre crop of clamped ratio).
func (t *imageTransform) randomRect(w, h int, r *rng) rect {
	area := float64(w * h)
	s, q := t.aug.Scale, t.aug.Ratio
	logLo, logHi := math.Log(q[0]), math.Log(q[1])
	for try := 0; try < 10; try++ {
		target := area * (s[0] + (s[1]-s[0])*r.float64())
		ratio := math.Exp(logLo + (logHi-logLo)*r.float64())
		cw := math.Round(math.Sqrt(target * ratio))
		ch := math.Round(math.Sqrt(target / ratio))
		if cw >= 1 && ch >= 1 && cw <= float64(w) && ch <= float64(h) {
			x := float64(r.intn(w - int(cw) + 1))
			y := float64(r.intn(h - int(ch) + 1))
			return rect{x, y, cw, ch}
		}
	}
	ratio := float64(w) / float64(h)
	cw, ch := float64(w), float64(h)
	if ratio < q[0] {
		ch = math.Round(cw / q[0])
	} else if ratio > q[1] {
		cw = math.Round(ch * q[1])
	}
	return rect{(float64(w) - cw) / 2, (float64(h) - ch) / 2, cw, ch}
}

// apply writes the transformed image into dst (3*size*size floats, CHW). With train set and
// r non-nil the augmentation is applied using r.
func (t *imageTransform) apply(base *rgbImage, train bool, r *rng, dst []float32) {
	region := t.centerRect(base.W, base.H)
	flip := false
	if train && r != nil {
		if t.aug.RandomResizedCrop {
			region = t.randomRect(base.W, base.H, r)
		}
		if t.aug.HFlip {
			flip = r.next()&1 == 1
		}
	}
	t.resampleCHW(base, region, flip, dst)
}

// resampleCHW is resample of the region to size x size followed by the normalisation, the
// optional mirror and the change to CHW layout, in one pass over the output: the vertical
// pass of the filter writes normalised values straight into dst. The arithmetic is that of
// resample, operation for operation, so the values are identical.
func (t *imageTransform) resampleCHW(src *rgbImage, r rect, flip bool, dst []float32) {
	size := t.size
	kx := newKernel(src.W, size, r.x, r.w)
	ky := newKernel(src.H, size, r.y, r.h)
	tmp, y0 := horizontalPass(src, kx, ky)
	defer scratch.Put(tmp)
	rowLen := size * 3
	n := size * size
	rc, gc, bc := dst[:n], dst[n:2*n], dst[2*n:3*n]
	for j := 0; j < size; j++ {
		s := ky.start[j] - y0
		ws := ky.w[j*ky.taps : j*ky.taps+ky.count[j]]
		rows := (*tmp)[s*rowLen : (s+len(ws))*rowLen]
		orow := j * size
		for x := 0; x < size; x++ {
			var vr, vg, vb float32
			for k, wt := range ws {
				in := rows[k*rowLen+3*x : k*rowLen+3*x+3 : k*rowLen+3*x+3]
				vr += wt * in[0]
				vg += wt * in[1]
				vb += wt * in[2]
			}
			o := orow + x
			if flip {
				o = orow + size - 1 - x
			}
			rc[o] = vr*t.scale[0] + t.shift[0]
			gc[o] = vg*t.scale[1] + t.shift[1]
			bc[o] = vb*t.scale[2] + t.shift[2]
		}
	}
}

// scratch holds the horizontal passes' buffers between images.
var scratch sync.Pool

// horizontalPass filters the rows of src that ky needs with kx: interleaved RGB float32
// rows of kx's output width, the first being source row y0. The buffer comes from scratch.
func horizontalPass(src *rgbImage, kx, ky kernel) (*[]float32, int) {
	outW := len(kx.start)
	y0, y1 := src.H, 0
	for i, s := range ky.start {
		y0 = min(y0, s)
		y1 = max(y1, s+ky.count[i])
	}
	rows := y1 - y0
	rowLen := outW * 3
	tmp, _ := scratch.Get().(*[]float32)
	if tmp == nil {
		tmp = new([]float32)
	}
	if cap(*tmp) < rows*rowLen {
		*tmp = make([]float32, rows*rowLen)
	}
	*tmp = (*tmp)[:rows*rowLen]
	for y := 0; y < rows; y++ {
		in := src.Pix[(y0+y)*src.W*3 : (y0+y+1)*src.W*3]
		o := (*tmp)[y*rowLen : (y+1)*rowLen]
		for i := 0; i < outW; i++ {
			n := kx.count[i]
			ws := kx.w[i*kx.taps : i*kx.taps+n]
			px := in[kx.start[i]*3 : (kx.start[i]+n)*3]
			var r, g, b float32
			for t, wt := range ws {
				q := px[3*t : 3*t+3 : 3*t+3]
				r += wt * float32(q[0])
				g += wt * float32(q[1])
				b += wt * float32(q[2])
			}
			o[3*i], o[3*i+1], o[3*i+2] = r, g, b
		}
	}
	return tmp, y0
}

package data

import (
	"bytes"
	"image"
	"math"
	"slices"
	"testing"
)

// Reference implementations: the loader's conversions as they were before they were
// optimised (PR for issue 11 item 6). TestOptimisedBitIdentical checks that the optimised
// code gives exactly these results, so training numbers do not change.

func refYCbCrToRGB(m *image.YCbCr, p []uint8) {
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	clamp := func(v int32) uint8 {
		if uint32(v)&0xff000000 == 0 {
			return uint8(v >> 16)
		}
		return uint8(^(v >> 31))
	}
	for y := 0; y < h; y++ {
		yrow := m.Y[m.YOffset(b.Min.X, b.Min.Y+y):]
		c0 := m.COffset(b.Min.X, b.Min.Y+y)
		out := p[y*w*3 : (y+1)*w*3]
		for x := 0; x < w; x++ {
			var ci int
			switch m.SubsampleRatio {
			case image.YCbCrSubsampleRatio444:
				ci = c0 + x
			case image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420:
				ci = c0 + (b.Min.X+x)/2 - b.Min.X/2
			default:
				ci = m.COffset(b.Min.X+x, b.Min.Y+y)
			}
			yy := int32(yrow[x]) * 0x10101
			cb := int32(m.Cb[ci]) - 128
			cr := int32(m.Cr[ci]) - 128
			out[3*x] = clamp(yy + 91881*cr)
			out[3*x+1] = clamp(yy - 22554*cb - 46802*cr)
			out[3*x+2] = clamp(yy + 116130*cb)
		}
	}
}

func refResample(src *rgbImage, r rect, outW, outH int) []float32 {
	kx := newKernel(src.W, outW, r.x, r.w)
	ky := newKernel(src.H, outH, r.y, r.h)
	y0, y1 := src.H, 0
	for i, s := range ky.start {
		y0 = min(y0, s)
		y1 = max(y1, s+ky.count[i])
	}
	rows := y1 - y0
	rowLen := outW * 3
	tmp := make([]float32, rows*rowLen)
	for y := 0; y < rows; y++ {
		in := src.Pix[(y0+y)*src.W*3 : (y0+y+1)*src.W*3]
		o := tmp[y*rowLen : (y+1)*rowLen]
		for i := 0; i < outW; i++ {
			n := kx.count[i]
			ws := kx.w[i*kx.taps : i*kx.taps+n]
			px := in[kx.start[i]*3 : (kx.start[i]+n)*3]
			var r, g, b float32
			for t, wt := range ws {
				q := px[3*t : 3*t+3]
				r += wt * float32(q[0])
				g += wt * float32(q[1])
				b += wt * float32(q[2])
			}
			o[3*i], o[3*i+1], o[3*i+2] = r, g, b
		}
	}
	out := make([]float32, outH*rowLen)
	for j := 0; j < outH; j++ {
		s := ky.start[j] - y0
		ws := ky.w[j*ky.taps : j*ky.taps+ky.count[j]]
		o := out[j*rowLen : (j+1)*rowLen]
		for t, wt := range ws {
			in := tmp[(s+t)*rowLen : (s+t+1)*rowLen]
			in = in[:len(o)]
			for x := range o {
				o[x] += wt * in[x]
			}
		}
	}
	return out
}

func (t *imageTransform) refApply(base *rgbImage, train bool, r *rng, dst []float32) {
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
	px := refResample(base, region, t.size, t.size)
	n := t.size * t.size
	for y := 0; y < t.size; y++ {
		for x := 0; x < t.size; x++ {
			sx := x
			if flip {
				sx = t.size - 1 - x
			}
			s := (y*t.size + sx) * 3
			o := y*t.size + x
			dst[o] = px[s]*t.scale[0] + t.shift[0]
			dst[n+o] = px[s+1]*t.scale[1] + t.shift[1]
			dst[2*n+o] = px[s+2]*t.scale[2] + t.shift[2]
		}
	}
}

// TestOptimisedBitIdentical: the optimised YCbCr conversion, resampling and transform give
// exactly the values of the reference implementations, for JPEGs of every chroma layout
// (also cropped at odd offsets), training crops and flips, and evaluation crops.
func TestOptimisedBitIdentical(t *testing.T) {
	var imgs []*image.YCbCr
	for _, ratio := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422,
		image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411} {
		m := image.NewYCbCr(image.Rect(0, 0, 53, 37), ratio)
		r := newRNG(uint64(ratio))
		for i := range m.Y {
			m.Y[i] = uint8(r.intn(256))
		}
		for i := range m.Cb {
			m.Cb[i], m.Cr[i] = uint8(r.intn(256)), uint8(r.intn(256))
		}
		imgs = append(imgs, m, m.SubImage(image.Rect(3, 5, 50, 31)).(*image.YCbCr))
	}
	var bases []*rgbImage
	for _, m := range imgs {
		got := toRGB(m, [3]uint8{})
		want := make([]uint8, len(got.Pix))
		refYCbCrToRGB(m, want)
		if !bytes.Equal(got.Pix, want) {
			t.Fatalf("%v %v: YCbCr conversion differs", m.SubsampleRatio, m.Rect)
		}
		bases = append(bases, got)
	}
	bases = append(bases, toRGB(benchPhoto(300, 200, 1), [3]uint8{255, 255, 255}), toRGB(benchPhoto(7, 9, 2), [3]uint8{}))
	for _, size := range []int{8, 28} {
		cfg := DefaultLoaderConfig(true)
		cfg.ImageSize, cfg.ResizeSize = size, size*8/7
		tf, err := newTransform(cfg)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]float32, 3*size*size)
		want := make([]float32, 3*size*size)
		for bi, base := range bases {
			for s := uint64(0); s < 30; s++ {
				train := s%3 != 0
				tf.apply(base, train, newRNG(s), got)
				tf.refApply(base, train, newRNG(s), want)
				for k := range got {
					if math.Float32bits(got[k]) != math.Float32bits(want[k]) {
						t.Fatalf("size %d base %d seed %d: value %d is %v, want %v", size, bi, s, k, got[k], want[k])
					}
				}
			}
			r := rect{1.5, 0.25, float64(base.W) - 2, float64(base.H) - 0.5}
			if a, b := resample(base, r, size, size+3), refResample(base, r, size, size+3); !slices.Equal(a, b) {
				t.Fatalf("base %d: resample differs", bi)
			}
		}
	}
}

package data

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"math"
	"path/filepath"
	"testing"
)

func TestDecodeFormats(t *testing.T) {
	dir := t.TempDir()
	var gifBuf bytes.Buffer
	if err := gif.Encode(&gifBuf, testImage(8, 8, 1), nil); err != nil {
		t.Fatal(err)
	}
	jpg := encodeJPEG(t, testImage(200, 150, 1))
	tests := []struct {
		name string
		file string
		data []byte
		kind Kind // "" = decodes
		full bool // only found by a full decode
	}{
		{"jpeg", "a.jpg", jpg, "", false},
		{"png", "a.png", encodePNG(t, testImage(40, 30, 2)), "", false},
		{"png named jpg", "b.jpg", encodePNG(t, testImage(4, 4, 2)), "", false},
		{"gif", "c.gif", gifBuf.Bytes(), BadUnsupportedImage, false},
		{"webp", "d.webp", []byte("RIFF\x00\x00\x00\x00WEBPVP8 "), BadUnsupportedImage, false},
		{"text", "e.jpg", []byte("hello, not an image"), BadCorruptImage, false},
		{"empty", "f.png", nil, BadCorruptImage, false},
		{"bad jpeg header", "g.jpg", []byte{0xff, 0xd8, 0xff, 0x00, 0x01}, BadCorruptImage, false},
		{"truncated jpeg", "h.jpg", jpg[:len(jpg)/2], BadCorruptImage, true},
		{"missing", "", nil, BadMissingImage, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "missing.png")
			if tc.file != "" {
				path = writeFile(t, filepath.Join(dir, tc.file), tc.data)
			}
			for _, full := range []bool{false, true} {
				err := imageCheck{}.check(path, full)
				want := tc.kind
				if tc.full && !full {
					want = ""
				}
				if want == "" {
					if err != nil {
						t.Fatalf("full=%v: %v", full, err)
					}
					continue
				}
				var ie *ImageError
				if !errors.As(err, &ie) || ie.Kind != want {
					t.Fatalf("full=%v: got %v, want kind %s", full, err, want)
				}
			}
		})
	}
	// The message names the format and the fix.
	err := imageCheck{}.check(filepath.Join(dir, "c.gif"), false)
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("gif file; only JPEG and PNG")) {
		t.Errorf("gif error: %v", err)
	}
}

func TestToRGB(t *testing.T) {
	bg := [3]uint8{255, 255, 255}
	nrgba := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	nrgba.SetNRGBA(0, 0, color.NRGBA{200, 100, 0, 255})
	nrgba.SetNRGBA(1, 0, color.NRGBA{0, 0, 0, 0}) // transparent -> background
	gray := image.NewGray(image.Rect(0, 0, 1, 1))
	gray.SetGray(0, 0, color.Gray{77})
	rgba := image.NewRGBA(image.Rect(0, 0, 1, 1))
	rgba.SetRGBA(0, 0, color.RGBA{50, 0, 0, 128}) // premultiplied half-transparent
	pal := image.NewPaletted(image.Rect(0, 0, 1, 1), color.Palette{color.NRGBA{10, 20, 30, 255}})
	g16 := image.NewGray16(image.Rect(0, 0, 1, 1))
	g16.SetGray16(0, 0, color.Gray16{0x8080})
	tests := []struct {
		name string
		img  image.Image
		want []uint8
	}{
		{"nrgba", nrgba, []uint8{200, 100, 0, 255, 255, 255}},
		{"gray", gray, []uint8{77, 77, 77}},
		{"rgba", rgba, []uint8{177, 127, 127}},
		{"paletted", pal, []uint8{10, 20, 30}},
		{"gray16", g16, []uint8{128, 128, 128}},
	}
	for _, tc := range tests {
		got := toRGB(tc.img, bg)
		if !bytes.Equal(got.Pix, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got.Pix, tc.want)
		}
	}
	// YCbCr from a real JPEG matches the generic path.
	img, err := decodeReader("x", bytes.NewReader(encodeJPEG(t, testImage(17, 9, 3))), "jpeg")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := img.(*image.YCbCr); !ok {
		t.Fatalf("jpeg decoded to %T", img)
	}
	fast := toRGB(img, bg)
	slow := toRGB(struct{ image.Image }{img}, bg)
	if !bytes.Equal(fast.Pix, slow.Pix) {
		t.Error("YCbCr fast path differs from the generic path")
	}
	for _, ratio := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422,
		image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411} {
		m := image.NewYCbCr(image.Rect(0, 0, 13, 7), ratio)
		r := newRNG(uint64(ratio))
		for _, p := range [][]uint8{m.Y, m.Cb, m.Cr} {
			for i := range p {
				p[i] = uint8(r.next())
			}
		}
		if !bytes.Equal(toRGB(m, bg).Pix, toRGB(struct{ image.Image }{m}, bg).Pix) {
			t.Errorf("YCbCr %v: fast path differs from the generic path", ratio)
		}
	}
}

func TestResample(t *testing.T) {
	// A constant image stays constant under any resize.
	src := &rgbImage{W: 37, H: 23, Pix: bytes.Repeat([]uint8{10, 120, 250}, 37*23)}
	for _, sz := range [][2]int{{5, 3}, {37, 23}, {100, 64}, {1, 1}} {
		out := resample(src, rect{0, 0, 37, 23}, sz[0], sz[1])
		for i, v := range out {
			want := float32([]uint8{10, 120, 250}[i%3])
			if math.Abs(float64(v-want)) > 1e-3 {
				t.Fatalf("size %v: value %d = %v, want %v", sz, i, v, want)
			}
		}
	}
	// Downscaling a 1-pixel checkerboard by 4 averages it (antialiasing).
	cb := &rgbImage{W: 64, H: 64, Pix: make([]uint8, 64*64*3)}
	for y := 0; y < 64; y++ {
		for x := 0; x < 64; x++ {
			if (x+y)%2 == 0 {
				cb.Pix[(y*64+x)*3], cb.Pix[(y*64+x)*3+1], cb.Pix[(y*64+x)*3+2] = 255, 255, 255
			}
		}
	}
	out := resample(cb, rect{0, 0, 64, 64}, 16, 16)
	for i, v := range out {
		if math.Abs(float64(v)-127.5) > 8 {
			t.Fatalf("checkerboard downscale: value %d = %v, want about 127.5", i, v)
		}
	}
	// Identity resize keeps pixels exactly.
	grad := toRGB(testImage(20, 10, 1), [3]uint8{})
	same := resample(grad, rect{0, 0, 20, 10}, 20, 10)
	for i, v := range same {
		if math.Abs(float64(v)-float64(grad.Pix[i])) > 1e-3 {
			t.Fatalf("identity: value %d = %v, want %d", i, v, grad.Pix[i])
		}
	}
	// shrinkTo keeps the aspect ratio and the shorter side.
	big := toRGB(testImage(400, 300, 1), [3]uint8{})
	small := shrinkTo(big, 60)
	if small.W != 80 || small.H != 60 {
		t.Errorf("shrinkTo: %dx%d, want 80x60", small.W, small.H)
	}
	if shrinkTo(small, 100) != small {
		t.Error("shrinkTo enlarged a small image")
	}
}

func TestTransform(t *testing.T) {
	cfg := DefaultLoaderConfig(false)
	cfg.ImageSize, cfg.ResizeSize = 8, 8
	cfg.Mean, cfg.Std = HalfMean, HalfStd
	tf, err := newTransform(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Left half black, right half white: normalised to -1 and +1, CHW.
	src := &rgbImage{W: 8, H: 8, Pix: make([]uint8, 8*8*3)}
	for y := 0; y < 8; y++ {
		for x := 4; x < 8; x++ {
			i := (y*8 + x) * 3
			src.Pix[i], src.Pix[i+1], src.Pix[i+2] = 255, 255, 255
		}
	}
	dst := make([]float32, 3*64)
	tf.apply(src, false, nil, dst)
	for c := 0; c < 3; c++ {
		if dst[c*64] != -1 || dst[c*64+7] != 1 {
			t.Fatalf("channel %d: left %v right %v, want -1 and 1", c, dst[c*64], dst[c*64+7])
		}
	}
	// A flip (train, HFlip only) mirrors; which samples flip is fixed by the generator.
	tf.aug = Augment{HFlip: true}
	flips := 0
	for s := uint64(0); s < 40; s++ {
		tf.apply(src, true, newRNG(s), dst)
		if dst[0] == 1 {
			flips++
		}
	}
	if flips < 10 || flips > 30 {
		t.Errorf("%d of 40 flipped", flips)
	}
	// Centre crop region: resize the shorter side to 256, crop 224.
	tf2, _ := newTransform(evalConfig(224))
	r := tf2.centerRect(512, 1024)
	if math.Abs(r.w-448) > 1e-9 || math.Abs(r.h-448) > 1e-9 || math.Abs(r.x-32) > 1e-9 || math.Abs(r.y-288) > 1e-9 {
		t.Errorf("centre rect %+v", r)
	}
	// Random resized crops stay inside the image and respect the area range.
	tf2.aug = DefaultAugment()
	rg := newRNG(3)
	for i := 0; i < 500; i++ {
		r := tf2.randomRect(300, 200, rg)
		if r.x < 0 || r.y < 0 || r.x+r.w > 300 || r.y+r.h > 200 || r.w < 1 || r.h < 1 {
			t.Fatalf("crop %+v outside 300x200", r)
		}
	}
	for _, bad := range []LoaderConfig{{ImageSize: 0, ResizeSize: 1, Std: HalfStd}, {ImageSize: 8, ResizeSize: 4, Std: HalfStd}, {ImageSize: 8, ResizeSize: 8}} {
		if _, err := newTransform(bad); err == nil {
			t.Errorf("config %+v: no error", bad)
		}
	}
}

// evalConfig is the evaluation config with ResizeSize filled in as NewLoader does.
func evalConfig(size int) LoaderConfig {
	c := DefaultLoaderConfig(false)
	c.ImageSize, c.ResizeSize = size, size*8/7
	return c
}

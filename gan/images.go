package gan

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/vbg-museum/vbg/atomicfile"
)

// Quotas splits total generated pairs over classes in proportion to
// (1/n_c)^power, n_c the class's real training count (power 1: inverse
// frequency, so scarce classes get the most; 0: uniform). Classes with no
// real example get nothing. The split uses the largest remainder (ties to
// the lower class id), so the quotas always sum to total.
func Quotas(counts []int, total int, power float64) []int {
	out := make([]int, len(counts))
	w := make([]float64, len(counts))
	var sum float64
	for c, n := range counts {
		if n > 0 {
			w[c] = math.Pow(1/float64(n), power)
			sum += w[c]
		}
	}
	if sum == 0 || total <= 0 {
		return out
	}
	type rem struct {
		c int
		r float64
	}
	var rems []rem
	given := 0
	for c := range counts {
		exact := float64(total) * w[c] / sum
		out[c] = int(math.Floor(exact))
		given += out[c]
		if w[c] > 0 {
			rems = append(rems, rem{c, exact - float64(out[c])})
		}
	}
	for i := 1; i < len(rems); i++ { // insertion sort: largest remainder first, stable by class
		for j := i; j > 0 && rems[j].r > rems[j-1].r; j-- {
			rems[j], rems[j-1] = rems[j-1], rems[j]
		}
	}
	for i := 0; given < total; i = (i + 1) % len(rems) {
		out[rems[i].c]++
		given++
	}
	return out
}

// ToImage converts a CHW float32 image in [-1, 1] of side size to RGBA.
func ToImage(chw []float32, size int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	plane := size * size
	to8 := func(v float32) uint8 {
		x := math.Round(float64(v+1) * 127.5)
		return uint8(math.Max(0, math.Min(255, x)))
	}
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			i := y*size + x
			img.SetNRGBA(x, y, color.NRGBA{to8(chw[i]), to8(chw[plane+i]), to8(chw[2*plane+i]), 255})
		}
	}
	return img
}

// WritePNG writes an image to path (atomically, see package atomicfile),
// creating its folder.
func WritePNG(path string, img image.Image) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write png: %w", err)
	}
	if err := atomicfile.WriteWith(path, func(w io.Writer) error { return png.Encode(w, img) }); err != nil {
		return fmt.Errorf("png: %w", err)
	}
	return nil
}

// GridCell is one image of a grid with the text printed under it.
type GridCell struct {
	Image   image.Image
	Caption string
}

// GridOptions lay out a grid.
type GridOptions struct {
	Cols      int // columns; 0 = about the square root of the cell count
	CellSize  int // image side in the grid (nearest-neighbour scaled); 0 = 96
	TextLines int // caption lines under each image; 0 = 3
	Title     string
}

// WriteGrid writes cells as a PNG grid with each caption under its image,
// in golang.org/x/image's 7×13 basic font, wrapped at word boundaries to
// the cell width and cut with "~" after TextLines lines (the font is ASCII).
func WriteGrid(path string, cells []GridCell, o GridOptions) error {
	if len(cells) == 0 {
		return fmt.Errorf("grid %s: no images", path)
	}
	if o.CellSize <= 0 {
		o.CellSize = 96
	}
	if o.TextLines <= 0 {
		o.TextLines = 3
	}
	if o.Cols <= 0 {
		o.Cols = int(math.Ceil(math.Sqrt(float64(len(cells)))))
	}
	face := basicfont.Face7x13
	const pad, lineH, charW = 4, 13, 7
	cellW := max(o.CellSize, 14*charW)
	cellH := o.CellSize + o.TextLines*lineH + 2*pad
	titleH := 0
	if o.Title != "" {
		titleH = lineH + 2*pad
	}
	rows := (len(cells) + o.Cols - 1) / o.Cols
	img := image.NewRGBA(image.Rect(0, 0, o.Cols*(cellW+pad)+pad, titleH+rows*(cellH+pad)+pad))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	d := &font.Drawer{Dst: img, Src: image.Black, Face: face}
	if o.Title != "" {
		d.Dot = fixed.P(pad, pad+lineH-2)
		d.DrawString(o.Title)
	}
	maxChars := cellW / charW
	for i, c := range cells {
		x0 := pad + (i%o.Cols)*(cellW+pad)
		y0 := titleH + pad + (i/o.Cols)*(cellH+pad)
		off := (cellW - o.CellSize) / 2
		scaleInto(img, image.Rect(x0+off, y0, x0+off+o.CellSize, y0+o.CellSize), c.Image)
		for l, line := range wrap(c.Caption, maxChars, o.TextLines) {
			d.Dot = fixed.P(x0, y0+o.CellSize+pad+(l+1)*lineH-2)
			d.DrawString(line)
		}
	}
	return WritePNG(path, img)
}

// scaleInto draws src into r of dst by nearest-neighbour scaling.
func scaleInto(dst draw.Image, r image.Rectangle, src image.Image) {
	sb := src.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		sy := sb.Min.Y + (y-r.Min.Y)*sb.Dy()/r.Dy()
		for x := r.Min.X; x < r.Max.X; x++ {
			sx := sb.Min.X + (x-r.Min.X)*sb.Dx()/r.Dx()
			dst.Set(x, y, src.At(sx, sy))
		}
	}
}

// wrap breaks text into at most lines lines of at most width characters,
// at spaces where it can, ending with "~" when text is cut.
func wrap(text string, width, lines int) []string {
	if width < 2 {
		width = 2
	}
	var out []string
	words := strings.Fields(text)
	cur := ""
	for len(words) > 0 {
		w := words[0]
		switch {
		case cur == "" && len([]rune(w)) > width:
			r := []rune(w)
			cur, words[0] = string(r[:width]), string(r[width:])
		case cur == "":
			cur, words = w, words[1:]
			continue
		case len([]rune(cur))+1+len([]rune(w)) <= width:
			cur, words = cur+" "+w, words[1:]
			continue
		}
		out = append(out, cur)
		cur = ""
		if len(out) == lines {
			break
		}
	}
	if cur != "" && len(out) < lines {
		out = append(out, cur)
		cur = ""
	}
	if (len(words) > 0 || cur != "") && len(out) > 0 {
		last := []rune(out[len(out)-1])
		if len(last) >= width {
			last = last[:width-1]
		}
		out[len(out)-1] = string(last) + "~"
	}
	return out
}

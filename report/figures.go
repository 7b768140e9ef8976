package report

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	stddraw "image/draw"
	"math"

	xdraw "golang.org/x/image/draw"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// HeatMap is an attention map over a GridH × GridW patch grid (row-major
// values, any range; the overlay scales them to the colour map).
type HeatMap struct {
	Name         string
	GridH, GridW int
	Values       []float64
}

// TokenWeight is the attention a text token receives.
type TokenWeight struct {
	Token  string
	Weight float64
}

// AttentionPanel is one example (one row) of the attention figure.
type AttentionPanel struct {
	Image  image.Image // the model's input, RGB
	Title  string      // e.g. "true Flags, predicted Flags (0.97)"
	Maps   []HeatMap
	Tokens []TokenWeight // most attended first
}

// heatColor maps [0, 1] to the Moreland blue-red diverging colour map.
func heatColor(v float64) color.Color {
	cm := moreland.SmoothBlueRed()
	cm.SetMin(0)
	cm.SetMax(1)
	c, err := cm.At(math.Min(math.Max(v, 0), 1))
	if err != nil {
		return color.Black
	}
	return c
}

// Overlay scales img to size×size and blends the heat map over it with
// opacity alpha (image/draw with a uniform mask); the map is upsampled
// bilinearly from its grid and scaled to [0, 1].
func Overlay(img image.Image, m HeatMap, size int, alpha float64) (*image.RGBA, error) {
	if m.GridH <= 0 || m.GridW <= 0 || len(m.Values) != m.GridH*m.GridW {
		return nil, fmt.Errorf("heat map %q: %d values for a %d×%d grid", m.Name, len(m.Values), m.GridH, m.GridW)
	}
	out := image.NewRGBA(image.Rect(0, 0, size, size))
	xdraw.BiLinear.Scale(out, out.Bounds(), img, img.Bounds(), xdraw.Src, nil)
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range m.Values {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	at := func(y, x int) float64 {
		v := m.Values[y*m.GridW+x]
		if hi > lo {
			return (v - lo) / (hi - lo)
		}
		return 0
	}
	heat := image.NewRGBA(out.Bounds())
	for py := 0; py < size; py++ {
		// sample at the pixel centre in grid coordinates
		gy := (float64(py)+0.5)*float64(m.GridH)/float64(size) - 0.5
		y0 := int(math.Floor(gy))
		fy := gy - float64(y0)
		for px := 0; px < size; px++ {
			gx := (float64(px)+0.5)*float64(m.GridW)/float64(size) - 0.5
			x0 := int(math.Floor(gx))
			fx := gx - float64(x0)
			clampY := func(y int) int { return min(max(y, 0), m.GridH-1) }
			clampX := func(x int) int { return min(max(x, 0), m.GridW-1) }
			v := (1-fy)*((1-fx)*at(clampY(y0), clampX(x0))+fx*at(clampY(y0), clampX(x0+1))) +
				fy*((1-fx)*at(clampY(y0+1), clampX(x0))+fx*at(clampY(y0+1), clampX(x0+1)))
			heat.Set(px, py, heatColor(v))
		}
	}
	mask := image.NewUniform(color.Alpha{A: uint8(math.Round(alpha * 255))})
	stddraw.DrawMask(out, out.Bounds(), heat, image.Point{}, mask, image.Point{}, stddraw.Over)
	return out, nil
}

// imagePlot is a plot showing img with a title and no axes.
func imagePlot(img image.Image, title string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(9)
	p.Add(plotter.NewImage(img, 0, 0, 1, 1))
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	p.HideAxes()
	return p
}

// barPlot is a horizontal bar chart of labelled values, the first on top.
func barPlot(title, xLabel string, labels []string, values []float64, c color.Color) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(9)
	p.X.Label.Text = xLabel
	if len(values) == 0 {
		p.HideAxes()
		return p, nil
	}
	// gonum draws bar 0 at the bottom: reverse so the first is on top; pad
	// to minBars slots so bars keep one height across plots.
	const minBars = 5
	for len(values) < minBars {
		values = append(values, 0)
		labels = append(labels, "")
	}
	n := len(values)
	vs := make(plotter.Values, n)
	names := make([]string, n)
	for i := range values {
		vs[n-1-i] = values[i]
		names[n-1-i] = labels[i]
	}
	bc, err := plotter.NewBarChart(vs, vg.Points(10))
	if err != nil {
		return nil, err
	}
	bc.Horizontal = true
	bc.Color = c
	bc.LineStyle.Width = 0
	p.Add(bc)
	p.NominalY(names...)
	p.X.Min = 0
	p.Y.Tick.Label.Font.Size = vg.Points(8)
	p.X.Tick.Label.Font.Size = vg.Points(7)
	return p, nil
}

var tokenColor = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}

// PlotAttention writes the attention figure (paper Fig. 7): one row per
// panel with the input image, each heat map overlaid on it, and the most
// attended text tokens as bars.
func PlotAttention(path string, panels []AttentionPanel) error {
	if len(panels) == 0 {
		return errors.New("attention figure: no panels")
	}
	cols := 2 + len(panels[0].Maps)
	const tileIn = 2.3
	w, h := vg.Length(float64(cols)*tileIn)*vg.Inch, vg.Length(float64(len(panels))*tileIn)*vg.Inch
	c := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(DPI))
	dc := draw.New(c)
	// White background.
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	tiles := draw.Tiles{Rows: len(panels), Cols: cols, PadX: vg.Points(6), PadY: vg.Points(6), PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(4)}
	for r, pan := range panels {
		if len(pan.Maps) != cols-2 {
			return fmt.Errorf("attention figure: panel %d has %d maps, panel 0 has %d", r, len(pan.Maps), cols-2)
		}
		plots := []*plot.Plot{imagePlot(pan.Image, pan.Title)}
		for _, m := range pan.Maps {
			ov, err := Overlay(pan.Image, m, 224, 0.55)
			if err != nil {
				return err
			}
			plots = append(plots, imagePlot(ov, m.Name))
		}
		labels := make([]string, len(pan.Tokens))
		vals := make([]float64, len(pan.Tokens))
		for i, t := range pan.Tokens {
			labels[i], vals[i] = t.Token, t.Weight
		}
		bp, err := barPlot("most attended tokens", "attention", labels, vals, tokenColor)
		if err != nil {
			return err
		}
		plots = append(plots, bp)
		for col, p := range plots {
			p.Draw(tiles.At(dc, col, r))
		}
	}
	return writePNG(c, path)
}

// PlotBars writes a horizontal bar chart (e.g. top-k class probabilities or
// token weights of one prediction).
func PlotBars(path, title, xLabel string, labels []string, values []float64) error {
	p, err := barPlot(title, xLabel, labels, values, color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff})
	if err != nil {
		return err
	}
	return savePNG(p, path, 5, 0.6+0.28*float64(len(values)))
}

// SaveImage writes an image (e.g. an overlay) as a PNG through a plot, at
// wIn inches wide.
func SaveImage(path string, img image.Image, title string, wIn float64) error {
	return savePNG(imagePlot(img, title), path, wIn, wIn+0.3)
}

// FeaturePoint is one point of the feature-space figure.
type FeaturePoint struct {
	X, Y  float64
	Class int // colour
	Kind  int // glyph: index into the kinds of PlotFeatureSpace
}

// classColors is a 10-colour categorical palette (Tableau 10), repeated.
var classColors = []color.RGBA{
	{0x1f, 0x77, 0xb4, 0xff}, {0xff, 0x7f, 0x0e, 0xff}, {0x2c, 0xa0, 0x2c, 0xff}, {0xd6, 0x27, 0x28, 0xff},
	{0x94, 0x67, 0xbd, 0xff}, {0x8c, 0x56, 0x4b, 0xff}, {0xe3, 0x77, 0xc2, 0xff}, {0x7f, 0x7f, 0x7f, 0xff},
	{0xbc, 0xbd, 0x22, 0xff}, {0x17, 0xbe, 0xcf, 0xff},
}

var kindGlyphs = []draw.GlyphDrawer{draw.CircleGlyph{}, draw.TriangleGlyph{}, draw.CrossGlyph{}, draw.SquareGlyph{}, draw.RingGlyph{}}

// PlotFeatureSpace writes the feature-space figure (paper Fig. 8): a
// scatter of 2-D embedded features, coloured by class, with one glyph per
// kind (e.g. image, text, fused), and a legend beside it.
func PlotFeatureSpace(path, title string, pts []FeaturePoint, classes, kinds []string) error {
	if len(pts) == 0 {
		return errors.New("feature space: no points")
	}
	if len(kinds) > len(kindGlyphs) {
		return fmt.Errorf("feature space: at most %d kinds", len(kindGlyphs))
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "dimension 1"
	p.Y.Label.Text = "dimension 2"
	legend := plot.NewLegend()
	for k := range kinds {
		for c := range classes {
			var xy plotter.XYs
			for _, q := range pts {
				if q.Kind == k && q.Class == c {
					xy = append(xy, plotter.XY{X: q.X, Y: q.Y})
				}
			}
			if len(xy) == 0 {
				continue
			}
			s, err := plotter.NewScatter(xy)
			if err != nil {
				return err
			}
			base := classColors[c%len(classColors)]
			col := color.NRGBA{R: base.R, G: base.G, B: base.B, A: 0xff}
			if k > 0 {
				col.A = 0xc0 // later kinds a little transparent, so overlaps show
			}
			s.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(2.6), Shape: kindGlyphs[k]}
			p.Add(s)
		}
	}
	for c, name := range classes {
		legend.Add(name, glyphThumb{draw.GlyphStyle{Color: classColors[c%len(classColors)], Radius: vg.Points(3.5), Shape: draw.CircleGlyph{}}})
	}
	for k, name := range kinds {
		legend.Add(name, glyphThumb{draw.GlyphStyle{Color: color.Gray{Y: 0x40}, Radius: vg.Points(3.5), Shape: kindGlyphs[k]}})
	}
	legend.Top, legend.Left = true, true
	const wIn, hIn = 9.5, 6.0
	c := vgimg.NewWith(vgimg.UseWH(wIn*vg.Inch, hIn*vg.Inch), vgimg.UseDPI(DPI))
	dc := draw.New(c)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	split := dc.Max.X - 2.3*vg.Inch
	main := draw.Crop(dc, vg.Points(6), -(dc.Max.X - split), vg.Points(6), -vg.Points(6))
	p.Draw(main)
	side := draw.Crop(dc, split-dc.Min.X+vg.Points(8), 0, 0, -vg.Points(30))
	legend.Draw(side)
	return writePNG(c, path)
}

// glyphThumb draws a glyph as a legend thumbnail.
type glyphThumb struct{ style draw.GlyphStyle }

// Thumbnail implements plot.Thumbnailer.
func (g glyphThumb) Thumbnail(c *draw.Canvas) {
	c.DrawGlyph(g.style, c.Center())
}

package report

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/vbg-museum/vbg/atomicfile"
)

// DPI is the resolution of every PNG this package writes. A plot of w×h
// inches is round(w·DPI)×round(h·DPI) pixels.
const DPI = 144

// Curve plot size in inches.
const (
	curveWidthIn  = 7.0
	curveHeightIn = 4.5
)

// CurvePixels returns the pixel size of the PNGs PlotLoss and PlotAccuracy write.
func CurvePixels() (w, h int) {
	return pixels(curveWidthIn), pixels(curveHeightIn)
}

func pixels(inches float64) int { return int(inches*DPI + 0.5) }

var (
	trainColor = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff} // blue
	valColor   = color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff} // orange
)

// ErrNothingToPlot is returned (wrapped) by PlotLoss and PlotAccuracy when
// no epoch has a finite value to draw.
var ErrNothingToPlot = errors.New("no finite values to plot")

// series is one named line of a curve plot.
type series struct {
	name  string
	color color.Color
	pts   plotter.XYs
}

// finitePoints collects (epoch, value) pairs, skipping NaN and ±Inf.
func finitePoints(epochs []Epoch, value func(Epoch) (float64, bool)) plotter.XYs {
	var pts plotter.XYs
	for _, e := range epochs {
		v, ok := value(e)
		if ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
			pts = append(pts, plotter.XY{X: float64(e.Epoch), Y: v})
		}
	}
	return pts
}

// PlotLoss writes a PNG of the training and validation loss per epoch (the
// paper's Fig. 5) to path, marking the epoch with the lowest validation loss.
func PlotLoss(path string, epochs []Epoch) error {
	s := []series{
		{"train loss", trainColor, finitePoints(epochs, func(e Epoch) (float64, bool) { return e.TrainLoss, true })},
		{"validation loss", valColor, finitePoints(epochs, func(e Epoch) (float64, bool) { return e.ValLoss, true })},
	}
	if err := plotCurves(path, "Training and validation loss", "loss", s, false); err != nil {
		return fmt.Errorf("report: loss plot: %w", err)
	}
	return nil
}

// PlotAccuracy writes a PNG of the validation accuracy per epoch to path,
// with the training accuracy too when the epochs carry
// Metrics["train_accuracy"]. Accuracies are fractions in [0, 1].
func PlotAccuracy(path string, epochs []Epoch) error {
	s := []series{
		{"train accuracy", trainColor, finitePoints(epochs, func(e Epoch) (float64, bool) {
			v, ok := e.Metrics["train_accuracy"]
			return v, ok
		})},
		{"validation accuracy", valColor, finitePoints(epochs, func(e Epoch) (float64, bool) { return e.ValAccuracy, true })},
	}
	if err := plotCurves(path, "Accuracy", "accuracy", s, true); err != nil {
		return fmt.Errorf("report: accuracy plot: %w", err)
	}
	return nil
}

// plotCurves draws lines with points for every non-empty series and marks
// the best point of the last series (the validation one): its maximum when
// higherIsBetter, else its minimum.
func plotCurves(path, title, yLabel string, all []series, higherIsBetter bool) error {
	p := curvePlot(title, yLabel)
	drawn := 0
	var minX, maxX = math.Inf(1), math.Inf(-1)
	for _, s := range all {
		if len(s.pts) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(s.pts)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		line.Color = s.color
		line.Width = vg.Points(1.8)
		points.Color = s.color
		points.Shape = draw.CircleGlyph{}
		points.Radius = vg.Points(2.2)
		p.Add(line, points)
		p.Legend.Add(s.name, line, points)
		for _, pt := range s.pts {
			minX, maxX = math.Min(minX, pt.X), math.Max(maxX, pt.X)
		}
		drawn++
	}
	if drawn == 0 {
		return ErrNothingToPlot
	}
	if best := all[len(all)-1].pts; len(best) > 0 {
		if err := markBest(p, best, higherIsBetter); err != nil {
			return err
		}
	}
	p.X.Min, p.X.Max = minX-0.5, maxX+0.5
	placeLegend(p, higherIsBetter)
	return savePNG(p, path, curveWidthIn, curveHeightIn)
}

// curvePlot is an empty curve plot with the report's fonts, ticks and grid.
func curvePlot(title, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(14)
	p.X.Label.Text = "epoch"
	p.Y.Label.Text = yLabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font.Size = vg.Points(12)
		a.Tick.Label.Font.Size = vg.Points(10)
	}
	p.X.Tick.Marker = niceTicks{max: 12, integer: true}
	p.Y.Tick.Marker = niceTicks{max: 8}
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Legend.TextStyle.Font.Size = vg.Points(10)
	p.Title.Padding = vg.Points(8)
	return p
}

// markBest rings the best point of pts and names it in the legend.
func markBest(p *plot.Plot, pts plotter.XYs, higherIsBetter bool) error {
	i := 0
	for j, pt := range pts {
		if (higherIsBetter && pt.Y > pts[i].Y) || (!higherIsBetter && pt.Y < pts[i].Y) {
			i = j
		}
	}
	mark, err := plotter.NewScatter(plotter.XYs{pts[i]})
	if err != nil {
		return fmt.Errorf("best-epoch marker: %w", err)
	}
	mark.Shape = draw.RingGlyph{}
	mark.Radius = vg.Points(6)
	mark.Color = color.Black
	p.Add(mark)
	p.Legend.Add(fmt.Sprintf("best validation (epoch %d: %.4g)", int(pts[i].X), pts[i].Y), mark)
	return nil
}

// placeLegend makes headroom for the legend where curves rarely are: top
// right for losses (they fall), bottom right for accuracies (they rise).
func placeLegend(p *plot.Plot, higherIsBetter bool) {
	dataMin := p.Y.Min
	span := p.Y.Max - p.Y.Min
	if span == 0 {
		span = math.Max(math.Abs(p.Y.Max), 1)
	}
	if higherIsBetter {
		p.Legend.Top = false
		p.Y.Min -= 0.35 * span
		p.Y.Max += 0.05 * span
		if p.Y.Max > 1 && p.Y.Max < 1.1 {
			p.Y.Max = 1
		}
	} else {
		p.Y.Max += 0.35 * span
		p.Y.Min -= 0.05 * span
	}
	if dataMin >= 0 {
		p.Y.Min = math.Max(p.Y.Min, 0) // keep the headroom out of negative values
	}
	p.Legend.XOffs = -vg.Points(8)
	p.Legend.YOffs = -vg.Points(6)
	if higherIsBetter {
		p.Legend.YOffs = vg.Points(6)
	}
}

// niceTicks labels round values, a step of 1, 2 or 5 times a power of ten
// giving at most max labels; integer keeps the step at 1 or more.
type niceTicks struct {
	max     int
	integer bool
}

// Ticks implements plot.Ticker.
func (t niceTicks) Ticks(lo, hi float64) []plot.Tick {
	// A range at float64 resolution (e.g. two losses 4e-16 apart) would
	// need ~1e17 steps: no ticks.
	if !(hi > lo) || math.IsInf(hi-lo, 0) || hi-lo < 1e-9*math.Max(math.Abs(lo), math.Abs(hi)) {
		return nil
	}
	maxLabels := float64(max(t.max, 2))
	pow := math.Pow(10, math.Floor(math.Log10((hi-lo)/maxLabels)))
	var step float64
	for _, m := range []float64{1, 2, 5, 10} {
		if step = m * pow; (hi-lo)/step <= maxLabels {
			break
		}
	}
	if t.integer && step < 1 {
		step = 1
	}
	decimals := max(0, int(-math.Floor(math.Log10(step)+1e-9)))
	var ticks []plot.Tick
	for i := math.Ceil(lo/step - 1e-9); i*step <= hi+1e-9*step; i++ {
		v := i * step
		if v == 0 {
			v = 0 // not -0
		}
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', decimals, 64)})
	}
	return ticks
}

// savePNG renders p on a w×h inch canvas at DPI and writes it to path.
func savePNG(p *plot.Plot, path string, wIn, hIn float64) error {
	c := vgimg.NewWith(vgimg.UseWH(vg.Length(wIn)*vg.Inch, vg.Length(hIn)*vg.Inch), vgimg.UseDPI(DPI))
	m := vg.Points(10)
	p.Draw(draw.Crop(draw.New(c), m, -m, m/2, -m))
	return writePNG(c, path)
}

// writePNG encodes the canvas to path through atomicfile, so readers never
// see a half-written image.
func writePNG(c *vgimg.Canvas, path string) error {
	return atomicfile.WriteWith(path, func(w io.Writer) error {
		_, err := vgimg.PngCanvas{Canvas: c}.WriteTo(w)
		return err
	})
}

// ConfusionOptions adjusts PlotConfusion.
type ConfusionOptions struct {
	// Title replaces the default title.
	Title string
	// Normalize divides each row by its total, so a cell is the fraction of
	// the true class predicted as the column's class (row recall on the
	// diagonal). Rows with no samples stay 0.
	Normalize bool
	// MaxAnnotated is the largest number of classes for which the cells
	// show their value; 0 means 25, negative means never.
	MaxAnnotated int
}

// Confusion matrix layout: sizes in inches, fonts in points.
const (
	cmMaxCellIn = 0.6  // cell side for few classes
	cmMinSideIn = 3.5  // smallest matrix side
	cmMaxSideIn = 10.0 // largest matrix side; cells shrink beyond this
	cmBarIn     = 1.0  // colour bar strip with its tick labels
	cmMarginIn  = 0.15 // white border around the figure
	cmMinFontPt = 6.0  // smallest tick label; below it, labels are thinned
	cmMaxFontPt = 10.0
)

// confusionLayout is the geometry of a confusion plot for k classes.
type confusionLayout struct {
	k         int
	side      float64 // matrix side, inches
	cellPt    float64 // cell side, points
	tickFont  vg.Length
	labelStep int     // label every labelStep-th class
	rotation  float64 // of the predicted-class labels
	wIn, hIn  float64 // whole figure
}

// newConfusionLayout sizes the matrix for the number of classes; the figure
// size is settled by confusionPlot.fit.
func newConfusionLayout(k int) confusionLayout {
	l := confusionLayout{k: k, labelStep: 1, rotation: math.Pi / 4}
	l.side = math.Min(math.Max(float64(k)*cmMaxCellIn, cmMinSideIn), cmMaxSideIn)
	l.cellPt = l.side * 72 / float64(k)
	font := math.Min(cmMaxFontPt, l.cellPt*0.8)
	if font < cmMinFontPt {
		l.labelStep = int(math.Ceil(cmMinFontPt / font))
		font = cmMinFontPt
	}
	l.tickFont = vg.Points(font)
	// Labels at 45° need cells about 1.5 font heights apart; else go upright.
	if l.cellPt*float64(l.labelStep) < 1.5*font {
		l.rotation = math.Pi / 2
	}
	l.wIn = 2*cmMarginIn + l.side + cmBarIn + 2 // first guess for the axes
	l.hIn = 2*cmMarginIn + l.side + 2
	return l
}

// confusionPlot is a configured confusion heat map and its geometry.
type confusionPlot struct {
	p *plot.Plot
	l confusionLayout
}

// newConfusionPlot configures the axes, title and heat map for values
// (k×k, true class by row) and sizes the figure so the matrix is square.
func newConfusionPlot(values [][]float64, maxV float64, names []string, pal *listPalette, title string) *confusionPlot {
	l := newConfusionLayout(len(names))
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(14)
	p.Title.Padding = vg.Points(8)
	p.X.Label.Text = "predicted class"
	p.Y.Label.Text = "true class"
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font.Size = vg.Points(12)
		a.Tick.Label.Font.Size = l.tickFont
		a.Tick.Length = vg.Points(4)
		a.Padding = 0
	}
	p.X.Tick.Label.Rotation = l.rotation
	p.X.Tick.Label.XAlign = draw.XRight
	p.X.Tick.Label.YAlign = draw.YCenter
	p.X.Tick.Marker = classTicks{names: names, step: l.labelStep}
	p.Y.Tick.Marker = classTicks{names: names, step: l.labelStep, flip: true}

	hm := plotter.NewHeatMap(confusionGrid{v: values}, pal)
	hm.Min, hm.Max = 0, maxV
	p.Add(noGlyphs{hm})

	cp := &confusionPlot{p: p, l: l}
	cp.fit()
	return cp
}

// regions splits a w×h inch figure into the matrix plot and the bar strip.
func (cp *confusionPlot) regions(c vg.Canvas) (main, data draw.Canvas) {
	m := vg.Length(cmMarginIn) * vg.Inch
	dc := draw.Crop(draw.NewCanvas(c, vg.Length(cp.l.wIn)*vg.Inch, vg.Length(cp.l.hIn)*vg.Inch), m, -m, m, -m)
	main = draw.Crop(dc, 0, -vg.Length(cmBarIn)*vg.Inch, 0, 0)
	return main, cp.p.DataCanvas(main)
}

// fit grows or shrinks the figure until the data area is side×side: the
// axes' sizes do not depend on the figure's, so two rounds settle it.
func (cp *confusionPlot) fit() {
	for range 3 {
		_, data := cp.regions(nil)
		side := vg.Length(cp.l.side) * vg.Inch
		cp.l.wIn += float64((side - (data.Max.X - data.Min.X)) / vg.Inch)
		cp.l.hIn += float64((side - (data.Max.Y - data.Min.Y)) / vg.Inch)
	}
}

// ConfusionPixels returns the pixel size of the PNG PlotConfusion writes for
// these class names.
func ConfusionPixels(classNames []string) (w, h int) {
	k := len(classNames)
	if k == 0 {
		return 0, 0
	}
	values := make([][]float64, k)
	for i := range values {
		values[i] = make([]float64, k)
	}
	cp := newConfusionPlot(values, 1, classNames, &listPalette{colors: []color.Color{color.White}}, "x")
	return pixels(cp.l.wIn), pixels(cp.l.hIn)
}

// PlotConfusion writes a heat map of the confusion matrix cm (cm[t][p]
// counts true class t predicted as p, as in metrics.Report.Confusion) to
// path, the paper's Fig. 6: true classes down the left, top to bottom in
// class order, predicted classes along the bottom, a colour bar on the right
// and, for up to opts.MaxAnnotated classes, the count (or row fraction) in
// every cell. classNames label the axes; nil means "0", "1", .... The
// matrix is square, 0.6 inch per class up to a 10 inch side; with more
// classes the cells and tick labels shrink (down to 6 pt, after which only
// every n-th class is named) and the predicted-class labels turn upright.
func PlotConfusion(path string, cm [][]int, classNames []string, opts ConfusionOptions) error {
	k := len(cm)
	if k == 0 {
		return errors.New("report: confusion plot: empty matrix")
	}
	for i, row := range cm {
		if len(row) != k {
			return fmt.Errorf("report: confusion plot: row %d has %d cells, want %d", i, len(row), k)
		}
	}
	if classNames == nil {
		classNames = make([]string, k)
		for i := range classNames {
			classNames[i] = strconv.Itoa(i)
		}
	}
	if len(classNames) != k {
		return fmt.Errorf("report: confusion plot: %d class names for %d classes", len(classNames), k)
	}

	values, maxV := confusionValues(cm, opts.Normalize)
	pal, err := bluePalette(256)
	if err != nil {
		return fmt.Errorf("report: confusion plot: %w", err)
	}
	title := opts.Title
	if title == "" {
		title = "Confusion matrix"
		if opts.Normalize {
			title += " (row-normalised)"
		}
	}
	cp := newConfusionPlot(values, maxV, classNames, pal, title)
	p, l := cp.p, cp.l

	maxAnnotated := opts.MaxAnnotated
	if maxAnnotated == 0 {
		maxAnnotated = 25
	}
	if k <= maxAnnotated {
		labels, err := cellLabels(values, maxV, opts.Normalize, l.cellPt)
		if err != nil {
			return fmt.Errorf("report: confusion plot: %w", err)
		}
		p.Add(labels)
	}

	c := vgimg.NewWith(vgimg.UseWH(vg.Length(l.wIn)*vg.Inch, vg.Length(l.hIn)*vg.Inch), vgimg.UseDPI(DPI))
	main, data := cp.regions(c)
	p.Draw(main)

	// The colour bar: a one-column heat map as tall as the matrix, a small
	// gap to its right; the bar's Y axis (tick labels) takes the left part
	// of its canvas.
	bar := plot.New()
	bar.HideX()
	bar.Y.Tick.Label.Font.Size = vg.Points(9)
	bar.Y.Tick.Length = vg.Points(4)
	bar.Y.Padding = 0
	bhm := plotter.NewHeatMap(colorBarGrid{max: maxV, n: 256}, pal)
	bhm.Min, bhm.Max = 0, maxV
	bar.Add(noGlyphs{bhm})
	bar.Y.Min, bar.Y.Max = 0, maxV
	bar.Y.Tick.Marker = niceTicks{max: 6, integer: !opts.Normalize}
	left := data.Max.X + vg.Points(8)
	bar.Draw(draw.Canvas{Canvas: c, Rectangle: vg.Rectangle{
		Min: vg.Point{X: left, Y: data.Min.Y},
		Max: vg.Point{X: left + barTickWidth(bar) + vg.Points(16), Y: data.Max.Y},
	}})

	if err := writePNG(c, path); err != nil {
		return fmt.Errorf("report: confusion plot: %w", err)
	}
	return nil
}

// noGlyphs hides a heat map's glyph boxes (a fixed 10 pt square per cell
// centre), which would otherwise pad the data area when cells are small and
// misalign the colour bar with the matrix.
type noGlyphs struct{ hm *plotter.HeatMap }

// Plot implements plot.Plotter.
func (n noGlyphs) Plot(c draw.Canvas, p *plot.Plot) { n.hm.Plot(c, p) }

// DataRange implements plot.DataRanger.
func (n noGlyphs) DataRange() (xmin, xmax, ymin, ymax float64) { return n.hm.DataRange() }

// barTickWidth approximates the width the colour bar's Y axis takes.
func barTickWidth(bar *plot.Plot) vg.Length {
	var w vg.Length
	for _, t := range bar.Y.Tick.Marker.Ticks(bar.Y.Min, bar.Y.Max) {
		w = max(w, bar.Y.Tick.Label.Width(t.Label))
	}
	return w + bar.Y.Tick.Length + vg.Points(4)
}

// confusionValues returns the cell values (counts or row fractions) and
// their maximum (at least 1 for counts).
func confusionValues(cm [][]int, normalize bool) ([][]float64, float64) {
	values := make([][]float64, len(cm))
	maxV := 0.0
	for t, row := range cm {
		values[t] = make([]float64, len(row))
		total := 0
		for _, v := range row {
			total += v
		}
		for p, v := range row {
			x := float64(v)
			if normalize {
				x = 0
				if total > 0 {
					x = float64(v) / float64(total)
				}
			}
			values[t][p] = x
			maxV = math.Max(maxV, x)
		}
	}
	if normalize {
		maxV = 1
	} else if maxV == 0 {
		maxV = 1
	}
	return values, maxV
}

// cellLabels writes each cell's value centred in the cell, white on dark
// cells and black on light ones.
func cellLabels(values [][]float64, maxV float64, normalize bool, cellPt float64) (*plotter.Labels, error) {
	k := len(values)
	var xyl plotter.XYLabels
	for t, row := range values {
		for p, v := range row {
			xyl.XYs = append(xyl.XYs, plotter.XY{X: float64(p), Y: float64(k - 1 - t)})
			if normalize {
				xyl.Labels = append(xyl.Labels, strconv.FormatFloat(v, 'f', 2, 64))
			} else {
				xyl.Labels = append(xyl.Labels, strconv.Itoa(int(v)))
			}
		}
	}
	labels, err := plotter.NewLabels(xyl)
	if err != nil {
		return nil, err
	}
	size := vg.Points(math.Min(11, math.Max(5, cellPt/3.4)))
	i := 0
	for _, row := range values {
		for _, v := range row {
			sty := &labels.TextStyle[i]
			sty.Font.Size = size
			sty.XAlign = draw.XCenter
			sty.YAlign = draw.YCenter
			sty.Color = color.Black
			if v > 0.55*maxV {
				sty.Color = color.White
			}
			i++
		}
	}
	return labels, nil
}

// bluePalette runs from near-white (low) to dark blue (high).
func bluePalette(n int) (*listPalette, error) {
	// Controls must rise in luminance, so they go from dark to light and the
	// palette is read backwards.
	cmap, err := moreland.NewLuminance([]color.Color{
		color.RGBA{R: 0x08, G: 0x30, B: 0x6b, A: 0xff},
		color.RGBA{R: 0x42, G: 0x92, B: 0xc6, A: 0xff},
		color.RGBA{R: 0xf7, G: 0xfb, B: 0xff, A: 0xff},
	})
	if err != nil {
		return nil, fmt.Errorf("palette: %w", err)
	}
	cmap.SetMin(0)
	cmap.SetMax(1)
	colors := make([]color.Color, n)
	for i := range colors {
		c, err := cmap.At(1 - float64(i)/float64(n-1))
		if err != nil {
			return nil, fmt.Errorf("palette: %w", err)
		}
		colors[i] = c
	}
	return &listPalette{colors: colors}, nil
}

// listPalette is a fixed list of colours (palette.Palette).
type listPalette struct{ colors []color.Color }

// Colors implements palette.Palette.
func (p *listPalette) Colors() []color.Color { return p.colors }

// confusionGrid lays the matrix out for plotter.HeatMap: column c is the
// predicted class c at x = c; true class t is drawn at y = k-1-t so that
// class 0 is the top row.
type confusionGrid struct{ v [][]float64 }

// Dims implements plotter.GridXYZ.
func (g confusionGrid) Dims() (c, r int) { return len(g.v), len(g.v) }

// Z implements plotter.GridXYZ: grid row r is true class k-1-r.
func (g confusionGrid) Z(c, r int) float64 { return g.v[len(g.v)-1-r][c] }

// X implements plotter.GridXYZ.
func (g confusionGrid) X(c int) float64 { return float64(c) }

// Y implements plotter.GridXYZ.
func (g confusionGrid) Y(r int) float64 { return float64(r) }

// colorBarGrid is one column of n cells running from 0 to max.
type colorBarGrid struct {
	max float64
	n   int
}

// Dims implements plotter.GridXYZ.
func (g colorBarGrid) Dims() (c, r int) { return 1, g.n }

// Z implements plotter.GridXYZ: each cell shows its own height.
func (g colorBarGrid) Z(_, r int) float64 { return g.Y(r) }

// X implements plotter.GridXYZ.
func (g colorBarGrid) X(int) float64 { return 0 }

// Y implements plotter.GridXYZ: the centre of cell r.
func (g colorBarGrid) Y(r int) float64 {
	return (float64(r) + 0.5) * g.max / float64(g.n)
}

// classTicks puts class names at integer positions; flip counts from the top.
type classTicks struct {
	names []string
	step  int
	flip  bool
}

// Ticks implements plot.Ticker.
func (t classTicks) Ticks(_, _ float64) []plot.Tick {
	k := len(t.names)
	ticks := make([]plot.Tick, 0, k)
	for i, name := range t.names {
		pos := float64(i)
		if t.flip {
			pos = float64(k - 1 - i)
		}
		if i%t.step != 0 {
			name = "" // minor tick
		}
		ticks = append(ticks, plot.Tick{Value: pos, Label: name})
	}
	return ticks
}

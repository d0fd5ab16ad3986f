package plot

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"sort"
	"strings"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/metasurv/metasurv/internal/atomicfile"
	"github.com/metasurv/metasurv/survival"
)

// Figure is a finished figure that can be written as PNG or SVG.
type Figure struct {
	Width, Height vg.Length
	draw          func(c draw.Canvas)
}

// DPI is the resolution of PNG output.
const DPI = 150

// check reports a nil or zero Figure (one not made by this package).
func (f *Figure) check() error {
	if f == nil || f.draw == nil {
		return errors.New("plot: empty figure (make one with KMCurves, Figure1 or Calibration)")
	}
	return nil
}

// WritePNG renders the figure as a PNG image at DPI dots per inch.
func (f *Figure) WritePNG(w io.Writer) error {
	if err := f.check(); err != nil {
		return err
	}
	c := vgimg.NewWith(vgimg.UseWH(f.Width, f.Height), vgimg.UseDPI(DPI))
	f.draw(draw.New(c))
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(w); err != nil {
		return fmt.Errorf("plot: writing PNG: %w", err)
	}
	return nil
}

// WriteSVG renders the figure as SVG.
func (f *Figure) WriteSVG(w io.Writer) error {
	if err := f.check(); err != nil {
		return err
	}
	c := vgsvg.New(f.Width, f.Height)
	f.draw(draw.New(c))
	if _, err := c.WriteTo(w); err != nil {
		return fmt.Errorf("plot: writing SVG: %w", err)
	}
	return nil
}

// Save writes the figure to path, as PNG or SVG by the file extension,
// atomically: the figure is rendered first, then written to a temporary
// file in the same directory and renamed over path.
func (f *Figure) Save(path string) error {
	var buf bytes.Buffer
	var err error
	switch strings.ToLower(filepath.Ext(path)) {
	case ".png":
		err = f.WritePNG(&buf)
	case ".svg":
		err = f.WriteSVG(&buf)
	default:
		return fmt.Errorf("plot: unknown figure format %q (want .png or .svg)", filepath.Ext(path))
	}
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(path, buf.Bytes()); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	return nil
}

// Custom wraps a drawing function as a Figure of the given size, so that
// figures made elsewhere (UMAP panels, saliency overlays) share the PNG
// and SVG writers. draw must not be nil.
func Custom(width, height vg.Length, draw func(c draw.Canvas)) (*Figure, error) {
	if draw == nil || !(width > 0) || !(height > 0) {
		return nil, fmt.Errorf("plot: custom figure of %v × %v needs a positive size and a draw function", width, height)
	}
	return &Figure{Width: width, Height: height, draw: draw}, nil
}

// single wraps one gonum plot as a Figure.
func single(p *gplot.Plot, w, h vg.Length) *Figure {
	return &Figure{Width: w, Height: h, draw: p.Draw}
}

// stepXY turns a right-continuous step function into the points of a
// post-step line starting at (0, start) and ending at xmax.
func stepXY(x, y []float64, start, xmax float64) plotter.XYs {
	pts := plotter.XYs{{X: 0, Y: start}}
	for i := range x {
		pts = append(pts, plotter.XY{X: x[i], Y: y[i]})
	}
	if last := pts[len(pts)-1]; xmax > last.X {
		pts = append(pts, plotter.XY{X: xmax, Y: last.Y})
	}
	return pts
}

// Figure1Options configures Figure1.
type Figure1Options struct {
	// Scheme gives the cut points (zero value: the study's 6 and 21 months).
	Scheme survival.ClassScheme
	// Unit is the unit of the outcome times (zero value: Days).
	Unit  survival.Unit
	Title string
	// HideKM omits the censoring-aware curve 1 − KM.
	HideKM bool
}

// Figure1 draws the study's Figure 1: the empirical CDF of survival times
// with the class cut points as vertical lines, each class annotated with
// its share of the patients whose class is known and its censoring-aware
// Kaplan–Meier share; the Kaplan–Meier estimate 1 − S is drawn dashed for
// comparison.
func Figure1(y []survival.Outcome, o Figure1Options) (*Figure, error) {
	if len(o.Scheme.Cuts) == 0 {
		o.Scheme = survival.StudyClasses()
	}
	yy, err := survival.ConvertOutcomes(y, o.Unit, o.Scheme.Unit)
	if err != nil {
		return nil, err
	}
	labels, err := o.Scheme.Label(yy, o.Scheme.Unit)
	if err != nil {
		return nil, err
	}
	bal, err := labels.Balance(yy, o.Scheme.Unit)
	if err != nil {
		return nil, err
	}
	p := gplot.New()
	p.Title.Text = o.Title
	if p.Title.Text == "" {
		p.Title.Text = "Survival time distribution"
	}
	if bal.Undetermined > 0 {
		p.Title.Text += fmt.Sprintf(" (%d censored before their class was known)", bal.Undetermined)
	}
	p.X.Label.Text = "Survival time (" + o.Scheme.Unit.String() + ")"
	p.Y.Label.Text = "Cumulative proportion of patients"
	p.X.Min, p.Y.Min, p.Y.Max = 0, 0, 1.1
	e := survival.NewECDF(survival.Times(yy))
	xmax := e.X[len(e.X)-1]
	if err := addStep(p, e.X, e.F, xmax, 0, "ECDF of observed times"); err != nil {
		return nil, err
	}
	if !o.HideKM {
		km, err := survival.KaplanMeier(yy, survival.KMOptions{ConfType: survival.ConfNone})
		if err != nil {
			return nil, err
		}
		cdf := make([]float64, len(km.Surv))
		for i, s := range km.Surv {
			cdf[i] = 1 - s
		}
		if err := addStep(p, km.Time, cdf, xmax, 1, "1 − KM (censoring-aware)"); err != nil {
			return nil, err
		}
	}
	if err := addClassBands(p, o.Scheme, bal, xmax); err != nil {
		return nil, err
	}
	p.Legend.Top, p.Legend.Left = false, false
	p.Legend.XOffs, p.Legend.YOffs = -vg.Points(5), vg.Points(10)
	return single(p, 8*vg.Inch, 5*vg.Inch), nil
}

// addStep adds a CDF step line in palette colour ci (dashed unless ci is
// 0) with a legend entry.
func addStep(p *gplot.Plot, x, y []float64, xmax float64, ci int, legend string) error {
	l, err := plotter.NewLine(stepXY(x, y, 0, xmax))
	if err != nil {
		return err
	}
	l.StepStyle = plotter.PostStep
	l.Color = plotutil.Color(ci)
	l.Width = vg.Points(1.5)
	if ci > 0 {
		l.Width = vg.Points(1)
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	}
	p.Add(l)
	p.Legend.Add(legend, l)
	return nil
}

// addClassBands draws the cut points and labels each class with its share
// of patients whose class is known and its Kaplan–Meier share.
func addClassBands(p *gplot.Plot, s survival.ClassScheme, bal *survival.Balance, xmax float64) error {
	for _, c := range s.Cuts {
		v, err := plotter.NewLine(plotter.XYs{{X: c, Y: 0}, {X: c, Y: 1}})
		if err != nil {
			return err
		}
		v.Color = color.Gray{Y: 90}
		v.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
		p.Add(v)
	}
	edges := append([]float64{0}, s.Cuts...)
	edges = append(edges, math.Max(xmax, s.Cuts[len(s.Cuts)-1]*1.3))
	var lab plotter.XYLabels
	for c := range bal.Counts {
		lab.XYs = append(lab.XYs, plotter.XY{X: (edges[c] + edges[c+1]) / 2, Y: 1.03})
		lab.Labels = append(lab.Labels, fmt.Sprintf("%s: %.1f%% (n=%d)\nKM: %.1f%%", className(s, c),
			100*bal.Shares[c], bal.Counts[c], 100*bal.KMShares[c]))
	}
	ls, err := plotter.NewLabels(lab)
	if err != nil {
		return err
	}
	for i := range ls.TextStyle {
		ls.TextStyle[i].XAlign = text.XCenter
		ls.TextStyle[i].Font.Size = vg.Points(9)
	}
	p.Add(ls)
	return nil
}

// className renders class c of a scheme as "<6", "6–21", ">=21".
func className(s survival.ClassScheme, c int) string {
	switch {
	case c == 0:
		return fmt.Sprintf("<%g", s.Cuts[0])
	case c == len(s.Cuts):
		return fmt.Sprintf("≥%g", s.Cuts[c-1])
	}
	return fmt.Sprintf("%g–%g", s.Cuts[c-1], s.Cuts[c])
}

// Group is one labelled set of outcomes for KMCurves.
type Group struct {
	Label string
	Y     []survival.Outcome
}

// KMOptions configures KMCurves.
type KMOptions struct {
	// ConfType of the bands (zero value: log, as R); ConfNone hides them.
	ConfType survival.ConfType
	Title    string
	// Unit labels the time axis (the outcomes are not converted).
	Unit survival.Unit
	// RiskTimes are the times of the numbers-at-risk table (zero value:
	// five evenly spaced times from 0 to the largest time).
	RiskTimes []float64
}

// KMCurves draws Kaplan–Meier curves by group with confidence bands,
// censoring marks and a numbers-at-risk table under the time axis.
func KMCurves(groups []Group, o KMOptions) (*Figure, error) {
	if len(groups) == 0 {
		return nil, errors.New("plot: no groups to draw")
	}
	p := gplot.New()
	p.Title.Text = o.Title
	p.X.Label.Text = "Time (" + o.Unit.String() + ")"
	p.Y.Label.Text = "Survival probability"
	p.Y.Min, p.Y.Max = 0, 1
	p.X.Min = 0
	xmax := 0.0
	for _, g := range groups {
		for _, y := range g.Y {
			xmax = math.Max(xmax, y.Time)
		}
	}
	for gi, g := range groups {
		if err := addKM(p, g, gi, o.ConfType, xmax); err != nil {
			return nil, fmt.Errorf("plot: group %q: %w", g.Label, err)
		}
	}
	p.Legend.Top = true
	p.X.Max = xmax
	risk := append([]float64(nil), o.RiskTimes...) // sorted below: not the caller's slice
	if risk == nil {
		risk = niceTimes(xmax)
	}
	for _, t := range risk {
		if !(t >= 0) || math.IsInf(t, 1) {
			return nil, fmt.Errorf("plot: numbers-at-risk time %v (want finite times >= 0)", t)
		}
	}
	sort.Float64s(risk)
	rowH := vg.Points(14)
	tableH := rowH * vg.Length(len(groups)+2)
	f := &Figure{Width: 8 * vg.Inch, Height: 5.5*vg.Inch + tableH}
	f.draw = func(c draw.Canvas) {
		top := draw.Crop(c, 0, 0, tableH, 0)
		p.Draw(top)
		drawRiskTable(c, p, p.DataCanvas(top), groups, risk, rowH, tableH)
	}
	return f, nil
}

// drawRiskTable writes the numbers at risk of each group under the plot,
// one row per group, each count centred under its time on the x axis.
func drawRiskTable(c draw.Canvas, p *gplot.Plot, dc draw.Canvas, groups []Group, risk []float64, rowH, tableH vg.Length) {
	sty := text.Style{Color: color.Black, Font: p.X.Tick.Label.Font, Handler: p.TextHandler,
		XAlign: text.XCenter, YAlign: text.YCenter}
	head := sty
	head.XAlign = text.XLeft
	y0 := c.Min.Y + tableH - rowH
	c.FillText(head, vg.Point{X: c.Min.X + vg.Points(4), Y: y0}, "Number at risk")
	for gi, g := range groups {
		yy := y0 - rowH*vg.Length(gi+1)
		lsty := sty
		lsty.XAlign = text.XRight
		lsty.Color = plotutil.Color(gi)
		c.FillText(lsty, vg.Point{X: dc.Min.X - vg.Points(16), Y: yy}, truncate(g.Label, 10))
		for _, t := range risk {
			n := 0
			for _, o := range g.Y {
				if o.Time >= t {
					n++
				}
			}
			c.FillText(sty, vg.Point{X: dc.X(p.X.Norm(t)), Y: yy}, fmt.Sprint(n))
		}
	}
}

// niceTimes returns evenly spaced round times from 0 to xmax (5 to 10
// intervals of 1, 2 or 5 times a power of ten).
func niceTimes(xmax float64) []float64 {
	if !(xmax > 0) {
		return []float64{0}
	}
	p := math.Pow(10, math.Floor(math.Log10(xmax)))
	step := p
	for _, m := range []float64{0.1, 0.2, 0.5, 1} {
		if xmax/(m*p) <= 10 {
			step = m * p
			break
		}
	}
	var out []float64
	for t := 0.0; t <= xmax*(1+1e-12); t += step {
		out = append(out, t)
	}
	return out
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// addKM adds one group's curve, band and censoring marks.
func addKM(p *gplot.Plot, g Group, gi int, ct survival.ConfType, xmax float64) error {
	km, err := survival.KaplanMeier(g.Y, survival.KMOptions{ConfType: ct})
	if err != nil {
		return err
	}
	col := plotutil.Color(gi)
	if km.Lower != nil {
		lo, hi := fillNaN(km.Lower, km.Surv), fillNaN(km.Upper, km.Surv)
		up := stepXY(km.Time, hi, 1, xmax)
		down := stepXY(km.Time, lo, 1, xmax)
		poly := make(plotter.XYs, 0, 4*len(up))
		poly = append(poly, stairs(up)...)
		low := stairs(down)
		for i := len(low) - 1; i >= 0; i-- {
			poly = append(poly, low[i])
		}
		band, err := plotter.NewPolygon(poly)
		if err != nil {
			return err
		}
		r, gg, b, _ := col.RGBA()
		band.Color = color.NRGBA{R: uint8(r >> 8), G: uint8(gg >> 8), B: uint8(b >> 8), A: 50}
		band.LineStyle.Width = 0
		p.Add(band)
	}
	l, err := plotter.NewLine(stepXY(km.Time, km.Surv, 1, xmax))
	if err != nil {
		return err
	}
	l.StepStyle = plotter.PostStep
	l.Color = col
	l.Width = vg.Points(1.5)
	p.Add(l)
	var cens plotter.XYs
	for i, t := range km.Time {
		if km.NCensor[i] > 0 {
			cens = append(cens, plotter.XY{X: t, Y: km.Surv[i]})
		}
	}
	if len(cens) > 0 {
		s, err := plotter.NewScatter(cens)
		if err != nil {
			return err
		}
		s.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(3), Shape: draw.PlusGlyph{}}
		p.Add(s)
	}
	label := g.Label
	if m := km.Median(); !math.IsNaN(m) {
		label += fmt.Sprintf(" (n=%d, median %.3g)", len(g.Y), m)
	} else {
		label += fmt.Sprintf(" (n=%d)", len(g.Y))
	}
	p.Legend.Add(label, l)
	return nil
}

// stairs expands post-step points into explicit corners for polygons.
func stairs(pts plotter.XYs) plotter.XYs {
	out := make(plotter.XYs, 0, 2*len(pts))
	for i, pt := range pts {
		if i > 0 {
			out = append(out, plotter.XY{X: pt.X, Y: pts[i-1].Y})
		}
		out = append(out, pt)
	}
	return out
}

// fillNaN replaces undefined interval bounds (log of 0) by the estimate.
func fillNaN(v, s []float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		if math.IsNaN(x) {
			x = s[i]
		}
		out[i] = x
	}
	return out
}

// Calibration draws predicted against observed (Kaplan–Meier) survival at
// a horizon per bin, with the observed 95% interval and the identity line.
func Calibration(bins []survival.CalibrationBin, horizon float64, unit survival.Unit) (*Figure, error) {
	if len(bins) == 0 {
		return nil, errors.New("plot: no calibration bins")
	}
	if !(horizon >= 0) || math.IsInf(horizon, 1) {
		return nil, fmt.Errorf("plot: calibration horizon %v (want a finite time >= 0)", horizon)
	}
	p := gplot.New()
	p.Title.Text = fmt.Sprintf("Calibration at %g %s", horizon, unit)
	p.X.Label.Text = "Predicted survival probability"
	p.Y.Label.Text = "Observed survival (Kaplan–Meier)"
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	diag, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
	if err != nil {
		return nil, err
	}
	diag.Color = color.Gray{Y: 120}
	diag.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(diag)
	var pts plotter.XYs
	var errs plotter.YErrors
	for _, b := range bins {
		pts = append(pts, plotter.XY{X: b.Predicted, Y: b.Observed})
		lo, hi := fillNaN([]float64{b.Lower}, []float64{b.Observed})[0], fillNaN([]float64{b.Upper}, []float64{b.Observed})[0]
		errs = append(errs, struct{ Low, High float64 }{b.Observed - lo, hi - b.Observed})
	}
	data := struct {
		plotter.XYs
		plotter.YErrors
	}{pts, errs}
	eb, err := plotter.NewYErrorBars(data)
	if err != nil {
		return nil, err
	}
	eb.Color = plotutil.Color(0)
	s, err := plotter.NewScatter(pts)
	if err != nil {
		return nil, err
	}
	s.GlyphStyle = draw.GlyphStyle{Color: plotutil.Color(0), Radius: vg.Points(3.5), Shape: draw.CircleGlyph{}}
	line, err := plotter.NewLine(pts)
	if err != nil {
		return nil, err
	}
	line.Color = plotutil.Color(0)
	p.Add(eb, line, s)
	return single(p, 6*vg.Inch, 6*vg.Inch), nil
}

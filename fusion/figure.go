package fusion

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"strings"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// forest holds points with horizontal error bars.
type forest struct {
	xy     plotter.XYs
	lo, hi []float64
}

func (f forest) Len() int                        { return len(f.xy) }
func (f forest) XY(i int) (float64, float64)     { return f.xy[i].X, f.xy[i].Y }
func (f forest) XError(i int) (float64, float64) { return f.xy[i].X - f.lo[i], f.hi[i] - f.xy[i].X }

// Figure draws the comparison as a forest plot — one row per model, the
// C-index and the balanced accuracy with their bootstrap intervals — and
// writes it to path as PNG or SVG (by extension), atomically.
func (c *Comparison) Figure(path string) error {
	p := gplot.New()
	p.Title.Text = "Test performance with bootstrap intervals"
	p.X.Label.Text = "metric"
	p.X.Min, p.X.Max = 0, 1
	n := len(c.Results)
	names := make([]string, n)
	series := []struct {
		name  string
		get   func(r Result) (float64, float64, float64)
		shape draw.GlyphDrawer
		col   color.Color
		off   float64
	}{
		{"C-index", func(r Result) (float64, float64, float64) { return r.CIndex.Estimate, r.CIndex.Lower, r.CIndex.Upper }, draw.CircleGlyph{}, color.RGBA{R: 31, G: 119, B: 180, A: 255}, 0.15},
		{"balanced accuracy", func(r Result) (float64, float64, float64) {
			return r.BalancedAccuracy.Estimate, r.BalancedAccuracy.Lower, r.BalancedAccuracy.Upper
		}, draw.TriangleGlyph{}, color.RGBA{R: 214, G: 39, B: 40, A: 255}, -0.15},
	}
	for i, r := range c.Results {
		names[n-1-i] = r.Name
	}
	for _, s := range series {
		var f forest
		for i, r := range c.Results {
			e, lo, hi := s.get(r)
			if math.IsNaN(e) {
				continue
			}
			f.xy = append(f.xy, plotter.XY{X: e, Y: float64(n-1-i) + s.off})
			f.lo, f.hi = append(f.lo, lo), append(f.hi, hi)
		}
		if f.Len() == 0 {
			continue
		}
		sc, err := plotter.NewScatter(f)
		if err != nil {
			return fmt.Errorf("fusion: figure: %w", err)
		}
		sc.GlyphStyle.Shape, sc.GlyphStyle.Color = s.shape, s.col
		eb, err := plotter.NewXErrorBars(f)
		if err != nil {
			return fmt.Errorf("fusion: figure: %w", err)
		}
		eb.LineStyle.Color = s.col
		p.Add(sc, eb)
		p.Legend.Add(s.name, sc)
	}
	p.Legend.Top = true
	p.NominalY(names...)
	p.Add(plotter.NewGrid())
	w, h := 6*vg.Inch, vg.Length(1.2+0.5*float64(n))*vg.Inch
	var buf bytes.Buffer
	switch strings.ToLower(filepath.Ext(path)) {
	case ".png":
		cv := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(150))
		p.Draw(draw.New(cv))
		if _, err := (vgimg.PngCanvas{Canvas: cv}).WriteTo(&buf); err != nil {
			return fmt.Errorf("fusion: figure: %w", err)
		}
	case ".svg":
		cv := vgsvg.New(w, h)
		p.Draw(draw.New(cv))
		if _, err := cv.WriteTo(&buf); err != nil {
			return fmt.Errorf("fusion: figure: %w", err)
		}
	default:
		return fmt.Errorf("fusion: figure format %q (want .png or .svg)", filepath.Ext(path))
	}
	return writeAtomic(path, func(w io.Writer) error {
		_, err := w.Write(buf.Bytes())
		return err
	})
}

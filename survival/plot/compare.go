package plot

import (
	"fmt"
	"image/color"
	"math"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Bar is one model of a comparison chart: its metric on held-out patients
// and the confidence interval (Lo, Hi; NaN hides the whisker). Kind groups
// bars by colour (e.g. "clinical", "image", "fused").
type Bar struct {
	Label  string
	Value  float64
	Lo, Hi float64
	Kind   string
}

// ComparisonOptions configure Comparison.
type ComparisonOptions struct {
	Title string
	// Metric labels the value axis (zero value: "C-index").
	Metric string
	// Reference draws a dashed horizontal line (zero value: 0.5, the
	// C-index of a random ranking; NaN: none).
	Reference float64
	// Min and Max fix the value axis (both zero: from the data).
	Min, Max float64
}

// okabeIto is a colour-blind-safe palette (Okabe & Ito 2008).
var okabeIto = []color.RGBA{
	{0, 114, 178, 255},   // blue
	{213, 94, 0, 255},    // vermillion
	{0, 158, 115, 255},   // bluish green
	{204, 121, 167, 255}, // reddish purple
	{230, 159, 0, 255},   // orange
	{86, 180, 233, 255},  // sky blue
	{240, 228, 66, 255},  // yellow
	{0, 0, 0, 255},       // black
}

// Palette returns colour i of the figures' colour-blind-safe palette.
func Palette(i int) color.RGBA { return okabeIto[((i%len(okabeIto))+len(okabeIto))%len(okabeIto)] }

// Comparison draws the architecture-comparison chart: one bar per model
// with its confidence interval, coloured by kind, with the chance level.
func Comparison(bars []Bar, o ComparisonOptions) (*Figure, error) {
	if len(bars) == 0 {
		return nil, fmt.Errorf("plot: comparison of no models")
	}
	for _, b := range bars {
		if math.IsNaN(b.Value) || math.IsInf(b.Value, 0) {
			return nil, fmt.Errorf("plot: model %q has value %g", b.Label, b.Value)
		}
		if !math.IsNaN(b.Lo) && !math.IsNaN(b.Hi) && (b.Lo > b.Value+1e-12 || b.Hi < b.Value-1e-12) {
			return nil, fmt.Errorf("plot: model %q: interval [%g, %g] does not hold the value %g", b.Label, b.Lo, b.Hi, b.Value)
		}
	}
	if o.Metric == "" {
		o.Metric = "C-index"
	}
	ref := o.Reference
	if ref == 0 {
		ref = 0.5
	}
	p := gplot.New()
	p.Title.Text = o.Title
	p.Y.Label.Text = o.Metric + " (held-out, 95% CI)"
	p.Add(plotter.NewGrid())
	kinds := map[string]int{}
	var order []string
	for _, b := range bars {
		if _, ok := kinds[b.Kind]; !ok {
			kinds[b.Kind] = len(order)
			order = append(order, b.Kind)
		}
	}
	w := vg.Points(22)
	lo, hi := math.Inf(1), math.Inf(-1)
	names := make([]string, len(bars))
	for i, b := range bars {
		names[i] = b.Label
		bc, err := plotter.NewBarChart(plotter.Values{b.Value}, w)
		if err != nil {
			return nil, fmt.Errorf("plot: %w", err)
		}
		bc.XMin = float64(i)
		bc.Color = Palette(kinds[b.Kind])
		bc.LineStyle.Width = 0
		p.Add(bc)
		if i == firstOfKind(bars, b.Kind) && b.Kind != "" {
			p.Legend.Add(b.Kind, bc)
		}
		lo, hi = math.Min(lo, b.Value), math.Max(hi, b.Value)
		if !math.IsNaN(b.Lo) && !math.IsNaN(b.Hi) {
			eb, err := plotter.NewYErrorBars(ciErrors{x: float64(i), y: b.Value, lo: b.Value - b.Lo, hi: b.Hi - b.Value})
			if err != nil {
				return nil, fmt.Errorf("plot: %w", err)
			}
			eb.LineStyle.Width = vg.Points(1.2)
			eb.CapWidth = vg.Points(8)
			p.Add(eb)
			lo, hi = math.Min(lo, b.Lo), math.Max(hi, b.Hi)
		}
	}
	if !math.IsNaN(ref) {
		l, err := plotter.NewLine(plotter.XYs{{X: -0.6, Y: ref}, {X: float64(len(bars)) - 0.4, Y: ref}})
		if err != nil {
			return nil, fmt.Errorf("plot: %w", err)
		}
		l.LineStyle.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		l.LineStyle.Color = color.Gray{Y: 90}
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("chance (%.2g)", ref), l)
		lo, hi = math.Min(lo, ref), math.Max(hi, ref)
	}
	p.NominalX(names...)
	p.X.Tick.Label.Rotation = math.Pi / 6
	p.X.Tick.Label.XAlign = draw.XRight
	p.X.Tick.Label.YAlign = draw.YCenter
	if o.Min != 0 || o.Max != 0 {
		p.Y.Min, p.Y.Max = o.Min, o.Max
	} else {
		pad := 0.08 * (hi - lo + 1e-9)
		p.Y.Min, p.Y.Max = math.Max(0, lo-pad), math.Min(1, hi+pad)
		if p.Y.Max <= p.Y.Min {
			p.Y.Max = p.Y.Min + 0.1
		}
		// headroom for the legend above the bars, with ticks only on [min, max]
		top := p.Y.Max
		p.Y.Max += 0.3 * (p.Y.Max - p.Y.Min)
		p.Y.Tick.Marker = clippedTicks{max: top}
	}
	p.Legend.Top = true
	p.Legend.Left = true
	width := vg.Length(math.Max(4.5, 1.0+0.7*float64(len(bars)))) * vg.Inch
	return single(p, width, 4*vg.Inch), nil
}

func firstOfKind(bars []Bar, kind string) int {
	for i, b := range bars {
		if b.Kind == kind {
			return i
		}
	}
	return -1
}

// ciErrors is one error bar for plotter.NewYErrorBars.
type ciErrors struct{ x, y, lo, hi float64 }

func (c ciErrors) Len() int                      { return 1 }
func (c ciErrors) XY(int) (float64, float64)     { return c.x, c.y }
func (c ciErrors) YError(int) (float64, float64) { return c.lo, c.hi }

// clippedTicks are the default ticks without those above max (the
// legend's headroom).
type clippedTicks struct{ max float64 }

func (c clippedTicks) Ticks(min, max float64) []gplot.Tick {
	var out []gplot.Tick
	for _, t := range (gplot.DefaultTicks{}).Ticks(min, c.max) {
		if t.Value <= c.max+1e-12 {
			out = append(out, t)
		}
	}
	return out
}

// Package figures draws the study's image figures that are not survival
// curves: Figure 2 (UMAP scatter panels of embeddings, coloured by a
// group such as the MRI sequence or the survival class) and saliency
// overlays (axial slices of T1c with an explanation map). Each returns a
// survival/plot Figure, so PNG and SVG output is shared with Figure 1 and
// the Kaplan–Meier plots.
package figures

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"sort"

	"github.com/metasurv/metasurv/survival/plot"
	"github.com/metasurv/metasurv/volume"
	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// ErrInput is returned for panels or volumes that cannot be drawn.
var ErrInput = errors.New("figures: invalid input")

// Panel is one scatter plot of 2-D points, each in a group (index into
// Groups) that sets its colour.
type Panel struct {
	Title  string
	X, Y   []float64
	Group  []int
	Groups []string
}

// ScatterOptions configure Scatter.
type ScatterOptions struct {
	// Columns of the panel grid (zero: up to 3).
	Columns int
	// PanelSize is the side of each panel (zero: 3.2 inches).
	PanelSize vg.Length
	// XLabel and YLabel label every panel (zero: "UMAP 1", "UMAP 2").
	XLabel, YLabel string
}

// Scatter draws panels of 2-D embeddings in a grid — the study's Figure 2
// when the panels are UMAPs of the per-sequence and the four-sequence
// embeddings, coloured by sequence and by survival class. Colours come
// from the colour-blind-safe palette of survival/plot.
func Scatter(panels []Panel, o ScatterOptions) (*plot.Figure, error) {
	if len(panels) == 0 {
		return nil, fmt.Errorf("%w: no panels", ErrInput)
	}
	cols := o.Columns
	if cols <= 0 {
		cols = min(3, len(panels))
	}
	rows := (len(panels) + cols - 1) / cols
	size := o.PanelSize
	if size <= 0 {
		size = 3.2 * vg.Inch
	}
	xl, yl := o.XLabel, o.YLabel
	if xl == "" {
		xl = "UMAP 1"
	}
	if yl == "" {
		yl = "UMAP 2"
	}
	plots := make([][]*gplot.Plot, rows)
	for r := range plots {
		plots[r] = make([]*gplot.Plot, cols)
	}
	for pi, pn := range panels {
		if len(pn.X) != len(pn.Y) || len(pn.X) != len(pn.Group) || len(pn.X) == 0 {
			return nil, fmt.Errorf("%w: panel %q has %d x, %d y and %d group values", ErrInput, pn.Title, len(pn.X), len(pn.Y), len(pn.Group))
		}
		p := gplot.New()
		p.Title.Text = pn.Title
		p.X.Label.Text, p.Y.Label.Text = xl, yl
		p.X.Tick.Label.Font.Size = vg.Points(7)
		p.Y.Tick.Label.Font.Size = vg.Points(7)
		byGroup := map[int]plotter.XYs{}
		for i := range pn.X {
			g := pn.Group[i]
			if g < 0 || g >= len(pn.Groups) {
				return nil, fmt.Errorf("%w: panel %q point %d in group %d of %d", ErrInput, pn.Title, i, g, len(pn.Groups))
			}
			if math.IsNaN(pn.X[i]) || math.IsNaN(pn.Y[i]) {
				return nil, fmt.Errorf("%w: panel %q point %d is NaN", ErrInput, pn.Title, i)
			}
			byGroup[g] = append(byGroup[g], plotter.XY{X: pn.X[i], Y: pn.Y[i]})
		}
		keys := make([]int, 0, len(byGroup))
		for g := range byGroup {
			keys = append(keys, g)
		}
		sort.Ints(keys)
		for _, g := range keys {
			s, err := plotter.NewScatter(byGroup[g])
			if err != nil {
				return nil, fmt.Errorf("figures: %w", err)
			}
			c := plot.Palette(g)
			s.GlyphStyle.Color = color.NRGBA{c.R, c.G, c.B, 190}
			s.GlyphStyle.Radius = vg.Points(2)
			s.GlyphStyle.Shape = draw.CircleGlyph{}
			p.Add(s)
			p.Legend.Add(fmt.Sprintf("%s (%d)", pn.Groups[g], len(byGroup[g])), s)
		}
		p.Legend.Top = true
		p.Legend.TextStyle.Font.Size = vg.Points(7)
		plots[pi/cols][pi%cols] = p
	}
	w, h := vg.Length(cols)*size, vg.Length(rows)*size
	return plot.Custom(w, h, func(c draw.Canvas) {
		tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Points(6), PadY: vg.Points(6),
			PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(4)}
		canvases := gplot.Align(plots, tiles, c)
		for r := range plots {
			for k, p := range plots[r] {
				if p != nil {
					p.Draw(canvases[r][k])
				}
			}
		}
	})
}

// SaliencyOptions configure Saliency.
type SaliencyOptions struct {
	// Slices is the number of axial slices (zero: 6), centred on the
	// saliency's mass.
	Slices int
	// Threshold hides saliency below this fraction of its maximum (zero:
	// 0.35), so that the anatomy stays visible.
	Threshold float64
	// Title heads the figure.
	Title string
}

// Saliency draws axial slices of an anatomical image (T1c) with a signed
// explanation map over it, in radiological convention (the patient's right
// on the left of each slice, anterior up): positive values (regions that
// raise the prediction, e.g. the risk drop when a region is hidden) in a
// heat scale from dark red to orange, negative ones (regions that lower
// it) in blue, both scaled by the largest magnitude. Neither scale ends in
// white, which would vanish over bright tissue: an earlier white-topped
// scale hid the hottest cube on the lesion and left the weaker, negative
// cubes on the brain's edge as the visible ones. Both volumes must be on
// the same grid; they are reoriented to RAS for display. The slices are
// spread around the centre of mass of the positive part (of the
// magnitude if nothing is positive).
func Saliency(anat, sal *volume.Volume, o SaliencyOptions) (*plot.Figure, error) {
	if anat == nil || sal == nil {
		return nil, fmt.Errorf("%w: nil volume", ErrInput)
	}
	if anat.Dims != sal.Dims {
		return nil, fmt.Errorf("%w: image %v and saliency %v grids differ", ErrInput, anat.Dims, sal.Dims)
	}
	a, err := anat.Reorient(volume.RAS)
	if err != nil {
		return nil, fmt.Errorf("figures: %w", err)
	}
	s, err := sal.Reorient(volume.RAS)
	if err != nil {
		return nil, fmt.Errorf("figures: %w", err)
	}
	n := o.Slices
	if n <= 0 {
		n = 6
	}
	th := o.Threshold
	if th == 0 {
		th = 0.35
	}
	nx, ny, nz := a.Dims[0], a.Dims[1], a.Dims[2]
	// display ranges: anatomy from its 1st to 99th percentile, saliency by |value|
	lo, hi := percentiles(a.Data, 0.01, 0.995)
	var smax, mass, cz, pmass, pz float64
	for i, v := range s.Data {
		av := math.Abs(float64(v))
		smax = math.Max(smax, av)
		mass += av
		cz += av * float64(i/(nx*ny))
		if v > 0 {
			pmass += av
			pz += av * float64(i/(nx*ny))
		}
	}
	if pmass > 0 {
		mass, cz = pmass, pz
	}
	if mass > 0 {
		cz /= mass
	} else {
		cz = float64(nz) / 2
	}
	span := math.Max(2, float64(nz)*0.5)
	ks := make([]int, n)
	for t := range ks {
		f := 0.5
		if n > 1 {
			f = float64(t) / float64(n-1)
		}
		k := int(math.Round(cz - span/2 + f*span))
		ks[t] = max(0, min(nz-1, k))
	}
	cols := min(n, 3)
	rows := (n + cols - 1) / cols
	imgs := make([]image.Image, n)
	for t, k := range ks {
		img := image.NewRGBA(image.Rect(0, 0, nx, ny))
		for j := 0; j < ny; j++ {
			for i := 0; i < nx; i++ {
				idx := i + nx*(j+ny*k)
				g := (float64(a.Data[idx]) - lo) / (hi - lo + 1e-12)
				g = math.Max(0, math.Min(1, g))
				if a.Data[idx] == 0 { // outside a brain mask: black, not mid-grey
					g = 0
				}
				r, gg, b := g, g, g
				if smax > 0 {
					sv := math.Abs(float64(s.Data[idx])) / smax
					if sv >= th {
						hr, hg, hb := heat(sv)
						if s.Data[idx] < 0 {
							hr, hg, hb = cool(sv)
						}
						al := 0.35 + 0.5*(sv-th)/(1-th+1e-12)
						r, gg, b = r*(1-al)+hr*al, gg*(1-al)+hg*al, b*(1-al)+hb*al
					}
				}
				// radiological: patient's right (high i) on the left; anterior (high j) up
				img.Set(nx-1-i, ny-1-j, color.RGBA{uint8(255 * r), uint8(255 * gg), uint8(255 * b), 255})
			}
		}
		imgs[t] = img
	}
	tile := 2.2 * vg.Inch
	head := vg.Length(0)
	if o.Title != "" {
		head = 0.35 * vg.Inch
	}
	z := a.Affine.Zooms()
	ar := float64(ny) * z[1] / (float64(nx) * z[0]) // physical height / width of a slice
	w := vg.Length(cols) * tile
	h := vg.Length(rows)*tile*vg.Length(ar) + head + vg.Length(rows)*0.2*vg.Inch
	return plot.Custom(w, h, func(c draw.Canvas) {
		c.SetColor(color.Black)
		c.Fill(c.Rectangle.Path())
		st := draw.TextStyle{Color: color.White, Font: gplot.DefaultFont, Handler: gplot.DefaultTextHandler}
		st.Font.Size = vg.Points(11)
		top := c.Max.Y
		if o.Title != "" {
			st.XAlign, st.YAlign = draw.XCenter, draw.YTop
			c.FillText(st, vg.Point{X: (c.Min.X + c.Max.X) / 2, Y: top - vg.Points(4)}, o.Title)
			top -= head
		}
		cellH := (top - c.Min.Y) / vg.Length(rows)
		cellW := (c.Max.X - c.Min.X) / vg.Length(cols)
		lab := st
		lab.Font.Size = vg.Points(8)
		lab.XAlign, lab.YAlign = draw.XLeft, draw.YBottom
		for t, img := range imgs {
			r, k := t/cols, t%cols
			x0 := c.Min.X + vg.Length(k)*cellW
			y1 := top - vg.Length(r)*cellH
			y0 := y1 - cellH + 0.2*vg.Inch
			// keep the aspect of the voxel grid
			iw, ih := cellW-vg.Points(4), y1-y0-vg.Points(2)
			if vg.Length(float64(iw)*ar) > ih {
				iw = vg.Length(float64(ih) / ar)
			} else {
				ih = vg.Length(float64(iw) * ar)
			}
			rect := vg.Rectangle{Min: vg.Point{X: x0 + (cellW-iw)/2, Y: y1 - ih - vg.Points(1)}, Max: vg.Point{X: x0 + (cellW+iw)/2, Y: y1 - vg.Points(1)}}
			c.DrawImage(rect, img)
			c.FillText(lab, vg.Point{X: rect.Min.X, Y: y0 - 0.17*vg.Inch}, fmt.Sprintf("axial slice %d of %d (R on left)", ks[t]+1, nz))
		}
	})
}

// heat maps v in [0, 1] to a warm scale for positive saliency (dark red →
// red → orange), never white: the overlay must stay visible over bright
// white matter and enhancing rims.
func heat(v float64) (r, g, b float64) {
	r = math.Min(1, 0.45+1.5*v)
	g = math.Max(0, math.Min(0.8, 1.3*v-0.45))
	return r, g, 0
}

// cool maps v in [0, 1] to a blue scale for negative saliency, the mirror
// of heat (also never white).
func cool(v float64) (r, g, b float64) {
	g = math.Max(0, math.Min(0.6, 1.1*v-0.4))
	b = math.Min(1, 0.45+1.5*v)
	return 0, g, b
}

// percentiles of the nonzero values (zero is background after masking).
func percentiles(x []float32, plo, phi float64) (float64, float64) {
	s := make([]float32, 0, len(x)/7+1)
	for i := 0; i < len(x); i += 7 { // a subsample is enough for a display range
		if x[i] != 0 {
			s = append(s, x[i])
		}
	}
	if len(s) == 0 {
		return 0, 1
	}
	sort.Slice(s, func(a, b int) bool { return s[a] < s[b] })
	lo := float64(s[int(plo*float64(len(s)-1))])
	hi := float64(s[int(phi*float64(len(s)-1))])
	if hi <= lo {
		hi = lo + 1
	}
	return lo, hi
}

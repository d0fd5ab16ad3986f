package norm

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/metasurv/metasurv/volume"
)

// N4Options configure N4. The zero value is CaPTk's BraTS preprocessing
// setting: shrink factor 4, four fitting levels of 25 iterations each,
// convergence threshold 1e-7, 200 histogram bins, a Gaussian of FWHM 0.15
// and Wiener noise 0.01 for sharpening, a 4×4×4 initial control-point
// lattice (one cubic span) doubled at each level, and an Otsu foreground
// mask.
type N4Options struct {
	// Mask selects the voxels the field is estimated from; nil uses
	// Otsu's threshold. Voxels ≤ 0 are always excluded (log domain).
	Mask *volume.Mask
	// ShrinkFactor subsamples the image for estimation; 0 means 4.
	ShrinkFactor int
	// Iterations per fitting level; nil means {25, 25, 25, 25}.
	Iterations []int
	// ConvergenceThreshold stops a level when the coefficient of
	// variation of successive field ratios falls below it; 0 means 1e-7.
	ConvergenceThreshold float64
	// HistogramBins, FWHM and WienerNoise control histogram sharpening;
	// 0 means 200, 0.15 and 0.01.
	HistogramBins int
	FWHM          float64
	WienerNoise   float64
	// InitialMesh is the number of B-spline spans per axis at the first
	// level (ITK's control points minus the spline order); 0 means 1.
	InitialMesh int
	// Progress, if set, is called after every iteration.
	Progress func(N4Progress)
}

// N4Progress reports one N4 iteration.
type N4Progress struct {
	Level, Levels, Iteration int
	Convergence              float64
}

// N4Result is the outcome of N4.
type N4Result struct {
	// Corrected is the input divided by Field.
	Corrected *volume.Volume
	// Field is the multiplicative bias field at full resolution.
	Field *volume.Volume
	// Iterations run and the final convergence measure, per level.
	Iterations  []int
	Convergence []float64
	Duration    time.Duration
}

// Bounds of N4Options: ITK's defaults are 200 bins and a finest lattice of
// 8 spans per axis; 256 spans hold 259³ control points (139 MB).
const (
	maxN4Bins = 1 << 16
	maxN4Mesh = 256
)

func (o *N4Options) defaults() {
	if o.ShrinkFactor <= 0 {
		o.ShrinkFactor = 4
	}
	if o.Iterations == nil {
		o.Iterations = []int{25, 25, 25, 25}
	}
	if o.ConvergenceThreshold <= 0 {
		o.ConvergenceThreshold = 1e-7
	}
	if o.HistogramBins <= 0 {
		o.HistogramBins = 200
	}
	if o.FWHM <= 0 {
		o.FWHM = 0.15
	}
	if o.WienerNoise <= 0 {
		o.WienerNoise = 0.01
	}
	if o.InitialMesh <= 0 {
		o.InitialMesh = 1
	}
}

// N4 corrects the smooth multiplicative intensity inhomogeneity (bias
// field) of an MR image with the N4 algorithm of Tustison et al. (IEEE TMI
// 2010), as ITK's N4BiasFieldCorrectionImageFilter: in the log domain, each
// iteration sharpens the intensity histogram by Wiener deconvolution of a
// Gaussian, fits a cubic B-spline to the residual between the image and its
// sharpened version, and adds the fit to the field estimate; each level
// doubles the B-spline resolution. Estimation runs on the image subsampled
// by ShrinkFactor; the field is then evaluated at full resolution.
//
// In the study's pipeline N4 is used only to compute the registration; the
// images that are resampled are the uncorrected originals.
func N4(ctx context.Context, v *volume.Volume, o N4Options) (*N4Result, error) {
	start := time.Now()
	if err := checkVolume("N4 image", v); err != nil {
		return nil, err
	}
	o.defaults()
	for name, x := range map[string]float64{"ConvergenceThreshold": o.ConvergenceThreshold, "FWHM": o.FWHM, "WienerNoise": o.WienerNoise} {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%w: N4 %s is %v (want a finite value; 0 takes the default)", ErrInput, name, x)
		}
	}
	for _, it := range o.Iterations {
		if it < 0 {
			return nil, fmt.Errorf("%w: N4 iterations %v (want counts >= 0)", ErrInput, o.Iterations)
		}
	}
	if o.HistogramBins < 2 || o.HistogramBins > maxN4Bins {
		return nil, fmt.Errorf("%w: N4 needs 2 to %d histogram bins, got %d", ErrInput, maxN4Bins, o.HistogramBins)
	}
	// Each level doubles the lattice; its finest level must stay a
	// B-spline, not an allocation of (mesh+3)³ values beyond any image.
	if mesh := o.InitialMesh; len(o.Iterations) > 0 && (mesh > maxN4Mesh || len(o.Iterations) > 31 || mesh<<(len(o.Iterations)-1) > maxN4Mesh) {
		return nil, fmt.Errorf("%w: N4 initial mesh %d over %d levels exceeds %d spans per axis at the finest level", ErrInput, mesh, len(o.Iterations), maxN4Mesh)
	}
	if err := checkFinite(v.Data); err != nil {
		return nil, err
	}
	mask := o.Mask
	if mask == nil {
		var err error
		if mask, err = OtsuMask(v); err != nil {
			return nil, err
		}
	} else if err := checkMask(mask); err != nil {
		return nil, err
	} else if mask.Dims != v.Dims {
		return nil, fmt.Errorf("%w (%w): N4 mask dims %v, image %v", ErrMask, volume.ErrShape, mask.Dims, v.Dims)
	}
	sg := newShrunkGrid(v.Dims, o.ShrinkFactor)
	logI, use := sg.sampleLog(v, mask)
	if !anyTrue(use) {
		return nil, ErrEmptyMask
	}

	res := &N4Result{}
	logField := make([]float64, len(logI))
	residual := make([]float64, len(logI))
	uncorrected := make([]float64, len(logI))
	sh := sharpener{bins: o.HistogramBins, fwhm: o.FWHM, noise: o.WienerNoise}
	var levels []*lattice
	mesh := o.InitialMesh
	for level, iters := range o.Iterations {
		lat := newLattice([3]int{mesh, mesh, mesh}, v.Dims)
		wx, wy, wz := lat.weightsAt(0, sg.coords[0]), lat.weightsAt(1, sg.coords[1]), lat.weightsAt(2, sg.coords[2])
		step := newLattice(lat.mesh, v.Dims)
		conv, it := math.Inf(1), 0
		for ; it < iters && conv > o.ConvergenceThreshold; it++ {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			for i := range logI {
				uncorrected[i] = logI[i] - logField[i]
			}
			sharp := sh.sharpen(uncorrected, use)
			for i := range residual {
				if use[i] {
					residual[i] = uncorrected[i] - sharp[i]
				}
			}
			step.fit(wx, wy, wz, residual, use)
			lat.add(step)
			upd := step.evaluate(wx, wy, wz)
			conv = convergence(upd, use)
			for i := range logField {
				logField[i] += upd[i]
			}
			if o.Progress != nil {
				o.Progress(N4Progress{Level: level, Levels: len(o.Iterations), Iteration: it, Convergence: conv})
			}
		}
		levels = append(levels, lat)
		res.Iterations = append(res.Iterations, it)
		res.Convergence = append(res.Convergence, conv)
		mesh *= 2
	}
	field, err := fullField(v, levels)
	if err != nil {
		return nil, err
	}
	res.Field = field
	res.Corrected = v.Clone()
	for i, f := range field.Data {
		res.Corrected.Data[i] /= f
	}
	res.Duration = time.Since(start)
	return res, nil
}

// convergence is ITK's measure: the coefficient of variation of
// exp(new − old) over the mask, here exp of the update.
func convergence(update []float64, use []bool) float64 {
	var n, mean, m2 float64
	for i, u := range update {
		if !use[i] {
			continue
		}
		x := math.Exp(u)
		n++
		d := x - mean
		mean += d / n
		m2 += d * (x - mean)
	}
	if n < 2 || mean == 0 {
		return 0
	}
	return math.Sqrt(m2/(n-1)) / mean
}

// fullField sums the per-level lattices at every full-resolution voxel,
// accumulating the log field in the output's float32 storage.
func fullField(v *volume.Volume, levels []*lattice) (*volume.Volume, error) {
	field, err := volume.New(v.Dims, v.Affine)
	if err != nil {
		return nil, err
	}
	var coords [3][]float64
	for a := 0; a < 3; a++ {
		coords[a] = make([]float64, v.Dims[a])
		for i := range coords[a] {
			coords[a][i] = float64(i)
		}
	}
	for _, l := range levels {
		addField(l, l.weightsAt(0, coords[0]), l.weightsAt(1, coords[1]), l.weightsAt(2, coords[2]), field.Data)
	}
	for i, s := range field.Data {
		field.Data[i] = float32(math.Exp(float64(s)))
	}
	return field, nil
}

// shrunkGrid is the subsampled estimation grid: voxel centres of blocks of
// factor³ full-resolution voxels, as ITK's ShrinkImageFilter.
type shrunkGrid struct {
	dims   [3]int
	idx    [3][]int     // full-resolution index of each shrunk index
	coords [3][]float64 // the same as float64
}

func newShrunkGrid(full [3]int, factor int) shrunkGrid {
	var g shrunkGrid
	for a := 0; a < 3; a++ {
		f := min(factor, full[a])
		n := max(1, full[a]/f)
		off := (full[a] - n*f + f - 1) / 2
		g.dims[a] = n
		g.idx[a] = make([]int, n)
		g.coords[a] = make([]float64, n)
		for i := range g.idx[a] {
			g.idx[a][i] = min(i*f+off, full[a]-1)
			g.coords[a][i] = float64(g.idx[a][i])
		}
	}
	return g
}

// sampleLog returns log intensities on the shrunk grid and which of them
// take part (inside the mask and positive).
func (g shrunkGrid) sampleLog(v *volume.Volume, m *volume.Mask) ([]float64, []bool) {
	n := g.dims[0] * g.dims[1] * g.dims[2]
	logI := make([]float64, n)
	use := make([]bool, n)
	p := 0
	for _, k := range g.idx[2] {
		for _, j := range g.idx[1] {
			for _, i := range g.idx[0] {
				q := v.Index(i, j, k)
				if x := v.Data[q]; x > 0 && m.Data[q] {
					logI[p] = math.Log(float64(x))
					use[p] = true
				}
				p++
			}
		}
	}
	return logI, use
}

func anyTrue(b []bool) bool {
	for _, x := range b {
		if x {
			return true
		}
	}
	return false
}

// OtsuMask selects the voxels above Otsu's threshold (Otsu 1979, on a
// 256-bin histogram), the default foreground mask of N4 in CaPTk: it
// separates head from air.
func OtsuMask(v *volume.Volume) (*volume.Mask, error) {
	if err := checkVolume("image", v); err != nil {
		return nil, err
	}
	if err := checkFinite(v.Data); err != nil { // a NaN threshold selects nothing
		return nil, err
	}
	m, err := volume.NewMask(v.Dims)
	if err != nil {
		return nil, err
	}
	thr := otsuThreshold(v.Data, nil)
	for i, x := range v.Data {
		m.Data[i] = float64(x) > thr
	}
	return m, nil
}

// otsuThreshold returns the intensity that maximises the between-class
// variance of the selected values (all when sel is nil), on a 256-bin
// histogram; values above it form the bright class.
func otsuThreshold(x []float32, sel []bool) float64 {
	st, err := volume.Describe(x, flatMask(sel))
	if err != nil || !(st.Max > st.Min) {
		return math.Inf(1)
	}
	const bins = 256
	var hist [bins]float64
	w := (st.Max - st.Min) / bins
	bin := func(v float32) int { return min(bins-1, int((float64(v)-st.Min)/w)) }
	for i, v := range x {
		if sel == nil || sel[i] {
			hist[bin(v)]++
		}
	}
	var total, sumAll float64
	for b, h := range hist {
		total += h
		sumAll += float64(b) * h
	}
	best, thr := -1.0, 0
	var w0, sum0 float64
	for b := 0; b < bins-1; b++ {
		w0 += hist[b]
		sum0 += float64(b) * hist[b]
		w1 := total - w0
		if w0 == 0 || w1 == 0 {
			continue
		}
		m0, m1 := sum0/w0, (sumAll-sum0)/w1
		if between := w0 * w1 * (m0 - m1) * (m0 - m1); between > best {
			best, thr = between, b
		}
	}
	return st.Min + float64(thr+1)*w
}

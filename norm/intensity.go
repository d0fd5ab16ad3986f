package norm

import (
	"fmt"
	"math"
	"sort"

	"github.com/metasurv/metasurv/volume"
)

// A Normalizer maps the intensities of one channel in place. The study's
// models expect ZScore; the foundation model's own pre-training used MinMax.
type Normalizer interface {
	Normalize(x []float32) error
}

// Apply returns a normalised copy of v.
func Apply(v *volume.Volume, n Normalizer) (*volume.Volume, error) {
	if err := checkVolume("image", v); err != nil {
		return nil, err
	}
	if n == nil {
		return nil, fmt.Errorf("%w: nil normalizer", ErrInput)
	}
	out := v.Clone()
	if err := n.Normalize(out.Data); err != nil {
		return nil, err
	}
	return out, nil
}

// ApplyStack normalises every present channel of s in place, each with its
// own statistics (MONAI's channel_wise=True). Channels marked missing in
// s.Present stay zero.
func ApplyStack(s *volume.Stack, n Normalizer) error {
	if s == nil || n == nil {
		return fmt.Errorf("%w: nil stack or normalizer", ErrInput)
	}
	if n, err := volume.NumVoxels(s.Dims); err != nil || len(s.Data) != n*s.Channels() {
		return fmt.Errorf("%w: stack of %d channels has %d values for dims %v", ErrInput, s.Channels(), len(s.Data), s.Dims)
	}
	per := len(s.Data) / max(1, s.Channels())
	for c := 0; c < s.Channels(); c++ {
		if c < len(s.Present) && !s.Present[c] {
			continue
		}
		if err := n.Normalize(s.Data[c*per : (c+1)*per]); err != nil {
			return fmt.Errorf("channel %s: %w", s.Names[c], err)
		}
	}
	return nil
}

func checkFinite(x []float32) error {
	for i, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("%w (voxel %d is %g)", ErrNonFinite, i, v)
		}
	}
	return nil
}

// ZScore standardises to zero mean and unit population standard deviation,
// as MONAI NormalizeIntensity(nonzero=True, channel_wise=True): by default
// statistics are taken over the nonzero voxels only and only those voxels
// change, so the background outside the brain mask stays exactly zero. A
// zero standard deviation is treated as 1 (MONAI's rule), so a constant
// image becomes zero rather than NaN.
type ZScore struct {
	// IncludeZeros takes the statistics over, and changes, every voxel
	// (MONAI nonzero=False).
	IncludeZeros bool
}

// Normalize implements Normalizer.
func (z ZScore) Normalize(x []float32) error {
	if err := checkFinite(x); err != nil {
		return err
	}
	var sel []bool
	if !z.IncludeZeros {
		sel = make([]bool, len(x))
		any := false
		for i, v := range x {
			sel[i] = v != 0
			any = any || sel[i]
		}
		if !any {
			return nil // all background: nothing to standardise
		}
	}
	st, err := volume.Describe(x, flatMask(sel))
	if err != nil {
		return err
	}
	std := st.Std
	if std == 0 {
		std = 1
	}
	mean, inv := float32(st.Mean), float32(1/std)
	for i, v := range x {
		if sel == nil || sel[i] {
			x[i] = (v - mean) * inv
		}
	}
	return nil
}

// MinMax rescales linearly so that the minimum maps to Min and the maximum
// to Max, as MONAI ScaleIntensity(minv, maxv). The zero value maps to
// [0, 1], the input scaling of the LaMIM foundation model. A constant
// image maps to Min (MONAI multiplies by minv).
type MinMax struct {
	Min, Max float64
}

// Normalize implements Normalizer.
// float32Range reports whether x is a finite value a float32 can hold.
func float32Range(x float64) bool { return math.Abs(x) <= math.MaxFloat32 }

func (m MinMax) Normalize(x []float32) error {
	if err := checkFinite(x); err != nil {
		return err
	}
	lo, hi := m.Min, m.Max
	if lo == 0 && hi == 0 {
		hi = 1
	}
	if !float32Range(lo) || !float32Range(hi) {
		return fmt.Errorf("%w: MinMax output range [%g, %g] (want finite float32 bounds)", ErrInput, lo, hi)
	}
	st, err := volume.Describe(x, nil)
	if err != nil {
		return err
	}
	if st.Max == st.Min {
		for i := range x {
			x[i] *= float32(lo)
		}
		return nil
	}
	scale := (hi - lo) / (st.Max - st.Min)
	for i, v := range x {
		x[i] = float32((float64(v)-st.Min)*scale + lo)
	}
	return nil
}

// PercentileScale maps the Lower and Upper percentiles of the image to
// BMin and BMax, as MONAI ScaleIntensityRangePercentiles: percentiles with
// numpy's linear rule over all voxels, then (x − a_min)/(a_max − a_min)·
// (BMax − BMin) + BMin, clipped to [BMin, BMax] when Clip is set. With
// Relative, the output range is itself scaled to the percentiles
// (BMin + (BMax − BMin)·Lower/100, …), as MONAI's relative=True. The zero
// value of the ranges means Lower 0, Upper 100, BMin 0, BMax 1; the study's
// setting is {Lower: 0.5, Upper: 99.5, BMax: 1, Clip: true}.
type PercentileScale struct {
	Lower, Upper float64 // percentiles in [0, 100]
	BMin, BMax   float64 // output range
	Clip         bool
	Relative     bool
}

// Normalize implements Normalizer.
func (p PercentileScale) Normalize(x []float32) error {
	if err := checkFinite(x); err != nil {
		return err
	}
	lower, upper, bmin, bmax := p.Lower, p.Upper, p.BMin, p.BMax
	if upper == 0 {
		upper = 100
	}
	if bmin == 0 && bmax == 0 {
		bmax = 1
	}
	if !float32Range(bmin) || !float32Range(bmax) {
		return fmt.Errorf("%w: PercentileScale output range [%g, %g] (want finite float32 bounds)", ErrInput, bmin, bmax)
	}
	if lower < 0 || upper > 100 || lower > upper {
		return fmt.Errorf("%w: percentiles [%g, %g] must satisfy 0 ≤ lower ≤ upper ≤ 100", ErrInput, lower, upper)
	}
	q, err := volume.Percentiles(x, nil, lower, upper)
	if err != nil {
		return err
	}
	amin, amax := q[0], q[1]
	if p.Relative {
		bmin, bmax = (bmax-bmin)*lower/100+bmin, (bmax-bmin)*upper/100+bmin
	}
	if amax == amin { // MONAI: shift only
		for i, v := range x {
			x[i] = float32(float64(v) - amin + bmin)
		}
		return clipIf(x, p.Clip, bmin, bmax)
	}
	scale := (bmax - bmin) / (amax - amin)
	for i, v := range x {
		x[i] = float32((float64(v)-amin)*scale + bmin)
	}
	return clipIf(x, p.Clip, bmin, bmax)
}

func clipIf(x []float32, clip bool, lo, hi float64) error {
	if !clip {
		return nil
	}
	l, h := float32(lo), float32(hi)
	for i, v := range x {
		x[i] = min(max(v, l), h)
	}
	return nil
}

// HistogramMatch maps intensities so that their quantiles match those of a
// reference image, as ITK's HistogramMatchingImageFilter: MatchPoints
// evenly spaced quantiles plus the minimum and maximum are matched, with
// piecewise-linear interpolation between them and linear extrapolation
// (slope of the end segments) beyond. With ThresholdAtMean only voxels
// above each image's mean take part (ITK's option for excluding
// background). Build it with NewHistogramMatch.
type HistogramMatch struct {
	matchPoints     int
	thresholdAtMean bool
	ref             []float64 // reference landmarks
}

// HistogramMatchOptions configure NewHistogramMatch. The zero value matches
// 7 quantiles over voxels above the mean, ITK's common brain-MRI setting.
type HistogramMatchOptions struct {
	MatchPoints int  // quantiles between min and max; 0 means 7
	AllVoxels   bool // include voxels at or below the mean
}

// maxMatchPoints bounds HistogramMatchOptions.MatchPoints (ITK uses 7; a
// quantile per distinct intensity of a 16-bit image is 65536).
const maxMatchPoints = 1 << 16

// NewHistogramMatch precomputes the reference landmarks.
func NewHistogramMatch(reference []float32, o HistogramMatchOptions) (*HistogramMatch, error) {
	mp := o.MatchPoints
	if mp == 0 {
		mp = 7
	}
	if mp < 0 || mp > maxMatchPoints {
		return nil, fmt.Errorf("%w: %d match points (want 0 to %d)", ErrInput, mp, maxMatchPoints)
	}
	h := &HistogramMatch{matchPoints: mp, thresholdAtMean: !o.AllVoxels}
	if err := checkFinite(reference); err != nil {
		return nil, fmt.Errorf("reference: %w", err)
	}
	ref, err := h.landmarks(reference)
	if err != nil {
		return nil, fmt.Errorf("reference: %w", err)
	}
	h.ref = ref
	return h, nil
}

// landmarks returns min, the match-point quantiles and max of the voxels
// taking part.
func (h *HistogramMatch) landmarks(x []float32) ([]float64, error) {
	var sel []bool
	if h.thresholdAtMean {
		st, err := volume.Describe(x, nil)
		if err != nil {
			return nil, err
		}
		sel = make([]bool, len(x))
		for i, v := range x {
			sel[i] = float64(v) > st.Mean
		}
	}
	qs := make([]float64, h.matchPoints+2)
	for j := range qs {
		qs[j] = 100 * float64(j) / float64(h.matchPoints+1)
	}
	lm, err := volume.Percentiles(x, flatMask(sel), qs...)
	if err != nil {
		return nil, err
	}
	return lm, nil
}

// Normalize implements Normalizer.
func (h *HistogramMatch) Normalize(x []float32) error {
	if err := checkFinite(x); err != nil {
		return err
	}
	src, err := h.landmarks(x)
	if err != nil {
		return err
	}
	for i, v := range x {
		x[i] = float32(piecewise(float64(v), src, h.ref))
	}
	return nil
}

// piecewise maps v through the landmarks src → dst, linearly between them
// and with the end slopes beyond. Flat source segments map to their
// destination start.
func piecewise(v float64, src, dst []float64) float64 {
	n := len(src)
	seg := sort.SearchFloat64s(src[1:n-1], v) // segment index in [0, n-2]
	a, b := src[seg], src[seg+1]
	if b == a {
		return dst[seg]
	}
	return dst[seg] + (v-a)*(dst[seg+1]-dst[seg])/(b-a)
}

package register

import (
	"math"
	"slices"

	"github.com/metasurv/metasurv/internal/bspline"
	"github.com/metasurv/metasurv/internal/parallel"
)

// Metric selects the image similarity that registration optimises. Every
// metric is reported as a cost to minimise: the negative of a similarity.
type Metric int

const (
	// MattesMI is Mattes et al.'s mutual information (IEEE TMI 2003), as
	// ITK's MattesMutualInformationImageToImageMetric: a joint histogram of
	// Bins bins with a zero-order (box) Parzen window for the fixed image and
	// a cubic B-spline window for the moving image, intensity ranges from the
	// images' minimum and maximum, two padding bins at each end. Cost −MI.
	// For any pair of modalities; the zero value.
	MattesMI Metric = iota
	// NMI is Studholme's normalised mutual information (H(F)+H(M))/H(F,M) as
	// in Greedy (Yushkevich): each image's intensities are binned between its
	// 1st and 99th percentiles (values beyond are clamped to the end bins),
	// with the same Parzen windows as MattesMI. Cost −NMI, in [−2, −1].
	NMI
	// NCC is the normalised cross-correlation of the fixed and moving values
	// over the samples. Cost −NCC: for the same contrast only.
	NCC
	// MSE is the mean squared difference. For identical contrast and scale.
	MSE
)

// histPad is the number of padding bins at each end of a Parzen histogram,
// as in ITK.
const histPad = 2

// binning maps intensities to continuous histogram coordinates:
// term = (v − lo)·scale + histPad, clamped to the histogram.
type binning struct {
	lo, scale, maxTerm float64
}

func newBinning(lo, hi float64, bins int) binning {
	w := hi - lo
	if !(w > 0) {
		w = 1
	}
	return binning{lo: lo, scale: float64(bins-2*histPad) / w, maxTerm: float64(bins-histPad) - 1e-9}
}

// term returns the histogram coordinate of v and its derivative with
// respect to v (0 where the value was clamped).
func (b binning) term(v float64) (float64, float64) {
	t := (v-b.lo)*b.scale + histPad
	if !(t >= histPad) { // also NaN
		return histPad, 0
	}
	if t < histPad {
		return histPad, 0
	}
	if t > b.maxTerm {
		return b.maxTerm, 0
	}
	return t, b.scale
}

// metricState holds what a metric needs between the sample pass and the
// gradient pass of one evaluation.
type metricState struct {
	kind Metric
	bins int
	fb   binning // fixed
	mb   binning // moving
	fbin []int32 // fixed bin of each sample (histogram metrics)

	joint  []float64   // bins×bins, [f*bins+m]
	chunkH [][]float64 // per-chunk partial histograms
	weight []float64   // ∂score/∂p(f,m) table
	n      float64     // number of valid samples

	// NCC/MSE statistics
	fMean, mMean, sff, smm, sfm float64
}

// chunking splits n samples into a fixed number of chunks, so that the
// partial sums are reduced in the same order whatever the thread timing:
// the result is bitwise reproducible.
func chunking(n int) (chunks, size int) {
	size = 4096
	chunks = (n + size - 1) / size
	return max(chunks, 1), size
}

// setupBinning chooses the intensity ranges of the histogram metrics from
// the fixed sample values and the moving image's values.
func (s *metricState) setupBinning(fixed []float64, moving []float32) {
	if s.kind != MattesMI && s.kind != NMI {
		return
	}
	var flo, fhi, mlo, mhi float64
	if s.kind == MattesMI {
		flo, fhi = minMax64(fixed)
		mlo, mhi = minMax32(moving)
	} else {
		flo, fhi = percentiles64(fixed, 0.01, 0.99)
		mlo, mhi = percentiles32(moving, 0.01, 0.99)
	}
	s.fb, s.mb = newBinning(flo, fhi, s.bins), newBinning(mlo, mhi, s.bins)
	s.fbin = make([]int32, len(fixed))
	for i, v := range fixed {
		t, _ := s.fb.term(v)
		s.fbin[i] = int32(t)
	}
	s.joint = make([]float64, s.bins*s.bins)
	s.weight = make([]float64, s.bins*s.bins)
}

// cost computes the metric value from the moving values mv (valid where
// ok) and prepares deriv. It returns NaN when fewer than 2 samples are
// valid.
func (s *metricState) cost(fixed, mv []float64, ok []bool) float64 {
	switch s.kind {
	case MattesMI, NMI:
		return s.histCost(mv, ok)
	default:
		return s.momentCost(fixed, mv, ok)
	}
}

func (s *metricState) histCost(mv []float64, ok []bool) float64 {
	nb := s.bins
	chunks, size := chunking(len(mv))
	for len(s.chunkH) < chunks {
		s.chunkH = append(s.chunkH, make([]float64, nb*nb))
	}
	parallel.For(chunks, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			h := s.chunkH[c]
			clear(h)
			for i := c * size; i < min((c+1)*size, len(mv)); i++ {
				if !ok[i] {
					continue
				}
				t, _ := s.mb.term(mv[i])
				fl := math.Floor(t)
				w := bspline.Weights(t - fl)
				row := h[int(s.fbin[i])*nb+int(fl)-1:][:4]
				row[0] += w[0]
				row[1] += w[1]
				row[2] += w[2]
				row[3] += w[3]
			}
		}
	})
	p := s.joint
	clear(p)
	for c := 0; c < chunks; c++ {
		for i, v := range s.chunkH[c] {
			p[i] += v
		}
	}
	var total float64
	for _, v := range p {
		total += v
	}
	s.n = total
	if total < 2 {
		return math.NaN()
	}
	pf := make([]float64, nb)
	pm := make([]float64, nb)
	for f := 0; f < nb; f++ {
		for m := 0; m < nb; m++ {
			v := p[f*nb+m] / total
			p[f*nb+m] = v
			pf[f] += v
			pm[m] += v
		}
	}
	var hf, hm, hfm float64
	for b := 0; b < nb; b++ {
		hf -= xlogx(pf[b])
		hm -= xlogx(pm[b])
	}
	for _, v := range p {
		hfm -= xlogx(v)
	}
	mi := hf + hm - hfm
	for f := 0; f < nb; f++ {
		for m := 0; m < nb; m++ {
			v := p[f*nb+m]
			if v <= 0 {
				s.weight[f*nb+m] = 0
				continue
			}
			if s.kind == MattesMI {
				s.weight[f*nb+m] = math.Log(v) - math.Log(pm[m])
			} else {
				s.weight[f*nb+m] = (-math.Log(pm[m]) + (hf+hm)/hfm*math.Log(v)) / hfm
			}
		}
	}
	if s.kind == MattesMI {
		return -mi
	}
	if hfm <= 0 {
		return -2
	}
	return -(hf + hm) / hfm
}

func xlogx(x float64) float64 {
	if x <= 0 {
		return 0
	}
	return x * math.Log(x)
}

func (s *metricState) momentCost(fixed, mv []float64, ok []bool) float64 {
	var n, sf, sm float64
	for i, v := range mv {
		if ok[i] {
			n++
			sf += fixed[i]
			sm += v
		}
	}
	s.n = n
	if n < 2 {
		return math.NaN()
	}
	s.fMean, s.mMean = sf/n, sm/n
	var sff, smm, sfm, sse float64
	for i, v := range mv {
		if ok[i] {
			df, dm := fixed[i]-s.fMean, v-s.mMean
			sff += df * df
			smm += dm * dm
			sfm += df * dm
			e := v - fixed[i]
			sse += e * e
		}
	}
	s.sff, s.smm, s.sfm = sff, smm, sfm
	if s.kind == MSE {
		return sse / n
	}
	if sff <= 0 || smm <= 0 {
		return 0
	}
	return -sfm / math.Sqrt(sff*smm)
}

// deriv returns ∂cost/∂m_i for a valid sample i with fixed value f and
// moving value m.
func (s *metricState) deriv(i int, f, m float64) float64 {
	switch s.kind {
	case MattesMI, NMI:
		t, dt := s.mb.term(m)
		if dt == 0 {
			return 0
		}
		fl := math.Floor(t)
		d := bspline.Derivs(t - fl)
		w := s.weight[int(s.fbin[i])*s.bins+int(fl)-1:][:4]
		// score = Σ W·p; ∂p/∂m = β′·dt/n; cost = −score.
		return -(w[0]*d[0] + w[1]*d[1] + w[2]*d[2] + w[3]*d[3]) * dt / s.n
	case MSE:
		return 2 * (m - f) / s.n
	default:
		if s.sff <= 0 || s.smm <= 0 {
			return 0
		}
		r := math.Sqrt(s.sff * s.smm)
		return -((f - s.fMean) - s.sfm*(m-s.mMean)/s.smm) / r
	}
}

// minMax64 returns the range of the finite values of x ((0, 1) if none).
func minMax64(x []float64) (float64, float64) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range x {
		if v < lo {
			lo = v
		}
		if v > hi && !math.IsInf(v, 1) {
			hi = v
		}
	}
	if math.IsInf(lo, -1) || math.IsInf(lo, 1) || math.IsInf(hi, -1) {
		return finiteRange(x)
	}
	return lo, hi
}

// finiteRange is the slow path of minMax64 when infinities are present.
func finiteRange(x []float64) (float64, float64) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range x {
		if !math.IsInf(v, 0) && !math.IsNaN(v) {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	if lo > hi {
		return 0, 1
	}
	return lo, hi
}

// minMax32 returns the range of the finite values of x ((0, 1) if none).
func minMax32(x []float32) (float64, float64) {
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	for _, v := range x {
		if v < lo && !math.IsInf(float64(v), -1) {
			lo = v
		}
		if v > hi && !math.IsInf(float64(v), 1) {
			hi = v
		}
	}
	if lo > hi {
		return 0, 1
	}
	return float64(lo), float64(hi)
}

// percentiles64 returns the lo and hi quantiles of x (linear
// interpolation between order statistics, numpy's default).
func percentiles64(x []float64, lo, hi float64) (float64, float64) {
	s := make([]float64, 0, len(x))
	for _, v := range x {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			s = append(s, v)
		}
	}
	slices.Sort(s)
	return quantile(s, lo), quantile(s, hi)
}

func percentiles32(x []float32, lo, hi float64) (float64, float64) {
	// Subsample large images: a 1 %…99 % range needs no exact order
	// statistics of millions of voxels.
	step := max(1, len(x)/200000)
	s := make([]float64, 0, len(x)/step+1)
	for i := 0; i < len(x); i += step {
		if v := float64(x[i]); !math.IsNaN(v) && !math.IsInf(v, 0) {
			s = append(s, v)
		}
	}
	slices.Sort(s)
	return quantile(s, lo), quantile(s, hi)
}

func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	p := q * float64(len(sorted)-1)
	i := int(p)
	if i >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	return sorted[i] + (p-float64(i))*(sorted[i+1]-sorted[i])
}

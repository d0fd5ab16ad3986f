package cli

import (
	"context"
	"fmt"
	"math"
	"sort"

	"github.com/metasurv/metasurv/volume"
)

// Radiomics is a hand-made image embedding, per sequence inside the brain
// (voxels nonzero in any channel) of the z-scored stack:
//
//   - first-order features: percentiles, skewness and kurtosis;
//   - the volume shares of bright and dark voxels at several z-score cuts,
//     where enhancing rims, necrosis and oedema show;
//   - the same shares of the high-pass image — each voxel minus the mean of
//     the brain voxels in a box of half side HighPassMM around it, like
//     radiomics' Laplacian-of-Gaussian filtered features — which keeps
//     lesions but drops the smooth bias field of the coil, left in the
//     stack by the CaPTk-style preprocessing (N4 corrects only the copies
//     used for registration) and otherwise as bright as an enhancing rim;
//   - the brain's share of the grid.
//
// The shares enter as logarithms (log₁₀, floored at 10⁻⁴): lesion volumes
// span orders of magnitude and act on prognosis roughly by their
// logarithm, as in most prognostic scores, so a linear or small neural
// model reads them without having to learn the transform. It needs no
// weights, so it is the embedding of the quickstart and of machines
// without a model zoo.
type Radiomics struct{}

// HighPassMM is the half side, in mm, of the box whose mean the high-pass
// features subtract, rounded to whole voxels per axis (3 on the 64³
// quickstart grid, 4–5 on the 96³ study grid): wider than a typical
// enhancing rim and much narrower than a bias field. A box of fixed
// voxels would shrink below the lesions on a finer grid and subtract them.
const HighPassMM = 9

var (
	// firstOrderNames are the distribution features.
	firstOrderNames = []string{"p01", "p05", "p25", "p50", "p75", "p95", "p99", "skew", "kurt"}
	// brightCuts and darkCuts are the z-score cuts of the volume shares;
	// highCuts those of the high-pass image (both signs).
	brightCuts = []float64{1.5, 2, 2.5, 3}
	darkCuts   = []float64{-1.5, -2, -2.5}
	highCuts   = []float64{0.75, 1, 1.5, 2}
	// radiomicsNames are the features per sequence, in order.
	radiomicsNames = featureNames()
)

func featureNames() []string {
	names := append([]string{}, firstOrderNames...)
	for _, c := range brightCuts {
		names = append(names, fmt.Sprintf("log_gt%g", c))
	}
	for _, c := range darkCuts {
		names = append(names, fmt.Sprintf("log_lt%g", c))
	}
	for _, c := range highCuts {
		names = append(names, fmt.Sprintf("log_hp_gt%g", c))
	}
	for _, c := range highCuts {
		names = append(names, fmt.Sprintf("log_hp_lt-%g", c))
	}
	return append(names, "brain")
}

// Name implements Embedder.
func (Radiomics) Name() string { return "radiomics" }

// Dim implements Embedder.
func (Radiomics) Dim() int { return 4 * len(radiomicsNames) }

// FeatureNames names the Dim features (sequence_feature).
func (Radiomics) FeatureNames() []string {
	var out []string
	for _, s := range SequenceNames {
		for _, f := range radiomicsNames {
			out = append(out, s+"_"+f)
		}
	}
	return out
}

// Embed implements Embedder.
func (r Radiomics) Embed(ctx context.Context, st *volume.Stack) ([]float32, error) {
	if st.Channels() != 4 {
		return nil, fmt.Errorf("radiomics: stack has %d channels, want 4 (T1, T1c, T2, FLAIR)", st.Channels())
	}
	out := make([]float32, 0, r.Dim())
	b := newBrain(st)
	for c := 0; c < 4; c++ {
		out = append(out, b.features(st, c)...)
	}
	return out, nil
}

// EmbedSequence implements Embedder: the features of one sequence in its
// slot, NaN (missing) elsewhere.
func (r Radiomics) EmbedSequence(ctx context.Context, st *volume.Stack, seq int) ([]float32, error) {
	if seq < 0 || seq >= 4 || st.Channels() != 4 {
		return nil, fmt.Errorf("radiomics: sequence %d of a %d-channel stack", seq, st.Channels())
	}
	return r.place(newBrain(st).features(st, seq), seq), nil
}

// place returns the features of one sequence in its slot, NaN elsewhere.
func (r Radiomics) place(f []float32, seq int) []float32 {
	out := make([]float32, r.Dim())
	for i := range out {
		out[i] = float32(math.NaN())
	}
	copy(out[seq*len(radiomicsNames):], f)
	return out
}

// sequenceSlot implements sequenceSlicer: EmbedSequence equals the
// sequence's slot of Embed, the features being computed per channel.
func (r Radiomics) sequenceSlot(all []float32, seq int) []float32 {
	k := len(radiomicsNames)
	return r.place(all[seq*k:(seq+1)*k], seq)
}

// brain is the region the features are computed over, with the high-pass
// box's half side in voxels per axis and the number of brain voxels in the
// box around every voxel (shared by the four channels). dims and radius
// are in boxSum's order, fastest axis first: the stack stores (i, j, k)
// with k fastest, so they are the stack's reversed.
type brain struct {
	dims   [3]int
	radius [3]int
	in     []bool
	count  []float32
}

func newBrain(st *volume.Stack) *brain {
	b := &brain{dims: [3]int{st.Dims[2], st.Dims[1], st.Dims[0]}, in: brainMask(st)}
	for ax := range b.radius {
		col := [3]float64{st.Affine[0][ax], st.Affine[1][ax], st.Affine[2][ax]}
		b.radius[2-ax] = max(1, int(math.Round(HighPassMM/math.Sqrt(col[0]*col[0]+col[1]*col[1]+col[2]*col[2]))))
	}
	ones := make([]float32, len(b.in))
	for i, in := range b.in {
		if in {
			ones[i] = 1
		}
	}
	b.count = boxSum(ones, b.dims, b.radius)
	return b
}

// brainMask marks the voxels nonzero in any channel: the brain, since
// preprocessing zeroes everything outside its mask.
func brainMask(st *volume.Stack) []bool {
	n := st.Dims[0] * st.Dims[1] * st.Dims[2]
	m := make([]bool, n)
	for c := 0; c < st.Channels(); c++ {
		for i, v := range st.Data[c*n : (c+1)*n] {
			if v != 0 {
				m[i] = true
			}
		}
	}
	return m
}

// features are the features of channel c; NaN for an absent sequence, so
// that later steps impute the training mean instead of reading the zero
// fill as a measurement.
func (b *brain) features(st *volume.Stack, c int) []float32 {
	f := make([]float32, len(radiomicsNames))
	if !st.Present[c] {
		for i := range f {
			f[i] = float32(math.NaN())
		}
		return f
	}
	n := len(b.in)
	ch := st.Data[c*n : (c+1)*n]
	masked := make([]float32, n)
	for i, in := range b.in {
		if in {
			masked[i] = ch[i]
		}
	}
	local := boxSum(masked, b.dims, b.radius)
	vals := make([]float64, 0, n/4)
	high := make([]float64, 0, n/4)
	for i, in := range b.in {
		if in {
			vals = append(vals, float64(ch[i]))
			high = append(high, float64(ch[i]-local[i]/b.count[i]))
		}
	}
	if len(vals) < 10 {
		return f
	}
	sort.Float64s(vals)
	sort.Float64s(high)
	out := firstOrder(vals)
	out = append(out, logShares(vals, brightCuts, darkCuts)...)
	neg := make([]float64, len(highCuts))
	for i, c := range highCuts {
		neg[i] = -c
	}
	out = append(out, logShares(high, highCuts, neg)...)
	out = append(out, float64(len(vals))/float64(n))
	for i, v := range out {
		f[i] = float32(v)
	}
	return f
}

// firstOrder are the percentiles, skewness and excess kurtosis of sorted
// values.
func firstOrder(vals []float64) []float64 {
	q := func(p float64) float64 { return vals[int(p*float64(len(vals)-1))] }
	k := float64(len(vals))
	var m, m2, m3, m4 float64
	for _, v := range vals {
		m += v
	}
	m /= k
	for _, v := range vals {
		d := v - m
		m2 += d * d
		m3 += d * d * d
		m4 += d * d * d * d
	}
	m2 /= k
	sd := math.Sqrt(m2)
	skew, kurt := 0.0, 0.0
	if sd > 0 {
		skew = m3 / k / (sd * sd * sd)
		kurt = m4/k/(m2*m2) - 3
	}
	return []float64{q(0.01), q(0.05), q(0.25), q(0.5), q(0.75), q(0.95), q(0.99), skew, kurt}
}

// logShares are log₁₀ of the shares of sorted values above each of above
// and below each of below, floored at −4 (one voxel in 10⁴, about the
// smallest lesion the model grid resolves) so that an empty class is a
// finite value.
func logShares(sorted []float64, above, below []float64) []float64 {
	n := float64(len(sorted))
	share := func(k int) float64 { return math.Log10(math.Max(float64(k)/n, 1e-4)) }
	var out []float64
	for _, c := range above {
		out = append(out, share(len(sorted)-sort.SearchFloat64s(sorted, math.Nextafter(c, math.Inf(1)))))
	}
	for _, c := range below {
		out = append(out, share(sort.SearchFloat64s(sorted, c)))
	}
	return out
}

// boxSum returns, at every voxel, the sum of x over the box of side
// 2r[axis]+1 centred on it (clipped at the grid's border), by running sums
// along each axis in turn.
func boxSum(x []float32, dims [3]int, radius [3]int) []float32 {
	cur := append([]float32(nil), x...)
	tmp := make([]float32, len(x))
	stride := [3]int{1, dims[0], dims[0] * dims[1]}
	line := make([]float64, max(dims[0], dims[1], dims[2])+1)
	for ax := 0; ax < 3; ax++ {
		n, s, r := dims[ax], stride[ax], radius[ax]
		for start := range cur {
			if (start/s)%n != 0 { // visit each line along ax once, from its first voxel
				continue
			}
			line[0] = 0
			for i := 0; i < n; i++ {
				line[i+1] = line[i] + float64(cur[start+i*s])
			}
			for i := 0; i < n; i++ {
				lo, hi := max(i-r, 0), min(i+r+1, n)
				tmp[start+i*s] = float32(line[hi] - line[lo])
			}
		}
		cur, tmp = tmp, cur
	}
	return cur
}

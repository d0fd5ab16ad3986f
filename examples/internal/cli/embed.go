package cli

import (
	"context"
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/metasurv/metasurv/internal/atomicfile"
	"github.com/metasurv/metasurv/internal/npy"
	"github.com/metasurv/metasurv/volume"
)

// Embedder turns a preprocessed stack into a feature vector: all four
// sequences together, or one sequence alone (the others treated as
// missing), for the per-sequence panels of Figure 2. Features that an
// absent sequence cannot give are NaN; FitScale, FitPCA and the UMAP
// standardisation impute them with the training mean.
type Embedder interface {
	Name() string
	Dim() int
	Embed(ctx context.Context, st *volume.Stack) ([]float32, error)
	EmbedSequence(ctx context.Context, st *volume.Stack, seq int) ([]float32, error)
}

// Radiomics is a hand-made image embedding: per sequence, the intensity
// distribution inside the brain after z-scoring (percentiles, skewness,
// kurtosis) and the shares of very bright and very dark voxels — where
// enhancing rims, necrosis and oedema show. It needs no weights, so it is
// the embedding of the quickstart's baseline and of machines without a
// model zoo.
type Radiomics struct{}

// radiomicsNames are the features per sequence.
var radiomicsNames = []string{"p01", "p05", "p25", "p50", "p75", "p95", "p99", "skew", "kurt",
	"gt2", "gt3", "gt4", "ltm2", "ltm3", "brain"}

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
	brain := brainMask(st)
	for c := 0; c < 4; c++ {
		out = append(out, channelFeatures(st, c, brain)...)
	}
	return out, nil
}

// EmbedSequence implements Embedder: the features of one sequence in its
// slot, NaN (missing) elsewhere.
func (r Radiomics) EmbedSequence(ctx context.Context, st *volume.Stack, seq int) ([]float32, error) {
	if seq < 0 || seq >= 4 || st.Channels() != 4 {
		return nil, fmt.Errorf("radiomics: sequence %d of a %d-channel stack", seq, st.Channels())
	}
	out := make([]float32, r.Dim())
	for i := range out {
		out[i] = float32(math.NaN())
	}
	copy(out[seq*len(radiomicsNames):], channelFeatures(st, seq, brainMask(st)))
	return out, nil
}

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

// channelFeatures are the features of channel c; NaN for an absent
// sequence, so that later steps impute the training mean instead of
// reading the zero fill as a measurement.
func channelFeatures(st *volume.Stack, c int, brain []bool) []float32 {
	f := make([]float32, len(radiomicsNames))
	if !st.Present[c] {
		for i := range f {
			f[i] = float32(math.NaN())
		}
		return f
	}
	n := len(brain)
	ch := st.Data[c*n : (c+1)*n]
	vals := make([]float64, 0, n/4)
	for i, in := range brain {
		if in {
			vals = append(vals, float64(ch[i]))
		}
	}
	if len(vals) < 10 {
		return f
	}
	sort.Float64s(vals)
	q := func(p float64) float64 { return vals[int(p*float64(len(vals)-1))] }
	var m, m2, m3, m4 float64
	for _, v := range vals {
		m += v
	}
	m /= float64(len(vals))
	var gt2, gt3, gt4, lt2, lt3 float64
	for _, v := range vals {
		d := v - m
		m2 += d * d
		m3 += d * d * d
		m4 += d * d * d * d
		switch {
		case v > 4:
			gt4++
			fallthrough
		case v > 3:
			gt3++
			fallthrough
		case v > 2:
			gt2++
		}
		if v < -2 {
			lt2++
		}
		if v < -3 {
			lt3++
		}
	}
	k := float64(len(vals))
	m2 /= k
	sd := math.Sqrt(m2)
	skew, kurt := 0.0, 0.0
	if sd > 0 {
		skew = m3 / k / (sd * sd * sd)
		kurt = m4/k/(m2*m2) - 3
	}
	for i, v := range []float64{q(0.01), q(0.05), q(0.25), q(0.5), q(0.75), q(0.95), q(0.99), skew, kurt,
		100 * gt2 / k, 100 * gt3 / k, 100 * gt4 / k, 100 * lt2 / k, 100 * lt3 / k, k / float64(n)} {
		f[i] = float32(v)
	}
	return f
}

// Embeddings of a cohort: one row per patient for the four sequences, and
// one row per (patient, present sequence) for the per-sequence panel.
type Embeddings struct {
	IDs      []string
	All      [][]float32 // patient × Dim
	PerSeq   [][]float32 // rows of the present sequences
	PerSeqOf []int       // patient index of each PerSeq row
	SeqOf    []int       // sequence of each PerSeq row
}

// EmbedAll embeds every stack (nil stacks are skipped).
func EmbedAll(ctx context.Context, e Embedder, ids []string, stacks []*volume.Stack, bar *Bar) (*Embeddings, error) {
	out := &Embeddings{}
	for i, st := range stacks {
		if st == nil {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		bar.Update("embed", float64(i)/float64(len(stacks)), ids[i])
		v, err := e.Embed(ctx, st)
		if err != nil {
			return nil, fmt.Errorf("patient %s: %w", ids[i], err)
		}
		pi := len(out.IDs)
		out.IDs = append(out.IDs, ids[i])
		out.All = append(out.All, v)
		for s := 0; s < 4; s++ {
			if !st.Present[s] {
				continue
			}
			w, err := e.EmbedSequence(ctx, st, s)
			if err != nil {
				return nil, fmt.Errorf("patient %s %s: %w", ids[i], SequenceNames[s], err)
			}
			out.PerSeq = append(out.PerSeq, w)
			out.PerSeqOf = append(out.PerSeqOf, pi)
			out.SeqOf = append(out.SeqOf, s)
		}
	}
	bar.Update("embed", 1, fmt.Sprintf("%d patients", len(out.IDs)))
	return out, nil
}

// Flatten returns rows as one row-major float32 slice.
func Flatten(rows [][]float32) ([]float32, int) {
	if len(rows) == 0 {
		return nil, 0
	}
	d := len(rows[0])
	out := make([]float32, 0, len(rows)*d)
	for _, r := range rows {
		out = append(out, r...)
	}
	return out, d
}

// SaveNPY writes rows as an n×d float32 .npy file, atomically.
func SaveNPY(path string, rows [][]float32) error {
	flat, d := Flatten(rows)
	return atomicfile.Write(path, func(w io.Writer) error { return npy.Write(w, []int{len(rows), d}, flat) })
}

package cli

import (
	"context"
	"fmt"
	"io"

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

// Embeddings of a cohort: one row per patient for the four sequences, and
// one row per (patient, present sequence) for the per-sequence panel.
type Embeddings struct {
	IDs      []string
	All      [][]float32 // patient × Dim
	PerSeq   [][]float32 // rows of the present sequences
	PerSeqOf []int       // patient index of each PerSeq row
	SeqOf    []int       // sequence of each PerSeq row
}

// sequenceSlicer is implemented by embedders whose per-sequence embedding
// is one slot of the four-sequence embedding (Radiomics), so that EmbedAll
// need not compute the features twice.
type sequenceSlicer interface {
	sequenceSlot(all []float32, seq int) []float32
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
			var w []float32
			if sp, ok := e.(sequenceSlicer); ok {
				w = sp.sequenceSlot(v, s)
			} else if w, err = e.EmbedSequence(ctx, st, s); err != nil {
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

// add appends the patients of o, renumbering its per-sequence rows.
func (e *Embeddings) add(o *Embeddings) {
	base := len(e.IDs)
	e.IDs = append(e.IDs, o.IDs...)
	e.All = append(e.All, o.All...)
	e.PerSeq = append(e.PerSeq, o.PerSeq...)
	e.SeqOf = append(e.SeqOf, o.SeqOf...)
	for _, p := range o.PerSeqOf {
		e.PerSeqOf = append(e.PerSeqOf, base+p)
	}
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

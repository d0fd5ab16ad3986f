package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

func nowSeconds() float64 { return float64(time.Now().UnixNano()) / 1e9 }

// Summary is the QC summary written to OUT/qc_summary.json.
type Summary struct {
	Patients  int            `json:"patients"`
	Completed int            `json:"completed"`
	Resumed   int            `json:"resumed"` // finished by an earlier run, not redone
	Failed    int            `json:"failed"`
	ByStage   map[string]int `json:"failed_by_stage"`
	// MissingSequence counts the completed patients without each sequence
	// (zero-filled channels).
	MissingSequence map[string]int `json:"missing_sequence"`
	// Suspect lists the completed patients with a registration flagged by
	// register's check, and what was flagged.
	Suspect  map[string][]string `json:"suspect"`
	Failures []Failure           `json:"failures"`
	Figure   string              `json:"figure2,omitempty"`
}

// aggregate writes the cohort-level outputs from all outcomes and
// failures: the embedding matrix with ids, the per-sequence matrix, the
// dead-letter file, the QC summary and Figure 2. Rows are sorted by id so
// that the files do not depend on the order workers finished in.
func aggregate(ctx context.Context, out string, classes map[string]int, oks []Outcome, fails []Failure) (*Summary, error) {
	sort.Slice(oks, func(a, b int) bool { return oks[a].ID < oks[b].ID })
	sort.Slice(fails, func(a, b int) bool { return fails[a].ID < fails[b].ID })
	s := &Summary{Patients: len(oks) + len(fails), Completed: len(oks), Failed: len(fails),
		ByStage: map[string]int{}, MissingSequence: map[string]int{}, Suspect: map[string][]string{}, Failures: fails}
	if s.Failures == nil {
		s.Failures = []Failure{}
	}
	for _, f := range fails {
		s.ByStage[f.Stage]++
	}
	var ids, seqRows []string
	var full, perSeq []float32
	var perSeqOf, seqOf []int
	d := 0
	for i, o := range oks {
		if o.Resumed {
			s.Resumed++
		}
		for _, m := range o.Missing {
			s.MissingSequence[m]++
		}
		if len(o.Suspect) > 0 {
			s.Suspect[o.ID] = o.Suspect
		}
		if d == 0 {
			d = len(o.Full)
		}
		if len(o.Full) != d {
			return nil, fmt.Errorf("patient %s has a %d-feature embedding, others %d: outputs of two configurations mixed in %s", o.ID, len(o.Full), d, out)
		}
		ids = append(ids, o.ID)
		full = append(full, o.Full...)
		for q, v := range o.PerSeq {
			if v == nil {
				continue
			}
			perSeq = append(perSeq, v...)
			perSeqOf = append(perSeqOf, i)
			seqOf = append(seqOf, q)
			seqRows = append(seqRows, o.ID+","+sequenceNames[q])
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	lines := func(ls []string) func(io.Writer) error {
		return func(w io.Writer) error {
			for _, l := range ls {
				if _, err := fmt.Fprintln(w, l); err != nil {
					return err
				}
			}
			return nil
		}
	}
	if err := writeAtomic(filepath.Join(out, "ids.txt"), lines(ids)); err != nil {
		return nil, err
	}
	if err := writeAtomic(filepath.Join(out, "embeddings.npy"), func(w io.Writer) error { return writeNPY(w, []int{len(ids), d}, full) }); err != nil {
		return nil, err
	}
	if err := writeAtomic(filepath.Join(out, "embeddings_per_sequence.npy"), func(w io.Writer) error {
		return writeNPY(w, []int{len(seqRows), d}, perSeq)
	}); err != nil {
		return nil, err
	}
	if err := writeAtomic(filepath.Join(out, "per_sequence_rows.csv"), lines(append([]string{"id,sequence"}, seqRows...))); err != nil {
		return nil, err
	}
	var dl []string
	for _, f := range fails {
		b, _ := json.Marshal(f)
		dl = append(dl, string(b))
	}
	if err := writeAtomic(filepath.Join(out, "deadletter.jsonl"), lines(dl)); err != nil {
		return nil, err
	}
	if len(ids) >= 4 {
		cls := make([]int, len(ids))
		for i, id := range ids {
			cls[i] = 3
			if c, ok := classes[id]; ok {
				cls[i] = c
			}
		}
		if err := figure2(ctx, filepath.Join(out, "figure2.png"), full, len(ids), d, perSeq, perSeqOf, seqOf, cls); err != nil {
			return nil, fmt.Errorf("figure 2: %w", err)
		}
		s.Figure = "figure2.png"
	}
	b, _ := json.MarshalIndent(s, "", " ")
	if err := writeAtomic(filepath.Join(out, "qc_summary.json"), func(w io.Writer) error { _, err := w.Write(b); return err }); err != nil {
		return nil, err
	}
	return s, nil
}

// standardise z-scores every column (UMAP input); constant columns become 0.
func standardise(x []float32, n, d int) []float32 {
	out := make([]float32, len(x))
	for j := 0; j < d; j++ {
		var m, v float64
		for i := 0; i < n; i++ {
			m += float64(x[i*d+j])
		}
		m /= float64(n)
		for i := 0; i < n; i++ {
			e := float64(x[i*d+j]) - m
			v += e * e
		}
		sd := math.Sqrt(v / float64(n))
		for i := 0; i < n; i++ {
			if sd > 0 {
				out[i*d+j] = float32((float64(x[i*d+j]) - m) / sd)
			}
		}
	}
	return out
}

func (s *Summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d patients: %d completed (%d resumed from an earlier run), %d in dead-letter", s.Patients, s.Completed, s.Resumed, s.Failed)
	for _, f := range s.Failures {
		fmt.Fprintf(&b, "\n  %s [%s] %s", f.ID, f.Stage, f.Reason)
	}
	return b.String()
}

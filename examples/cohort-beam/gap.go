package main

// This file holds what the public API of metasurv does not offer yet and
// the example reaches through internal packages (allowed by Go because the
// example's import path lies under github.com/metasurv/metasurv; a module
// elsewhere could not): the synthetic atlas and UMAP + Figure 2. The
// per-patient work (the DoFns) uses public packages only.

import (
	"context"
	"fmt"
	"strconv"

	"github.com/metasurv/metasurv/internal/figures"
	"github.com/metasurv/metasurv/internal/synth"
	"github.com/metasurv/metasurv/internal/umap"
	"github.com/metasurv/metasurv/volume"
)

// phantomAtlas is the synthetic cohort's atlas: the lesion-free phantom
// head (T1 contrast) on a RAS grid of the given spacing, and its brain mask.
func phantomAtlas(spacing string) (*volume.Volume, *volume.Mask, error) {
	sp, err := strconv.ParseFloat(spacing, 64)
	if err != nil || !(sp >= 0.5 && sp <= 8) {
		return nil, nil, fmt.Errorf("atlas phantom:%s: want a spacing in mm from 0.5 to 8", spacing)
	}
	dims, a, err := synth.Grid([3]float64{180, 216, 180}, [3]float64{sp, sp, sp}, "RAS")
	if err != nil {
		return nil, nil, err
	}
	none := synth.HeadOptions{Lesions: []synth.Lesion{}}
	img, err := synth.Head(synth.T1, dims, a, none)
	if err != nil {
		return nil, nil, err
	}
	m, err := synth.BrainMask(dims, a, none)
	if err != nil {
		return nil, nil, err
	}
	return img, m, nil
}

var classNames = []string{"<6 months", "6–21 months", ">21 months", "unknown (censored or no table)"}

// figure2 draws the study's Figure 2 from the embedding matrices: UMAP of
// the per-sequence embeddings coloured by sequence and by survival class,
// and of the four-sequence embeddings by survival class.
func figure2(ctx context.Context, path string, full []float32, n, d int, perSeq []float32, perSeqOf, seqOf, cls []int) error {
	nb := func(m int) int { return max(2, min(15, m-1)) }
	all, err := umap.Fit(ctx, standardise(full, n, d), n, d, umap.Options{Seed: 1, Neighbors: nb(n)})
	if err != nil {
		return err
	}
	m := len(seqOf)
	ps, err := umap.Fit(ctx, standardise(perSeq, m, d), m, d, umap.Options{Seed: 1, Neighbors: nb(m)})
	if err != nil {
		return err
	}
	split := func(f []float32) ([]float64, []float64) {
		x, y := make([]float64, len(f)/2), make([]float64, len(f)/2)
		for i := range x {
			x[i], y[i] = float64(f[2*i]), float64(f[2*i+1])
		}
		return x, y
	}
	ax, ay := split(all.Embedding)
	px, py := split(ps.Embedding)
	seqCls := make([]int, m)
	for i, p := range perSeqOf {
		seqCls[i] = cls[p]
	}
	f, err := figures.Scatter([]figures.Panel{
		{Title: "per-sequence embeddings by sequence", X: px, Y: py, Group: seqOf, Groups: sequenceNames[:]},
		{Title: "per-sequence embeddings by survival", X: px, Y: py, Group: seqCls, Groups: classNames},
		{Title: "4-sequence embeddings by survival", X: ax, Y: ay, Group: cls, Groups: classNames},
	}, figures.ScatterOptions{})
	if err != nil {
		return err
	}
	return f.Save(path)
}

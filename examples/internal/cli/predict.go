package cli

import (
	"context"
	"fmt"
	"math"
	"sort"

	"github.com/metasurv/metasurv/norm"
	"github.com/metasurv/metasurv/volume"
)

// Prediction is what predict reports for one patient.
type Prediction struct {
	ID         string             `json:"id"`
	Model      string             `json:"model"`
	Risk       float64            `json:"risk"`
	Class      int                `json:"class"`
	ClassName  string             `json:"class_name"`
	Survival   map[string]float64 `json:"survival"` // "6", "12", "21", "24" months
	Missing    []string           `json:"missing_sequences,omitempty"`
	Clinical   map[string]float64 `json:"clinical_contributions"`
	Image      map[string]float64 `json:"image_contributions"`
	Sequences  map[string]float64 `json:"sequence_occlusion"` // risk change when the sequence is left out
	Top        []string           `json:"top_factors"`
	Saliency   string             `json:"saliency,omitempty"`
	stack      *volume.Stack
	saliencyVo *volume.Volume
}

// Stack is the preprocessed input of the prediction.
func (p *Prediction) Stack() *volume.Stack { return p.stack }

// SaliencyVolume is the occlusion map on the stack grid (nil unless asked).
func (p *Prediction) SaliencyVolume() *volume.Volume { return p.saliencyVo }

// PredictOptions configure Predict.
type PredictOptions struct {
	// Saliency computes an occlusion map: the risk drop when the brain
	// voxels of each cube of Cube³ voxels are set to the patient's in-brain
	// median of each channel (see occlusion).
	Saliency bool
	Cube     int // zero: an eighth of the grid side
	// Target and Effort are the model grid and the registration effort
	// (set from the bundle).
	Target [3]int
	Effort Effort
	Bar    *Bar
}

// Predict preprocesses one patient's raw sequences, embeds them and
// applies the bundle's fused model (clinical + image): risk, predicted
// class, survival at 6, 12, 21 and 24 months, and an explanation — each
// clinical feature's and image component's share of the risk (β·x), the
// change in risk when each sequence is left out, and optionally an
// occlusion saliency map.
func Predict(ctx context.Context, b *Bundle, p Patient, row []string, at *Atlas, e Embedder, o PredictOptions) (*Prediction, error) {
	if len(row) != len(b.Header) {
		return nil, fmt.Errorf("%w: clinical row has %d cells, the bundle's table %d (%v)", ErrBadInput, len(row), len(b.Header), b.Header)
	}
	seqs, err := LoadSequences(p)
	if err != nil {
		return nil, err
	}
	o.Bar.Update("predict", 0.05, "preprocess "+p.ID)
	o.Target, o.Effort = b.Target, b.Effort
	st, _, err := normPreprocess(ctx, seqs, at, o)
	if err != nil {
		return nil, fmt.Errorf("patient %s: preprocessing failed: %w", p.ID, err)
	}
	m := b.Models[2]
	xc := b.Encoder.Encode(row)
	risk := func(s *volume.Stack) (float64, []float64, error) {
		v, err := e.Embed(ctx, s)
		if err != nil {
			return 0, nil, err
		}
		pc := b.PCA.Project(v)
		return m.Risk(append(append([]float64{}, xc...), pc...)), pc, nil
	}
	r, pc, err := risk(st)
	if err != nil {
		return nil, err
	}
	pr := &Prediction{ID: p.ID, Model: m.Name, Risk: r, Class: m.Class(r), Survival: map[string]float64{},
		Missing: p.Missing(), Clinical: map[string]float64{}, Image: map[string]float64{}, Sequences: map[string]float64{}, stack: st}
	pr.ClassName = b.Classes[pr.Class]
	for _, t := range []float64{6, 12, 21, 24} {
		pr.Survival[fmt.Sprint(t)] = round4(m.Survival(r, t))
	}
	nc := len(xc)
	type contrib struct {
		name string
		v    float64
	}
	var all []contrib
	for j, name := range m.Features {
		var x float64
		if j < nc {
			x = xc[j]
			pr.Clinical[name] = round4(m.Beta[j] * x)
		} else {
			x = pc[j-nc]
			pr.Image[name] = round4(m.Beta[j] * x)
		}
		all = append(all, contrib{name, m.Beta[j] * x})
	}
	sort.Slice(all, func(a, c int) bool { return math.Abs(all[a].v) > math.Abs(all[c].v) })
	for _, c := range all[:min(5, len(all))] {
		dir := "raises"
		if c.v < 0 {
			dir = "lowers"
		}
		pr.Top = append(pr.Top, fmt.Sprintf("%s %s risk by %.2f", c.name, dir, math.Abs(c.v)))
	}
	for s := 0; s < 4; s++ {
		if !st.Present[s] {
			continue
		}
		rs, _, err := risk(withoutSequence(st, s))
		if err != nil {
			return nil, err
		}
		pr.Sequences[SequenceNames[s]] = round4(r - rs)
	}
	if o.Saliency {
		if pr.saliencyVo, err = occlusion(ctx, st, o, func(s *volume.Stack) (float64, error) {
			v, _, err := risk(s)
			return v, err
		}, r); err != nil {
			return nil, err
		}
	}
	o.Bar.Update("predict", 1, p.ID)
	return pr, nil
}

// withoutSequence returns a copy of st in which sequence s is absent and
// its voxels are zero, as if the patient had not had that scan: how the
// commands measure each sequence's share of the risk.
func withoutSequence(st *volume.Stack, s int) *volume.Stack {
	n := st.Dims[0] * st.Dims[1] * st.Dims[2]
	cp := *st
	cp.Present = append([]bool{}, st.Present...)
	cp.Present[s] = false
	cp.Data = append([]float32{}, st.Data...)
	clear(cp.Data[s*n : (s+1)*n])
	return &cp
}

// occlusion returns, on the stack grid, the drop in risk when the brain
// voxels of each cube are replaced by a neutral value: how much that
// region's image content raises the risk.
//
// The neutral value is the patient's own in-brain median of each channel,
// written only into voxels inside the brain mask (voxels nonzero in any
// channel), for two reasons. First, the mask must not move: the embedders
// find the brain as the nonzero voxels and compute their features over
// it, so filling a cube with zero (the old fill, the brain mean after
// z-scoring only on average) cut a hole in the mask, and every drop mixed
// the cube's content with where the cube sat — the brain's share of the
// grid, the denominators of the volume shares and the high-pass image's
// box means all changed, most for cubes straddling the brain's edge. With
// every filled voxel nonzero and the voxels outside the brain left at
// zero, the occluded stack has exactly the unoccluded stack's mask.
// Second, the median is the value a typical voxel of this patient's brain
// has in that channel (robust to the lesions, unlike the mean), so hiding
// a lesion removes it while hiding healthy tissue changes little: the
// drop measures content. Absent channels stay zero. A median of exactly
// zero is moved to the smallest positive float32 so that the fill stays
// nonzero.
func occlusion(ctx context.Context, st *volume.Stack, o PredictOptions, risk func(*volume.Stack) (float64, error), base float64) (*volume.Volume, error) {
	d := st.Dims
	cube := o.Cube
	if cube <= 0 {
		cube = max(2, d[0]/8)
	}
	out, err := volume.New(d, st.Affine)
	if err != nil {
		return nil, err
	}
	n := d[0] * d[1] * d[2]
	cp := *st
	cp.Data = append([]float32{}, st.Data...)
	brain := brainMask(st)
	fill := brainMedians(st, brain)
	var vox, at []int
	total := ((d[0] + cube - 1) / cube) * ((d[1] + cube - 1) / cube) * ((d[2] + cube - 1) / cube)
	done := 0
	for i0 := 0; i0 < d[0]; i0 += cube {
		for j0 := 0; j0 < d[1]; j0 += cube {
			for k0 := 0; k0 < d[2]; k0 += cube {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				done++
				o.Bar.Update("saliency", float64(done)/float64(total), "occlusion")
				// the cube's brain voxels: their stack and output indices
				vox, at = vox[:0], at[:0]
				for i := i0; i < min(i0+cube, d[0]); i++ {
					for j := j0; j < min(j0+cube, d[1]); j++ {
						for k := k0; k < min(k0+cube, d[2]); k++ {
							if v := (i*d[1]+j)*d[2] + k; brain[v] {
								vox, at = append(vox, v), append(at, out.Index(i, j, k))
							}
						}
					}
				}
				if len(vox) == 0 {
					continue
				}
				for c := range st.Channels() {
					if st.Present[c] {
						for _, v := range vox {
							cp.Data[c*n+v] = fill[c]
						}
					}
				}
				r, err := risk(&cp)
				if err != nil {
					return nil, err
				}
				for c := range st.Channels() {
					for _, v := range vox {
						cp.Data[c*n+v] = st.Data[c*n+v]
					}
				}
				drop := float32(base - r)
				for _, a := range at {
					out.Data[a] = drop
				}
			}
		}
	}
	return out, nil
}

// brainMedians returns the median of each present channel over the brain
// voxels, never exactly zero (see occlusion); zero for absent channels.
func brainMedians(st *volume.Stack, brain []bool) []float32 {
	n := len(brain)
	mask := &volume.Mask{Dims: st.Dims, Data: brain} // Dims only give the voxel count here
	out := make([]float32, st.Channels())
	for c := range out {
		if !st.Present[c] {
			continue
		}
		q, err := volume.Percentiles(st.Data[c*n:(c+1)*n], mask, 50)
		if err != nil { // no brain voxels
			continue
		}
		m := float32(q[0])
		if m == 0 {
			m = math.SmallestNonzeroFloat32
		}
		out[c] = m
	}
	return out
}

func round4(x float64) float64 { return math.Round(x*1e4) / 1e4 }

type (
	volumeStack  = volume.Stack
	volumeVolume = volume.Volume
)

func normPreprocess(ctx context.Context, seqs norm.Sequences, at *Atlas, o PredictOptions) (*volume.Stack, *norm.Report, error) {
	no := o.Effort.options(at, o.Target)
	no.Progress = func(step string, f float64) { o.Bar.Update("predict", 0.05+0.5*f, step) }
	return norm.Preprocess(ctx, seqs, at.Image, no)
}

package register

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/metasurv/metasurv/volume"
)

// fuzzInput decodes a fuzzer's bytes into numbers: whole float64 bit
// patterns (NaN, ±Inf, subnormals, huge values all occur) and small ints.
type fuzzInput struct{ b []byte }

func (in *fuzzInput) u64() uint64 {
	if len(in.b) < 8 {
		in.b = nil
		return 0
	}
	v := binary.LittleEndian.Uint64(in.b)
	in.b = in.b[8:]
	return v
}

func (in *fuzzInput) float() float64 { return math.Float64frombits(in.u64()) }

// small returns an int in [lo, hi].
func (in *fuzzInput) small(lo, hi int) int {
	if len(in.b) == 0 {
		return lo
	}
	v := int(in.b[0])
	in.b = in.b[1:]
	return lo + v%(hi-lo+1)
}

// maybe returns the next float most of the time, a sane value otherwise,
// so that inputs reach the deeper code as well as the validation.
func (in *fuzzInput) maybe(sane float64) float64 {
	if in.small(0, 3) == 3 {
		return in.float()
	}
	return sane
}

// volume builds a small image with a possibly hostile affine and values.
func (in *fuzzInput) volume() *volume.Volume {
	dims := [3]int{in.small(1, 7), in.small(1, 7), in.small(1, 7)}
	a := volume.Identity()
	for r := 0; r < 3; r++ {
		for c := 0; c < 4; c++ {
			a[r][c] = in.maybe(a[r][c])
		}
	}
	v := &volume.Volume{Dims: dims, Affine: a, Data: make([]float32, dims[0]*dims[1]*dims[2])}
	if in.small(0, 15) == 0 { // inconsistent data length
		v.Data = v.Data[:len(v.Data)/2]
	}
	for i := range v.Data {
		v.Data[i] = float32(i%5) + float32(in.maybe(0))
	}
	return v
}

func (in *fuzzInput) matrix() volume.Affine {
	m := volume.Identity()
	for r := 0; r < 4; r++ {
		for c := 0; c < 4; c++ {
			m[r][c] = in.maybe(m[r][c])
		}
	}
	return m
}

func fuzzSeeds(f *testing.F) {
	f.Add([]byte{})
	f.Add(make([]byte, 64))
	nan := make([]byte, 8)
	binary.LittleEndian.PutUint64(nan, math.Float64bits(math.NaN()))
	inf := make([]byte, 8)
	binary.LittleEndian.PutUint64(inf, math.Float64bits(math.Inf(1)))
	seed := []byte{4, 5, 6, 0}
	for i := 0; i < 12; i++ {
		seed = append(seed, nan...)
		seed = append(seed, inf...)
	}
	f.Add(seed)
	f.Add([]byte{7, 7, 7, 1, 1, 1, 2, 2, 2, 3, 3, 3, 9, 200, 13, 0, 0, 0, 0, 0, 0, 240, 63})
	sane := make([]byte, 0, 600)
	for i := 0; i < 6; i++ {
		sane = append(sane, 6) // 7 voxels along every axis
	}
	for len(sane) < 600 {
		sane = append(sane, byte(len(sane)%3)) // never 3: sane values
	}
	f.Add(sane)
}

// FuzzRegister runs Register on small images with hostile affines, voxel
// values (NaN, Inf, extremes), masks and options: it must return a result
// with a finite matrix or an error, never panic or hang.
func FuzzRegister(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		in := &fuzzInput{b}
		fixed, moving := in.volume(), in.volume()
		o := Options{
			Kind:          Kind(in.small(-1, 3)),
			Metric:        Metric(in.small(-1, 4)),
			Bins:          in.small(0, 70),
			Interp:        volume.Interp(in.small(0, 3)),
			Init:          Init(in.small(0, 3)),
			Optimizer:     Optimizer(in.small(0, 2)),
			Shrink:        []int{in.small(1, 3), 1},
			MaxIterations: in.small(0, 20),
			MaxStep:       in.maybe(0),
			MinStep:       in.maybe(0),
			Relaxation:    in.maybe(0),
			Sampling:      Sampling{Count: in.small(0, 300), All: in.small(0, 1) == 1, Seed: in.u64()},
			Rotation:      RotationSearch{MaxAngle: in.maybe(0), Steps: in.small(0, 2)},
		}
		if in.small(0, 3) == 0 {
			m := in.matrix()
			o.Initial = &m
		}
		if in.small(0, 3) == 0 {
			o.Mask = &volume.Mask{Dims: fixed.Dims, Data: make([]bool, len(fixed.Data))}
			for i := range o.Mask.Data {
				o.Mask.Data[i] = in.small(0, 1) == 1
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		res, err := Register(ctx, fixed, moving, o)
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Register ran for more than 5 s on %d+%d voxels", len(fixed.Data), len(moving.Data))
		}
		if err == nil && !res.Matrix.IsFinite() {
			t.Fatalf("Register returned a non-finite matrix %v with a nil error", res.Matrix)
		}
	})
}

// FuzzEvaluateMetric evaluates every metric under hostile transforms.
func FuzzEvaluateMetric(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		in := &fuzzInput{b}
		fixed, moving := in.volume(), in.volume()
		kind := Kind(in.small(0, 2))
		tr := Identity(kind, [3]float64{in.maybe(0), in.maybe(0), in.maybe(0)})
		for i := range tr.Params {
			tr.Params[i] = in.maybe(tr.Params[i])
		}
		o := MetricOptions{Metric: Metric(in.small(0, 4)), Bins: in.small(0, 60), Interp: volume.Interp(in.small(0, 2)),
			Sampling: Sampling{Count: in.small(0, 200), Seed: in.u64()}}
		cost, grad, err := EvaluateMetric(fixed, moving, tr, o)
		if err != nil {
			return
		}
		if math.IsNaN(cost) || len(grad) != len(tr.Params) {
			t.Fatalf("cost %g, %d gradient entries for %d parameters, nil error", cost, len(grad), len(tr.Params))
		}
	})
}

// FuzzResample resamples through hostile matrices and grids.
func FuzzResample(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		in := &fuzzInput{b}
		mov := in.volume()
		g := Grid{Dims: [3]int{in.small(0, 6), in.small(1, 6), in.small(1, 6)}, Affine: in.matrix()}
		out, err := Resample(mov, g, in.matrix(), volume.Interp(in.small(0, 3)), float32(in.maybe(0)))
		if err == nil && (out == nil || out.Dims != g.Dims || len(out.Data) != g.Dims[0]*g.Dims[1]*g.Dims[2]) {
			t.Fatalf("Resample returned %v with a nil error", out)
		}
	})
}

// FuzzTransforms checks the matrix → parameter conversions on hostile
// matrices: RigidFromMatrix and AffineFromMatrix never panic, and a
// rigid transform recovered without error reproduces the matrix's
// rotation within the tolerance.
func FuzzTransforms(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		in := &fuzzInput{b}
		m := in.matrix()
		c := [3]float64{in.maybe(0), in.maybe(0), in.maybe(0)}
		o := RigidOptions{ZYX: in.small(0, 1) == 1, Tol: math.Abs(in.maybe(0))}
		tr, err := RigidFromMatrix(m, c, o)
		if err == nil {
			tol := o.Tol
			if tol == 0 {
				tol = DefaultRigidTol
			}
			got := tr.Matrix()
			for r := 0; r < 3; r++ {
				for k := 0; k < 3; k++ {
					if !(math.Abs(got[r][k]-m[r][k]) <= tol*(1+1e-9)+1e-12) {
						t.Fatalf("RigidFromMatrix(%v) = %v, rotation off at [%d][%d]", m, got, r, k)
					}
				}
			}
		}
		_ = AffineFromMatrix(m, c).Matrix()
		if inv, err := m.Inverse(); err == nil && !inv.IsFinite() {
			t.Fatalf("Inverse of %v is %v with a nil error", m, inv)
		}
	})
}

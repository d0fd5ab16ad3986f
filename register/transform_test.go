package register

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/metasurv/metasurv/volume"
)

func randomTransform(r *rand.Rand, kind Kind) Transform {
	t := Identity(kind, [3]float64{r.NormFloat64() * 20, r.NormFloat64() * 20, r.NormFloat64() * 20})
	for p := range t.Params {
		t.Params[p] += r.NormFloat64() * 0.3
	}
	ti := kind.translationIndex()
	for p := ti; p < ti+3; p++ {
		t.Params[p] = r.NormFloat64() * 10
	}
	return t
}

func TestEulerAxisConvention(t *testing.T) {
	// ITK Euler3DTransform: a positive θz turns +x towards +y.
	tr := NewRigid([3]float64{0, 0, math.Pi / 2}, [3]float64{}, [3]float64{})
	p := tr.Apply([3]float64{1, 0, 0})
	if math.Abs(p[0]) > 1e-12 || math.Abs(p[1]-1) > 1e-12 {
		t.Fatalf("Rz(90°)·x = %v, want (0,1,0)", p)
	}
	// ZXY order: R = Rz Rx Ry, so Ry acts first.
	a := [3]float64{0.3, -0.2, 0.5}
	rx, _ := axisRot(0, a[0])
	ry, _ := axisRot(1, a[1])
	rz, _ := axisRot(2, a[2])
	want := rz.mul(rx).mul(ry)
	m := NewRigid(a, [3]float64{}, [3]float64{}).Matrix()
	wantZYX := rz.mul(ry).mul(rx)
	tz := NewRigid(a, [3]float64{}, [3]float64{})
	tz.ZYX = true
	mz := tz.Matrix()
	for r := 0; r < 3; r++ {
		for c := 0; c < 3; c++ {
			if math.Abs(m[r][c]-want[r][c]) > 1e-15 || math.Abs(mz[r][c]-wantZYX[r][c]) > 1e-15 {
				t.Fatalf("rotation order wrong at [%d][%d]", r, c)
			}
		}
	}
}

func TestCenterOfRotationIsFixed(t *testing.T) {
	c := [3]float64{10, -20, 30}
	tr := NewRigid([3]float64{0.4, 0.1, -0.3}, [3]float64{}, c)
	if p := tr.Apply(c); math.Abs(p[0]-c[0])+math.Abs(p[1]-c[1])+math.Abs(p[2]-c[2]) > 1e-12 {
		t.Fatalf("centre moved to %v", p)
	}
}

func TestDerivativesMatchFiniteDifferences(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, kind := range []Kind{KindRigid, KindSimilarity, KindAffine} {
		for _, zyx := range []bool{false, true} {
			tr := randomTransform(r, kind)
			tr.ZYX = zyx
			d := tr.Derivatives()
			const h = 1e-6
			for p := range tr.Params {
				tp, tm := tr.Clone(), tr.Clone()
				tp.Params[p] += h
				tm.Params[p] -= h
				mp, mm := tp.Matrix(), tm.Matrix()
				for row := 0; row < 3; row++ {
					for c := 0; c < 4; c++ {
						fd := (mp[row][c] - mm[row][c]) / (2 * h)
						if math.Abs(fd-d[p][row][c]) > 1e-6*(1+math.Abs(fd)) {
							t.Fatalf("%s zyx=%v: dM[%d][%d]/dp%d = %g, finite difference %g", kind, zyx, row, c, p, d[p][row][c], fd)
						}
					}
				}
			}
		}
	}
}

func TestInverseCompose(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for n := 0; n < 50; n++ {
		m := randomTransform(r, KindAffine).Matrix()
		inv, err := m.Inverse()
		if err != nil {
			t.Fatal(err)
		}
		if d := volume.Compose(m, inv).MaxDifference(volume.Identity()); d > 1e-10 {
			t.Fatalf("m⁻¹·m differs from identity by %g", d)
		}
		p := [3]float64{r.Float64(), r.Float64(), r.Float64()}
		q := volume.Compose(m, inv, m).Apply(p)
		w := m.Apply(inv.Apply(m.Apply(p)))
		if math.Abs(q[0]-w[0])+math.Abs(q[1]-w[1])+math.Abs(q[2]-w[2]) > 1e-9 {
			t.Fatalf("Compose order: %v vs %v", q, w)
		}
	}
	if _, err := (volume.Affine{}).Inverse(); err == nil {
		t.Fatal("zero matrix inverted without error")
	}
	s := volume.Identity()
	s[2][2] = 0
	if _, err := s.Inverse(); err == nil {
		t.Fatal("singular matrix inverted without error")
	}
}

func TestRigidFromMatrixRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for n := 0; n < 100; n++ {
		tr := randomTransform(r, KindRigid)
		tr.ZYX = n%2 == 1
		got, err := RigidFromMatrix(tr.Matrix(), tr.Center, RigidOptions{ZYX: tr.ZYX, Tol: 1e-9})
		if err != nil {
			t.Fatal(err)
		}
		for p := range tr.Params {
			if math.Abs(got.Params[p]-tr.Params[p]) > 1e-9 {
				t.Fatalf("param %d: %g, want %g", p, got.Params[p], tr.Params[p])
			}
		}
	}
	if _, err := RigidFromMatrix(randomTransform(r, KindAffine).Matrix(), [3]float64{}, RigidOptions{}); err == nil {
		t.Fatal("a general affine was accepted as rigid")
	}
}

func TestSetCenterKeepsMapping(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, kind := range []Kind{KindRigid, KindSimilarity, KindAffine} {
		tr := randomTransform(r, kind)
		m := tr.Matrix()
		tr.SetCenter([3]float64{5, 6, 7})
		if d := tr.Matrix().MaxDifference(m); d > 1e-10 {
			t.Fatalf("%s: SetCenter changed the matrix by %g", kind, d)
		}
		a := AffineFromMatrix(m, [3]float64{-1, 2, 3})
		if d := a.Matrix().MaxDifference(m); d > 1e-10 {
			t.Fatalf("AffineFromMatrix differs by %g", d)
		}
	}
}

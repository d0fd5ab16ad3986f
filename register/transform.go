package register

import (
	"fmt"
	"math"

	"github.com/metasurv/metasurv/volume"
)

// Kind names the family of a parametric transform.
type Kind int

const (
	// KindRigid is a rotation plus translation (6 parameters), as ITK's
	// Euler3DTransform.
	KindRigid Kind = iota
	// KindSimilarity is a rigid transform times an isotropic scale (7).
	KindSimilarity
	// KindAffine is a general affine transform (12).
	KindAffine
)

// NumParams returns the number of parameters of the kind.
func (k Kind) NumParams() int {
	switch k {
	case KindRigid:
		return 6
	case KindSimilarity:
		return 7
	}
	return 12
}

// Transform is a parametric linear transform of world space about a fixed
// centre of rotation C, in ITK's convention
//
//	T(x) = L·(x − C) + C + t
//
// where L is the linear part built from the parameters and t the
// translation. The parameters are, by kind (angles in radians, lengths mm):
//
//	rigid       θx θy θz tx ty tz            (ITK Euler3DTransform)
//	similarity  θx θy θz tx ty tz s          (Euler rotation times scale s)
//	affine      a00 a01 a02 a10 … a22 tx ty tz (ITK AffineTransform: L row-major)
//
// The rotation is R = Rz·Rx·Ry (rotate about y first, then x, then z), ITK's
// default; with ZYX set it is Rz·Ry·Rx (ITK's ComputeZYX). All quantities
// are in RAS+ world space; the ITK/elastix writers convert to LPS.
type Transform struct {
	Kind   Kind
	Params []float64
	Center [3]float64
	ZYX    bool
}

// NewRigid returns a rigid transform with the given Euler angles (radians),
// translation (mm) and centre of rotation (mm).
func NewRigid(angles, translation, center [3]float64) Transform {
	return Transform{Kind: KindRigid, Center: center, Params: []float64{
		angles[0], angles[1], angles[2], translation[0], translation[1], translation[2]}}
}

// Identity returns the identity transform of the kind about centre c.
func Identity(kind Kind, c [3]float64) Transform {
	t := Transform{Kind: kind, Center: c, Params: make([]float64, kind.NumParams())}
	switch kind {
	case KindSimilarity:
		t.Params[6] = 1
	case KindAffine:
		t.Params[0], t.Params[4], t.Params[8] = 1, 1, 1
	}
	return t
}

// Clone returns a copy that shares no memory with t.
func (t Transform) Clone() Transform {
	t.Params = append([]float64(nil), t.Params...)
	return t
}

// wellFormed reports whether t has a known kind and its number of
// parameters (the methods without an error index Params by kind).
func (t Transform) wellFormed() bool {
	return t.Kind >= KindRigid && t.Kind <= KindAffine && len(t.Params) == t.Kind.NumParams()
}

func (t Transform) check() error {
	if t.Kind < KindRigid || t.Kind > KindAffine {
		return fmt.Errorf("register: unknown transform kind %d", int(t.Kind))
	}
	if len(t.Params) != t.Kind.NumParams() {
		return fmt.Errorf("register: %s transform has %d parameters, want %d",
			t.Kind, len(t.Params), t.Kind.NumParams())
	}
	for i, p := range t.Params {
		if math.IsNaN(p) || math.IsInf(p, 0) {
			return fmt.Errorf("register: %s parameter %d is %g", t.Kind, i, p)
		}
	}
	return nil
}

type mat3 [3][3]float64

func (a mat3) mul(b mat3) mat3 {
	var c mat3
	for r := 0; r < 3; r++ {
		for k := 0; k < 3; k++ {
			c[r][k] = a[r][0]*b[0][k] + a[r][1]*b[1][k] + a[r][2]*b[2][k]
		}
	}
	return c
}

// axisRot returns the rotation by angle a about axis (0 x, 1 y, 2 z), and
// its derivative with respect to a.
func axisRot(axis int, a float64) (r, d mat3) {
	c, s := math.Cos(a), math.Sin(a)
	i, j := (axis+1)%3, (axis+2)%3
	r[axis][axis] = 1
	r[i][i], r[i][j], r[j][i], r[j][j] = c, -s, s, c
	d[i][i], d[i][j], d[j][i], d[j][j] = -s, -c, c, -s
	return r, d
}

// rotation returns R and dR/dθx, dR/dθy, dR/dθz for Euler angles.
func rotation(th [3]float64, zyx bool) (mat3, [3]mat3) {
	rx, dx := axisRot(0, th[0])
	ry, dy := axisRot(1, th[1])
	rz, dz := axisRot(2, th[2])
	if zyx {
		return rz.mul(ry).mul(rx), [3]mat3{rz.mul(ry).mul(dx), rz.mul(dy).mul(rx), dz.mul(ry).mul(rx)}
	}
	return rz.mul(rx).mul(ry), [3]mat3{rz.mul(dx).mul(ry), rz.mul(rx).mul(dy), dz.mul(rx).mul(ry)}
}

// linear returns L and dL/dp for every parameter; the translation
// parameters have dL = 0.
func (t Transform) linear() (mat3, []mat3) {
	d := make([]mat3, len(t.Params))
	switch t.Kind {
	case KindAffine:
		var l mat3
		for r := 0; r < 3; r++ {
			for c := 0; c < 3; c++ {
				l[r][c] = t.Params[3*r+c]
				d[3*r+c][r][c] = 1
			}
		}
		return l, d
	default:
		r, dr := rotation([3]float64{t.Params[0], t.Params[1], t.Params[2]}, t.ZYX)
		s := 1.0
		if t.Kind == KindSimilarity {
			s = t.Params[6]
			d[6] = r
		}
		for a := 0; a < 3; a++ {
			d[a] = scale3(dr[a], s)
		}
		return scale3(r, s), d
	}
}

func scale3(a mat3, s float64) mat3 {
	for r := range a {
		for c := range a[r] {
			a[r][c] *= s
		}
	}
	return a
}

// translationIndex returns the index of the first translation parameter.
func (k Kind) translationIndex() int {
	if k == KindAffine {
		return 9
	}
	return 3
}

// Matrix returns the 4×4 world-space matrix of t; every entry is NaN when t
// has an unknown Kind or not Kind.NumParams() parameters.
func (t Transform) Matrix() volume.Affine {
	if !t.wellFormed() {
		nan := math.NaN()
		return volume.Affine{{nan, nan, nan, nan}, {nan, nan, nan, nan}, {nan, nan, nan, nan}, {nan, nan, nan, nan}}
	}
	l, _ := t.linear()
	return assemble(l, t.translation(), t.Center)
}

func (t Transform) translation() [3]float64 {
	i := t.Kind.translationIndex()
	return [3]float64{t.Params[i], t.Params[i+1], t.Params[i+2]}
}

// assemble builds the matrix of x ↦ L(x − c) + c + tr.
func assemble(l mat3, tr, c [3]float64) volume.Affine {
	var m volume.Affine
	for r := 0; r < 3; r++ {
		copy(m[r][:3], l[r][:])
		m[r][3] = c[r] + tr[r] - (l[r][0]*c[0] + l[r][1]*c[1] + l[r][2]*c[2])
	}
	m[3][3] = 1
	return m
}

// Derivatives returns ∂M/∂p for every parameter p (the top 3×4 of the
// matrix; the last row is constant). The metric gradients chain through
// these, so one code path serves every kind of transform. It is nil for a
// malformed t (see Matrix).
func (t Transform) Derivatives() [][3][4]float64 {
	if !t.wellFormed() {
		return nil
	}
	_, dl := t.linear()
	out := make([][3][4]float64, len(t.Params))
	ti := t.Kind.translationIndex()
	for p := range out {
		if p >= ti && p < ti+3 {
			out[p][p-ti][3] = 1
			continue
		}
		for r := 0; r < 3; r++ {
			copy(out[p][r][:3], dl[p][r][:])
			out[p][r][3] = -(dl[p][r][0]*t.Center[0] + dl[p][r][1]*t.Center[1] + dl[p][r][2]*t.Center[2])
		}
	}
	return out
}

// Apply maps the world point p (NaN for a malformed t, see Matrix).
func (t Transform) Apply(p [3]float64) [3]float64 { return t.Matrix().Apply(p) }

// SetCenter moves the centre of rotation to c without changing the mapping
// (the translation absorbs the difference). A malformed t (see Matrix) only
// has its Center set.
func (t *Transform) SetCenter(c [3]float64) {
	if !t.wellFormed() {
		t.Center = c
		return
	}
	m := t.Matrix()
	t.Center = c
	t.setTranslation(m, c)
}

// setTranslation sets the translation parameters so that the transform,
// with linear part that of m and centre c, has m's offset:
// m[r][3] = c + t − L·c  ⇒  t = m[r][3] − c + L·c.
func (t *Transform) setTranslation(m volume.Affine, c [3]float64) {
	ti := t.Kind.translationIndex()
	for r := 0; r < 3; r++ {
		t.Params[ti+r] = m[r][3] - c[r] + m[r][0]*c[0] + m[r][1]*c[1] + m[r][2]*c[2]
	}
}

// AffineFromMatrix returns the affine Transform with matrix m about the
// centre c.
func AffineFromMatrix(m volume.Affine, c [3]float64) Transform {
	t := Identity(KindAffine, c)
	for r := 0; r < 3; r++ {
		for k := 0; k < 3; k++ {
			t.Params[3*r+k] = m[r][k]
		}
	}
	t.setTranslation(m, c)
	return t
}

// RigidOptions tunes RigidFromMatrix. The zero value recovers ZXY angles
// and accepts a linear part within DefaultRigidTol of a rotation.
type RigidOptions struct {
	// ZYX recovers angles in ZYX order (R = Rz·Ry·Rx, ITK's
	// ComputeZYX) instead of ZXY (R = Rz·Rx·Ry, ITK's Euler3DTransform
	// default); the result's ZYX field says which.
	ZYX bool
	// Tol is the largest entry-wise difference between the linear part of
	// the matrix and the rotation of the recovered angles; 0 means
	// DefaultRigidTol.
	Tol float64
}

// DefaultRigidTol is RigidOptions.Tol when it is 0.
const DefaultRigidTol = 1e-6

// RigidFromMatrix recovers the Euler angles of the rotation part of m and
// returns the rigid transform about centre c. It returns an error
// wrapping ErrInput when the linear part of m is not a rotation within
// o.Tol.
func RigidFromMatrix(m volume.Affine, c [3]float64, o RigidOptions) (Transform, error) {
	for _, x := range c {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return Transform{}, fmt.Errorf("%w: centre %v is not finite", ErrInput, c)
		}
	}
	zyx, tol := o.ZYX, o.Tol
	if tol == 0 {
		tol = DefaultRigidTol
	}
	var r mat3
	for i := 0; i < 3; i++ {
		copy(r[i][:], m[i][:3])
	}
	var th [3]float64
	if zyx {
		// R = Rz Ry Rx: R20 = −sin θy, R21 = cos θy sin θx, R22 = cos θy cos θx,
		// R10 = sin θz cos θy, R00 = cos θz cos θy.
		th[1] = math.Asin(clamp1(-r[2][0]))
		th[0] = math.Atan2(r[2][1], r[2][2])
		th[2] = math.Atan2(r[1][0], r[0][0])
	} else {
		// R = Rz Rx Ry: R21 = sin θx, R20 = −cos θx sin θy, R22 = cos θx cos θy,
		// R01 = −sin θz cos θx, R11 = cos θz cos θx.
		th[0] = math.Asin(clamp1(r[2][1]))
		th[1] = math.Atan2(-r[2][0], r[2][2])
		th[2] = math.Atan2(-r[0][1], r[1][1])
	}
	t := NewRigid(th, [3]float64{}, c)
	t.ZYX = zyx
	rr, _ := rotation(th, zyx)
	d := 0.0
	for i := 0; i < 3; i++ {
		for k := 0; k < 3; k++ {
			d = math.Max(d, math.Abs(rr[i][k]-r[i][k]))
		}
	}
	if !(d <= tol) {
		return Transform{}, fmt.Errorf("%w: linear part is not a rotation (off by %.3g > %g)", ErrInput, d, tol)
	}
	t.setTranslation(m, c)
	return t, nil
}

func clamp1(x float64) float64 { return math.Max(-1, math.Min(1, x)) }

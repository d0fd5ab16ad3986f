package nifti

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/metasurv/metasurv/volume"
)

// Sform returns the affine stored in the srow_x/y/z fields (meaningful only
// when SformCode > 0).
func (h *Header) Sform() volume.Affine {
	return volume.Affine{h.SrowX, h.SrowY, h.SrowZ, {0, 0, 0, 1}}
}

// quaternion returns (w, x, y, z) from quatern_b/c/d as nibabel's
// fillpositive: w = sqrt(1 - b²-c²-d²), 0 when that is slightly negative
// within the precision of the stored values.
func (h *Header) quaternion() ([4]float64, error) {
	b, c, d := h.QuaternB, h.QuaternC, h.QuaternD
	w2 := 1 - (b*b + c*c + d*d)
	thresh := -3 * float64(math.Nextafter32(1, 2)-1)
	if h.Version == 2 {
		thresh = -3 * (math.Nextafter(1, 2) - 1)
	}
	if math.IsNaN(w2) || w2 < thresh {
		return [4]float64{}, fmt.Errorf("%w: quaternion (b, c, d) = (%g, %g, %g) has norm > 1", ErrInvalidHeader, b, c, d)
	}
	w := 0.0
	if w2 > 0 {
		w = math.Sqrt(w2)
	}
	return [4]float64{w, b, c, d}, nil
}

// quatToMat is nibabel's quat2mat: the rotation of a (not necessarily unit)
// quaternion (w, x, y, z); identity for a near-zero quaternion.
func quatToMat(q [4]float64) [3][3]float64 {
	w, x, y, z := q[0], q[1], q[2], q[3]
	n := w*w + x*x + y*y + z*z
	if n < math.Nextafter(1, 2)-1 {
		return [3][3]float64{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}
	}
	s := 2 / n
	X, Y, Z := x*s, y*s, z*s
	wX, wY, wZ := w*X, w*Y, w*Z
	xX, xY, xZ := x*X, x*Y, x*Z
	yY, yZ, zZ := y*Y, y*Z, z*Z
	return [3][3]float64{
		{1 - (yY + zZ), xY - wZ, xZ + wY},
		{xY + wZ, 1 - (xX + zZ), yZ - wX},
		{xZ - wY, yZ + wX, 1 - (xX + yY)},
	}
}

// Qform returns the affine described by the quaternion, qfac, voxel sizes
// and qoffset (meaningful only when QformCode > 0), computed as nibabel's
// get_qform: R(quaternion)·diag(pixdim1, pixdim2, qfac·pixdim3).
func (h *Header) Qform() (volume.Affine, error) {
	q, err := h.quaternion()
	if err != nil {
		return volume.Affine{}, err
	}
	r := quatToMat(q)
	vox := [3]float64{h.Pixdim[1], h.Pixdim[2], h.Pixdim[3]}
	if vox[0] < 0 || vox[1] < 0 || vox[2] < 0 {
		return volume.Affine{}, fmt.Errorf("%w: pixdim[1..3] = %v, want positive", ErrInvalidHeader, vox)
	}
	if h.Pixdim[0] == -1 {
		vox[2] = -vox[2]
	}
	a := volume.Identity()
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			a[i][j] = r[i][j] * vox[j]
		}
	}
	a[0][3], a[1][3], a[2][3] = h.QOffsetX, h.QOffsetY, h.QOffsetZ
	return a, nil
}

// BaseAffine returns nibabel's get_base_affine: the affine used when
// neither sform nor qform is set — voxel sizes on the diagonal, x flipped
// (radiological ANALYZE convention), origin at the centre of the grid.
func (h *Header) BaseAffine() volume.Affine {
	var shape, zooms [3]float64
	for i := 0; i < 3; i++ {
		shape[i], zooms[i] = 1, 1
		if i < h.NDim() {
			shape[i], zooms[i] = float64(h.Dim[i+1]), h.Pixdim[i+1]
		}
	}
	zooms[0] = -zooms[0]
	a := volume.Identity()
	for i := 0; i < 3; i++ {
		a[i][i] = zooms[i]
		a[i][3] = -(shape[i] - 1) / 2 * zooms[i]
	}
	return a
}

// Affine returns nibabel's best affine (img.affine): the sform when
// SformCode != 0, else the qform when QformCode != 0, else BaseAffine.
func (h *Header) Affine() (volume.Affine, error) {
	switch {
	case h.SformCode != 0:
		return h.Sform(), nil
	case h.QformCode != 0:
		return h.Qform()
	}
	return h.BaseAffine(), nil
}

// SetSform stores affine in srow_x/y/z with the given code.
func (h *Header) SetSform(a volume.Affine, code int32) {
	h.SrowX, h.SrowY, h.SrowZ = a[0], a[1], a[2]
	h.SformCode = code
}

// SetQform stores affine as a qform with the given code, as nibabel's
// set_qform: voxel sizes are the column norms (written to pixdim[1..3]),
// qfac is the sign of the determinant, shears are stripped by taking the
// closest rotation (polar decomposition), and the quaternion is that
// rotation's (Bar-Itzhack's method, w >= 0). It fails for an affine with a
// zero or non-finite column.
func (h *Header) SetQform(a volume.Affine, code int32) error {
	var r [3][3]float64
	var zooms [3]float64
	for j := 0; j < 3; j++ {
		zooms[j] = math.Sqrt(a[0][j]*a[0][j] + a[1][j]*a[1][j] + a[2][j]*a[2][j])
		if zooms[j] == 0 || math.IsNaN(zooms[j]) || math.IsInf(zooms[j], 0) {
			return fmt.Errorf("%w: affine column %d has norm %g, want finite and non-zero", ErrInvalidHeader, j, zooms[j])
		}
		for i := 0; i < 3; i++ {
			r[i][j] = a[i][j] / zooms[j]
		}
	}
	qfac := 1.0
	if det3(r) <= 0 {
		qfac = -1
		for i := 0; i < 3; i++ {
			r[i][2] = -r[i][2]
		}
	}
	pr, err := closestRotation(r)
	if err != nil {
		return err
	}
	q, err := matToQuat(pr)
	if err != nil {
		return err
	}
	h.QOffsetX, h.QOffsetY, h.QOffsetZ = a[0][3], a[1][3], a[2][3]
	h.Pixdim[0] = qfac
	h.Pixdim[1], h.Pixdim[2], h.Pixdim[3] = zooms[0], zooms[1], zooms[2]
	h.QuaternB, h.QuaternC, h.QuaternD = q[1], q[2], q[3]
	h.QformCode = code
	return nil
}

func det3(m [3][3]float64) float64 {
	return m[0][0]*(m[1][1]*m[2][2]-m[1][2]*m[2][1]) -
		m[0][1]*(m[1][0]*m[2][2]-m[1][2]*m[2][0]) +
		m[0][2]*(m[1][0]*m[2][1]-m[1][1]*m[2][0])
}

// closestRotation returns U·Vᵀ from the SVD of m (polar decomposition).
func closestRotation(m [3][3]float64) ([3][3]float64, error) {
	var svd mat.SVD
	a := mat.NewDense(3, 3, []float64{m[0][0], m[0][1], m[0][2], m[1][0], m[1][1], m[1][2], m[2][0], m[2][1], m[2][2]})
	if !svd.Factorize(a, mat.SVDFull) {
		return [3][3]float64{}, fmt.Errorf("%w: SVD of the affine's rotation part failed", ErrInvalidHeader)
	}
	var u, v, p mat.Dense
	svd.UTo(&u)
	svd.VTo(&v)
	p.Mul(&u, v.T())
	var out [3][3]float64
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			out[i][j] = p.At(i, j)
		}
	}
	return out, nil
}

// matToQuat is nibabel's mat2quat (Bar-Itzhack 2000): the quaternion
// (w, x, y, z), w >= 0, of the rotation closest to m, from the eigenvector
// of the largest eigenvalue of a symmetric 4×4 matrix.
func matToQuat(m [3][3]float64) ([4]float64, error) {
	// nibabel's naming: Qab is m[b][a] (M.flat order Qxx, Qyx, Qzx, ...).
	qxx, qyx, qzx := m[0][0], m[0][1], m[0][2]
	qxy, qyy, qzy := m[1][0], m[1][1], m[1][2]
	qxz, qyz, qzz := m[2][0], m[2][1], m[2][2]
	k := mat.NewSymDense(4, []float64{
		qxx - qyy - qzz, qyx + qxy, qzx + qxz, qyz - qzy,
		qyx + qxy, qyy - qxx - qzz, qzy + qyz, qzx - qxz,
		qzx + qxz, qzy + qyz, qzz - qxx - qyy, qxy - qyx,
		qyz - qzy, qzx - qxz, qxy - qyx, qxx + qyy + qzz,
	})
	k.ScaleSym(1.0/3, k)
	var eig mat.EigenSym
	if !eig.Factorize(k, true) {
		return [4]float64{}, fmt.Errorf("%w: eigen-decomposition for the quaternion failed", ErrInvalidHeader)
	}
	vals := eig.Values(nil)
	best := 0
	for i, v := range vals {
		if v > vals[best] {
			best = i
		}
	}
	var vecs mat.Dense
	eig.VectorsTo(&vecs)
	q := [4]float64{vecs.At(3, best), vecs.At(0, best), vecs.At(1, best), vecs.At(2, best)}
	if q[0] < 0 {
		for i := range q {
			q[i] = -q[i]
		}
	}
	return q, nil
}

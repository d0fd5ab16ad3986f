package nifti

import (
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/metasurv/metasurv/volume"
)

// axcodes returns the anatomical direction each voxel axis points to
// ("R"/"L", "A"/"P", "S"/"I"), the same answer as nibabel's
// aff2axcodes(io_orientation(affine)); "" for an axis with no direction
// (zero column). Algorithm: normalise the columns, take the closest
// orthogonal matrix by SVD (rank-thresholded), then assign to each voxel
// axis in turn the world axis it moves most along, removing that world axis
// from consideration.
func axcodes(a volume.Affine) [3]string {
	rs := mat.NewDense(3, 3, nil)
	for j := 0; j < 3; j++ {
		z := math.Sqrt(a[0][j]*a[0][j] + a[1][j]*a[1][j] + a[2][j]*a[2][j])
		if z == 0 {
			z = 1
		}
		for i := 0; i < 3; i++ {
			rs.Set(i, j, a[i][j]/z)
		}
	}
	var out [3]string
	var svd mat.SVD
	if !svd.Factorize(rs, mat.SVDThin) {
		return out
	}
	s := svd.Values(nil)
	tol := max(s[0], s[1], s[2]) * 3 * (math.Nextafter(1, 2) - 1)
	var u, v mat.Dense
	svd.UTo(&u)
	svd.VTo(&v)
	var r [3][3]float64
	for k := 0; k < 3; k++ {
		if s[k] <= tol {
			continue
		}
		for i := 0; i < 3; i++ {
			for j := 0; j < 3; j++ {
				r[i][j] += u.At(i, k) * v.At(j, k)
			}
		}
	}
	labels := [3][2]string{{"L", "R"}, {"P", "A"}, {"I", "S"}}
	for in := 0; in < 3; in++ {
		best, bestAbs := -1, 0.0
		allZero := true
		for o := 0; o < 3; o++ {
			if math.Abs(r[o][in]) > 1e-8 {
				allZero = false
			}
			if math.Abs(r[o][in]) > bestAbs {
				best, bestAbs = o, math.Abs(r[o][in])
			}
		}
		if allZero || best < 0 {
			continue
		}
		if r[best][in] < 0 {
			out[in] = labels[best][0]
		} else {
			out[in] = labels[best][1]
		}
		r[best] = [3]float64{}
	}
	return out
}

package register

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/metasurv/metasurv/volume"
)

// ErrBlank reports an image with no contrast (every finite voxel, or
// every voxel inside the mask, has the same value): nothing can be
// registered to it.
var ErrBlank = errors.New("register: image has no contrast")

// Check is Register's verdict on its own result. A rigid registration
// that ends in a poor local optimum usually still "converges"; what gives
// it away is a metric that explains little of the images' information, a
// small overlap, or a transform far outside anything a patient's head
// motion produces. Suspect results should not be trusted without a look
// (norm.Report lists them); Register has already tried other starting
// points before returning one (see Options.Starts).
type Check struct {
	// Suspect is set when any of the reasons below applies.
	Suspect bool `json:"suspect"`
	// Reasons says why, one phrase per failed test; empty when not
	// suspect.
	Reasons []string `json:"reasons,omitempty"`
	// Dependence is the metric's share of the information it could
	// explain at the final transform, on the finest level: for Mattes MI
	// the uncertainty coefficient MI / min(H(fixed), H(moving)) of the
	// Parzen histogram (1 for a perfect one-to-one intensity map, 0 for
	// independent images), for NMI the normalised NMI − 1 ∈ [0, 1], for
	// NCC the |correlation|. MSE has none (NaN).
	Dependence float64 `json:"dependence"`
	// InitialDependence is the same at the starting transform (after
	// initialisation), on the finest level's samples.
	InitialDependence float64 `json:"initial_dependence"`
	// Sharpness is how much the dependence falls when the result is
	// shifted by ±4 mm along each world axis: 1 − mean(shifted)/final.
	// A true alignment is a sharp peak (0.2–0.6 on the sweep); a wrong
	// optimum in a flat landscape is not.
	Sharpness float64 `json:"sharpness"`
	// Overlap is the fraction of the finest level's sample points that
	// the final transform maps inside the moving image.
	Overlap float64 `json:"overlap"`
	// RotationDeg is the rotation angle of the final transform in
	// degrees; ShiftMM the displacement of the fixed image's centre.
	RotationDeg float64 `json:"rotation_deg"`
	ShiftMM     float64 `json:"shift_mm"`
	// Starts is the number of starting points optimised (1 unless the
	// first result was suspect).
	Starts int `json:"starts"`
}

// String returns "ok" or "suspect: " and the reasons.
func (c Check) String() string {
	if !c.Suspect {
		return "ok"
	}
	return "suspect: " + strings.Join(c.Reasons, "; ")
}

// Thresholds of the result check. The dependence floor comes from the
// sweep (register/sweep_test.go): successful registrations of ch2 across
// same, inverted, T2- and FLAIR-like contrasts, thick slices, bias, noise
// and lesions end at an uncertainty coefficient of 0.2–0.5 with 50 bins;
// the mis-registrations of issue 16 (final −MI −0.08 and −0.12 where good
// ones reach −1.6…−1.9) sit near 0.03.
const (
	minDependence = 0.05
	// see Check.Sharpness
	minSharpness   = 0.1
	sharpnessShift = 4.0 // mm
	// a registration must leave at least this share of the sample
	// points inside the moving image.
	minOverlap = 0.25
	// head motion in a scanner, and the mismatch of two scanners' world
	// coordinates, stay well below these.
	maxRotationDeg = 45
)

// dependence returns the metric's dependence measure for the evaluator's
// last evaluation (see Check.Dependence).
func (e *evaluator) dependence() float64 {
	s := &e.st
	switch s.kind {
	case MattesMI, NMI:
		nb := s.bins
		pf := make([]float64, nb)
		pm := make([]float64, nb)
		var hfm float64
		for f := 0; f < nb; f++ {
			for m := 0; m < nb; m++ {
				v := s.joint[f*nb+m]
				pf[f] += v
				pm[m] += v
				hfm -= xlogx(v)
			}
		}
		var hf, hm float64
		for b := 0; b < nb; b++ {
			hf -= xlogx(pf[b])
			hm -= xlogx(pm[b])
		}
		if s.kind == NMI {
			if hfm <= 0 || hf+hm <= 0 {
				return 0
			}
			return ((hf+hm)/hfm - 1) / math.Max(1e-12, math.Min(hf, hm)/hfm)
		}
		d := math.Min(hf, hm)
		if d <= 0 {
			return 0
		}
		return (hf + hm - hfm) / d
	case NCC:
		if s.sff <= 0 || s.smm <= 0 {
			return 0
		}
		return math.Abs(s.sfm / math.Sqrt(s.sff*s.smm))
	}
	return math.NaN()
}

// overlap returns the fraction of sample points valid at the last
// evaluation.
func (e *evaluator) overlap() float64 {
	n := 0
	for _, ok := range e.ok {
		if ok {
			n++
		}
	}
	return float64(n) / float64(max(1, len(e.ok)))
}

// checkResult fills a Check for the final transform t, evaluated on the
// finest level's evaluator e, against the start t0.
func checkResult(e *evaluator, t, t0 Transform, center [3]float64) Check {
	var c Check
	e.evaluate(t0.Matrix(), false)
	c.InitialDependence = e.dependence()
	e.evaluate(t.Matrix(), false)
	c.Dependence = e.dependence()
	c.Overlap = e.overlap()
	c.Sharpness = sharpness(e, t, c.Dependence)
	m := t.Matrix()
	tr := m[0][0] + m[1][1] + m[2][2]
	c.RotationDeg = math.Acos(clamp1((tr-1)/2)) * 180 / math.Pi
	p := m.Apply(center)
	c.ShiftMM = math.Sqrt((p[0]-center[0])*(p[0]-center[0]) + (p[1]-center[1])*(p[1]-center[1]) + (p[2]-center[2])*(p[2]-center[2]))
	if c.Dependence < minDependence {
		c.Reasons = append(c.Reasons, fmt.Sprintf("the images share little information at the result (dependence %.3f < %.2f)", c.Dependence, minDependence))
	}
	if c.Sharpness < minSharpness {
		c.Reasons = append(c.Reasons, fmt.Sprintf("the metric barely changes around the result (sharpness %.3f < %.2f)", c.Sharpness, minSharpness))
	}
	if c.Overlap < minOverlap {
		c.Reasons = append(c.Reasons, fmt.Sprintf("only %.0f%% of the fixed samples fall inside the moving image", 100*c.Overlap))
	}
	if t.Kind != KindAffine && c.RotationDeg > maxRotationDeg {
		c.Reasons = append(c.Reasons, fmt.Sprintf("rotation %.0f° beyond %d°", c.RotationDeg, maxRotationDeg))
	}
	c.Suspect = len(c.Reasons) > 0
	c.Starts = 1
	return c
}

// better reports whether check a describes a more trustworthy result
// than b: not suspect beats suspect, then the lower cost.
func better(a Check, costA float64, b Check, costB float64) bool {
	if a.Suspect != b.Suspect {
		return !a.Suspect
	}
	return costA < costB || math.IsNaN(costB) && !math.IsNaN(costA)
}

// checkContrast returns ErrBlank when the finite values of v (inside mask,
// if given) are all equal, ErrNonFinite when there is none.
func checkContrast(name string, v *volume.Volume, mask *volume.Mask) error {
	first, seen := float32(0), false
	for i, x := range v.Data {
		if mask != nil && mask.Dims == v.Dims && !mask.Data[i] {
			continue
		}
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			continue
		}
		if !seen {
			first, seen = x, true
			continue
		}
		if x != first {
			return nil
		}
	}
	if !seen { // every voxel (inside the mask) is NaN or infinite
		return fmt.Errorf("%w: the %s image has no finite voxel", ErrNonFinite, name)
	}
	return fmt.Errorf("%w: the %s image is constant", ErrBlank, name)
}

// sharpness returns 1 − mean(dependence at t shifted by ±sharpnessShift
// along each world axis)/dep, evaluated on e's samples.
func sharpness(e *evaluator, t Transform, dep float64) float64 {
	if !(dep > 0) {
		return 0
	}
	m := t.Matrix()
	var sum float64
	n := 0
	for a := 0; a < 3; a++ {
		for _, sg := range []float64{-1, 1} {
			s := m
			s[a][3] += sg * sharpnessShift
			if c, _ := e.evaluate(s, false); math.IsNaN(c) {
				continue
			}
			sum += e.dependence()
			n++
		}
	}
	e.evaluate(m, false) // leave the evaluator at the result
	if n == 0 {
		return 0
	}
	return 1 - sum/float64(n)/dep
}

package register

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/metasurv/metasurv/volume"
)

// Convention is the meaning of every matrix this package reads and
// writes, stated in the JSON files so that they are self-describing.
const Convention = "maps fixed-image world points to moving-image world points, RAS+ mm, y = M·[x 1]"

// TransformFile is the JSON form of a registration result:
//
//	{"convention": "...", "matrix": [[4], [4], [4], [0,0,0,1]],
//	 "kind": "rigid", "params": [...], "center": [x,y,z], "order": "ZXY"}
//
// Matrix is authoritative; the parametric description is optional and,
// when present, must reproduce Matrix to 1e-6.
type TransformFile struct {
	Convention string        `json:"convention"`
	Matrix     volume.Affine `json:"matrix"`
	Kind       string        `json:"kind,omitempty"`
	Params     []float64     `json:"params,omitempty"`
	Center     *[3]float64   `json:"center,omitempty"`
	Order      string        `json:"order,omitempty"`
}

// WriteJSON writes m (and t, if non-nil, as its parametric form) as an
// indented TransformFile.
func WriteJSON(w io.Writer, m volume.Affine, t *Transform) error {
	if err := checkMatrix(m); err != nil {
		return err
	}
	f := TransformFile{Convention: Convention, Matrix: m}
	if t != nil {
		if err := t.check(); err != nil {
			return err
		}
		c := t.Center
		f.Kind, f.Params, f.Center, f.Order = t.Kind.String(), t.Params, &c, "ZXY"
		if t.ZYX {
			f.Order = "ZYX"
		}
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// ReadJSON reads a TransformFile, checking that the matrix is finite with
// last row (0, 0, 0, 1) and that the parametric form, if any, agrees with
// it. The returned Transform is nil when the file has no parameters.
func ReadJSON(r io.Reader) (volume.Affine, *Transform, error) {
	var f TransformFile
	dec := json.NewDecoder(io.LimitReader(r, 1<<20))
	if err := dec.Decode(&f); err != nil {
		return volume.Affine{}, nil, fmt.Errorf("%w: JSON: %w", ErrFormat, err)
	}
	if err := checkMatrix(f.Matrix); err != nil {
		return volume.Affine{}, nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	if f.Kind == "" && f.Params == nil {
		return f.Matrix, nil, nil
	}
	t := Transform{Params: f.Params}
	if err := t.Kind.UnmarshalText([]byte(f.Kind)); err != nil {
		return volume.Affine{}, nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	switch f.Order {
	case "", "ZXY":
	case "ZYX":
		t.ZYX = true
	default:
		return volume.Affine{}, nil, fmt.Errorf("%w: order %q, want ZXY or ZYX", ErrFormat, f.Order)
	}
	if f.Center != nil {
		t.Center = *f.Center
	}
	if err := t.check(); err != nil {
		return volume.Affine{}, nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	if d := t.Matrix().MaxDifference(f.Matrix); d > 1e-6 {
		return volume.Affine{}, nil, fmt.Errorf("%w: parameters give a matrix %.3g away from \"matrix\"", ErrFormat, d)
	}
	return f.Matrix, &t, nil
}

// ITK and elastix work in LPS: x_lps = (−x_ras, −y_ras, z_ras). Their
// transforms map fixed physical points to moving physical points, as ours
// do, so a matrix converts by conjugation with diag(−1, −1, 1), and Euler
// parameters by negating θx, θy, tx, ty and the centre's x and y (the
// rotation order is unchanged).

// toLPS returns t expressed in LPS coordinates.
func (t Transform) toLPS() Transform {
	u := t.Clone()
	u.Center = [3]float64{-t.Center[0], -t.Center[1], t.Center[2]}
	switch t.Kind {
	case KindAffine:
		m := AffineFromMatrix(lpsFlip(t.Matrix()), u.Center)
		u.Params = m.Params
	default:
		u.Params[0], u.Params[1] = -t.Params[0], -t.Params[1]
		u.Params[3], u.Params[4] = -t.Params[3], -t.Params[4]
	}
	return u
}

// WriteITK writes t as an ITK transform text file (Insight Transform File
// V1.0), readable by ITK, ANTs (antsApplyTransforms), Slicer and
// SimpleITK: Euler3DTransform_double_3_3 for rigid transforms,
// AffineTransform_double_3_3 otherwise (a similarity is written as its
// matrix: ITK's Similarity3DTransform uses a versor).
func WriteITK(w io.Writer, t Transform) error {
	if err := t.check(); err != nil {
		return err
	}
	l := t.toLPS()
	name := "Euler3DTransform_double_3_3"
	fixed := []float64{l.Center[0], l.Center[1], l.Center[2], 0}
	params := l.Params
	if t.ZYX {
		fixed[3] = 1
	}
	if t.Kind != KindRigid {
		name = "AffineTransform_double_3_3"
		params = AffineFromMatrix(l.Matrix(), l.Center).Params
		fixed = fixed[:3]
	}
	_, err := fmt.Fprintf(w, "#Insight Transform File V1.0\n#Transform 0\nTransform: %s\nParameters: %s\nFixedParameters: %s\n",
		name, joinFloats(params), joinFloats(fixed))
	return err
}

// ReadITK reads the first transform of an ITK transform text file, an
// Euler3DTransform or AffineTransform (double or float, 3-D), and returns
// it in RAS.
func ReadITK(r io.Reader) (Transform, error) {
	kv := map[string]string{}
	sc := bufio.NewScanner(io.LimitReader(r, 1<<20))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			if strings.HasPrefix(line, "#Transform 1") {
				break
			}
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return Transform{}, fmt.Errorf("%w: ITK line %q has no ':'", ErrFormat, line)
		}
		kv[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	if err := sc.Err(); err != nil {
		return Transform{}, err
	}
	params, err := parseFloats(kv["Parameters"])
	if err != nil {
		return Transform{}, err
	}
	fixed, err := parseFloats(kv["FixedParameters"])
	if err != nil {
		return Transform{}, err
	}
	var t Transform
	switch kv["Transform"] {
	case "Euler3DTransform_double_3_3", "Euler3DTransform_float_3_3":
		t.Kind = KindRigid
	case "AffineTransform_double_3_3", "AffineTransform_float_3_3":
		t.Kind = KindAffine
	default:
		return Transform{}, fmt.Errorf("%w: ITK transform %q, want Euler3DTransform or AffineTransform (3-D)", ErrFormat, kv["Transform"])
	}
	if len(fixed) < 3 {
		return Transform{}, fmt.Errorf("%w: %d fixed parameters, want the centre (3)", ErrFormat, len(fixed))
	}
	t.Params = params
	t.Center = [3]float64{fixed[0], fixed[1], fixed[2]}
	t.ZYX = t.Kind == KindRigid && len(fixed) > 3 && fixed[3] != 0
	if err := t.check(); err != nil {
		return Transform{}, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	return t.toLPS(), nil // the LPS↔RAS map is its own inverse
}

// WriteElastix writes t as an elastix TransformParameters file
// (EulerTransform or AffineTransform, LPS) for the fixed grid g, so that
// transformix can resample the moving image onto g. Transformix then
// matches Resample with volume.BSpline3 to float32 rounding, except that ITK
// also fills the outer half voxel of the moving image's border, which
// Resample (like scipy) treats as outside.
func WriteElastix(w io.Writer, t Transform, g Grid) error {
	if err := t.check(); err != nil {
		return err
	}
	if _, err := volume.NumVoxels(g.Dims); err != nil {
		return fmt.Errorf("%w: elastix grid: %w", ErrInput, err)
	}
	if _, err := g.Affine.Inverse(); err != nil {
		return fmt.Errorf("%w: elastix grid: %w", ErrInput, err)
	}
	l := t.toLPS()
	name, params := "EulerTransform", l.Params
	if t.Kind != KindRigid {
		name, params = "AffineTransform", AffineFromMatrix(l.Matrix(), l.Center).Params
	}
	spacing := g.Affine.Zooms()
	// The grid's voxel→LPS affine is diag(−1, −1, 1)·(voxel→RAS): the
	// world axes flip, the voxel axes do not.
	a := g.Affine
	for r := 0; r < 2; r++ {
		for c := 0; c < 4; c++ {
			a[r][c] = -a[r][c]
		}
	}
	var dir []float64
	// elastix lists the direction matrix column by column.
	for c := 0; c < 3; c++ {
		for r := 0; r < 3; r++ {
			dir = append(dir, a[r][c]/spacing[c])
		}
	}
	zyx := "false"
	if t.ZYX {
		zyx = "true"
	}
	_, err := fmt.Fprintf(w, `(Transform "%s")
(NumberOfParameters %d)
(TransformParameters %s)
(InitialTransformParametersFileName "NoInitialTransform")
(HowToCombineTransforms "Compose")
(FixedImageDimension 3)
(MovingImageDimension 3)
(FixedInternalImagePixelType "float")
(MovingInternalImagePixelType "float")
(Size %d %d %d)
(Index 0 0 0)
(Spacing %s)
(Origin %s)
(Direction %s)
(UseDirectionCosines "true")
(CenterOfRotationPoint %s)
(ComputeZYX "%s")
(ResampleInterpolator "FinalBSplineInterpolator")
(FinalBSplineInterpolationOrder 3)
(Resampler "DefaultResampler")
(DefaultPixelValue 0)
(ResultImageFormat "nii.gz")
(ResultImagePixelType "float")
`, name, len(params), joinFloats(params), g.Dims[0], g.Dims[1], g.Dims[2], joinFloats(spacing[:]),
		joinFloats([]float64{a[0][3], a[1][3], a[2][3]}), joinFloats(dir), joinFloats(l.Center[:]), zyx)
	return err
}

// ReadElastix reads the transform of an elastix TransformParameters file
// (EulerTransform or AffineTransform without an initial transform) and
// returns it in RAS.
func ReadElastix(r io.Reader) (Transform, error) {
	kv := map[string]string{}
	sc := bufio.NewScanner(io.LimitReader(r, 1<<20))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.Index(line, "//"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" {
			continue
		}
		if !strings.HasPrefix(line, "(") || !strings.HasSuffix(line, ")") {
			return Transform{}, fmt.Errorf("%w: elastix line %q is not (Key value…)", ErrFormat, line)
		}
		k, v, _ := strings.Cut(line[1:len(line)-1], " ")
		kv[k] = strings.TrimSpace(v)
	}
	if err := sc.Err(); err != nil {
		return Transform{}, err
	}
	var t Transform
	switch strings.Trim(kv["Transform"], `"`) {
	case "EulerTransform":
		t.Kind = KindRigid
	case "AffineTransform":
		t.Kind = KindAffine
	default:
		return Transform{}, fmt.Errorf("%w: elastix transform %s, want \"EulerTransform\" or \"AffineTransform\"", ErrFormat, kv["Transform"])
	}
	if init := strings.Trim(kv["InitialTransformParametersFileName"], `"`); init != "" && init != "NoInitialTransform" {
		return Transform{}, fmt.Errorf("%w: chained elastix transforms (initial %q) are not supported", ErrFormat, init)
	}
	var err error
	if t.Params, err = parseFloats(kv["TransformParameters"]); err != nil {
		return Transform{}, err
	}
	c, err := parseFloats(kv["CenterOfRotationPoint"])
	if err != nil || len(c) != 3 {
		return Transform{}, fmt.Errorf("%w: CenterOfRotationPoint %q, want 3 numbers", ErrFormat, kv["CenterOfRotationPoint"])
	}
	t.Center = [3]float64{c[0], c[1], c[2]}
	t.ZYX = strings.Trim(kv["ComputeZYX"], `"`) == "true"
	if err := t.check(); err != nil {
		return Transform{}, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	return t.toLPS(), nil
}

// WriteMat writes m as a Greedy / c3d_affine_tool text matrix: four rows
// of four numbers, RAS+ world, mapping fixed points to moving points (the
// matrix Greedy's -it and -r options read).
func WriteMat(w io.Writer, m volume.Affine) error {
	if err := checkMatrix(m); err != nil {
		return err
	}
	for r := 0; r < 4; r++ {
		if _, err := fmt.Fprintln(w, joinFloats(m[r][:])); err != nil {
			return err
		}
	}
	return nil
}

// ReadMat reads a Greedy / c3d text matrix written by WriteMat.
func ReadMat(r io.Reader) (volume.Affine, error) {
	b, err := io.ReadAll(io.LimitReader(r, 1<<16))
	if err != nil {
		return volume.Affine{}, err
	}
	v, err := parseFloats(string(b))
	if err != nil {
		return volume.Affine{}, err
	}
	if len(v) != 16 {
		return volume.Affine{}, fmt.Errorf("%w: %d numbers in a .mat matrix, want 16", ErrFormat, len(v))
	}
	var m volume.Affine
	for i, x := range v {
		m[i/4][i%4] = x
	}
	if err := checkMatrix(m); err != nil {
		return volume.Affine{}, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	return m, nil
}

func joinFloats(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.FormatFloat(x, 'g', 17, 64)
	}
	return strings.Join(s, " ")
}

func parseFloats(s string) ([]float64, error) {
	f := strings.Fields(s)
	out := make([]float64, len(f))
	for i, x := range f {
		v, err := strconv.ParseFloat(x, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%w: %q is not a finite number", ErrFormat, x)
		}
		out[i] = v
	}
	return out, nil
}

// lpsFlip converts a world transform between RAS and LPS: F·M·F with
// F = diag(−1, −1, 1, 1). The map is its own inverse.
func lpsFlip(m volume.Affine) volume.Affine {
	s := [4]float64{-1, -1, 1, 1}
	var out volume.Affine
	for r := 0; r < 4; r++ {
		for c := 0; c < 4; c++ {
			out[r][c] = s[r] * m[r][c] * s[c]
		}
	}
	return out
}

package nifti

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"

	"github.com/metasurv/metasurv/volume"
)

// Number is a float64 that marshals to JSON even when not finite: NaN and
// ±Inf become the strings "NaN", "Infinity" and "-Infinity" (Python's json
// spelling, quoted so that the output stays valid JSON).
type Number float64

// MarshalJSON implements json.Marshaler.
func (x Number) MarshalJSON() ([]byte, error) {
	f := float64(x)
	switch {
	case math.IsNaN(f):
		return []byte(`"NaN"`), nil
	case math.IsInf(f, 1):
		return []byte(`"Infinity"`), nil
	case math.IsInf(f, -1):
		return []byte(`"-Infinity"`), nil
	}
	format := byte('f') // encoding/json's choice of notation
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	return strconv.AppendFloat(nil, f, format, -1, 64), nil
}

// Info summarises an image the way nibabel shows it (nib-ls, img.header,
// img.affine): what examples/niftiinfo prints and what the parity tests
// compare with nibabel's output.
type Info struct {
	Version int   `json:"nifti_version"`
	Shape   []int `json:"shape"`
	// Dtype is the numpy name of the on-disk type: "int16", or ">i2" when
	// the file is big endian.
	Dtype  string       `json:"dtype"`
	Zooms  []Number     `json:"zooms"`
	Affine [4][4]Number `json:"affine"`
	// Qform and Sform are nil when their code is 0.
	QformCode int32         `json:"qform_code"`
	SformCode int32         `json:"sform_code"`
	Qform     *[4][4]Number `json:"qform"`
	Sform     *[4][4]Number `json:"sform"`
	Axcodes   [3]string     `json:"axcodes"`
	// RawSlopeInter are scl_slope, scl_inter as stored; SlopeInter the
	// scaling applied (1, 0 when the slope is 0 or not finite).
	RawSlopeInter [2]Number `json:"raw_scl_slope_inter"`
	SlopeInter    [2]Number `json:"applied_slope_inter"`
	// Sum, Min and Max are over all scaled voxel values (float64; NaN if
	// any voxel is NaN); absent for complex and RGB images.
	Sum        *Number   `json:"scaled_sum,omitempty"`
	Min        *Number   `json:"scaled_min,omitempty"`
	Max        *Number   `json:"scaled_max,omitempty"`
	XYZTUnits  [2]string `json:"xyzt_units"`
	Descrip    string    `json:"descrip"`
	IntentCode int32     `json:"intent_code"`
	IntentName string    `json:"intent_name"`
	Extensions []int32   `json:"extension_codes,omitempty"`
}

// NumpyDtype returns the numpy dtype string of the stored voxels: the type
// name for little-endian files and single bytes, ">i2"-style for
// big-endian multi-byte types.
func (h *Header) NumpyDtype() string {
	if h.byteOrder() != binary.BigEndian || h.Datatype.swapSize() == 1 {
		return h.Datatype.String()
	}
	kinds := map[Datatype]string{DTInt16: "i2", DTUint16: "u2", DTInt32: "i4", DTUint32: "u4",
		DTInt64: "i8", DTUint64: "u8", DTFloat32: "f4", DTFloat64: "f8", DTComplex64: "c8", DTComplex128: "c16"}
	return ">" + kinds[h.Datatype]
}

func numbers(a [4][4]float64) [4][4]Number {
	var o [4][4]Number
	for i := range a {
		for j := range a[i] {
			o[i][j] = Number(a[i][j])
		}
	}
	return o
}

// Inspect summarises img (see Info). Statistics are computed over every
// voxel of every volume.
func Inspect(img *Image) (*Info, error) {
	h := &img.Header
	aff, err := h.Affine()
	if err != nil {
		return nil, err
	}
	slope, inter := h.SlopeInter()
	in := &Info{
		Version:       h.Version,
		Shape:         h.Shape(),
		Dtype:         h.NumpyDtype(),
		Affine:        numbers(aff),
		QformCode:     h.QformCode,
		SformCode:     h.SformCode,
		Axcodes:       axcodeStrings(volume.AxCodes(aff)),
		RawSlopeInter: [2]Number{Number(h.SclSlope), Number(h.SclInter)},
		SlopeInter:    [2]Number{Number(slope), Number(inter)},
		XYZTUnits:     [2]string{UnitName(h.SpatialUnits()), UnitName(h.TimeUnits())},
		Descrip:       h.Descrip,
		IntentCode:    h.IntentCode,
		IntentName:    h.IntentName,
	}
	for _, z := range h.Zooms() {
		in.Zooms = append(in.Zooms, Number(z))
	}
	if h.QformCode != 0 {
		q, err := h.Qform()
		if err != nil {
			return nil, err
		}
		qn := numbers(q)
		in.Qform = &qn
	}
	if h.SformCode != 0 {
		sn := numbers(h.Sform())
		in.Sform = &sn
	}
	for _, e := range img.Extensions {
		in.Extensions = append(in.Extensions, e.Code)
	}
	if h.Datatype.Scalar() {
		vals, err := img.Float64()
		if err != nil {
			return nil, fmt.Errorf("nifti: statistics: %w", err)
		}
		sum, lo, hi := stats(vals)
		in.Sum, in.Min, in.Max = &sum, &lo, &hi
	}
	return in, nil
}

// stats returns the sum (pairwise, like numpy), minimum and maximum of x;
// NaN for all three if any value is NaN.
func stats(x []float64) (sum, lo, hi Number) {
	if len(x) == 0 {
		return 0, Number(math.NaN()), Number(math.NaN())
	}
	l, h := x[0], x[0]
	for _, v := range x {
		if v != v {
			nan := Number(math.NaN())
			return nan, nan, nan
		}
		l, h = min(l, v), max(h, v)
	}
	return Number(pairwiseSum(x)), Number(l), Number(h)
}

// pairwiseSum sums x by recursive halving, numpy's algorithm for float
// reductions, which keeps the rounding error O(log n).
func pairwiseSum(x []float64) float64 {
	if len(x) <= 128 {
		var s float64
		for _, v := range x {
			s += v
		}
		return s
	}
	m := len(x) / 2
	return pairwiseSum(x[:m]) + pairwiseSum(x[m:])
}

// axcodeStrings spells axis codes as nibabel's tuple of strings ("" for a
// dropped axis).
func axcodeStrings(c volume.Codes) [3]string {
	var s [3]string
	for i, x := range c {
		if x != 0 {
			s[i] = string(rune(x))
		}
	}
	return s
}

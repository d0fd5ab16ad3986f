package register

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strings"
)

// ANTs (antsRegistration) stores linear transforms as ITK's binary .mat
// files: MATLAB level-4 files with two variables, the 12 parameters of an
// ITK AffineTransform (3×3 matrix row by row, then translation) named
// after the transform type ("AffineTransform_double_3_3"), and its centre
// "fixed", both in LPS and mapping fixed to moving points. Each variable is
// a header of five little-endian int32 (type, rows, columns, imaginary
// flag, name length including its NUL), the name, then the values column
// by column (type 0: float64, type 10: float32).

const antsName = "AffineTransform_double_3_3"

// WriteANTs writes t as an ANTs/ITK binary .mat file (an affine transform
// whatever the kind, as ANTs writes rigid results too), readable by
// antsApplyTransforms.
func WriteANTs(w io.Writer, t Transform) error {
	if err := t.check(); err != nil {
		return err
	}
	l := t.toLPS()
	a := AffineFromMatrix(l.Matrix(), l.Center)
	var b bytes.Buffer
	writeMat4(&b, antsName, a.Params)
	writeMat4(&b, "fixed", a.Center[:])
	_, err := w.Write(b.Bytes())
	return err
}

func writeMat4(b *bytes.Buffer, name string, v []float64) {
	hdr := [5]int32{0, int32(len(v)), 1, 0, int32(len(name) + 1)}
	_ = binary.Write(b, binary.LittleEndian, hdr)
	b.WriteString(name)
	b.WriteByte(0)
	_ = binary.Write(b, binary.LittleEndian, v)
}

// ReadANTs reads an ANTs/ITK binary .mat affine transform
// (AffineTransform or MatrixOffsetTransformBase, double or float) and
// returns it as an affine Transform in RAS.
func ReadANTs(r io.Reader) (Transform, error) {
	data, err := io.ReadAll(io.LimitReader(r, 1<<16))
	if err != nil {
		return Transform{}, err
	}
	vars := map[string][]float64{}
	var params []float64
	for len(data) > 0 {
		name, v, rest, err := readMat4(data)
		if err != nil {
			return Transform{}, err
		}
		data = rest
		vars[name] = v
		if strings.HasPrefix(name, "AffineTransform_") || strings.HasPrefix(name, "MatrixOffsetTransformBase_") {
			params = v
		}
	}
	fixed := vars["fixed"]
	if len(params) != 12 || len(fixed) != 3 {
		return Transform{}, fmt.Errorf("%w: ANTs .mat has %d transform parameters and %d fixed, want a 3-D affine transform (12) and its centre (3)",
			ErrFormat, len(params), len(fixed))
	}
	t := Transform{Kind: KindAffine, Params: params, Center: [3]float64{fixed[0], fixed[1], fixed[2]}}
	if err := t.check(); err != nil {
		return Transform{}, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	return t.toLPS(), nil
}

// readMat4 decodes one MATLAB level-4 variable of real float64 or float32
// values, returning its name, values and the remaining bytes.
func readMat4(b []byte) (string, []float64, []byte, error) {
	if len(b) < 20 {
		return "", nil, nil, fmt.Errorf("%w: truncated MATLAB v4 header (%d bytes)", ErrFormat, len(b))
	}
	var h [5]int32
	for i := range h {
		h[i] = int32(binary.LittleEndian.Uint32(b[4*i:]))
	}
	typ, rows, cols, imag, nlen := h[0], h[1], h[2], h[3], h[4]
	size := 0
	switch typ {
	case 0:
		size = 8
	case 10:
		size = 4
	default:
		return "", nil, nil, fmt.Errorf("%w: MATLAB v4 type %d, want 0 (little-endian float64) or 10 (float32)", ErrFormat, typ)
	}
	if imag != 0 || rows < 0 || cols < 0 || rows > 64 || cols > 64 || nlen < 1 || nlen > 256 {
		return "", nil, nil, fmt.Errorf("%w: MATLAB v4 variable of %d×%d (imaginary %d, name %d bytes) is not a transform", ErrFormat, rows, cols, imag, nlen)
	}
	b = b[20:]
	n := int(rows) * int(cols)
	if len(b) < int(nlen)+n*size {
		return "", nil, nil, fmt.Errorf("%w: truncated MATLAB v4 variable", ErrFormat)
	}
	name := strings.TrimRight(string(b[:nlen]), "\x00")
	b = b[nlen:]
	v := make([]float64, n)
	for i := range v {
		if size == 8 {
			v[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
		} else {
			v[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])))
		}
	}
	return name, v, b[n*size:], nil
}

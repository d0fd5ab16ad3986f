package dicom

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// A minimal Explicit VR Little Endian writer for tests: enough to build
// series with chosen geometry, rescale and pixel encodings.

type tElem struct {
	tag Tag
	vr  string
	val []byte
}

func tStr(tag Tag, vr, s string) tElem {
	if len(s)%2 == 1 {
		if vr == "UI" {
			s += "\x00"
		} else {
			s += " "
		}
	}
	return tElem{tag, vr, []byte(s)}
}

func tDS(tag Tag, xs ...float64) tElem {
	parts := make([]string, len(xs))
	for i, x := range xs {
		s := fmt.Sprintf("%.10g", x)
		for p := 9; len(s) > 16; p-- {
			s = fmt.Sprintf("%.*g", p, x)
		}
		parts[i] = s
	}
	return tStr(tag, "DS", strings.Join(parts, `\`))
}

func tUS(tag Tag, v uint16) tElem {
	b := make([]byte, 2)
	binary.LittleEndian.PutUint16(b, v)
	return tElem{tag, "US", b}
}

func encodeElems(w *bytes.Buffer, els []tElem) {
	sort.Slice(els, func(i, j int) bool { return els[i].tag < els[j].tag })
	for _, e := range els {
		binary.Write(w, binary.LittleEndian, e.tag.Group())
		binary.Write(w, binary.LittleEndian, e.tag.Element())
		w.WriteString(e.vr)
		if longVRs[e.vr] {
			w.Write([]byte{0, 0})
			binary.Write(w, binary.LittleEndian, uint32(len(e.val)))
		} else {
			binary.Write(w, binary.LittleEndian, uint16(len(e.val)))
		}
		w.Write(e.val)
	}
}

// encodeFile returns a Part 10 file holding els.
func encodeFile(els []tElem) []byte { return encodeFileTS(ExplicitVRLittleEndian, els) }

// encodeFileTS is encodeFile with the transfer syntax ts in the meta
// information (the body is still written in Explicit VR Little Endian).
func encodeFileTS(ts string, els []tElem) []byte {
	var body, meta bytes.Buffer
	encodeElems(&meta, []tElem{
		tStr(NewTag(2, 0x10), "UI", ts),
		tStr(NewTag(2, 0x02), "UI", "1.2.840.10008.5.1.4.1.1.4"),
	})
	var out bytes.Buffer
	out.Write(make([]byte, 128))
	out.WriteString("DICM")
	encodeElems(&out, []tElem{{NewTag(2, 0), "UL", binary.LittleEndian.AppendUint32(nil, uint32(meta.Len()))}})
	out.Write(meta.Bytes())
	encodeElems(&body, els)
	out.Write(body.Bytes())
	return out.Bytes()
}

// tSlice describes one synthetic slice.
type tSlice struct {
	series       string
	number       int
	pos          [3]float64
	iop          [6]float64
	ps           [2]float64
	rows, cols   int
	slope, inter float64
	echo         int
	te           float64
	instance     int
	acq          int
	imageType    string
	pixels       []int16
}

func (s tSlice) encode() []byte {
	px := make([]byte, 2*len(s.pixels))
	for i, v := range s.pixels {
		binary.LittleEndian.PutUint16(px[2*i:], uint16(v))
	}
	it := s.imageType
	if it == "" {
		it = `ORIGINAL\PRIMARY\M`
	}
	els := []tElem{
		tStr(TagImageType, "CS", it),
		tStr(TagModality, "CS", "MR"),
		tStr(TagSeriesDescription, "LO", "synthetic"),
		tStr(TagSeriesInstanceUID, "UI", s.series),
		tStr(TagSeriesNumber, "IS", fmt.Sprint(s.number)),
		tStr(TagInstanceNumber, "IS", fmt.Sprint(s.instance)),
		tStr(TagAcquisitionNumber, "IS", fmt.Sprint(s.acq)),
		tDS(TagImagePositionPatient, s.pos[:]...),
		tDS(TagImageOrientationPatient, s.iop[:]...),
		tDS(TagPixelSpacing, s.ps[:]...),
		tDS(TagRescaleSlope, s.slope),
		tDS(TagRescaleIntercept, s.inter),
		tDS(TagEchoTime, s.te),
		tStr(TagEchoNumbers, "IS", fmt.Sprint(s.echo)),
		tUS(TagSamplesPerPixel, 1),
		tStr(TagPhotometricInterpretation, "CS", "MONOCHROME2"),
		tUS(TagRows, uint16(s.rows)),
		tUS(TagColumns, uint16(s.cols)),
		tUS(TagBitsAllocated, 16),
		tUS(TagBitsStored, 16),
		tUS(TagHighBit, 15),
		tUS(TagPixelRepresentation, 1),
		{TagPixelData, "OW", px},
	}
	return encodeFile(els)
}

// stack builds n slices of a rows×cols image along the normal of a random
// orientation, spacing dz, with pixel value = 100·k + column + row (k the
// slice index along the normal) so that the order can be checked.
func stack(rng *rand.Rand, n, rows, cols int, dz float64, uid string) ([]tSlice, [3]float64, [3]float64, [3]float64) {
	// A random rotation from a random unit quaternion.
	q := [4]float64{rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()}
	l := math.Sqrt(q[0]*q[0] + q[1]*q[1] + q[2]*q[2] + q[3]*q[3])
	a, b, c, d := q[0]/l, q[1]/l, q[2]/l, q[3]/l
	r := [3][3]float64{
		{a*a + b*b - c*c - d*d, 2 * (b*c - a*d), 2 * (b*d + a*c)},
		{2 * (b*c + a*d), a*a - b*b + c*c - d*d, 2 * (c*d - a*b)},
		{2 * (b*d - a*c), 2 * (c*d + a*b), a*a - b*b - c*c + d*d},
	}
	rowc := [3]float64{r[0][0], r[1][0], r[2][0]}
	colc := [3]float64{r[0][1], r[1][1], r[2][1]}
	nrm := cross(rowc, colc)
	origin := [3]float64{rng.Float64()*200 - 100, rng.Float64()*200 - 100, rng.Float64()*200 - 100}
	ps := [2]float64{0.5 + rng.Float64(), 0.5 + rng.Float64()}
	var out []tSlice
	for k := 0; k < n; k++ {
		s := tSlice{series: uid, number: 3, rows: rows, cols: cols, ps: ps, slope: 1, echo: 1, te: 10, instance: n - k}
		copy(s.iop[:3], rowc[:])
		copy(s.iop[3:], colc[:])
		for i := 0; i < 3; i++ {
			s.pos[i] = origin[i] + float64(k)*dz*nrm[i]
		}
		s.pixels = make([]int16, rows*cols)
		for y := 0; y < rows; y++ {
			for x := 0; x < cols; x++ {
				s.pixels[y*cols+x] = int16(100*k + x + y)
			}
		}
		out = append(out, s)
	}
	return out, rowc, colc, origin
}

// writeShuffled writes slices under opaque names in random order.
func writeShuffled(t *testing.T, rng *rand.Rand, dir string, slices []tSlice) {
	t.Helper()
	for _, i := range rng.Perm(len(slices)) {
		name := fmt.Sprintf("%08X", rng.Uint32())
		if err := os.WriteFile(filepath.Join(dir, name), slices[i].encode(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

package dicom

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// parseCSA reads a Siemens CSA header (private element (0029,xx10)) in
// its "SV10" (CSA2) or original (CSA1) layout and returns the text of each
// tag's items. Lengths are checked against the buffer; a malformed header
// is an error, never a panic.
func parseCSA(b []byte) (map[string][]string, error) {
	pos := 0
	csa2 := len(b) >= 4 && string(b[:4]) == "SV10"
	if csa2 {
		pos = 8
	}
	if len(b) < pos+8 {
		return nil, fmt.Errorf("%w: CSA header of %d bytes", ErrMalformed, len(b))
	}
	ntags := int(binary.LittleEndian.Uint32(b[pos:]))
	pos += 8
	if ntags < 1 || ntags > 1000 {
		return nil, fmt.Errorf("%w: CSA header declares %d tags", ErrMalformed, ntags)
	}
	out := make(map[string][]string, ntags)
	for t := 0; t < ntags; t++ {
		if len(b) < pos+84 {
			return nil, fmt.Errorf("%w: CSA tag %d header", ErrTruncated, t)
		}
		name := strings.TrimRight(string(b[pos:pos+64]), "\x00")
		if i := strings.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		nitems := int(int32(binary.LittleEndian.Uint32(b[pos+76:])))
		pos += 84
		if nitems < 0 || nitems > 1000 {
			return nil, fmt.Errorf("%w: CSA tag %q declares %d items", ErrMalformed, name, nitems)
		}
		var vals []string
		for it := 0; it < nitems; it++ {
			if len(b) < pos+16 {
				return nil, fmt.Errorf("%w: CSA item %d of %q", ErrTruncated, it, name)
			}
			x0 := int(int32(binary.LittleEndian.Uint32(b[pos:])))
			x1 := int(int32(binary.LittleEndian.Uint32(b[pos+4:])))
			pos += 16
			n := x1
			if !csa2 {
				n = x0
			}
			if n < 0 || n > len(b)-pos {
				return nil, fmt.Errorf("%w: CSA item %d of %q declares %d bytes, %d left", ErrMalformed, it, name, n, len(b)-pos)
			}
			v := strings.TrimSpace(strings.TrimRight(string(b[pos:pos+n]), "\x00"))
			if v != "" {
				vals = append(vals, v)
			}
			pos += (n + 3) &^ 3
			if pos > len(b) {
				pos = len(b)
			}
		}
		out[name] = vals
	}
	return out, nil
}

// csaFloats returns the numbers of CSA tag name.
func csaFloats(h map[string][]string, name string) []float64 {
	var f []float64
	for _, s := range h[name] {
		x, err := strconv.ParseFloat(s, 64)
		if err == nil {
			f = append(f, x)
		}
	}
	return f
}

// siemensCSAImage returns the parsed CSA image header of ds, if any.
func siemensCSAImage(ds *DataSet) map[string][]string {
	// The private creator of block 10 in group 0029 must be a CSA one.
	creator := ds.String(TagSiemensCSAPrivateCreator)
	if !strings.Contains(strings.ToUpper(creator), "SIEMENS CSA") {
		return nil
	}
	e := ds.Get(TagSiemensCSAImageHeader)
	if e == nil || len(e.Value) == 0 {
		return nil
	}
	h, err := parseCSA(e.Value)
	if err != nil {
		return nil
	}
	return h
}

package checkpoint

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"github.com/metasurv/metasurv/nn"
)

// maxSafetensorsHeader bounds the JSON header (the reference
// implementation uses 100 MB).
const maxSafetensorsHeader = 100 << 20

// safetensorsDTypes maps safetensors type names to element types.
var safetensorsDTypes = map[string]dtype{
	"F32": dtFloat32, "F64": dtFloat64, "F16": dtFloat16, "BF16": dtBFloat16,
	"I64": dtInt64, "I32": dtInt32, "I16": dtInt16, "I8": dtInt8,
	"U8": dtUint8, "BOOL": dtBool,
}

type stEntry struct {
	DType   string  `json:"dtype"`
	Shape   []int64 `json:"shape"`
	Offsets []int64 `json:"data_offsets"`
}

// readSafetensors reads a safetensors file: an 8-byte little-endian header
// length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__":
// {...}}, then the tensor bytes. Offsets must lie inside the data and not
// overlap, and each tensor's byte length must match its shape and type.
// Options.Key is ignored; StripPrefix and MaxBytes apply.
func readSafetensors(ctx context.Context, r io.ReaderAt, size int64, opts Options) (*Checkpoint, error) {
	maxBytes := opts.MaxBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	var lb [8]byte
	if _, err := r.ReadAt(lb[:], 0); err != nil {
		return nil, fmt.Errorf("%w: safetensors: reading header length: %w", ErrFormat, err)
	}
	hlen := binary.LittleEndian.Uint64(lb[:])
	if hlen > maxSafetensorsHeader || int64(hlen) > size-8 {
		return nil, fmt.Errorf("%w: safetensors: header length %d invalid for a %d-byte file", ErrFormat, hlen, size)
	}
	mem := newBudget(opts.MaxBytes)
	if err := mem.take(3*int64(hlen), "the safetensors header"); err != nil { // the bytes and their parse
		return nil, err
	}
	hdr := make([]byte, hlen)
	if _, err := r.ReadAt(hdr, 8); err != nil {
		return nil, fmt.Errorf("%w: safetensors: reading header: %w", ErrFormat, err)
	}
	if k, dup := duplicateKey(hdr); dup {
		return nil, fmt.Errorf("%w: safetensors: key %s appears twice in the header", ErrFormat, brief(k))
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &raw); err != nil {
		return nil, fmt.Errorf("%w: safetensors: header is not a JSON object: %w", ErrFormat, err)
	}
	c := &Checkpoint{Tensors: map[string]*nn.Tensor{}, Ints: map[string]*IntTensor{}, DTypes: map[string]string{}, Meta: map[string]any{}}
	if m, ok := raw["__metadata__"]; ok {
		var meta map[string]string
		if err := json.Unmarshal(m, &meta); err != nil {
			return nil, fmt.Errorf("%w: safetensors: __metadata__ must map strings to strings: %w", ErrFormat, err)
		}
		for k, v := range meta {
			c.Meta[k] = v
		}
		delete(raw, "__metadata__")
	}
	base := 8 + int64(hlen)
	refs, err := stRefs(raw, size-base, maxBytes)
	if err != nil {
		return nil, err
	}
	src := &stSource{r: r, base: base, begin: map[string]int64{}}
	m := &materialiser{src: src, mem: mem, cache: map[string][]byte{}, uses: map[string]int{}, extent: map[string]int64{}}
	for _, e := range refs {
		name := strings.TrimPrefix(e.name, opts.StripPrefix)
		if _, dup := c.Tensors[name]; dup {
			return nil, fmt.Errorf("%w: key %s appears twice after removing prefix %q", ErrFormat, brief(name), opts.StripPrefix)
		}
		if err := cancelled(ctx, "reading"); err != nil {
			return nil, err
		}
		src.begin[e.name] = e.begin
		m.uses[e.name] = 1
		m.extent[e.name] = e.end - e.begin
		if err := m.add(c, name, e.t); err != nil {
			return nil, fmt.Errorf("checkpoint: safetensors: %s: %w", brief(e.name), err)
		}
	}
	return c, nil
}

// duplicateKey reports a name that the header object holds twice: JSON
// decoding into a map would silently keep the last one, loading weights
// other than the ones a reader of the file (or another tool) sees.
func duplicateKey(hdr []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(hdr))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "", false // not an object: json.Unmarshal reports it
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return "", false
		}
		k, ok := t.(string)
		if !ok {
			return "", false
		}
		if seen[k] {
			return k, true
		}
		seen[k] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return "", false
		}
	}
	return "", false
}

// stSource serves each safetensors tensor's bytes as its own storage.
type stSource struct {
	r     io.ReaderAt
	base  int64
	begin map[string]int64
}

func (s *stSource) storage(st *storageRef, n int64, buf []byte) ([]byte, error) {
	b := reuse(buf, min(n, st.numel*int64(st.dt.size)))
	if m, err := s.r.ReadAt(b, s.base+s.begin[st.key]); m < len(b) {
		return nil, fmt.Errorf("%w: truncated data: %w", ErrFormat, err)
	}
	return b, nil
}

type stRef struct {
	name       string
	begin, end int64
	t          *tensorRef
}

// stRefs validates every header entry against the dataLen bytes of data.
func stRefs(raw map[string]json.RawMessage, dataLen, maxBytes int64) ([]stRef, error) {
	var refs []stRef
	total := int64(0)
	for name, msg := range raw {
		var e stEntry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, fmt.Errorf("%w: safetensors: entry %s: %w", ErrFormat, brief(name), err)
		}
		dt, ok := safetensorsDTypes[e.DType]
		if !ok {
			return nil, fmt.Errorf("%w: safetensors: %s has unsupported dtype %s", ErrFormat, brief(name), brief(e.DType))
		}
		if len(e.Offsets) != 2 || e.Offsets[0] < 0 || e.Offsets[1] < e.Offsets[0] || e.Offsets[1] > dataLen {
			return nil, fmt.Errorf("%w: safetensors: %s has data_offsets %s outside the %d data bytes", ErrFormat, brief(name), briefInts(e.Offsets), dataLen)
		}
		if len(e.Shape) > 64 {
			return nil, fmt.Errorf("%w: safetensors: %s has %d dimensions", ErrFormat, brief(name), len(e.Shape))
		}
		n := int64(1)
		size := make([]int, len(e.Shape))
		for i, d := range e.Shape {
			if d < 0 || (d != 0 && n > math.MaxInt64/8/d) {
				return nil, fmt.Errorf("%w: safetensors: %s has invalid shape %s", ErrFormat, brief(name), briefInts(e.Shape))
			}
			n *= d
			size[i] = int(d)
		}
		if n*int64(dt.size) != e.Offsets[1]-e.Offsets[0] {
			return nil, fmt.Errorf("%w: safetensors: %s: shape %s of %s needs %d bytes, data_offsets give %d", ErrFormat, brief(name), briefInts(e.Shape), e.DType, n*int64(dt.size), e.Offsets[1]-e.Offsets[0])
		}
		if total += 4 * n; total > maxBytes {
			return nil, fmt.Errorf("%w: safetensors: tensors exceed the %d-byte limit", ErrTooLarge, maxBytes)
		}
		st := &storageRef{dt: dt, key: name, numel: n}
		refs = append(refs, stRef{name, e.Offsets[0], e.Offsets[1], &tensorRef{st: st, size: size, stride: cStrides(size)}})
	}
	sort.Slice(refs, func(i, j int) bool {
		if refs[i].begin != refs[j].begin {
			return refs[i].begin < refs[j].begin
		}
		return refs[i].end < refs[j].end
	})
	for i := 1; i < len(refs); i++ {
		if refs[i].begin < refs[i-1].end {
			return nil, fmt.Errorf("%w: safetensors: %s and %s overlap", ErrFormat, brief(refs[i-1].name), brief(refs[i].name))
		}
	}
	return refs, nil
}

func cStrides(size []int) []int64 {
	s := make([]int64, len(size))
	acc := int64(1)
	for i := len(size) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= int64(size[i])
	}
	return s
}

// writeSafetensors writes tensors (validated by checkTensors) as F32
// safetensors: names sorted, the JSON header padded with spaces to a
// multiple of 8 bytes as the reference implementation does, metadata (may
// be nil) under "__metadata__".
func writeSafetensors(w io.Writer, names []string, tensors map[string]*nn.Tensor, hdr []byte) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	var lb [8]byte
	binary.LittleEndian.PutUint64(lb[:], uint64(len(hdr)))
	bw.Write(lb[:])
	bw.Write(hdr)
	var b [4]byte
	for _, k := range names {
		for _, v := range tensors[k].Values() { // (converted weights widened: nn.ConvertBF16)
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
			bw.Write(b[:])
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("checkpoint: writing safetensors: %w", err)
	}
	return nil
}

func safetensorsHeader(names []string, tensors map[string]*nn.Tensor, meta map[string]string) ([]byte, error) {
	var sb strings.Builder
	sb.WriteByte('{')
	if len(meta) > 0 {
		m, err := json.Marshal(meta)
		if err != nil {
			return nil, fmt.Errorf("checkpoint: safetensors metadata: %w", err)
		}
		sb.WriteString(`"__metadata__":`)
		sb.Write(m)
	}
	off := int64(0)
	for i, k := range names {
		t := tensors[k]
		if t == nil {
			return nil, fmt.Errorf("%w: tensor %q is nil", ErrInput, k)
		}
		if k == "__metadata__" {
			return nil, fmt.Errorf("%w: a tensor cannot be named __metadata__", ErrInput)
		}
		n := int64(1)
		for _, d := range t.Shape {
			n *= int64(d)
		}
		if n != int64(t.Numel()) {
			return nil, fmt.Errorf("%w: tensor %q has %d values for shape %v", ErrInput, k, t.Numel(), t.Shape)
		}
		if i > 0 || len(meta) > 0 {
			sb.WriteByte(',')
		}
		key, _ := json.Marshal(k)
		shape, _ := json.Marshal(append([]int{}, t.Shape...))
		fmt.Fprintf(&sb, `%s:{"dtype":"F32","shape":%s,"data_offsets":[%d,%d]}`, key, shape, off, off+4*n)
		off += 4 * n
	}
	sb.WriteByte('}')
	for sb.Len()%8 != 0 {
		sb.WriteByte(' ')
	}
	return []byte(sb.String()), nil
}

package checkpoint

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"unsafe"

	"github.com/metasurv/metasurv/nn"
)

// IntoOptions configures LoadInto and ReadInto.
type IntoOptions struct {
	// Options selects the state dict (Key), strips a prefix
	// (StripPrefix, applied before Rename) and bounds the bytes of a
	// storage read through a buffer (MaxBytes).
	Options
	// Rename maps a checkpoint key to the module's name for it; returning
	// "" ignores the tensor (e.g. the unused cross-attention weights
	// MONAI ≥ 1.4 writes). Nil keeps every name.
	Rename func(key string) string
	// AllowMissing accepts module tensors absent from the checkpoint
	// (they keep their values); AllowUnexpected accepts checkpoint
	// tensors the module lacks (they are skipped). Both are listed in the
	// report. Shape mismatches are always refused.
	AllowMissing, AllowUnexpected bool
}

// LoadInto streams the state dict of the checkpoint at path (PyTorch zip
// or legacy, or safetensors) straight into m's parameters and buffers,
// without materialising a second copy of the weights: a 2 GB checkpoint
// costs the model's own memory plus one storage-sized buffer at most
// (none at all for little-endian float32 tensors, which are read from the
// file directly into the parameter's memory).
//
// Names, presence and shapes are checked for every tensor before any
// byte is copied; if anything is missing, unexpected or mis-shaped, m is
// left untouched and the error is an *nn.LoadError naming every
// offending key. Storages that would exceed MaxBytes are refused before
// the copy too, and for a torch zip archive so is any storage whose
// CRC-32 does not match (ErrChecksum): every storage to be read is hashed
// in a first sequential pass, so a damaged file leaves m untouched. What
// can still stop the copy halfway, leaving m partially loaded, is an I/O
// error, the file changing during the load, or a cancelled ctx; legacy
// and safetensors files have no checksum, so damage inside their tensor
// data is not detected at all (see the package documentation).
//
// ctx is checked before anything is read, between tensors and every few
// MB: a context done before the copying starts leaves m untouched; one
// cancelled during it stops the load with m partially loaded (as an I/O
// error does; load again or discard m). Either way the error wraps
// ctx.Err().
func LoadInto(ctx context.Context, path string, m nn.Module, o IntoOptions) (nn.LoadReport, error) {
	f, err := os.Open(path)
	if err != nil {
		return nn.LoadReport{}, fmt.Errorf("checkpoint: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nn.LoadReport{}, fmt.Errorf("checkpoint: %w", err)
	}
	rep, err := ReadInto(ctx, f, st.Size(), m, o)
	if err != nil {
		var le *nn.LoadError
		if errors.As(err, &le) {
			return rep, err
		}
		return rep, fmt.Errorf("%s: %w", path, err)
	}
	return rep, nil
}

// intoEntry is one checkpoint tensor bound to its destination.
type intoEntry struct {
	key  string     // name in the file
	t    *tensorRef // where its bytes are
	dst  *nn.Tensor
	file int64 // file offset of a directly readable float32 tensor, or -1
}

// ReadInto is LoadInto on an open file of size bytes.
func ReadInto(ctx context.Context, r io.ReaderAt, size int64, m nn.Module, o IntoOptions) (nn.LoadReport, error) {
	if err := cancelled(ctx, "loading"); err != nil {
		return nn.LoadReport{}, err
	}
	rep, err := readInto(ctx, ctxReaderAt{ctx, r}, size, m, o)
	if cerr := cancelled(ctx, "loading"); err != nil && cerr != nil {
		return rep, fmt.Errorf("%w (%d tensors copied before)", cerr, rep.Loaded)
	}
	return rep, err
}

func readInto(ctx context.Context, r io.ReaderAt, size int64, m nn.Module, o IntoOptions) (nn.LoadReport, error) {
	var rep nn.LoadReport
	maxBytes := o.MaxBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	keys, refs, src, err := readRefs(r, size, o.Options)
	if err != nil {
		return rep, err
	}
	dsts := map[string]*nn.Tensor{}
	var order []string
	nn.Walk(m, func(name string, t *nn.Tensor, _ bool) {
		dsts[name] = t
		order = append(order, name)
	})
	var todo []intoEntry
	seen := map[string]string{}
	for i, k := range keys {
		name := strings.TrimPrefix(k, o.StripPrefix)
		if o.Rename != nil {
			if name = o.Rename(name); name == "" {
				continue
			}
		}
		if prev, dup := seen[name]; dup {
			return rep, fmt.Errorf("%w: keys %q and %q both map to %q", ErrFormat, prev, k, name)
		}
		seen[name] = k
		dst, ok := dsts[name]
		if !ok {
			rep.Unexpected = append(rep.Unexpected, name)
			continue
		}
		t := refs[i]
		if !sameDims(t.size, dst.Shape) {
			rep.Mismatched = append(rep.Mismatched, fmt.Sprintf("%s: got %v, want %v", name, t.size, dst.Shape))
			continue
		}
		todo = append(todo, intoEntry{key: k, t: t, dst: dst, file: -1})
	}
	for _, name := range order {
		if _, ok := seen[name]; !ok {
			rep.Missing = append(rep.Missing, name)
		}
	}
	sort.Strings(rep.Unexpected)
	if len(rep.Mismatched) > 0 || (len(rep.Missing) > 0 && !o.AllowMissing) || (len(rep.Unexpected) > 0 && !o.AllowUnexpected) {
		return rep, &nn.LoadError{Report: rep}
	}
	for i := range todo {
		todo[i].file = src.direct(todo[i].t)
	}
	// Storages that must go through a buffer are checked against the
	// limit now rather than halfway through the copy.
	for _, e := range todo {
		if need := (e.t.st.offset + e.t.st.numel) * int64(e.t.st.dt.size); e.file < 0 && need > maxBytes {
			return rep, fmt.Errorf("%w: %q: storage of %d bytes exceeds the %d-byte limit", ErrTooLarge, e.key, need, maxBytes)
		}
	}
	// A torch zip archive records the CRC-32 of every entry: check every
	// storage to be read (and its size) before the first byte is copied,
	// so a damaged file is refused with m untouched. Legacy and
	// safetensors files carry no checksum.
	if zs, ok := src.(*zipSource); ok {
		ks := make([]string, len(todo))
		rs := make([]*tensorRef, len(todo))
		for i, e := range todo {
			ks[i], rs[i] = e.key, e.t
		}
		noteUsers(zs, ks, rs)
		if err := zs.verifyStorages(ctx.Err, todo); err != nil {
			return rep, err
		}
	}
	// Read in file order: sequential I/O on a cold page cache.
	sort.SliceStable(todo, func(a, b int) bool { return todo[a].file < todo[b].file })
	var (
		buf       []byte
		cachedKey string
	)
	for _, e := range todo {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		var err error
		// Update writes in place and then invalidates the tensor's packed
		// copies (convolution plans, bfloat16 weights).
		e.dst.Update(func(d []float32) { err = e.fill(r, src, d, &buf, &cachedKey, maxBytes) })
		if err != nil {
			return rep, err
		}
		rep.Loaded++
	}
	return rep, nil
}

// fill reads e's values into d: straight from the file for a
// little-endian float32 view, else through a storage buffer (reused while
// consecutive tensors share a storage) and a conversion.
func (e *intoEntry) fill(r io.ReaderAt, src refSource, d []float32, buf *[]byte, cachedKey *string, maxBytes int64) error {
	n := int64(len(d))
	if n == 0 {
		return nil
	}
	if e.file >= 0 {
		b := unsafe.Slice((*byte)(unsafe.Pointer(&d[0])), 4*n)
		if got, err := r.ReadAt(b, e.file); int64(got) < 4*n {
			return fmt.Errorf("%w: %q: reading %d bytes at offset %d: %w", ErrFormat, e.key, 4*n, e.file, err)
		}
		return nil
	}
	need := (e.t.st.offset + e.t.st.numel) * int64(e.t.st.dt.size)
	if need > maxBytes {
		return fmt.Errorf("%w: %q: storage of %d bytes exceeds the %d-byte limit", ErrTooLarge, e.key, need, maxBytes)
	}
	if *cachedKey != e.t.st.key || int64(len(*buf)) < need {
		b, err := src.storage(e.t.st, need, *buf)
		if err != nil {
			*cachedKey = ""
			return fmt.Errorf("%w: %q: %w", ErrFormat, e.key, err)
		}
		*buf, *cachedKey = b, e.t.st.key
	}
	if int64(len(*buf)) < need {
		return fmt.Errorf("%w: %q: storage holds %d bytes, want %d", ErrFormat, e.key, len(*buf), need)
	}
	e.t.decodeInto(d, *buf)
	return nil
}

// sameDims compares shapes, treating a scalar stored as [] or [1] alike
// (num_batches_tracked).
func sameDims(a, b []int) bool {
	if nn.SameShape(a, b) {
		return true
	}
	return len(a) <= 1 && len(b) <= 1 && numelOf(a) == 1 && numelOf(b) == 1
}

func numelOf(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// decodeInto writes the view into dst (len = numel) from the raw bytes
// of its root storage.
func (t *tensorRef) decodeInto(dst []float32, raw []byte) {
	dec := decodeFloat32(t.st.dt)
	sz := int64(t.st.dt.size)
	t.gather(int64(len(dst)), func(o int, idx int64) { dst[o] = dec(raw[idx*sz:]) })
}

// refSource is a storage source that can also say where a tensor's bytes
// lie in the file when they can be read as they are.
type refSource interface {
	storageSource
	// direct returns the file offset of t's bytes when t is a contiguous
	// little-endian float32 view stored uncompressed, else -1.
	direct(t *tensorRef) int64
}

// hostLittleEndian reports whether float32 bytes in the file can be read
// into memory unchanged.
var hostLittleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

func directOK(t *tensorRef) bool {
	return hostLittleEndian && t.st.dt == dtFloat32 && t.contiguous()
}

func (s *zipSource) direct(t *tensorRef) int64 {
	f, ok := s.files[s.prefix+"data/"+t.st.key]
	if !ok || s.bigEndian || !directOK(t) || f.Method != 0 /* zip.Store */ {
		return -1
	}
	off, err := f.DataOffset()
	end := (t.st.offset + t.offset + int64(numelOf(t.size))) * 4
	if err != nil || off < 0 || uint64(end) > f.UncompressedSize64 || off+end > s.size {
		return -1
	}
	return off + (t.st.offset+t.offset)*4
}

func (s *legacySource) direct(t *tensorRef) int64 {
	off, ok := s.offsets[t.st.key]
	if !ok || s.bigEndian || !directOK(t) {
		return -1
	}
	return off + (t.st.offset+t.offset)*4
}

func (s *stSource) direct(t *tensorRef) int64 {
	if !directOK(t) {
		return -1
	}
	return s.base + s.begin[t.st.key]
}

// readRefs parses the checkpoint's index (pickle or safetensors header)
// without reading any tensor data, returning the keys in file order and
// their views.
func readRefs(r io.ReaderAt, size int64, opts Options) ([]string, []*tensorRef, refSource, error) {
	var head [16]byte
	n, _ := r.ReadAt(head[:], 0)
	switch Detect(head[:n]) {
	case FormatTorchZip, FormatTorchLegacy:
		var (
			root any
			src  storageSource
			err  error
		)
		if Detect(head[:n]) == FormatTorchZip {
			root, src, err = readZip(r, size, opts.AllowUnknownGlobals, newBudget(opts.MaxBytes))
		} else {
			root, src, err = readLegacy(r, size, opts.AllowUnknownGlobals, newBudget(opts.MaxBytes))
		}
		if err != nil {
			return nil, nil, nil, err
		}
		sd, _, err := selectStateDict(root, opts.Key)
		if err != nil {
			return nil, nil, nil, err
		}
		var keys []string
		var refs []*tensorRef
		for i, k := range sd.keys {
			t, ok := sd.vals[i].(*tensorRef)
			if !ok {
				continue
			}
			name, err := renameKey(k, "")
			if err != nil {
				return nil, nil, nil, err
			}
			keys = append(keys, name)
			refs = append(refs, t)
		}
		if len(keys) == 0 {
			return nil, nil, nil, fmt.Errorf("%w: the state dict holds no tensors", ErrFormat)
		}
		return keys, refs, src.(refSource), nil
	case FormatSafetensors:
		return safetensorsRefs(r, size, opts)
	}
	return nil, nil, nil, fmt.Errorf("%w: unrecognised format (first bytes %q; want a zip torch.save file, a legacy torch pickle or safetensors)", ErrFormat, head[:n])
}

// safetensorsRefs reads a safetensors header into tensor views.
func safetensorsRefs(r io.ReaderAt, size int64, opts Options) ([]string, []*tensorRef, refSource, error) {
	maxBytes := opts.MaxBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	var lb [8]byte
	if _, err := r.ReadAt(lb[:], 0); err != nil {
		return nil, nil, nil, fmt.Errorf("%w: safetensors: reading header length: %w", ErrFormat, err)
	}
	hlen := binary.LittleEndian.Uint64(lb[:])
	if hlen > maxSafetensorsHeader || int64(hlen) > size-8 {
		return nil, nil, nil, fmt.Errorf("%w: safetensors: header length %d invalid for a %d-byte file", ErrFormat, hlen, size)
	}
	hdr := make([]byte, hlen)
	if _, err := r.ReadAt(hdr, 8); err != nil {
		return nil, nil, nil, fmt.Errorf("%w: safetensors: reading header: %w", ErrFormat, err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &raw); err != nil {
		return nil, nil, nil, fmt.Errorf("%w: safetensors: header is not a JSON object: %w", ErrFormat, err)
	}
	delete(raw, "__metadata__")
	base := 8 + int64(hlen)
	entries, err := stRefs(raw, size-base, maxBytes)
	if err != nil {
		return nil, nil, nil, err
	}
	src := &stSource{r: r, base: base, begin: map[string]int64{}}
	keys := make([]string, len(entries))
	refs := make([]*tensorRef, len(entries))
	for i, e := range entries {
		keys[i], refs[i] = e.name, e.t
		src.begin[e.name] = e.begin
	}
	return keys, refs, src, nil
}

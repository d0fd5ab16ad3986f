package checkpoint

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/big"
	"os"
	"sort"
	"strings"

	"github.com/metasurv/metasurv/nn"
)

// DefaultMaxBytes is the memory budget of a load when Options.MaxBytes is
// 0: the largest model of the study (the LaMIM ViTAutoEnc, about 2 GB of
// float32) fits with room for the storage being converted, while a hostile
// file cannot take the machine.
const DefaultMaxBytes = 4 << 30

// maxExpanded bounds the element count of a tensor that is larger than its
// storage (stride-0, expanded views): a few bytes of file must not turn
// into gigabytes of memory. Real state dicts store no such views.
const maxExpanded = 1 << 20

// Options control how a checkpoint is read. The zero value loads a plain
// or wrapped state dict with its keys unchanged.
type Options struct {
	// Key selects the state dict inside a wrapper dict, e.g. "state_dict".
	// Empty means automatic: the root dict if it holds tensors, else the
	// first of "state_dict", "model_state_dict", "model", "net", "network"
	// and "module" that does.
	Key string
	// StripPrefix is removed from the start of every key that has it;
	// "module." undoes torch.nn.DataParallel's naming (MedicalNet and LaMIM
	// weights use it).
	StripPrefix string
	// MaxBytes is the memory budget of the load: the tensors produced (as
	// float32, plus int64 copies of integer tensors), the storages held
	// while they are converted (only the bytes their views need are read)
	// and the unpickler's values and data.pkl, summed (a fixed 1 MB
	// buffer for checksumming the bytes no view reaches is not counted).
	// A file that would need more is refused with ErrTooLarge before the
	// allocation. 0 means DefaultMaxBytes.
	MaxBytes int64
	// AllowUnknownGlobals loads files whose pickle names classes or
	// functions outside the allow-list (e.g. numpy scalars or an argparse
	// Namespace stored beside the weights): such objects become inert
	// placeholders that are never called and are left out of Meta. By
	// default they are an error, as with torch.load(weights_only=True).
	AllowUnknownGlobals bool
}

// IntTensor is an integer or boolean tensor kept exactly (int64 values),
// e.g. BatchNorm's num_batches_tracked.
type IntTensor struct {
	Shape []int
	Data  []int64
}

// Checkpoint is a loaded state dict.
type Checkpoint struct {
	// Tensors holds every tensor of the state dict as float32, integer and
	// boolean ones included (converted by value), so that strict loading
	// sees every key torch's load_state_dict would.
	Tensors map[string]*nn.Tensor
	// Ints additionally holds the exact values of integer and boolean
	// tensors.
	Ints map[string]*IntTensor
	// DTypes is each tensor's stored type in torch's naming ("float32",
	// "float16", "bfloat16", "int64", "bool", ...; safetensors files use
	// the same names).
	DTypes map[string]string
	// Meta holds the other entries of a wrapper dict (e.g. "epoch") that
	// are plain values (numbers, strings, booleans, lists, dicts), and
	// for safetensors the "__metadata__" strings.
	Meta map[string]any
}

// Keys returns the tensor names in sorted order.
func (c *Checkpoint) Keys() []string {
	keys := make([]string, 0, len(c.Tensors))
	for k := range c.Tensors {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Load reads a PyTorch (.pt/.pth, zip or legacy) or safetensors file. The
// format is detected from the first bytes, not from the name, as
// image.Decode does; Checkpoint.Tensors is the state dict to hand to
// nn.LoadStateDict. ctx is checked between tensors and every few MB read;
// a cancelled load returns an error wrapping ctx.Err().
func Load(ctx context.Context, path string, opts Options) (*Checkpoint, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	c, err := Read(ctx, f, st.Size(), opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Format is a weight-file format recognised by Detect.
type Format int

// The formats Read understands.
const (
	FormatUnknown     Format = iota
	FormatTorchZip           // torch.save since PyTorch 1.6
	FormatTorchLegacy        // torch.save before 1.6 (_use_new_zipfile_serialization=False)
	FormatSafetensors
)

// String names the format for messages.
func (f Format) String() string {
	switch f {
	case FormatTorchZip:
		return "torch zip"
	case FormatTorchLegacy:
		return "torch legacy"
	case FormatSafetensors:
		return "safetensors"
	}
	return "unknown"
}

// Detect identifies the format from the first bytes of a file.
func Detect(head []byte) Format {
	// Safetensors is tested before the legacy pickle: a header length of
	// 0x280 starts with the bytes of PROTO 2, while byte 8 of a legacy file
	// (inside the magic number or a FRAME length) is never '{'.
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return FormatTorchZip
	case len(head) >= 9 && head[8] == '{' && binary.LittleEndian.Uint64(head) >= 2:
		return FormatSafetensors
	case len(head) >= 2 && head[0] == 0x80 && head[1] >= 2 && head[1] <= 5:
		return FormatTorchLegacy
	}
	return FormatUnknown
}

// Read reads a checkpoint of any supported format from r (size bytes),
// detecting the format from the first bytes. ctx is checked as Load does.
func Read(ctx context.Context, r io.ReaderAt, size int64, opts Options) (*Checkpoint, error) {
	if err := cancelled(ctx, "reading"); err != nil {
		return nil, err
	}
	c, err := read(ctx, ctxReaderAt{ctx, r}, size, opts)
	if cerr := cancelled(ctx, "reading"); err != nil && cerr != nil {
		return nil, cerr
	}
	return c, err
}

func read(ctx context.Context, r io.ReaderAt, size int64, opts Options) (*Checkpoint, error) {
	var head [16]byte
	n, _ := r.ReadAt(head[:], 0)
	switch Detect(head[:n]) {
	case FormatTorchZip, FormatTorchLegacy:
		return readPyTorch(ctx, r, size, opts)
	case FormatSafetensors:
		return readSafetensors(ctx, r, size, opts)
	}
	return nil, fmt.Errorf("%w: unrecognised format (first bytes %q; want a zip torch.save file, a legacy torch pickle or safetensors)", ErrFormat, head[:n])
}

// readPyTorch reads a torch.save file (zip since 1.6, or the legacy
// format) holding a state dict, or a dict that wraps one. The pickle is
// interpreted by a restricted machine that runs no code: only tensors,
// OrderedDict and plain Python values are accepted.
func readPyTorch(ctx context.Context, r io.ReaderAt, size int64, opts Options) (*Checkpoint, error) {
	var head [4]byte
	n, _ := r.ReadAt(head[:], 0)
	var (
		root any
		src  storageSource
		err  error
	)
	mem := newBudget(opts.MaxBytes)
	if Detect(head[:n]) == FormatTorchZip {
		root, src, err = readZip(r, size, opts.AllowUnknownGlobals, mem)
	} else {
		root, src, err = readLegacy(r, size, opts.AllowUnknownGlobals, mem)
	}
	if err != nil {
		return nil, err
	}
	return assemble(ctx, root, src, opts, mem)
}

// budget counts the bytes a load holds against Options.MaxBytes.
type budget struct{ max, used int64 }

func newBudget(maxBytes int64) *budget {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	return &budget{max: maxBytes}
}

// take reserves n bytes for what, or fails with ErrTooLarge.
func (b *budget) take(n int64, what string) error {
	if n < 0 || n > b.max-b.used {
		return fmt.Errorf("%w: %s needs %d bytes, %d of the %d-byte budget left (Options.MaxBytes)", ErrTooLarge, what, n, b.max-b.used, b.max)
	}
	b.used += n
	return nil
}

// give returns n bytes reserved earlier.
func (b *budget) give(n int64) { b.used -= n }

// storageSource returns the first n raw little-endian bytes of a root
// storage (n covers every view of it that is loaded; the rest is never
// read), reusing buf (a storage no longer needed) when it is large enough.
type storageSource interface {
	storage(st *storageRef, n int64, buf []byte) ([]byte, error)
}

// reuse returns buf resized to n bytes, or a new slice if it is too small.
func reuse(buf []byte, n int64) []byte {
	if int64(cap(buf)) >= n {
		return buf[:n]
	}
	return make([]byte, n)
}

// assemble selects the state dict and materialises its tensors.
func assemble(ctx context.Context, root any, src storageSource, opts Options, mem *budget) (*Checkpoint, error) {
	sd, meta, err := selectStateDict(root, opts.Key)
	if err != nil {
		return nil, err
	}
	c := &Checkpoint{Tensors: map[string]*nn.Tensor{}, Ints: map[string]*IntTensor{}, DTypes: map[string]string{}, Meta: meta}
	m := &materialiser{src: src, mem: mem, cache: map[string][]byte{}, uses: map[string]int{}, extent: map[string]int64{}}
	var keys []string
	var refs []*tensorRef
	for i, v := range sd.vals {
		if t, ok := v.(*tensorRef); ok {
			m.uses[t.st.key]++
			m.extent[t.st.key] = max(m.extent[t.st.key], t.extentBytes())
			keys, refs = append(keys, fmt.Sprint(sd.keys[i])), append(refs, t)
		}
	}
	noteUsers(src, keys, refs) // names the tensors in checksum errors
	for i, k := range sd.keys {
		t, ok := sd.vals[i].(*tensorRef)
		if !ok {
			continue // non-tensor entries (e.g. extra state) are not weights
		}
		if err := cancelled(ctx, "reading"); err != nil {
			return nil, err
		}
		name, err := renameKey(k, opts.StripPrefix)
		if err != nil {
			return nil, err
		}
		if _, dup := c.Tensors[name]; dup {
			return nil, fmt.Errorf("%w: key %s appears twice after removing prefix %q", ErrFormat, brief(name), opts.StripPrefix)
		}
		if err := m.add(c, name, t); err != nil {
			return nil, fmt.Errorf("checkpoint: %s: %w", brief(name), err)
		}
	}
	if len(c.Tensors) == 0 {
		return nil, fmt.Errorf("%w: the state dict holds no tensors", ErrFormat)
	}
	return c, nil
}

// materialiser turns tensor views into dense tensors. Storages are read
// once (only the bytes their loaded views reach), shared by their views,
// and dropped after their last tensor, so peak memory stays near one copy
// of the weights; everything held is counted in mem.
type materialiser struct {
	src    storageSource
	mem    *budget
	cache  map[string][]byte
	uses   map[string]int
	extent map[string]int64 // bytes of each root storage that views reach
	spare  []byte           // bytes of an evicted storage, reused for the next read
	spareN int64            // budget still held for spare
}

func (m *materialiser) add(c *Checkpoint, name string, t *tensorRef) error {
	per := int64(4) // float32 output, plus exact int64 values for integers
	if !t.st.dt.float {
		per += 8
	}
	n, err := t.numel((m.mem.max - m.mem.used) / per)
	if err != nil {
		return fmt.Errorf("%w (budget %d bytes)", err, m.mem.max)
	}
	if n > t.st.numel && n > maxExpanded {
		return fmt.Errorf("%w: a view of shape %v repeats a storage of %d elements; refusing to expand it beyond %d elements", ErrTooLarge, t.size, t.st.numel, maxExpanded)
	}
	if err := m.mem.take(per*n, "the tensor"); err != nil {
		return err
	}
	raw, err := m.storage(t.st)
	if err != nil {
		return err
	}
	if c.Tensors[name], err = nn.FromData(t.toFloat32(raw, n), t.size...); err != nil {
		return err
	}
	if !t.st.dt.float {
		c.Ints[name] = &IntTensor{Shape: append([]int{}, t.size...), Data: t.toInt64(raw, n)}
	}
	c.DTypes[name] = t.st.dt.name
	if m.uses[t.st.key]--; m.uses[t.st.key] == 0 {
		delete(m.cache, t.st.key)
		if cap(raw) > cap(m.spare) { // keep the largest buffer for reuse
			m.mem.give(m.spareN)
			m.spare, m.spareN = raw, int64(len(raw))
		} else {
			m.mem.give(int64(len(raw)))
		}
	}
	return nil
}

// storage returns the bytes of st's root storage that its loaded views
// reach.
func (m *materialiser) storage(st *storageRef) ([]byte, error) {
	need := m.extent[st.key]
	raw, ok := m.cache[st.key]
	if !ok {
		spare, spareN := m.spare, m.spareN
		m.spare, m.spareN = nil, 0 // handed over: the source may fill it
		m.mem.give(spareN)
		if err := m.mem.take(need, "storage "+brief(st.key)); err != nil {
			return nil, err
		}
		var err error
		if raw, err = m.src.storage(st, need, spare); err != nil {
			return nil, err
		}
		m.cache[st.key] = raw
	}
	if int64(len(raw)) < need {
		return nil, fmt.Errorf("%w: storage %s holds %d bytes, want %d", ErrFormat, st.key, len(raw), need)
	}
	return raw, nil
}

func renameKey(k any, prefix string) (string, error) {
	s, ok := k.(string)
	if !ok {
		return "", fmt.Errorf("%w: state-dict key %s is a %s, want a string", ErrFormat, brief(k), typeName(k))
	}
	if prefix != "" {
		s = strings.TrimPrefix(s, prefix)
	}
	return s, nil
}

// wrapperKeys are the entries searched, in order, for a wrapped state dict.
var wrapperKeys = []string{"state_dict", "model_state_dict", "model", "net", "network", "module"}

func hasTensors(d *pyDict) bool {
	for _, v := range d.vals {
		if _, ok := v.(*tensorRef); ok {
			return true
		}
	}
	return false
}

// selectStateDict finds the dict of tensors; the other plain entries of a
// wrapper become metadata.
func selectStateDict(root any, key string) (*pyDict, map[string]any, error) {
	d, ok := root.(*pyDict)
	if !ok {
		return nil, nil, fmt.Errorf("%w: file holds a %s, want a state dict", ErrFormat, typeName(root))
	}
	var sd *pyDict
	var chosen string
	switch {
	case key != "":
		v, ok := d.get(key)
		if sd, _ = v.(*pyDict); !ok || sd == nil {
			return nil, nil, fmt.Errorf("%w: no dict under key %q (keys: %s)", ErrFormat, key, keyList(d))
		}
		chosen = key
	case hasTensors(d):
		return d, map[string]any{}, nil
	default:
		for _, k := range wrapperKeys {
			if v, ok := d.get(k); ok {
				if s, ok := v.(*pyDict); ok && hasTensors(s) {
					sd, chosen = s, k
					break
				}
			}
		}
		if sd == nil {
			return nil, nil, fmt.Errorf("%w: no tensors at the top level nor under %v (keys: %s)", ErrFormat, wrapperKeys, keyList(d))
		}
	}
	meta := map[string]any{}
	for i, k := range d.keys {
		if ks, ok := k.(string); ok && ks != chosen {
			if v, ok := plain(d.vals[i]); ok {
				meta[ks] = v
			}
		}
	}
	return sd, meta, nil
}

func keyList(d *pyDict) string {
	var ks []string
	for _, k := range d.keys {
		ks = append(ks, brief(k))
		if len(ks) == 20 {
			ks = append(ks, "...")
			break
		}
	}
	return strings.Join(ks, ", ")
}

// plain converts a Python value to Go (int64, float64, string, bool, nil,
// []byte, *big.Int, []any, map[string]any); false if it holds tensors or
// other objects, or is too large or deep. Shared references (the memo
// lets a pickle reuse one list many times) are copied, so the number of
// values visited is bounded to keep a crafted DAG from exploding.
func plain(v any) (any, bool) {
	budget := maxPlainValues
	return plainRec(v, 0, &budget)
}

// maxPlainValues bounds the values converted for one metadata entry.
const maxPlainValues = 1 << 16

func plainRec(v any, depth int, budget *int) (any, bool) {
	if *budget--; depth > maxDepth || *budget < 0 {
		return nil, false
	}
	switch v := v.(type) {
	case nil, int64, float64, string, bool, *big.Int:
		return v, true
	case pyBytes:
		return []byte(v), true
	case pyTuple:
		return plainList(v, depth, budget)
	case *pyList:
		return plainList(v.items, depth, budget)
	case *pyDict:
		m := make(map[string]any, len(v.keys))
		for i, k := range v.keys {
			x, ok := plainRec(v.vals[i], depth+1, budget)
			if !ok {
				return nil, false
			}
			m[fmt.Sprint(k)] = x
		}
		return m, true
	}
	return nil, false
}

func plainList(items []any, depth int, budget *int) (any, bool) {
	out := make([]any, len(items))
	for i, x := range items {
		y, ok := plainRec(x, depth+1, budget)
		if !ok {
			return nil, false
		}
		out[i] = y
	}
	return out, true
}

// parseStoragePID decodes ('storage', storage_type, key, location, numel
// [, view_metadata]) as torch's persistent_id writes it.
func parseStoragePID(pid any) (*storageRef, pyTuple, error) {
	t, ok := pid.(pyTuple)
	if !ok || len(t) < 5 || t[0] != "storage" {
		return nil, nil, fmt.Errorf("%w: persistent id %s is not a ('storage', type, key, location, numel) tuple", ErrPickle, typeName(pid))
	}
	g, ok := t[1].(*pyGlobal)
	if !ok {
		return nil, nil, fmt.Errorf("%w: storage type %s, want a torch storage class", ErrPickle, typeName(t[1]))
	}
	dt, ok := storageDTypes[g.name]
	if !ok || g.module != "torch" {
		return nil, nil, fmt.Errorf("%w: storage type torch.%s is not supported", ErrPickle, g.name)
	}
	key, ok1 := t[2].(string)
	numel, ok2 := t[4].(int64)
	if !ok1 || !ok2 || numel < 0 || numel > maxDim {
		return nil, nil, fmt.Errorf("%w: storage key %s or size %s invalid", ErrPickle, brief(t[2]), brief(t[4]))
	}
	return &storageRef{dt: dt, key: key, numel: numel}, t[5:], nil
}

package checkpoint

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/big"
	"path"
	"strings"

	"github.com/metasurv/metasurv/internal/chunked"
)

// maxPickleBytes bounds data.pkl; state-dict pickles are a few MB at most.
const maxPickleBytes = 1 << 30

// zipSource serves the storages of a torch.save zip archive, stored as
// <prefix>data/<key>.
type zipSource struct {
	r         io.ReaderAt
	size      int64
	files     map[string]*zip.File
	prefix    string
	bigEndian bool
	verified  map[string]bool     // entries whose CRC-32 matched
	users     map[string][]string // storage key → tensor keys, for messages
	scratch   []byte              // hashes the bytes no view reaches
}

func readZip(r io.ReaderAt, size int64, opaque bool, mem *budget) (any, storageSource, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: reading zip: %w", ErrFormat, err)
	}
	src := &zipSource{r: r, size: size, files: map[string]*zip.File{}}
	var pkl *zip.File
	for _, f := range zr.File {
		src.files[f.Name] = f
		dir, base := path.Split(f.Name)
		if pkl == nil && base == "data.pkl" && strings.Count(dir, "/") <= 1 {
			pkl, src.prefix = f, dir
		}
	}
	if pkl == nil {
		return nil, nil, fmt.Errorf("%w: zip archive has no <name>/data.pkl: not a torch.save file", ErrFormat)
	}
	for _, f := range zr.File {
		if !strings.HasPrefix(f.Name, src.prefix+"data/") {
			if err := src.checkLocalName(f); err != nil {
				return nil, nil, err
			}
		}
	}
	if pkl.UncompressedSize64 > maxPickleBytes {
		return nil, nil, fmt.Errorf("%w: data.pkl of %d bytes exceeds %d", ErrTooLarge, pkl.UncompressedSize64, maxPickleBytes)
	}
	if bo, ok := src.files[src.prefix+"byteorder"]; ok {
		if bo.UncompressedSize64 > 16 {
			return nil, nil, fmt.Errorf("%w: byteorder record of %d bytes, want little or big", ErrFormat, bo.UncompressedSize64)
		}
		b, err := src.readWhole(bo)
		if err != nil {
			return nil, nil, err
		}
		switch strings.TrimSpace(string(b)) {
		case "little":
		case "big":
			src.bigEndian = true
		default:
			return nil, nil, fmt.Errorf("%w: byteorder %s, want little or big", ErrFormat, brief(string(b)))
		}
	}
	pn := int64(pkl.UncompressedSize64)
	if err := mem.take(pn, "data.pkl"); err != nil {
		return nil, nil, err
	}
	defer mem.give(pn) // the pickle bytes are dropped once unpickled
	p, err := src.readWhole(pkl)
	if err != nil {
		return nil, nil, err
	}
	seen := map[string]*storageRef{}
	u := newUnpickler(bytes.NewReader(p), int64(len(p)), func(pid any) (any, error) {
		st, _, err := parseStoragePID(pid)
		if err != nil {
			return nil, err
		}
		// torch.save writes one (type, size) per storage; a file that
		// names a storage twice differently is refused, as in the legacy
		// format, so that every reader sees the same storage.
		if prev, ok := seen[st.key]; ok && (prev.dt != st.dt || prev.numel != st.numel) {
			return nil, fmt.Errorf("%w: storage %s used with two types or sizes", ErrPickle, brief(st.key))
		} else if !ok {
			seen[st.key] = st
		}
		return st, nil
	})
	u.opaque, u.mem = opaque, mem
	root, err := u.load()
	if err != nil {
		return nil, nil, err
	}
	return root, src, nil
}

func readEntry(f *zip.File, n int64) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("%w: zip entry %s: %w", ErrFormat, f.Name, err)
	}
	defer rc.Close()
	b, err := chunked.ReadFull(io.LimitReader(rc, n), min(n, int64(f.UncompressedSize64)))
	if err != nil {
		return nil, fmt.Errorf("%w: zip entry %s: %w", ErrFormat, f.Name, err)
	}
	return b, nil
}

// read returns the first n bytes of an entry and, the first time the
// entry is read, checks the CRC-32 of all of it (see crc.go). Uncompressed
// entries (what torch writes) are read in place, checked against the
// file size first; others go through the decompressor.
func (s *zipSource) read(f *zip.File, n int64, buf []byte) ([]byte, error) {
	if f.Method != zip.Store {
		return s.readCompressed(f, n)
	}
	off, err := s.storedRange(f)
	if err != nil {
		return nil, err
	}
	if uint64(n) > f.UncompressedSize64 {
		return nil, fmt.Errorf("%w: zip entry %s: %d bytes wanted, it holds %d", ErrFormat, brief(f.Name), n, f.UncompressedSize64)
	}
	b := reuse(buf, n)
	if err := s.readStored(f, off, b); err != nil {
		return nil, err
	}
	return b, nil
}

func (s *zipSource) storage(st *storageRef, n int64, buf []byte) ([]byte, error) {
	f, ok := s.files[s.prefix+"data/"+st.key]
	if !ok {
		return nil, fmt.Errorf("%w: storage %s missing from the archive", ErrFormat, brief(st.key))
	}
	if full := (st.offset + st.numel) * int64(st.dt.size); f.UncompressedSize64 < uint64(full) {
		return nil, fmt.Errorf("%w: storage %s holds %d bytes, want %d", ErrFormat, brief(st.key), f.UncompressedSize64, full)
	}
	b, err := s.read(f, n, buf)
	if err != nil {
		return nil, err
	}
	if s.bigEndian {
		swapBytes(b, st.dt.size)
	}
	return b, nil
}

// The legacy format (torch.save before 1.6, still written with
// _use_new_zipfile_serialization=False) is a sequence of pickles: a magic
// number, the protocol version 1001, a sys_info dict, the object, the
// list of storage keys; then each storage as an int64 element count
// followed by its raw bytes, in the order of that list.
var legacyMagic, _ = new(big.Int).SetString("1950a86a20f9469cfc6c", 16)

type legacySource struct {
	r         io.ReaderAt
	offsets   map[string]int64 // file offset of each root storage's bytes
	roots     map[string]*storageRef
	bigEndian bool
}

func readLegacy(r io.ReaderAt, size int64, opaque bool, mem *budget) (any, storageSource, error) {
	src := &legacySource{r: r, offsets: map[string]int64{}, roots: map[string]*storageRef{}}
	u := newUnpickler(io.NewSectionReader(r, 0, size), size, nil)
	u.opaque, u.mem = opaque, mem
	magic, err := u.load()
	if err != nil {
		return nil, nil, err
	}
	if m, ok := magic.(*big.Int); !ok || m.Cmp(legacyMagic) != 0 {
		return nil, nil, fmt.Errorf("%w: pickle starts with %s, not torch's magic number: not a torch.save file", ErrFormat, brief(magic))
	}
	if err := src.header(u); err != nil {
		return nil, nil, err
	}
	u.persist = src.persist
	root, err := u.load()
	if err != nil {
		return nil, nil, err
	}
	u.persist = nil
	keys, err := u.load()
	if err != nil {
		return nil, nil, err
	}
	if err := src.locate(keys, u.pos, size); err != nil {
		return nil, nil, err
	}
	return root, src, nil
}

// header checks the protocol version and the sys_info dict.
func (s *legacySource) header(u *unpickler) error {
	proto, err := u.load()
	if err != nil {
		return err
	}
	if proto != int64(1001) {
		return fmt.Errorf("%w: legacy protocol version %s, want 1001", ErrFormat, brief(proto))
	}
	info, err := u.load()
	if err != nil {
		return err
	}
	d, ok := info.(*pyDict)
	if !ok {
		return fmt.Errorf("%w: legacy sys_info is a %s, want a dict", ErrFormat, typeName(info))
	}
	if le, ok := d.get("little_endian"); ok && le == false {
		s.bigEndian = true
	}
	return nil
}

// persist resolves a legacy persistent id, including storage views
// (view_key, offset, size) of a root storage.
func (s *legacySource) persist(pid any) (any, error) {
	st, rest, err := parseStoragePID(pid)
	if err != nil {
		return nil, err
	}
	if root, ok := s.roots[st.key]; ok {
		if root.dt != st.dt || root.numel != st.numel {
			return nil, fmt.Errorf("%w: storage %s used with two types or sizes", ErrPickle, brief(st.key))
		}
	} else {
		s.roots[st.key] = st
	}
	if len(rest) == 0 || rest[0] == nil {
		return st, nil
	}
	view, ok := rest[0].(pyTuple)
	if !ok || len(view) != 3 {
		return nil, fmt.Errorf("%w: storage view %s, want (key, offset, size)", ErrPickle, typeName(rest[0]))
	}
	off, ok1 := view[1].(int64)
	n, ok2 := view[2].(int64)
	if !ok1 || !ok2 || off < 0 || n < 0 || off > st.numel || n > st.numel-off {
		return nil, fmt.Errorf("%w: storage view (offset %s, size %s) outside storage %s of %d elements", ErrPickle, brief(view[1]), brief(view[2]), brief(st.key), st.numel)
	}
	return &storageRef{dt: st.dt, key: st.key, offset: off, numel: n}, nil
}

// locate records where each storage's bytes start, after the pickles.
func (s *legacySource) locate(keys any, pos, size int64) error {
	l, ok := keys.(*pyList)
	if !ok {
		return fmt.Errorf("%w: legacy storage keys are a %s, want a list", ErrFormat, typeName(keys))
	}
	for _, k := range l.items {
		key, ok := k.(string)
		root := s.roots[key]
		if !ok || root == nil {
			return fmt.Errorf("%w: legacy storage key %s was not referenced by any tensor", ErrFormat, brief(k))
		}
		var hdr [8]byte
		if n, _ := s.r.ReadAt(hdr[:], pos); n < len(hdr) {
			return fmt.Errorf("%w: legacy storage %s: truncated file", ErrFormat, brief(key))
		}
		var n uint64
		if s.bigEndian {
			n = binary.BigEndian.Uint64(hdr[:])
		} else {
			n = binary.LittleEndian.Uint64(hdr[:])
		}
		if n != uint64(root.numel) {
			return fmt.Errorf("%w: legacy storage %s has %d elements, its tensors say %d", ErrFormat, brief(key), n, root.numel)
		}
		s.offsets[key] = pos + 8
		pos += 8 + root.numel*int64(root.dt.size)
		if pos > size {
			return fmt.Errorf("%w: legacy storage %s extends beyond the end of the file", ErrFormat, brief(key))
		}
	}
	return nil
}

func (s *legacySource) storage(st *storageRef, n int64, buf []byte) ([]byte, error) {
	off, ok := s.offsets[st.key]
	if !ok {
		return nil, fmt.Errorf("%w: storage %s is not in the file's storage list", ErrFormat, brief(st.key))
	}
	root := s.roots[st.key]
	b := reuse(buf, min(n, root.numel*int64(root.dt.size)))
	if m, err := s.r.ReadAt(b, off); m < len(b) {
		return nil, fmt.Errorf("%w: storage %s: %w", ErrFormat, brief(st.key), err)
	}
	if s.bigEndian {
		swapBytes(b, root.dt.size)
	}
	return b, nil
}

package checkpoint

import (
	"archive/zip"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sort"
	"strings"

	"github.com/metasurv/metasurv/internal/chunked"
)

// crcChunk is how many bytes are read and hashed at a time: small enough
// to hash them while they are still in the L2 cache, large enough that
// the number of reads does not matter. It is also the scratch buffer used to
// hash the part of an entry no tensor view reaches.
const crcChunk = 1 << 20

// The CRC-32 (IEEE) that the zip central directory records for every
// entry is checked for each entry the reader consumes: data.pkl, the
// byteorder record and every storage a loaded tensor uses. The bytes are
// hashed as they are read (hash/crc32 uses the carry-less multiply
// instructions on amd64 and arm64). When the views of a storage reach
// only its first n bytes, the rest of the entry is read through the hash
// in crcChunk pieces and dropped, so every consumed entry is verified in
// full without holding more than its first n bytes.

// crcError reports a mismatch for entry f, naming the tensors that use it.
func (s *zipSource) crcError(f *zip.File, got uint32) error {
	return fmt.Errorf("%w: zip entry %s%s: CRC-32 of its %d bytes is %08x, the archive records %08x: the file is corrupt",
		ErrChecksum, brief(f.Name), s.usedBy(f.Name), f.UncompressedSize64, got, f.CRC32)
}

// usedBy names the tensors whose storage is the entry, for messages.
func (s *zipSource) usedBy(name string) string {
	if name == s.prefix+"data.pkl" {
		return " (the pickle)"
	}
	key, ok := strings.CutPrefix(name, s.prefix+"data/")
	if !ok || len(s.users[key]) == 0 {
		return ""
	}
	u := s.users[key]
	q := make([]string, 0, 4)
	for _, k := range u[:min(len(u), 3)] {
		q = append(q, brief(k))
	}
	if len(u) > 3 {
		q = append(q, fmt.Sprintf("and %d more", len(u)-3))
	}
	return ", storage of tensor " + strings.Join(q, ", ")
}

// noteUsers records which tensor keys use each storage, for messages.
func noteUsers(src any, keys []string, refs []*tensorRef) {
	s, ok := src.(*zipSource)
	if !ok {
		return
	}
	s.users = map[string][]string{}
	for i, t := range refs {
		s.users[t.st.key] = append(s.users[t.st.key], keys[i])
	}
}

// storedRange returns the file offset of a stored (uncompressed) entry's
// bytes after checking that they lie inside the file.
func (s *zipSource) storedRange(f *zip.File) (int64, error) {
	off, err := f.DataOffset()
	if err != nil || off < 0 || off > s.size || f.UncompressedSize64 > uint64(s.size-off) || f.CompressedSize64 != f.UncompressedSize64 {
		return 0, fmt.Errorf("%w: zip entry %s: %d stored bytes at offset %d (compressed size %d) do not fit the %d-byte file",
			ErrFormat, brief(f.Name), f.UncompressedSize64, off, f.CompressedSize64, s.size)
	}
	return off, nil
}

// readStored reads the first len(b) bytes of a stored entry at off into b,
// hashing them unless the entry was verified already, and then hashes
// the rest of the entry and compares.
func (s *zipSource) readStored(f *zip.File, off int64, b []byte) error {
	verify := !s.verified[f.Name]
	var crc uint32
	for i := 0; i < len(b); i += crcChunk {
		p := b[i:min(len(b), i+crcChunk)]
		if m, err := s.r.ReadAt(p, off+int64(i)); m < len(p) {
			return fmt.Errorf("%w: zip entry %s: reading %d bytes at offset %d: %w", ErrFormat, brief(f.Name), len(p), off+int64(i), err)
		}
		if verify {
			crc = crc32.Update(crc, crc32.IEEETable, p)
		}
	}
	if !verify {
		return nil
	}
	size := int64(f.UncompressedSize64)
	for pos := int64(len(b)); pos < size; pos += crcChunk {
		p := s.scratchBuf(min(size-pos, crcChunk))
		if m, err := s.r.ReadAt(p, off+pos); m < len(p) {
			return fmt.Errorf("%w: zip entry %s: reading %d bytes at offset %d: %w", ErrFormat, brief(f.Name), len(p), off+pos, err)
		}
		crc = crc32.Update(crc, crc32.IEEETable, p)
	}
	return s.compare(f, crc)
}

func (s *zipSource) scratchBuf(n int64) []byte {
	if int64(cap(s.scratch)) < n {
		s.scratch = make([]byte, n)
	}
	return s.scratch[:n]
}

func (s *zipSource) compare(f *zip.File, crc uint32) error {
	if crc != f.CRC32 {
		return s.crcError(f, crc)
	}
	if s.verified == nil {
		s.verified = map[string]bool{}
	}
	s.verified[f.Name] = true
	return nil
}

// readCompressed returns the first n bytes of a compressed entry, read
// through its decompressor, and checks the CRC-32 of the whole entry
// (decompressing, hashing and dropping the rest).
func (s *zipSource) readCompressed(f *zip.File, n int64) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("%w: zip entry %s: %w", ErrFormat, brief(f.Name), err)
	}
	defer rc.Close()
	h := crc32.NewIEEE()
	b, err := chunked.ReadFull(io.TeeReader(io.LimitReader(rc, n), h), min(n, int64(f.UncompressedSize64)))
	if err == nil && !s.verified[f.Name] {
		_, err = io.CopyBuffer(h, rc, s.scratchBuf(crcChunk))
		if err == nil || errors.Is(err, zip.ErrChecksum) {
			// archive/zip checks the sum itself at the end when the
			// recorded one is not 0; ours also catches that case and
			// names the tensors.
			return b, s.compare(f, h.Sum32())
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: zip entry %s: %w", ErrFormat, brief(f.Name), err)
	}
	return b, nil
}

// readWhole reads a small entry (data.pkl, byteorder) entirely and
// checks its CRC-32.
func (s *zipSource) readWhole(f *zip.File) ([]byte, error) {
	n := int64(f.UncompressedSize64)
	if f.Method != zip.Store {
		return s.readCompressed(f, n)
	}
	off, err := s.storedRange(f)
	if err != nil {
		return nil, err
	}
	b, err := chunked.ReadFull(io.NewSectionReader(s.r, off, n), n)
	if err != nil {
		return nil, fmt.Errorf("%w: zip entry %s: %w", ErrFormat, brief(f.Name), err)
	}
	return b, s.compare(f, crc32.ChecksumIEEE(b))
}

// verifyStorages checks, before anything is copied into a module, that
// every storage the entries use is in the archive, large enough and has
// the CRC-32 the archive records: a corrupt file is then refused with the module
// untouched. Entries are hashed in file order through one crcChunk
// buffer, so this costs one extra sequential read of the weights and no
// memory.
func (s *zipSource) verifyStorages(ctxErr func() error, todo []intoEntry) error {
	type item struct {
		f   *zip.File
		off int64
	}
	var items []item
	seen := map[string]bool{}
	for _, e := range todo {
		st := e.t.st
		f, ok := s.files[s.prefix+"data/"+st.key]
		if !ok {
			return fmt.Errorf("%w: %q: storage %s missing from the archive", ErrFormat, e.key, brief(st.key))
		}
		if full := (st.offset + st.numel) * int64(st.dt.size); f.UncompressedSize64 < uint64(full) {
			return fmt.Errorf("%w: %q: storage %s holds %d bytes, want %d", ErrFormat, e.key, brief(st.key), f.UncompressedSize64, full)
		}
		if seen[f.Name] || s.verified[f.Name] {
			continue
		}
		seen[f.Name] = true
		off, _ := f.DataOffset()
		items = append(items, item{f, off})
	}
	sort.Slice(items, func(a, b int) bool { return items[a].off < items[b].off })
	for _, it := range items {
		if err := ctxErr(); err != nil {
			return err
		}
		var err error
		if it.f.Method == zip.Store {
			var off int64
			if off, err = s.storedRange(it.f); err == nil {
				err = s.readStored(it.f, off, nil)
			}
		} else {
			_, err = s.readCompressed(it.f, 0)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// checkLocalName compares an entry's name in the central directory with
// the one in its local header. The central directory has no checksum: a
// damaged name there would silently drop an optional record (a
// byteorder record that disappears makes a big-endian file load as
// little-endian) and is caught this way. Only the few entries outside
// data/ are checked; a storage whose name is damaged is missing, which is
// an error anyway.
func (s *zipSource) checkLocalName(f *zip.File) error {
	dataOff, err := f.DataOffset()
	if err != nil {
		return fmt.Errorf("%w: zip entry %s: %w", ErrFormat, brief(f.Name), err)
	}
	// The local header is 30 bytes, the name, then an extra field of at
	// most 64 KiB that ends where the data starts.
	// Torch's extra fields (alignment padding) are under 100 bytes: look
	// there first, then in the whole possible range.
	n := int64(len(f.Name))
	for _, maxExtra := range []int64{256, 0xffff} {
		win := min(dataOff, 30+n+maxExtra)
		buf := make([]byte, win)
		if m, _ := s.r.ReadAt(buf, dataOff-win); int64(m) < win {
			return fmt.Errorf("%w: zip entry %s: local header unreadable", ErrFormat, brief(f.Name))
		}
		for extra := int64(0); 30+n+extra <= win; extra++ {
			h := buf[win-30-n-extra:]
			if string(h[:4]) == "PK\x03\x04" && int64(binary.LittleEndian.Uint16(h[26:])) == n &&
				int64(binary.LittleEndian.Uint16(h[28:])) == extra && string(h[30:30+n]) == f.Name {
				return nil
			}
		}
		if win < 30+n+maxExtra {
			break // the window already reached the start of the file
		}
	}
	return fmt.Errorf("%w: zip entry %s: the local header before its data names another entry: the archive is corrupt", ErrFormat, brief(f.Name))
}

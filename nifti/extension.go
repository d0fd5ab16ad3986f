package nifti

import (
	"encoding/binary"
	"fmt"
)

// Extension is one NIfTI header extension (DICOM tags, AFNI XML, JSON
// sidecars, ...). Data holds the bytes after the 8-byte esize/ecode
// prefix exactly as stored, padding included, so that a read → write round
// trip reproduces the extension byte for byte.
type Extension struct {
	Code int32
	Data []byte
}

// size returns the esize written for e: 8 + len(Data) rounded up to a
// multiple of 16 (the writer pads Data with zeros).
func (e Extension) size() int64 { return (8 + int64(len(e.Data)) + 15) &^ 15 }

// extensionsSize returns the bytes the extensions occupy on disk.
func extensionsSize(exts []Extension) int64 {
	var n int64
	for _, e := range exts {
		n += e.size()
	}
	return n
}

// parseExtensions splits the bytes that follow the 4-byte extender into
// extensions. Bytes after the last complete extension (padding before
// vox_offset) are ignored, as nibabel and nifti_clib do.
func parseExtensions(b []byte, bo binary.ByteOrder) ([]Extension, error) {
	var exts []Extension
	for pos := 0; len(b)-pos >= 8; {
		esize := int64(int32(bo.Uint32(b[pos:])))
		code := int32(bo.Uint32(b[pos+4:]))
		if esize == 0 && code == 0 {
			break // zero padding up to vox_offset
		}
		if esize < 8 || esize > int64(len(b)-pos) {
			return nil, fmt.Errorf("%w: extension %d at byte %d has esize %d, want 8..%d", ErrExtension, len(exts), pos, esize, len(b)-pos)
		}
		data := append([]byte(nil), b[pos+8:pos+int(esize)]...)
		exts = append(exts, Extension{Code: code, Data: data})
		pos += int(esize)
	}
	return exts, nil
}

// encodeExtensions returns the extender and the extensions as written
// after the header.
func encodeExtensions(exts []Extension, bo binary.ByteOrder) []byte {
	out := make([]byte, 4, 4+extensionsSize(exts))
	if len(exts) > 0 {
		out[0] = 1
	}
	for _, e := range exts {
		var pre [8]byte
		bo.PutUint32(pre[:], uint32(e.size()))
		bo.PutUint32(pre[4:], uint32(e.Code))
		out = append(out, pre[:]...)
		out = append(out, e.Data...)
		out = append(out, make([]byte, e.size()-8-int64(len(e.Data)))...)
	}
	return out
}

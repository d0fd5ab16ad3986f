package checkpoint

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"strconv"

	"github.com/metasurv/metasurv/nn"
)

// torchAlign is the alignment of storage records in torch's zip writer,
// which lets torch.load(mmap=True) map them directly.
const torchAlign = 64

// writePyTorch writes tensors (validated by checkTensors, names sorted) as
// torch.save(state_dict) does since PyTorch 1.6 (zip archive "archive/",
// pickle protocol 2, one float32 storage per tensor, records aligned to 64
// bytes), so weights trained here load in PyTorch with torch.load(path,
// weights_only=True) and load_state_dict. Keys are written in sorted order
// as an OrderedDict.
func writePyTorch(w io.Writer, names []string, tensors map[string]*nn.Tensor) error {
	cw := &countWriter{w: w}
	zw := zip.NewWriter(cw)
	if err := writeRecord(zw, cw, "archive/data.pkl", statePickle(names, tensors)); err != nil {
		return err
	}
	if err := writeRecord(zw, cw, "archive/byteorder", []byte("little")); err != nil {
		return err
	}
	for i, k := range names {
		if err := writeRecord(zw, cw, "archive/data/"+strconv.Itoa(i), float32Bytes(tensors[k].Values())); err != nil {
			return err
		}
	}
	if err := writeRecord(zw, cw, "archive/version", []byte("3\n")); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("checkpoint: writing zip: %w", err)
	}
	return nil
}

// shapeNumel is the element count of shape, or -1 when a dimension is
// negative or the product overflows.
func shapeNumel(shape []int) int64 {
	n := int64(1)
	for _, d := range shape {
		if d < 0 || (d > 0 && n > math.MaxInt64/int64(d)) {
			return -1
		}
		n *= int64(d)
	}
	return n
}

func float32Bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// writeRecord stores one uncompressed entry whose data starts at a
// multiple of torchAlign, padding the local header's extra field as torch
// does (extra block id "FB").
func writeRecord(zw *zip.Writer, cw *countWriter, name string, data []byte) error {
	if err := zw.Flush(); err != nil {
		return fmt.Errorf("checkpoint: writing zip: %w", err)
	}
	const localHeader = 30
	start := cw.n + localHeader + int64(len(name)) + 4 // 4: extra block header
	pad := (torchAlign - start%torchAlign) % torchAlign
	extra := make([]byte, 4+pad)
	copy(extra, "FB")
	binary.LittleEndian.PutUint16(extra[2:], uint16(pad))
	for i := 4; i < len(extra); i++ {
		extra[i] = 'Z'
	}
	fh := &zip.FileHeader{
		Name: name, Method: zip.Store, Extra: extra,
		CRC32: crc32.ChecksumIEEE(data), CompressedSize64: uint64(len(data)), UncompressedSize64: uint64(len(data)),
	}
	fw, err := zw.CreateRaw(fh)
	if err == nil {
		_, err = fw.Write(data)
	}
	if err != nil {
		return fmt.Errorf("checkpoint: writing zip entry %s: %w", name, err)
	}
	return nil
}

// statePickle encodes OrderedDict([(name, _rebuild_tensor_v2(storage, 0,
// shape, strides, False, OrderedDict())), ...]) in protocol 2, the storage
// of tensor i being persistent id ('storage', torch.FloatStorage, "i",
// 'cpu', numel).
func statePickle(names []string, tensors map[string]*nn.Tensor) []byte {
	var p pickleWriter
	p.WriteString("\x80\x02")
	p.global("collections", "OrderedDict")
	p.WriteString(")R(") // OrderedDict(), MARK
	for i, k := range names {
		t := tensors[k]
		p.unicode(k)
		p.global("torch._utils", "_rebuild_tensor_v2")
		p.WriteString("((") // MARK for the args, MARK for the persistent id
		p.unicode("storage")
		p.global("torch", "FloatStorage")
		p.unicode(strconv.Itoa(i))
		p.unicode("cpu")
		p.int(int64(t.Numel()))
		p.WriteString("tQ") // TUPLE, BINPERSID
		p.int(0)
		p.WriteByte('(')
		for _, d := range t.Shape {
			p.int(int64(d))
		}
		p.WriteString("t(")
		for _, s := range cStrides(t.Shape) {
			p.int(s)
		}
		p.WriteString("t\x89") // TUPLE, NEWFALSE (requires_grad)
		p.global("collections", "OrderedDict")
		p.WriteString(")RtR") // backward_hooks = OrderedDict(); TUPLE; REDUCE
	}
	p.WriteString("u.") // SETITEMS, STOP
	return p.Bytes()
}

type pickleWriter struct{ bytes.Buffer }

func (p *pickleWriter) global(mod, name string) {
	p.WriteString("c" + mod + "\n" + name + "\n")
}

func (p *pickleWriter) unicode(s string) {
	p.WriteByte('X')
	p.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(s))))
	p.WriteString(s)
}

// int writes BININT for 32-bit values and LONG1 otherwise.
func (p *pickleWriter) int(v int64) {
	if v >= math.MinInt32 && v <= math.MaxInt32 {
		p.WriteByte('J')
		p.Write(binary.LittleEndian.AppendUint32(nil, uint32(int32(v))))
		return
	}
	p.WriteString("\x8a\x08")
	p.Write(binary.LittleEndian.AppendUint64(nil, uint64(v)))
}

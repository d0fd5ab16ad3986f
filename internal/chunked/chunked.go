// Package chunked reads a length-prefixed payload whose length comes from an
// untrusted header (a .npy array, a zip entry of a .pt checkpoint) without
// trusting that length: the buffer grows as bytes actually arrive, so a
// 100-byte file claiming 10 GB costs a 16 MB chunk at most, not 10 GB.
package chunked

import (
	"errors"
	"fmt"
	"io"
)

// Chunk is the most ReadFull allocates ahead of the bytes it has read.
const Chunk = 16 << 20

// ReadFull reads exactly n bytes from r. The buffer starts at min(n, Chunk)
// bytes and at most doubles as data arrives. A short stream gives an error
// wrapping io.ErrUnexpectedEOF that says how many bytes came.
func ReadFull(r io.Reader, n int64) ([]byte, error) {
	if n < 0 {
		return nil, fmt.Errorf("chunked: negative length %d", n)
	}
	buf := make([]byte, 0, min(n, Chunk))
	for int64(len(buf)) < n {
		step := int(min(n-int64(len(buf)), Chunk))
		if cap(buf)-len(buf) < step {
			nb := make([]byte, len(buf), min(n, max(int64(2*cap(buf)), int64(len(buf)+step))))
			copy(nb, buf)
			buf = nb
		}
		got, err := io.ReadFull(r, buf[len(buf):len(buf)+step])
		buf = buf[:len(buf)+got]
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("truncated: got %d of %d bytes: %w", len(buf), n, err)
		}
	}
	return buf, nil
}

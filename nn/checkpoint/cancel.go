package checkpoint

import (
	"context"
	"fmt"
	"io"
)

// cancelChunk is how many bytes are read between two looks at the
// context: a few milliseconds of disk or page-cache time, so a cancelled
// load of a 2 GB checkpoint stops promptly without a per-byte cost.
const cancelChunk = 4 << 20

// ctxReaderAt checks ctx before every cancelChunk bytes it reads, so the
// large reads of storages (and of float32 tensors straight into a
// parameter) stop soon after the context is done.
type ctxReaderAt struct {
	ctx context.Context
	r   io.ReaderAt
}

func (c ctxReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		if err := c.ctx.Err(); err != nil {
			return n, err
		}
		end := min(len(p), n+cancelChunk)
		m, err := c.r.ReadAt(p[n:end], off+int64(n))
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// cancelled wraps ctx's error, if it is done, naming what was under way;
// it lets a cancellation surface as itself rather than as the I/O or
// format error it caused.
func cancelled(ctx context.Context, what string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("checkpoint: %s cancelled: %w", what, err)
	}
	return nil
}

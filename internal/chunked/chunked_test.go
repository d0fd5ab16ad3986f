package chunked

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"testing"
)

func TestReadFull(t *testing.T) {
	src := make([]byte, 3*Chunk+5)
	for i := range src {
		src[i] = byte(i * 7)
	}
	got, err := ReadFull(bytes.NewReader(src), int64(len(src)))
	if err != nil || !bytes.Equal(got, src) {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
	if got, err := ReadFull(bytes.NewReader(src), 0); err != nil || len(got) != 0 {
		t.Fatalf("n=0: %d, %v", len(got), err)
	}
	if _, err := ReadFull(bytes.NewReader(src), -1); err == nil {
		t.Fatal("negative length accepted")
	}
}

// A false length claim costs one chunk, not the claimed size.
func TestReadFullLyingLength(t *testing.T) {
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	_, err := ReadFull(bytes.NewReader([]byte("short")), 1<<40)
	runtime.ReadMemStats(&m1)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated stream: %v", err)
	}
	if grew := m1.TotalAlloc - m0.TotalAlloc; grew > 2*Chunk {
		t.Fatalf("allocated %d bytes for a 5-byte stream claiming 1 TiB", grew)
	}
}

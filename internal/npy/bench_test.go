package npy

import (
	"bytes"
	"os"
	"testing"

	"github.com/metasurv/metasurv/internal/fixture"
)

// BenchmarkReadFloat32 decodes a 96³ float32 fixture (3.5 MB) from memory
// to []float32 and reports MB/s.
func BenchmarkReadFloat32(b *testing.B) {
	raw, err := os.ReadFile(fixture.Path(b, "golden", "preprocess", "ch2_resize96_area.npy"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		a, err := Read(bytes.NewReader(raw))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := a.Float32(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteFloat32 encodes 96³ float32 values and reports MB/s.
func BenchmarkWriteFloat32(b *testing.B) {
	data := make([]float32, 96*96*96)
	var buf bytes.Buffer
	b.SetBytes(int64(4 * len(data)))
	for b.Loop() {
		buf.Reset()
		if err := Write(&buf, []int{96, 96, 96}, data); err != nil {
			b.Fatal(err)
		}
	}
}

package checkpoint

import (
	"context"
	"os"
	"testing"

	"github.com/metasurv/metasurv/internal/fixture"
)

// BenchmarkLoadPyTorch loads the largest fixture (efficientnet_b0.pt,
// 19 MB of float32) and reports MB/s of file read.
func BenchmarkLoadPyTorch(b *testing.B) {
	path := fixture.Path(b, "golden", "models", "efficientnet_b0.pt")
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	for b.Loop() {
		if _, err := Load(context.Background(), path, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

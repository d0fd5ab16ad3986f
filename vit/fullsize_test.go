package vit

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/metasurv/metasurv/internal/cputime"
	"github.com/metasurv/metasurv/nn"
)

// fullSizeLaMIM returns the full-size LaMIM encoder, uninitialised (the
// checkpoint fills it), and the checkpoint path of METASURV_LAMIM_CKPT;
// it skips the test when that is not set.
func fullSizeLaMIM(t *testing.T) (*AutoEnc, string) {
	t.Helper()
	path := os.Getenv("METASURV_LAMIM_CKPT")
	if path == "" {
		t.Skip("METASURV_LAMIM_CKPT not set")
	}
	c := LaMIMEncoder()
	c.SkipInit = true
	m, err := NewAutoEnc(c)
	if err != nil {
		t.Fatal(err)
	}
	return m, path
}

// TestLoadFullSizeLaMIM streams a full-size LaMIM checkpoint (2 GB; set
// METASURV_LAMIM_CKPT to its path: the published SSL_ViT_Block16.pth or a
// synthetic one of the same shapes) into the 506 M-parameter encoder and
// runs one forward pass, checking that the peak resident memory of the
// whole process stays within 1.3× the parameter bytes. Run it alone
// (-run TestLoadFullSizeLaMIM): the peak is the process's.
func TestLoadFullSizeLaMIM(t *testing.T) {
	m, path := fullSizeLaMIM(t)
	params := int64(countParams(m)) * 4
	start := time.Now()
	rep, err := Load(context.Background(), m, path, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	loadTime := time.Since(start)
	afterLoad := cputime.PeakRSS()
	x := nn.NewTensor(1, 4, 96, 96, 96)
	r := nn.NewRNG(1)
	nn.InitNormal(x, 0, 1, r)
	g := nn.NewGraph(nn.Options{})
	start = time.Now()
	enc := m.Encode(g, x)
	if err := g.Err(); err != nil {
		t.Fatal(err)
	}
	fwd := time.Since(start)
	peak := cputime.PeakRSS()
	t.Logf("loaded %d tensors (%.3f GB of parameters) in %v; peak RSS after load %.3f GB, after forward %.3f GB = %.3f× parameter bytes; forward %v; last[0]=%g",
		rep.Loaded, float64(params)/1e9, loadTime, float64(afterLoad)/1e9, float64(peak)/1e9, float64(peak)/float64(params), fwd, enc.Last().Data[0])
	if peak > params*13/10 {
		t.Errorf("peak RSS %d bytes exceeds 1.3× the %d parameter bytes", peak, params)
	}
}

// TestLoadTimeLaMIM only times the streaming load of METASURV_LAMIM_CKPT
// into the LaMIM encoder (for comparison with torch.load of the same
// file).
func TestLoadTimeLaMIM(t *testing.T) {
	m, path := fullSizeLaMIM(t)
	start := time.Now()
	if _, err := Load(context.Background(), m, path, LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Logf("load %.2f s, peak RSS %.3f GB", time.Since(start).Seconds(), float64(cputime.PeakRSS())/1e9)
}

package nifti

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/metasurv/metasurv/internal/cputime"
	"github.com/metasurv/metasurv/internal/fixture"
)

// benchInt16Path writes (once) the 240×240×155 int16 .nii.gz benchmark
// image: a smooth head-like ellipsoid with deterministic noise, the size of
// a BraTS volume. Set NIFTI_BENCH_DIR to keep it (e.g. to time nibabel on
// the same file).
var benchInt16 = struct {
	once sync.Once
	path string
	err  error
}{}

func benchInt16Path(b *testing.B) string {
	benchInt16.once.Do(func() {
		dir := os.Getenv("NIFTI_BENCH_DIR")
		if dir == "" {
			dir, benchInt16.err = os.MkdirTemp("", "nifti-bench")
			if benchInt16.err != nil {
				return
			}
		}
		benchInt16.path = filepath.Join(dir, "int16_240x240x155.nii.gz")
		benchInt16.err = SaveImage(benchInt16.path, phantomInt16(240, 240, 155), nil)
	})
	if benchInt16.err != nil {
		b.Fatal(benchInt16.err)
	}
	return benchInt16.path
}

// phantomInt16 returns an int16 image of fixture.PhantomInt16's
// ellipsoidal "head".
func phantomInt16(nx, ny, nz int) *Image {
	img := &Image{Header: Header{Version: 1, Datatype: DTInt16,
		Dim: [8]int64{3, int64(nx), int64(ny), int64(nz), 1, 1, 1, 1}, Pixdim: [8]float64{1, 1, 1, 1, 1, 1, 1, 1},
		SformCode: 1, SrowX: [4]float64{1, 0, 0, -120}, SrowY: [4]float64{0, 1, 0, -120}, SrowZ: [4]float64{0, 0, 1, -77}}}
	img.Data = fixture.PhantomInt16(nx, ny, nz)
	return img
}

func benchLoad(b *testing.B, path string) {
	v, err := Load(path, nil)
	if err != nil {
		b.Fatal(err)
	}
	raw := float64(len(v.Data))
	b.ResetTimer()
	cpu0 := cputime.Now()
	for b.Loop() {
		if _, err := Load(path, nil); err != nil {
			b.Fatal(err)
		}
	}
	perOp := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(raw*4/1e6/perOp, "MB/s")
	b.ReportMetric(float64(cputime.Now()-cpu0)/1e6/float64(b.N), "cpu-ms/op")
}

// The peer is nibabel, timed in-process, best of 5, on the same files
// (NIFTI_BENCH_DIR keeps the generated one):
//
//	a = np.asanyarray(nib.load(f).dataobj).astype(np.float32)
//
// cpu-ms/op is the process CPU time per load (both decoding threads), useful
// when the machine is shared.

// BenchmarkLoadCh2 reads ch2.nii.gz (181×217×181 uint8, 3.5 MB gzipped)
// into a float32 volume; MB/s counts float32 output bytes.
// nibabel 5.0 on this machine: 26 ms.
func BenchmarkLoadCh2(b *testing.B) {
	benchLoad(b, fixture.Path(b, "testdata", "nifti", "ch2.nii.gz"))
}

// BenchmarkLoadInt16 reads a 240×240×155 int16 .nii.gz into float32.
// nibabel 5.0 on this machine: 87 ms.
func BenchmarkLoadInt16(b *testing.B) {
	benchLoad(b, benchInt16Path(b))
}

// BenchmarkSaveFloat32 writes a 240×240×155 float32 .nii.gz (gzip level 1).
func BenchmarkSaveFloat32(b *testing.B) {
	v, err := Load(benchInt16Path(b), nil)
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "out.nii.gz")
	b.ResetTimer()
	for b.Loop() {
		if err := Save(path, v); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(4*len(v.Data))/1e6/(b.Elapsed().Seconds()/float64(b.N)), "MB/s")
}

package volume_test

import (
	"math/rand/v2"
	"testing"

	"github.com/metasurv/metasurv/internal/cputime"
	"github.com/metasurv/metasurv/internal/parallel"
	"github.com/metasurv/metasurv/volume"
)

// brats is the BraTS grid: 240×240×155 at 1 mm.
var brats = [3]int{240, 240, 155}

func benchVolume() *volume.Volume {
	rng := rand.New(rand.NewPCG(1, 2))
	v, _ := volume.New(brats, volume.Affine{{-1, 0, 0, 120}, {0, -1, 0, 120}, {0, 0, 1, -77}, {0, 0, 0, 1}})
	for i := range v.Data {
		v.Data[i] = float32(rng.IntN(1000))
	}
	return v
}

// reportMBs reports the throughput in MB/s of float32 voxel data read.
func reportMBs(b *testing.B, voxels int) {
	b.ReportMetric(float64(4*voxels)*float64(b.N)/b.Elapsed().Seconds()/1e6, "MB/s")
}

// threads runs a benchmark on all workers and on one; the single-thread
// run also reports process CPU ms per operation, which other processes on
// a shared machine do not inflate as they do wall time.
func threads(b *testing.B, fn func(b *testing.B)) {
	b.Run("threads=all", fn)
	b.Run("threads=1", func(b *testing.B) {
		restore := parallel.SetMaxWorkers(1)
		defer restore()
		c0 := cputime.Now()
		fn(b)
		if c := cputime.Now() - c0; c > 0 {
			b.ReportMetric(c.Seconds()*1e3/float64(b.N), "cpu-ms/op")
		}
	})
}

func BenchmarkResize96(b *testing.B) {
	v := benchVolume()
	dst, _ := volume.New([3]int{96, 96, 96}, volume.Identity())
	for _, m := range resizeModes {
		b.Run(m.String(), func(b *testing.B) {
			threads(b, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := volume.ResizeInto(dst, v, m); err != nil {
						b.Fatal(err)
					}
				}
				reportMBs(b, len(v.Data))
			})
		})
	}
}

// A rigid transform applied on the full grid: the resampling of the
// preprocessing pipeline.
func BenchmarkResampleRigid(b *testing.B) {
	v := benchVolume()
	dst, _ := volume.New(v.Dims, v.Affine)
	inv, _ := v.Affine.Inverse()
	rot := aff3(rotation([3]float64{1, 2, 3}, 0.1), [3]float64{3.5, -6.25, 2})
	vox := inv.Mul(rot).Mul(v.Affine)
	for _, s := range []volume.Sampler{{}, {Interp: volume.Nearest}} {
		b.Run(s.Interp.String(), func(b *testing.B) {
			threads(b, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := volume.ResampleInto(dst, v, vox, s); err != nil {
						b.Fatal(err)
					}
				}
				reportMBs(b, len(dst.Data))
			})
		})
	}
}

func BenchmarkResampleToSpacing(b *testing.B) {
	v := benchVolume()
	threads(b, func(b *testing.B) {
		for b.Loop() {
			if _, err := v.ResampleToSpacing([3]float64{1.5, 1.5, 1.5}, volume.SpacingOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		reportMBs(b, len(v.Data))
	})
}

func BenchmarkReorient(b *testing.B) {
	v := benchVolume()
	threads(b, func(b *testing.B) {
		for b.Loop() {
			if _, err := v.Canonical(); err != nil {
				b.Fatal(err)
			}
		}
		reportMBs(b, len(v.Data))
	})
}

func BenchmarkPercentiles(b *testing.B) {
	v := benchVolume()
	c0 := cputime.Now()
	for b.Loop() {
		if _, err := v.Percentiles(nil, 0.5, 99.5); err != nil {
			b.Fatal(err)
		}
	}
	reportMBs(b, len(v.Data))
	b.ReportMetric((cputime.Now()-c0).Seconds()*1e3/float64(b.N), "cpu-ms/op")
}

package register

import (
	"context"
	"testing"

	"github.com/metasurv/metasurv/volume"
)

// BenchmarkResample resamples ch2 (181×217×181) through a rigid transform;
// MB/s counts output float32 bytes.
func BenchmarkResample(b *testing.B) {
	ch2 := loadFixtureVolume(b, "ch2.nii.gz")
	m := NewRigid([3]float64{0.1, -0.05, 0.07}, [3]float64{3, -2, 5}, gridCenter(ch2)).Matrix()
	for _, in := range []volume.Interp{volume.Nearest, volume.Linear, volume.BSpline3} {
		b.Run(in.String(), func(b *testing.B) {
			b.SetBytes(int64(4 * len(ch2.Data)))
			for b.Loop() {
				if _, err := Resample(ch2, GridOf(ch2), m, in, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRegisterCh2 is the peer workload: rigid Mattes MI of ch2
// against its 10°/14 mm perturbation with inverted contrast, noise and a
// bias field. It reports the mean displacement error over the brain.
func BenchmarkRegisterCh2(b *testing.B) {
	ch2 := loadFixtureVolume(b, "ch2.nii.gz")
	brain := loadFixtureVolume(b, "ch2bet.nii.gz")
	c := peerCases()[1]
	mov, truth := perturb(b, ch2, c, 11)
	var res Result
	var err error
	for b.Loop() {
		if res, err = Register(context.Background(), ch2, mov, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(meanDisplacementError(res.Matrix, truth, brain), "mm-error")
}

// BenchmarkMetric times one Mattes MI value-and-gradient evaluation at
// 40 000 sample points on ch2; MB/s counts the sample points' moving
// values (float32) evaluated.
func BenchmarkMetric(b *testing.B) {
	ch2 := loadFixtureVolume(b, "ch2.nii.gz")
	for _, in := range []volume.Interp{volume.Linear, volume.BSpline3} {
		b.Run(in.String(), func(b *testing.B) {
			e, err := newEvaluator(ch2, ch2, nil, MetricOptions{Interp: in}, 1)
			if err != nil {
				b.Fatal(err)
			}
			m := NewRigid([3]float64{0.1, 0, 0}, [3]float64{1, 2, 3}, gridCenter(ch2)).Matrix()
			b.SetBytes(int64(4 * len(e.pts)))
			for b.Loop() {
				e.evaluate(m, true)
			}
		})
	}
}

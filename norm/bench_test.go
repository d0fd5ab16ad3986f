package norm

import (
	"context"
	"testing"

	"github.com/metasurv/metasurv/volume"
)

// benchMask is a 181×217×181 (ch2-sized) ellipsoid head mask.
func benchMask(b *testing.B) *volume.Mask {
	dims := [3]int{181, 217, 181}
	m, _ := volume.NewMask(dims)
	for k := 0; k < dims[2]; k++ {
		for j := 0; j < dims[1]; j++ {
			for i := 0; i < dims[0]; i++ {
				x, y, z := float64(i-90)/70, float64(j-108)/90, float64(k-90)/72
				m.Data[i+dims[0]*(j+dims[1]*k)] = x*x+y*y+z*z <= 1 && (i+j+k)%37 != 0
			}
		}
	}
	return m
}

func reportVoxels(b *testing.B, n int) {
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mvox/s")
}

func BenchmarkDilateBall(b *testing.B) {
	m := benchMask(b)
	for b.Loop() {
		if _, err := volume.Dilate(m, volume.Element{Radius: 7}); err != nil {
			b.Fatal(err)
		}
	}
	reportVoxels(b, len(m.Data))
}

func BenchmarkErodeCube(b *testing.B) {
	m := benchMask(b)
	for b.Loop() {
		if _, err := volume.Erode(m, volume.Element{Radius: 3, Cube: true}); err != nil {
			b.Fatal(err)
		}
	}
	reportVoxels(b, len(m.Data))
}

func BenchmarkFillHoles(b *testing.B) {
	m := benchMask(b)
	for b.Loop() {
		if _, err := volume.FillHoles(m); err != nil {
			b.Fatal(err)
		}
	}
	reportVoxels(b, len(m.Data))
}

func BenchmarkLargestComponent(b *testing.B) {
	m := benchMask(b)
	for b.Loop() {
		if _, err := volume.LargestComponent(m, volume.Conn6); err != nil {
			b.Fatal(err)
		}
	}
	reportVoxels(b, len(m.Data))
}

func BenchmarkPreprocess2mm(b *testing.B) {
	atlas, mask := testAtlas(b, 2)
	seqs, _ := testPatient(b, testScans)
	for b.Loop() {
		if _, _, err := Preprocess(context.Background(), seqs, atlas, Options{AtlasMask: mask}); err != nil {
			b.Fatal(err)
		}
	}
}

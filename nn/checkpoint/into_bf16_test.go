package checkpoint

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/metasurv/metasurv/internal/gemm"
	"github.com/metasurv/metasurv/nn"
)

// A model converted by nn.ConvertBF16 saves its rounded weights and loads
// a checkpoint by rounding it again (LoadInto writes through Update).
func TestLoadIntoConvertedBF16(t *testing.T) {
	for _, ext := range []string{".pt", ".safetensors"} {
		src := nn.NewLinear(40, 24, nn.LinearOptions{}, nn.NewRNG(1))
		path := filepath.Join(t.TempDir(), "w"+ext)
		if err := Save(path, nn.StateDict(src), SaveOptions{}); err != nil {
			t.Fatal(err)
		}
		dst := nn.NewLinear(40, 24, nn.LinearOptions{}, nn.NewRNG(2))
		if err := nn.ConvertBF16(dst); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadInto(context.Background(), path, dst, IntoOptions{}); err != nil {
			t.Fatal(err)
		}
		if !dst.Weight.IsBF16() {
			t.Fatalf("%s: the loaded weight is no longer converted", ext)
		}
		got := dst.Weight.Values()
		for i, v := range src.Weight.Data {
			if want := gemm.FromBF16(gemm.ToBF16(v)); got[i] != want {
				t.Fatalf("%s: weight[%d] = %g, want %g", ext, i, got[i], want)
			}
		}
		for i, v := range src.Bias.Data {
			if dst.Bias.Data[i] != v {
				t.Fatalf("%s: bias[%d] = %g, want %g", ext, i, dst.Bias.Data[i], v)
			}
		}
		// saved from the converted model: the rounded values
		back := filepath.Join(t.TempDir(), "back"+ext)
		if err := Save(back, nn.StateDict(dst), SaveOptions{}); err != nil {
			t.Fatal(err)
		}
		re := nn.NewLinear(40, 24, nn.LinearOptions{}, nn.NewRNG(3))
		if _, err := LoadInto(context.Background(), back, re, IntoOptions{}); err != nil {
			t.Fatal(err)
		}
		for i, v := range re.Weight.Data {
			if v != got[i] {
				t.Fatalf("%s: saved converted weight[%d] = %g, want %g", ext, i, v, got[i])
			}
		}
		// the converted tensors themselves (not StateDict's copies) save alike
		raw := filepath.Join(t.TempDir(), "raw"+ext)
		if err := Save(raw, map[string]*nn.Tensor{"weight": dst.Weight, "bias": dst.Bias}, SaveOptions{}); err != nil {
			t.Fatal(err)
		}
		re2 := nn.NewLinear(40, 24, nn.LinearOptions{}, nn.NewRNG(4))
		if _, err := LoadInto(context.Background(), raw, re2, IntoOptions{}); err != nil {
			t.Fatal(err)
		}
		for i, v := range re2.Weight.Data {
			if v != got[i] {
				t.Fatalf("%s: saved converted tensor [%d] = %g, want %g", ext, i, v, got[i])
			}
		}
	}
}

package vit

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/metasurv/metasurv/nn"
)

// Inputs that used to panic (a hand-made tensor with fewer values than its
// shape, an empty encoding, nil tokens, a configuration without patch size)
// or give NaN latents without an error (a NaN voxel).
func TestRobustInputs(t *testing.T) {
	small := Config{InChannels: 2, ImgSize: Cube(16), PatchSize: Cube(4), HiddenSize: 16, MLPDim: 32, NumLayers: 1, NumHeads: 2}
	v, err := New(small)
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewAutoEnc(small)
	if err != nil {
		t.Fatal(err)
	}
	short := &nn.Tensor{Shape: []int{1, 2, 16, 16, 16}, Data: make([]float32, 5)}
	nan := nn.NewTensor(1, 2, 16, 16, 16)
	nan.Data[3] = float32(math.NaN())
	check := func(name string, f func(g *nn.Graph) error) {
		t.Helper()
		defer func() {
			if r := recover(); r != nil {
				t.Errorf("%s panics: %v", name, r)
			}
		}()
		g := nn.NewGraph(nn.Options{})
		err := f(g)
		if err == nil {
			err = g.Err()
		}
		if !errors.Is(err, ErrInput) {
			t.Errorf("%s: %v, want ErrInput", name, err)
		}
	}
	for name, m := range map[string]interface {
		nn.Backbone
		Encoder
	}{"ViT": v, "AutoEnc": a} {
		check(name+".Forward short", func(g *nn.Graph) error { m.Forward(g, short); return nil })
		check(name+" rollout short", func(*nn.Graph) error {
			_, err := AttentionRollout(context.Background(), m, short, RolloutOptions{})
			return err
		})
		check(name+" rollout NaN", func(*nn.Graph) error {
			_, err := AttentionRollout(context.Background(), m, nan, RolloutOptions{})
			return err
		})
		check(name+" latents NaN", func(*nn.Graph) error {
			_, err := Latents(context.Background(), m, nan, LatentOptions{PerSequence: true})
			return err
		})
	}
	for _, p := range []Pooling{PoolMean, PoolLaMIM, PoolCLS} {
		check("Pool empty encoding", func(g *nn.Graph) error { Pool(g, &Encoding{}, p); return nil })
		check("Pool rank-2 tokens", func(g *nn.Graph) error {
			Pool(g, &Encoding{Hidden: []*nn.Tensor{nn.NewTensor(3, 4)}, Normed: nn.NewTensor(3, 4), CLS: true}, p)
			return nil
		})
	}
	check("Decode nil", func(g *nn.Graph) error { a.Decode(g, nil); return nil })
	check("Decode scalar", func(g *nn.Graph) error { a.Decode(g, nn.Scalar(1)); return nil })

	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Errorf("LaMIMPoolDim(Config{}) panics: %v", r)
			}
		}()
		if n := LaMIMPoolDim(Config{PatchSize: Cube(16)}); n != 0 {
			t.Errorf("LaMIMPoolDim of a configuration without image size = %d, want 0", n)
		}
		if n := LaMIMPoolDim(LaMIMEncoder()); n != 49104 {
			t.Errorf("LaMIMPoolDim(LaMIMEncoder()) = %d, want 49104", n)
		}
	}()
}

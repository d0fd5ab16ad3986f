package cnn_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/metasurv/metasurv/cnn"
	"github.com/metasurv/metasurv/nn"
)

// featureMapper is the method set fusion's Grad-CAM looks for
// (fusion.FeatureMapper).
type featureMapper interface {
	FeatureMaps(g *nn.Graph, x *nn.Tensor) *nn.Tensor
	EmbedFromMaps(g *nn.Graph, maps *nn.Tensor) *nn.Tensor
}

var (
	_ featureMapper = (*cnn.ResNet)(nil)
	_ featureMapper = (*cnn.DenseNet)(nil)
	_ featureMapper = (*cnn.SENet)(nil)
	_ featureMapper = (*cnn.EfficientNet)(nil)
)

// TestFeatureMaps: for every family, the feature maps pooled equal Embed
// bit for bit, in an inference graph and in a recording one (where
// Grad-CAM runs), and the maps are (N, EmbedDim, d, h, w).
func TestFeatureMaps(t *testing.T) {
	for name, m := range smallModels(t) {
		t.Run(name, func(t *testing.T) {
			size := 16
			if strings.HasPrefix(name, "efficientnet") {
				size = 32
			}
			x := nn.NewTensor(2, 2, size, size, size)
			nn.InitNormal(x, 0, 1, nn.NewRNG(5))
			nn.SetTraining(m, false)
			fm := m.(featureMapper)
			for _, grad := range []bool{false, true} {
				g := nn.NewGraph(nn.Options{Grad: grad})
				want := m.Embed(g, x)
				g2 := nn.NewGraph(nn.Options{Grad: grad})
				maps := fm.FeatureMaps(g2, x)
				got := fm.EmbedFromMaps(g2, maps)
				if err := errors.Join(g.Err(), g2.Err()); err != nil {
					t.Fatal(err)
				}
				if len(maps.Shape) != 5 || maps.Shape[0] != 2 || maps.Shape[1] != m.EmbedDim() {
					t.Fatalf("maps %v, want (2, %d, d, h, w)", maps.Shape, m.EmbedDim())
				}
				if !nn.SameShape(got.Shape, want.Shape) {
					t.Fatalf("embedding %v, want %v", got.Shape, want.Shape)
				}
				for i := range want.Data {
					if math.Float32bits(got.Data[i]) != math.Float32bits(want.Data[i]) {
						t.Fatalf("grad=%v: embedding[%d] = %v from the maps, %v from Embed", grad, i, got.Data[i], want.Data[i])
					}
				}
			}
			// Maps of the wrong width are refused, not pooled.
			g := nn.NewGraph(nn.Options{})
			fm.EmbedFromMaps(g, nn.NewTensor(2, m.EmbedDim()+1, 2, 2, 2))
			if !errors.Is(g.Err(), cnn.ErrInput) {
				t.Fatalf("wrong maps: err = %v, want ErrInput", g.Err())
			}
		})
	}
}

package fusion

import (
	"encoding/json"
	"fmt"

	"github.com/metasurv/metasurv/cnn"
	"github.com/metasurv/metasurv/nn"
)

// CNN is the registry name (ModelConfig.Backbone) of package cnn's models:
// their BackboneConfig is a CNNSpec in JSON.
const CNN = "cnn"

// CNNSpec names a cnn model and its configuration, as stored in bundles.
type CNNSpec struct {
	Name   string     `json:"name"`
	Config cnn.Config `json:"config"`
}

func init() {
	RegisterBackbone(CNN, func(raw json.RawMessage) (nn.Backbone, error) {
		var s CNNSpec
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("%w: cnn backbone config: %v", ErrBundle, err)
		}
		return cnn.New(s.Name, s.Config)
	})
}

// NewCNNModel builds a fusion model on the named cnn backbone (cnn.New) and
// records the backbone in c, so that a saved bundle rebuilds it on Load.
func NewCNNModel(name string, bc cnn.Config, c ModelConfig) (*Model, error) {
	bb, err := cnn.New(name, bc)
	if err != nil {
		return nil, fmt.Errorf("fusion: backbone %q: %w", name, err)
	}
	raw, err := json.Marshal(CNNSpec{Name: name, Config: bc})
	if err != nil {
		return nil, fmt.Errorf("fusion: backbone %q: %w", name, err)
	}
	c.Backbone, c.BackboneConfig = CNN, raw
	return NewModel(bb, c)
}

// resnetMaps splits a cnn.ResNet at its last convolutional stage (layer4)
// so Explain can run Grad-CAM on it.
type resnetMaps struct{ m *cnn.ResNet }

// FeatureMaps runs the stem and the four stages: layer4's output.
func (r resnetMaps) FeatureMaps(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	m := r.m
	y := m.Conv1.Forward(g, x)
	act := nn.ActOptions{ReLU: true}
	if !m.Config.NoMaxPool {
		act.MaxPool = &nn.PoolOptions{Kernel: nn.Cube(3), Stride: nn.Cube(2), Padding: nn.Cube(1)}
	}
	y = m.BN1.ForwardAct(g, y, act)
	for _, layer := range m.Layers {
		for _, b := range layer {
			y = b.Forward(g, y)
		}
	}
	return y
}

// EmbedFromMaps is ResNet's global average pool.
func (r resnetMaps) EmbedFromMaps(g *nn.Graph, maps *nn.Tensor) *nn.Tensor {
	return g.Mean(maps, 2, 3, 4)
}

// featureMapper returns the Grad-CAM split of a backbone: its own
// FeatureMapper, or an adapter for the cnn models whose stages are public.
func featureMapper(bb nn.Backbone) (FeatureMapper, bool) {
	switch m := bb.(type) {
	case FeatureMapper:
		return m, true
	case *cnn.ResNet:
		return resnetMaps{m}, true
	}
	return nil, false
}

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

// featureMapper returns the Grad-CAM split of a backbone. Every cnn
// family (ResNet, DenseNet, SENet/SE-ResNe(X)t, EfficientNet) implements
// FeatureMapper itself.
func featureMapper(bb nn.Backbone) (FeatureMapper, bool) {
	m, ok := bb.(FeatureMapper)
	return m, ok
}

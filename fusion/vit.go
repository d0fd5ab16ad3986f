package fusion

import (
	"encoding/json"
	"fmt"

	"github.com/metasurv/metasurv/nn"
	"github.com/metasurv/metasurv/vit"
)

// ViT is the registry name (ModelConfig.Backbone) of package vit's models:
// their BackboneConfig is a ViTSpec in JSON.
const ViT = "vit"

// ViTSpec names a vit model and its configuration, as stored in bundles.
type ViTSpec struct {
	// Kind is "vit" (vit.New) or "lamim" (vit.NewLaMIM, the study's
	// foundation-model classifier).
	Kind   string          `json:"kind"`
	Config vit.Config      `json:"config,omitempty"`
	LaMIM  vit.LaMIMConfig `json:"lamim,omitempty"`
}

func (s ViTSpec) build() (nn.Backbone, error) {
	switch s.Kind {
	case "vit", "":
		m, err := vit.New(s.Config)
		if err != nil {
			return nil, err
		}
		return m, nil
	case "lamim":
		m, err := vit.NewLaMIM(s.LaMIM)
		if err != nil {
			return nil, err
		}
		return m, nil
	}
	return nil, fmt.Errorf("%w: vit kind %q (want vit or lamim)", ErrSchema, s.Kind)
}

func init() {
	RegisterBackbone(ViT, func(raw json.RawMessage) (nn.Backbone, error) {
		var s ViTSpec
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("%w: vit backbone config: %v", ErrBundle, err)
		}
		return s.build()
	})
}

// NewViTModel builds a fusion model on a vit backbone and records it in c,
// so that a saved bundle rebuilds it on Load.
func NewViTModel(s ViTSpec, c ModelConfig) (*Model, error) {
	bb, err := s.build()
	if err != nil {
		return nil, fmt.Errorf("fusion: vit backbone: %w", err)
	}
	raw, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("fusion: vit backbone: %w", err)
	}
	c.Backbone, c.BackboneConfig = ViT, raw
	return NewModel(bb, c)
}

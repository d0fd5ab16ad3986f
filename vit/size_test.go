package vit

import (
	"errors"
	"math"
	"testing"
)

// The parameter count the constructors check against MaxParameters is the
// models' exact count, for every option that changes it; the LaMIM encoder
// is the published 506,112,020.
func TestParamsEstimate(t *testing.T) {
	small := Config{InChannels: 4, ImgSize: [3]int{32, 16, 48}, PatchSize: [3]int{16, 8, 16}, HiddenSize: 48, MLPDim: 96, NumLayers: 2, NumHeads: 4}
	for _, mod := range []func(Config) Config{
		func(c Config) Config { return c },
		func(c Config) Config { c.QKVBias = true; return c },
		func(c Config) Config { c.ProjType = "perceptron"; return c },
		func(c Config) Config { c.Classification, c.NumClasses = true, 5; return c },
		func(c Config) Config { c.Classification, c.NoPostActivation = true, true; return c },
	} {
		c := mod(small)
		m, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		full, _ := c.withDefaults()
		// ViT has no decoder: take the two transposed convolutions out.
		d, out := float64(full.DeconvChannels), float64(full.OutChannels)
		want := full.params() - (64*float64(full.HiddenSize)*d + d + 64*d*out + out)
		if got := float64(countParams(m)); got != want {
			t.Errorf("ViT %+v: %v parameters, estimate %v", c, got, want)
		}
		ae, err := NewAutoEnc(Config{InChannels: 4, ImgSize: c.ImgSize, PatchSize: c.PatchSize, HiddenSize: 48, MLPDim: 96, NumLayers: 2, NumHeads: 4, QKVBias: c.QKVBias, ProjType: c.ProjType, OutChannels: 3, DeconvChannels: 8, DeconvKernel: Cube(4)})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := float64(countParams(ae)), ae.cfg.params(); got != want {
			t.Errorf("AutoEnc: %v parameters, estimate %v", got, want)
		}
	}
	c, err := LaMIMEncoder().withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if got := c.params(); got != 506112020 {
		t.Errorf("LaMIM encoder estimate %v, want 506112020", got)
	}
}

// Absurd sizes and NaN or out-of-range rates are refused with ErrConfig
// before anything is allocated: no panic, no out-of-memory crash.
func TestHugeConfigsRefused(t *testing.T) {
	const huge = 1 << 40
	base := Config{InChannels: 4, ImgSize: Cube(32), PatchSize: Cube(16)}
	mods := map[string]func(*Config){
		"hidden":       func(c *Config) { c.HiddenSize, c.NumHeads = huge, 1 },
		"mlp":          func(c *Config) { c.MLPDim = huge },
		"layers":       func(c *Config) { c.NumLayers = huge },
		"image":        func(c *Config) { c.ImgSize, c.PatchSize = Cube(1<<30), Cube(1) },
		"channels":     func(c *Config) { c.InChannels = huge },
		"classes":      func(c *Config) { c.Classification, c.NumClasses = true, huge },
		"deconv":       func(c *Config) { c.DeconvChannels = huge },
		"out":          func(c *Config) { c.OutChannels = huge },
		"nan-dropout":  func(c *Config) { c.DropoutRate = math.NaN() },
		"dropout-one":  func(c *Config) { c.DropoutRate = 1 },
		"neg-dropout":  func(c *Config) { c.DropoutRate = -0.1 },
		"neg-hidden":   func(c *Config) { c.HiddenSize, c.NumHeads = -12, -1 },
		"neg-patch":    func(c *Config) { c.PatchSize = Cube(-16) },
		"neg-channels": func(c *Config) { c.InChannels = -4 },
	}
	for name, mod := range mods {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("panic: %v", r)
				}
			}()
			c := base
			mod(&c)
			if _, err := New(c); !errors.Is(err, ErrConfig) {
				t.Errorf("New: %v, want ErrConfig", err)
			}
			if _, err := NewAutoEnc(c); !errors.Is(err, ErrConfig) && name != "classes" {
				t.Errorf("NewAutoEnc: %v, want ErrConfig", err)
			}
			if _, err := NewLaMIM(LaMIMConfig{Encoder: c}); !errors.Is(err, ErrConfig) && name != "classes" {
				t.Errorf("NewLaMIM: %v, want ErrConfig", err)
			}
		})
	}
	small := Config{InChannels: 4, ImgSize: Cube(32), PatchSize: Cube(16), HiddenSize: 96, MLPDim: 192, NumLayers: 2, NumHeads: 4}
	for _, lc := range []LaMIMConfig{
		{Encoder: small, Widths: [2]int{huge, 8}},
		{Encoder: small, Widths: [2]int{8, huge}},
		{Encoder: small, Classes: huge},
		{Encoder: small, Widths: [2]int{-1, 8}},
	} {
		if _, err := NewLaMIM(lc); !errors.Is(err, ErrConfig) {
			t.Errorf("NewLaMIM(%v, %d): %v, want ErrConfig", lc.Widths, lc.Classes, err)
		}
	}
}

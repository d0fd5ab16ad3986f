package cnn

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/metasurv/metasurv/nn"
)

// stateValues counts every value of m's state dict (parameters and
// batch-norm statistics).
func stateValues(m nn.Module) float64 {
	var n float64
	for _, t := range nn.StateDict(m) {
		n += float64(t.Numel())
	}
	return n
}

// The size estimates the constructors check against MaxParameters follow
// the networks they build: within 2% of the state dict of small models of
// every block type (the SE layers' rounding and num_batches_tracked are
// the difference).
func TestSizeEstimates(t *testing.T) {
	near := func(name string, est float64, m nn.Module, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := stateValues(m); math.Abs(est-got) > 0.02*got {
			t.Errorf("%s: estimate %.0f values, state dict %.0f", name, est, got)
		}
	}
	for _, rc := range []ResNetConfig{
		{Block: Basic, Layers: [4]int{1, 2, 1, 1}, BlockInplanes: [4]int{8, 16, 32, 64}, InChannels: 4, Classes: 3},
		{Block: Bottleneck, Layers: [4]int{1, 2, 1, 1}, BlockInplanes: [4]int{8, 16, 32, 64}, InChannels: 1, Classes: 0, WidenFactor: 1.5},
		{Block: Basic, Layers: [4]int{2, 1, 1, 1}, BlockInplanes: [4]int{8, 16, 32, 64}, InChannels: 2, Classes: 2, Shortcut: ShortcutA, Conv1TSize: [3]int{3, 5, 7}},
	} {
		m, err := NewResNet(rc)
		if err != nil {
			t.Fatal(err)
		}
		near(fmt.Sprintf("ResNet %v", rc.Block), resnetParams(m.Config), m, nil)
	}
	dc := DenseNetConfig{InChannels: 4, Classes: 3, InitFeatures: 16, GrowthRate: 8, BlockConfig: []int{2, 3, 2, 2}, BNSize: 2}
	dm, err := NewDenseNet(dc)
	near("DenseNet", densenetParams(dm.Config), dm, err)
	for _, b := range []SEBlockType{SEResNeXtBottleneck, SEResNetBottleneck, SEBottleneck} {
		sc := SENetConfig{InChannels: 4, Classes: 3, Block: b, Layers: [4]int{1, 2, 1, 1}, Groups: 8, Reduction: 16, Inplanes: 32, DownsampleKernelSize: 3, Input3x3: b == SEBottleneck}
		sm, err := NewSENet(sc)
		near(fmt.Sprintf("SENet %v", b), senetParams(sm.Config), sm, err)
	}
}

// Every preset New knows is far below the limit (the largest, about
// 1.7·10⁸ values with 4 inputs and 3 classes, is a sixth of it).
func TestPresetsWithinLimit(t *testing.T) {
	var largest float64
	for depth := range resnetDepths {
		for _, cfg := range []func(int) (ResNetConfig, error){ResNetDepth, MedicalNetConfig} {
			rc, err := cfg(depth)
			if err != nil {
				t.Fatal(err)
			}
			rc.InChannels, rc.Classes = 4, 3
			if err := rc.fill(); err != nil {
				t.Fatal(err)
			}
			largest = max(largest, resnetParams(rc))
		}
	}
	for _, blocks := range densenetPresets {
		largest = max(largest, densenetParams(DenseNetConfig{InChannels: 4, Classes: 3, InitFeatures: 64, GrowthRate: 32, BNSize: 4, BlockConfig: blocks}))
	}
	for _, sc := range senetPresets {
		sc.InChannels, sc.Classes = 4, 3
		largest = max(largest, senetParams(sc))
	}
	if largest > MaxParameters/4 {
		t.Errorf("largest preset %.3g values, limit %d", largest, MaxParameters)
	}
	t.Logf("largest preset: %.3g values", largest)
}

// Absurd sizes — widths, class counts, kernel sizes, depths that would
// need terabytes, or overflow int — are refused with ErrConfig before
// anything is allocated, never with a panic or an out-of-memory crash.
// NaN rates are refused too.
func TestHugeConfigsRefused(t *testing.T) {
	const huge = 1 << 40
	type build func() error
	cases := map[string]build{}
	for _, name := range []string{"resnet18", "medicalnet10", "densenet121", "senet154", "seresnext50", "seresnet50", "efficientnet-b0"} {
		cases[name+"/in"] = func() error { _, err := New(name, Config{InChannels: huge, Classes: 3}); return err }
		cases[name+"/classes"] = func() error { _, err := New(name, Config{InChannels: 4, Classes: huge}); return err }
	}
	cases["resnet18/widen"] = func() error { _, err := New("resnet18", Config{Classes: 3, WidenFactor: 1e12}); return err }
	cases["resnet18/conv1"] = func() error { _, err := New("resnet18", Config{Classes: 3, Conv1TSize: 1 << 30}); return err }
	cases["resnet/layers"] = func() error {
		_, err := NewResNet(ResNetConfig{Block: Basic, Layers: [4]int{1, 1, 1, 1 << 50}, Classes: 3})
		return err
	}
	cases["resnet/inplanes"] = func() error {
		_, err := NewResNet(ResNetConfig{Block: Bottleneck, Layers: [4]int{1, 1, 1, 1}, BlockInplanes: [4]int{8, 16, 32, huge}, Classes: 3})
		return err
	}
	cases["densenet/growth"] = func() error { _, err := NewDenseNet(DenseNetConfig{Classes: 3, GrowthRate: huge}); return err }
	cases["densenet/bnsize"] = func() error { _, err := NewDenseNet(DenseNetConfig{Classes: 3, BNSize: huge}); return err }
	cases["densenet/blocks"] = func() error {
		_, err := NewDenseNet(DenseNetConfig{Classes: 3, BlockConfig: []int{1 << 30}})
		return err
	}
	cases["densenet/nan-dropout"] = func() error { _, err := New("densenet121", Config{Classes: 3, DropoutProb: math.NaN()}); return err }
	cases["senet/nan-dropout"] = func() error { _, err := New("senet154", Config{Classes: 3, DropoutProb: math.NaN()}); return err }
	cases["senet/groups"] = func() error {
		_, err := NewSENet(SENetConfig{Classes: 3, Block: SEResNeXtBottleneck, Layers: [4]int{1, 1, 1, 1}, Groups: huge})
		return err
	}
	cases["senet/groups-indivisible"] = func() error {
		_, err := NewSENet(SENetConfig{Classes: 3, Block: SEResNetBottleneck, Layers: [4]int{1, 1, 1, 1}, Groups: 3})
		return err
	}
	cases["senet/inplanes"] = func() error {
		_, err := NewSENet(SENetConfig{Classes: 3, Block: SEBottleneck, Layers: [4]int{1, 1, 1, 1}, Inplanes: huge})
		return err
	}
	cases["senet/layers"] = func() error {
		_, err := NewSENet(SENetConfig{Classes: 3, Block: SEBottleneck, Layers: [4]int{1, 1 << 40, 1, 1}})
		return err
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("panic: %v", r)
				}
			}()
			if err := f(); !errors.Is(err, ErrConfig) {
				t.Fatalf("error %v, want ErrConfig", err)
			}
		})
	}
}

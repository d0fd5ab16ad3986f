package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/metasurv/metasurv/cnn"
	"github.com/metasurv/metasurv/internal/cputime"
	"github.com/metasurv/metasurv/nn"
	"github.com/metasurv/metasurv/vit"
)

// model is one network of the peers' benchmark.
type model struct {
	onnx string // file name (without .onnx) peers_torch.py --onnx writes
	vit  bool   // resident bfloat16 weights apply (Linear layers and patch embedding)
	// build returns the network's forward pass on x; resident: with
	// resident bfloat16 weights (nn.ConvertBF16).
	build func(resident bool) (func(g *nn.Graph, x *nn.Tensor), error)
}

// zoo holds the networks of ../shared/bench/peers_torch.py: MONAI resnet18
// (stride-2 stem, as the peers and MedicalNet) and DenseNet121 with three
// classes, and the encoders of ViTAutoEnc's defaults and of LaMIM.
var zoo = map[string]model{
	"resnet18":    {onnx: "resnet18_fwd", build: cnnModel("resnet18", cnn.Config{InChannels: 4, Classes: 3, Conv1TStride: 2, Seed: 1})},
	"densenet121": {onnx: "densenet121_fwd", build: cnnModel("densenet121", cnn.Config{InChannels: 4, Classes: 3, Seed: 1})},
	"vitb16":      {onnx: "vit_b16_encoder_fwd", vit: true, build: vitModel(vit.Config{InChannels: 4, ImgSize: vit.Cube(96), PatchSize: vit.Cube(16)})},
	"lamim":       {onnx: "lamim_encoder_fwd", vit: true, build: vitModel(vit.LaMIMEncoder())},
}

func modelNames() []string {
	var s []string
	for k := range zoo {
		s = append(s, k)
	}
	slices.Sort(s)
	return s
}

// variants are our sides: float32, Options.BF16 where the CPU has
// bfloat16 products, and for the ViTs also resident bfloat16 weights.
func (m model) variants() []string {
	v := []string{"fp32"}
	if nn.HaveBF16() {
		v = append(v, "bf16")
		if m.vit {
			v = append(v, "bf16-resident")
		}
	}
	return v
}

func cnnModel(name string, c cnn.Config) func(bool) (func(*nn.Graph, *nn.Tensor), error) {
	return func(bool) (func(*nn.Graph, *nn.Tensor), error) {
		m, err := cnn.New(name, c)
		if err != nil {
			return nil, err
		}
		nn.SetTraining(m, false)
		return func(g *nn.Graph, x *nn.Tensor) { m.Forward(g, x) }, nil
	}
}

// vitModel builds an encoder. With resident weights it is built as a
// checkpoint is loaded into a converted model (Config.SkipInit, convert,
// then fill: the float32 weights are never resident), so that the peak
// RSS is that of a deployment, not of a float32 model converted in place.
func vitModel(c vit.Config) func(bool) (func(*nn.Graph, *nn.Tensor), error) {
	return func(resident bool) (func(*nn.Graph, *nn.Tensor), error) {
		c.SkipInit = resident
		m, err := vit.NewAutoEnc(c)
		if err != nil {
			return nil, err
		}
		if resident {
			if err := nn.ConvertBF16(m); err != nil {
				return nil, err
			}
			rng := nn.NewRNG(1)
			for _, p := range nn.NamedParameters(m) { // the converted weights are frozen
				nn.InitNormal(p.Tensor, 0, 0.02, rng) // rounded to bfloat16 where converted
			}
		}
		return func(g *nn.Graph, x *nn.Tensor) { m.Encode(g, x) }, nil
	}
}

// runChild builds one model variant ("vitb16/bf16"), runs a warm-up and
// the timed passes, and prints the best pass's wall seconds and the CPU
// seconds per timed pass as JSON.
func runChild(spec string, passes, threads int) error {
	name, variant, _ := strings.Cut(spec, "/")
	m, ok := zoo[name]
	if !ok || !slices.Contains(m.variants(), variant) {
		return fmt.Errorf("unknown side %q", spec)
	}
	nn.SetThreads(threads)
	forward, err := m.build(variant == "bf16-resident")
	if err != nil {
		return err
	}
	x := nn.NewTensor(1, 4, 96, 96, 96)
	nn.InitNormal(x, 0, 1, nn.NewRNG(2))
	g := nn.NewGraph(nn.Options{Arena: nn.NewArena(), BF16: variant != "fp32"})
	pass := func() error {
		g.Reset()
		forward(g, x)
		return g.Err()
	}
	if err := pass(); err != nil {
		return err
	}
	best := math.Inf(1)
	c0 := cputime.Now()
	for range passes {
		t0 := time.Now()
		if err := pass(); err != nil {
			return err
		}
		best = min(best, time.Since(t0).Seconds())
	}
	cpu := (cputime.Now() - c0).Seconds() / float64(passes)
	return json.NewEncoder(os.Stdout).Encode(result{Wall: best, CPU: cpu})
}

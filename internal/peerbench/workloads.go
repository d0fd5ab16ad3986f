package main

import (
	"math/rand/v2"
	"strconv"

	"github.com/metasurv/metasurv/internal/attention"
	"github.com/metasurv/metasurv/internal/conv"
	"github.com/metasurv/metasurv/internal/gemm"
)

// workload is one timed operation; its name is also the peer's.
type workload struct {
	name  string
	flops float64
	setup func() (run func(), err error)
}

// workloads are the shapes of BenchmarkSgemm/1024 and /2048 (internal/gemm),
// BenchmarkConv3d/4x64_k7s2_96, /64x64_k3_24 and /256x256_k3_6
// (internal/conv) and BenchmarkAttention/216x768_h12 (internal/attention).
var workloads = []workload{
	sgemm(1024), sgemm(2048),
	convolution("stem", conv.Params{N: 1, InC: 4, OutC: 64, In: [3]int{96, 96, 96}, Kernel: [3]int{7, 7, 7}, Stride: [3]int{2, 2, 2}, Pad: [3]int{3, 3, 3}}),
	convolution("conv64", conv.Params{N: 1, InC: 64, OutC: 64, In: [3]int{24, 24, 24}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}}),
	convolution("conv256", conv.Params{N: 1, InC: 256, OutC: 256, In: [3]int{6, 6, 6}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}}),
	{name: "attention", flops: 4 * 12 * 216 * 216 * 64, setup: attentionRun},
}

// names lists the workloads for flag help and errors.
func names() []string {
	var s []string
	for _, w := range workloads {
		s = append(s, w.name)
	}
	return s
}

// random returns n standard normal floats from a fixed seed.
func random(n int) []float32 {
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

// sgemm is C = A·B for n×n row-major matrices.
func sgemm(n int) workload {
	return workload{name: "sgemm" + strconv.Itoa(n), flops: 2 * float64(n) * float64(n) * float64(n), setup: func() (func(), error) {
		a, b, c := random(n*n), random(n*n), make([]float32, n*n)
		return func() { gemm.Sgemm(false, false, n, n, n, 1, a, n, b, n, 0, c, n) }, nil
	}}
}

// convolution is the forward pass of a plan with random weights.
func convolution(name string, p conv.Params) workload {
	return workload{name: name, flops: p.FLOPs(), setup: func() (func(), error) {
		pl, err := conv.NewPlan(p)
		if err != nil {
			return nil, err
		}
		if err := pl.SetWeights(random(p.WeightLen())); err != nil {
			return nil, err
		}
		x, y := random(p.InLen()), make([]float32, p.OutLen())
		if err := pl.Forward(y, x, nil); err != nil {
			return nil, err
		}
		return func() { _ = pl.Forward(y, x, nil) }, nil
	}}
}

// attentionRun is ViT-B/16 self-attention on 216 tokens: Q, K, V read in
// place from one packed QKV projection, as the encoder calls it.
func attentionRun() (func(), error) {
	const heads, t, d = 12, 216, 64
	c := attention.Config{B: 1, Heads: heads, T: t, D: d,
		Q: attention.PackedQKV(heads, t, d), K: attention.PackedQKV(heads, t, d), V: attention.PackedQKV(heads, t, d),
		Out: attention.TokenMajor(heads, t, d)}
	pl, err := attention.NewPlan(c)
	if err != nil {
		return nil, err
	}
	qkv, out := random(t*3*heads*d), make([]float32, t*heads*d)
	hd := heads * d
	if err := pl.Forward(out, qkv, qkv[hd:], qkv[2*hd:]); err != nil {
		return nil, err
	}
	return func() { _ = pl.Forward(out, qkv, qkv[hd:], qkv[2*hd:]) }, nil
}

package vit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/metasurv/metasurv/internal/fixture/nnfixture"
	"github.com/metasurv/metasurv/nn"
	"github.com/metasurv/metasurv/volume"
)

// sharpen redraws every weight of m with a spread that gives peaked
// attention (MONAI's initialisation, std 0.02, leaves it almost uniform,
// which would not tell a right rollout from a wrong one); LayerNorm
// weights stay near 1.
func sharpen(m nn.Module, seed uint64) {
	r := nn.NewRNG(seed)
	for k, v := range nn.StateDict(m) {
		if strings.Contains(k, "norm") && strings.HasSuffix(k, "weight") {
			nn.InitNormal(v, 1, 0.1, r)
			continue
		}
		nn.InitNormal(v, 0, 0.5, r)
	}
}

// naiveTokens is the patch embedding (conv projection) with the cls token
// and position embeddings, by explicit loops over the state dict: (N, T,
// hidden) as [][]float64 per sample, T·hidden row-major.
func naiveTokens(m *ViT, x *nn.Tensor) [][]float64 {
	c := m.cfg
	sd := nn.StateDict(m)
	w, bias := sd["patch_embedding.patch_embeddings.weight"].Data, sd["patch_embedding.patch_embeddings.bias"].Data
	pos := sd["patch_embedding.position_embeddings"].Data
	grid, np := c.grid()
	p, hid, ch := c.PatchSize, c.HiddenSize, c.InChannels
	first := 0
	if c.Classification {
		first = 1
	}
	var out [][]float64
	for s := range x.Shape[0] {
		t := make([]float64, (np+first)*hid)
		if first == 1 {
			for o := range hid {
				t[o] = float64(sd["cls_token"].Data[o])
			}
		}
		for a := range grid[0] {
			for b := range grid[1] {
				for cc := range grid[2] {
					tok := (a*grid[1]+b)*grid[2] + cc
					for o := range hid {
						v := float64(bias[o]) + float64(pos[tok*hid+o])
						for in := range ch {
							for i := range p[0] {
								for j := range p[1] {
									for k := range p[2] {
										xv := x.Data[(((s*ch+in)*c.ImgSize[0]+a*p[0]+i)*c.ImgSize[1]+b*p[1]+j)*c.ImgSize[2]+cc*p[2]+k]
										v += float64(w[(((o*ch+in)*p[0]+i)*p[1]+j)*p[2]+k]) * float64(xv)
									}
								}
							}
						}
						t[(first+tok)*hid+o] = v
					}
				}
			}
		}
		out = append(out, t)
	}
	return out
}

// naiveAttention is block l's attention probabilities for one sample's
// input tokens tk (T·hidden): LayerNorm, qkv projection and softmax of
// the scaled scores, per head, by explicit loops: [head][i][j].
func naiveAttention(m *ViT, l int, tk []float64) [][][]float64 {
	c := m.cfg
	sd := nn.StateDict(m)
	pre := fmt.Sprintf("blocks.%d.", l)
	lw, lb := sd[pre+"norm1.weight"].Data, sd[pre+"norm1.bias"].Data
	qw := sd[pre+"attn.qkv.weight"].Data
	var qb []float32
	if b, ok := sd[pre+"attn.qkv.bias"]; ok {
		qb = b.Data
	}
	hid, heads := c.HiddenSize, c.NumHeads
	d := hid / heads
	nt := len(tk) / hid
	qkv := make([][]float64, nt)
	for i := range nt {
		row := tk[i*hid : (i+1)*hid]
		mean, v := 0.0, 0.0
		for _, x := range row {
			mean += x
		}
		mean /= float64(hid)
		for _, x := range row {
			v += (x - mean) * (x - mean)
		}
		v /= float64(hid)
		ln := make([]float64, hid)
		for a, x := range row {
			ln[a] = (x-mean)/math.Sqrt(v+1e-5)*float64(lw[a]) + float64(lb[a])
		}
		qkv[i] = make([]float64, 3*hid)
		for o := range 3 * hid {
			s := 0.0
			if qb != nil {
				s = float64(qb[o])
			}
			for a := range hid {
				s += float64(qw[o*hid+a]) * ln[a]
			}
			qkv[i][o] = s
		}
	}
	probs := make([][][]float64, heads)
	for h := range heads {
		probs[h] = make([][]float64, nt)
		for i := range nt {
			row := make([]float64, nt)
			mx := math.Inf(-1)
			for j := range nt {
				s := 0.0
				for a := range d {
					s += qkv[i][h*d+a] * qkv[j][hid+h*d+a]
				}
				row[j] = s / math.Sqrt(float64(d))
				mx = max(mx, row[j])
			}
			sum := 0.0
			for j := range row {
				row[j] = math.Exp(row[j] - mx)
				sum += row[j]
			}
			for j := range row {
				row[j] /= sum
			}
			probs[h][i] = row
		}
	}
	return probs
}

// TestRolloutMatchesNaive checks the rollout of a two-block ViT with a cls
// token against the product of hand-computed matrices: attention from
// explicit loops, heads fused, identity added, rows renormalised, block 1
// times block 0 (or block 1 alone from StartBlock 1), the cls row.
func TestRolloutMatchesNaive(t *testing.T) {
	c := Config{InChannels: 2, ImgSize: [3]int{8, 8, 4}, PatchSize: [3]int{4, 4, 2}, HiddenSize: 12, MLPDim: 16,
		NumLayers: 2, NumHeads: 3, Classification: true, QKVBias: true, Seed: 3}
	m, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	sharpen(m, 5)
	x := nn.NewTensor(2, 2, 8, 8, 4)
	nn.InitNormal(x, 0, 1, nn.NewRNG(6))
	g := nn.NewGraph(nn.Options{})
	enc := m.Encode(g, x)
	if err := g.Err(); err != nil {
		t.Fatal(err)
	}
	tok0 := naiveTokens(m, x)
	nt := len(tok0[0]) / c.HiddenSize
	for _, o := range []RolloutOptions{{}, {Heads: HeadMax, StartBlock: 1}, {Heads: HeadMin}} {
		r, err := AttentionRollout(context.Background(), m, x, o)
		if err != nil {
			t.Fatal(err)
		}
		if !r.CLS || r.Tokens != nt || r.Grid != [3]int{2, 2, 2} {
			t.Fatalf("rollout CLS %v, %d tokens, grid %v", r.CLS, r.Tokens, r.Grid)
		}
		for s := range 2 {
			// block inputs: the naive embedding, then block 0's output
			h1 := make([]float64, nt*c.HiddenSize)
			for i, v := range enc.Hidden[0].Data[s*nt*c.HiddenSize : (s+1)*nt*c.HiddenSize] {
				h1[i] = float64(v)
			}
			want := identity(nt)
			for l, in := range [][]float64{tok0[s], h1} {
				if l < o.StartBlock {
					continue
				}
				p := naiveAttention(m, l, in)
				a := make([]float64, nt*nt)
				for i := range nt {
					for j := range nt {
						v := p[0][i][j]
						for _, ph := range p[1:] {
							switch o.Heads {
							case HeadMax:
								v = max(v, ph[i][j])
							case HeadMin:
								v = min(v, ph[i][j])
							default:
								v += ph[i][j]
							}
						}
						if o.Heads == HeadMean {
							v /= float64(len(p))
						}
						if i == j {
							v++
						}
						a[i*nt+j] = v
					}
					s := 0.0
					for j := range nt {
						s += a[i*nt+j]
					}
					for j := range nt {
						a[i*nt+j] /= s
					}
				}
				prod := make([]float64, nt*nt)
				for i := range nt {
					for j := range nt {
						for k := range nt {
							prod[i*nt+j] += a[i*nt+k] * want[k*nt+j]
						}
					}
				}
				want = prod
			}
			for i, w := range want {
				if math.Abs(r.Matrix[s][i]-w) > 1e-5 {
					t.Fatalf("%+v sample %d: rollout[%d][%d] = %.7f, by hand %.7f", o, s, i/nt, i%nt, r.Matrix[s][i], w)
				}
			}
			for j, v := range r.Patches[s] {
				if math.Abs(v-want[1+j]) > 1e-5 {
					t.Fatalf("%+v sample %d: patch %d = %.7f, cls row %.7f", o, s, j, v, want[1+j])
				}
			}
		}
	}
}

// TestRolloutRowsStochastic: for every model kind and option, each row of
// the rollout is non-negative and sums to 1, the patch weights are
// non-negative, and the map lies in [0, 1] with maximum 1; the nearest map
// is the patch weights, constant over each patch.
func TestRolloutRowsStochastic(t *testing.T) {
	base := Config{InChannels: 2, ImgSize: [3]int{16, 8, 8}, PatchSize: [3]int{4, 4, 4}, HiddenSize: 16, MLPDim: 16,
		NumLayers: 3, NumHeads: 4, Seed: 8}
	cls := base
	cls.Classification = true
	vitCLS, _ := New(cls)
	vitTok, _ := New(base)
	ae, _ := NewAutoEnc(base)
	lamim, err := NewLaMIM(LaMIMConfig{Encoder: base, Widths: [2]int{4, 4}})
	if err != nil {
		t.Fatal(err)
	}
	x := nn.NewTensor(2, 2, 16, 8, 8)
	nn.InitNormal(x, 0, 1, nn.NewRNG(2))
	opts := []RolloutOptions{{}, {Heads: HeadMax, DiscardRatio: 0.9}, {Heads: HeadMin, StartBlock: 2, Upsample: UpsampleTrilinear},
		{DiscardRatio: 0.5, Upsample: UpsampleTrilinear}}
	for mi, m := range []Encoder{vitCLS, vitTok, ae, lamim} {
		sharpen(m, uint64(10+mi))
		for _, o := range opts {
			r, err := AttentionRollout(context.Background(), m, x, o)
			if err != nil {
				t.Fatal(err)
			}
			if r.CLS != (mi == 0) || r.Tokens != 16+btoi(mi == 0) {
				t.Fatalf("%T: CLS %v, %d tokens", m, r.CLS, r.Tokens)
			}
			for s := range 2 {
				nt := r.Tokens
				for i := range nt {
					sum := 0.0
					for _, v := range r.Matrix[s][i*nt : (i+1)*nt] {
						if v < 0 {
							t.Fatalf("%T %+v: negative rollout entry %g", m, o, v)
						}
						sum += v
					}
					if math.Abs(sum-1) > 1e-9 {
						t.Fatalf("%T %+v: row %d sums to %.12f", m, o, i, sum)
					}
				}
				pmax := 0.0
				for _, v := range r.Patches[s] {
					if v < 0 {
						t.Fatalf("%T %+v: negative patch weight %g", m, o, v)
					}
					pmax = max(pmax, v)
				}
				mx := float32(0)
				for _, v := range r.Map[s] {
					if v < 0 || v > 1 {
						t.Fatalf("%T %+v: map value %g outside [0, 1]", m, o, v)
					}
					mx = max(mx, v)
				}
				if mx != 1 {
					t.Errorf("%T %+v: map maximum %g", m, o, mx)
				}
				if o.Upsample == UpsampleNearest {
					for d := range 16 {
						for h := range 8 {
							for w := range 8 {
								want := r.Patches[s][(d/4*2+h/4)*2+w/4] / pmax
								if got := r.Map[s][(d*8+h)*8+w]; math.Abs(float64(got)-want) > 1e-6 {
									t.Fatalf("%T: nearest map at (%d,%d,%d) %g, patch weight %g", m, d, h, w, got, want)
								}
							}
						}
					}
				}
			}
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestRolloutUniformAttention: with the query weights zeroed every head
// attends uniformly, so the rollout is the same for every patch (the cls
// row of a ViT, the token mean of a ViTAutoEnc) and the map is flat; with
// the queries restored the map is not.
func TestRolloutUniformAttention(t *testing.T) {
	base := Config{InChannels: 1, ImgSize: Cube(12), PatchSize: Cube(4), HiddenSize: 12, MLPDim: 8, NumLayers: 2, NumHeads: 2, QKVBias: true, Seed: 4}
	cls := base
	cls.Classification = true
	vm, _ := New(cls)
	ae, _ := NewAutoEnc(base)
	x := nn.NewTensor(1, 1, 12, 12, 12)
	nn.InitNormal(x, 0, 1, nn.NewRNG(3))
	for _, m := range []Encoder{vm, ae} {
		sharpen(m, 9)
		flat := func() bool {
			r, err := AttentionRollout(context.Background(), m, x, RolloutOptions{Upsample: UpsampleTrilinear})
			if err != nil {
				t.Fatal(err)
			}
			p := r.Patches[0]
			for _, v := range p {
				if math.Abs(v-p[0]) > 1e-12*max(1, p[0]) {
					return false
				}
			}
			for _, v := range r.Map[0] {
				if v != 1 {
					t.Fatalf("%T: flat patch weights but map value %g", m, v)
				}
			}
			return true
		}
		if flat() {
			t.Fatalf("%T: random attention gave a flat rollout", m)
		}
		h := m.(rolloutEncoder).encoderOf().cfg.HiddenSize
		for _, b := range m.(rolloutEncoder).encoderOf().blocks {
			clear(b.attn.QKV.Weight.Data[:h*h]) // the query rows
			clear(b.attn.QKV.Bias.Data[:h])
		}
		if !flat() {
			t.Errorf("%T: uniform attention gave an uneven rollout", m)
		}
	}
}

// TestUpsampleTrilinear: a two-patch ramp upsampled fourfold takes
// PyTorch's interpolate(trilinear, align_corners=False) values.
func TestUpsampleTrilinear(t *testing.T) {
	got, err := upsample([]float64{0, 1}, [3]int{1, 1, 2}, [3]int{1, 1, 8}, UpsampleTrilinear)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{0, 0, 0.125, 0.375, 0.625, 0.875, 1, 1}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-7 {
			t.Fatalf("trilinear %v, want %v", got, want)
		}
	}
}

// TestDiscard zeroes the lowest entries, sparing the cls token's own.
func TestDiscard(t *testing.T) {
	a := []float64{0.01, 0.5, 0.02, 0.3, 0.05, 0.12}
	discard(a, 0.5, true)
	if fmt.Sprint(a) != fmt.Sprint([]float64{0.01, 0.5, 0, 0.3, 0, 0.12}) {
		t.Errorf("with cls: %v", a)
	}
	a = []float64{0.01, 0.5, 0.02, 0.3, 0.05, 0.12}
	discard(a, 0.5, false)
	if fmt.Sprint(a) != fmt.Sprint([]float64{0, 0.5, 0, 0.3, 0, 0.12}) {
		t.Errorf("without cls: %v", a)
	}
}

// TestRolloutErrors: bad options, a foreign model and a misfit input are
// refused with the package's sentinels.
func TestRolloutErrors(t *testing.T) {
	m, _ := New(Config{InChannels: 1, ImgSize: Cube(8), PatchSize: Cube(4), HiddenSize: 8, MLPDim: 8, NumLayers: 2, NumHeads: 2, Classification: true})
	x := nn.NewTensor(1, 1, 8, 8, 8)
	ctx := context.Background()
	for _, o := range []RolloutOptions{{DiscardRatio: 1}, {DiscardRatio: -0.1}, {StartBlock: 2}, {StartBlock: -1}, {Heads: 7}, {Upsample: 3}} {
		if _, err := AttentionRollout(ctx, m, x, o); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: %v, want ErrConfig", o, err)
		}
	}
	if _, err := AttentionRollout(ctx, m, nn.NewTensor(1, 2, 8, 8, 8), RolloutOptions{}); !errors.Is(err, ErrInput) {
		t.Errorf("misfit input: %v, want ErrInput", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := AttentionRollout(cctx, m, x, RolloutOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	r, err := AttentionRollout(ctx, m, x, RolloutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := r.Volume(0, volume.Identity())
	if err != nil || v.Dims != Cube(8) || v.At(1, 2, 7) != r.Map[0][(1*8+2)*8+7] {
		t.Errorf("Volume: %v", err)
	}
	if _, err := r.Volume(1, volume.Identity()); !errors.Is(err, ErrInput) {
		t.Errorf("Volume of a missing sample: %v", err)
	}
}

// TestRolloutMatchesPyTorch compares with testdata/rollout, written by
// gen.py: a tiny MONAI-layout ViT in plain PyTorch whose forward pass
// returns its own attention matrices, rolled out there for four options
// (mirrored below). Loading its weights by MONAI's names and recomputing
// the attention here must give the same rollout.
func TestRolloutMatchesPyTorch(t *testing.T) {
	m, err := New(Config{InChannels: 2, ImgSize: [3]int{8, 8, 4}, PatchSize: [3]int{4, 4, 2}, HiddenSize: 16, MLPDim: 32,
		NumLayers: 2, NumHeads: 4, Classification: true, NumClasses: 2, SkipInit: true})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("testdata", "rollout")
	if _, err := Load(context.Background(), m, filepath.Join(dir, "weights.pt"), LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	x := nnfixture.ReadNpy(t, filepath.Join(dir, "input.npy"))
	want := nnfixture.ReadNpy(t, filepath.Join(dir, "rollout.npy")) // (options, N, T, T)
	opts := []RolloutOptions{{}, {Heads: HeadMax, DiscardRatio: 0.5}, {Heads: HeadMin, StartBlock: 1}, {DiscardRatio: 0.3, StartBlock: 1}}
	n, nt := want.Shape[1], want.Shape[2]
	if len(want.Shape) != 4 || want.Shape[0] != len(opts) || nt != 9 {
		t.Fatalf("fixture shape %v", want.Shape)
	}
	for oi, o := range opts {
		r, err := AttentionRollout(context.Background(), m, x, o)
		if err != nil {
			t.Fatal(err)
		}
		worst := 0.0
		for s := range n {
			for i, w := range want.Data[(oi*n+s)*nt*nt : (oi*n+s+1)*nt*nt] {
				worst = max(worst, math.Abs(r.Matrix[s][i]-float64(w)))
			}
		}
		t.Logf("%+v: max |Go − PyTorch| %.2g", o, worst)
		if worst > 2e-5 {
			t.Errorf("%+v: rollout differs from PyTorch's by %.3g", o, worst)
		}
	}
}

// BenchmarkRolloutLaMIM compares, on the full-size LaMIM encoder (weights
// left at zero: the cost does not depend on them), one inference pass
// with an attention rollout (which runs the blocks again and forms every
// head's attention matrix): -run - -bench RolloutLaMIM -benchtime 1x.
func BenchmarkRolloutLaMIM(b *testing.B) {
	c := LaMIMEncoder()
	c.SkipInit = true
	m, err := NewAutoEnc(c)
	if err != nil {
		b.Fatal(err)
	}
	x := nn.NewTensor(1, 4, 96, 96, 96)
	nn.InitNormal(x, 0, 1, nn.NewRNG(1))
	b.Run("forward", func(b *testing.B) {
		for range b.N {
			g := nn.NewGraph(nn.Options{})
			m.Encode(g, x)
			if err := g.Err(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("rollout", func(b *testing.B) {
		for range b.N {
			if _, err := AttentionRollout(context.Background(), m, x, RolloutOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

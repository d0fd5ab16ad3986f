package vit

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/metasurv/metasurv/internal/fixture/nnfixture"
	"github.com/metasurv/metasurv/nn"
	"github.com/metasurv/metasurv/nn/checkpoint"
)

func smallAutoEnc(t *testing.T) *AutoEnc {
	t.Helper()
	m, err := NewAutoEnc(Config{InChannels: 4, ImgSize: Cube(32), PatchSize: Cube(16), HiddenSize: 96, MLPDim: 192, NumLayers: 2, NumHeads: 4})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func fixtureState(t *testing.T, name string) (map[string]*nn.Tensor, *nn.Tensor, string) {
	man, dir := readManifest(t)
	fx := man.Fixtures[name]
	ck, err := checkpoint.Load(context.Background(), filepath.Join(dir, fx.Weights), checkpoint.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return ck.Tensors, nnfixture.ReadNpy(t, filepath.Join(dir, fx.Input)), filepath.Join(dir, fx.Outputs[0].File)
}

// A checkpoint as MONAI ≥ 1.4 and DataParallel write it — "module."
// prefixes and the unused cross-attention weights of every block — loads
// and gives MONAI 1.3.2's reconstruction; the safetensors copy as well.
func TestLoadMONAI14Keys(t *testing.T) {
	sd, x, recon := fixtureState(t, "vitautoenc_small")
	out := map[string]*nn.Tensor{}
	for k, v := range sd {
		out["module."+k] = v
	}
	for b := range 2 {
		p := "module.blocks." + strconv.Itoa(b) + "."
		out[p+"norm_cross_attn.weight"] = nn.NewTensor(96)
		out[p+"norm_cross_attn.bias"] = nn.NewTensor(96)
		for _, l := range []string{"to_q", "to_k", "to_v", "out_proj"} {
			out[p+"cross_attn."+l+".weight"] = nn.NewTensor(96, 96)
		}
		out[p+"cross_attn.out_proj.bias"] = nn.NewTensor(96)
	}
	dir := t.TempDir()
	pt, st := filepath.Join(dir, "m.pt"), filepath.Join(dir, "m.safetensors")
	if err := checkpoint.Save(pt, out, checkpoint.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := checkpoint.Save(st, out, checkpoint.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	want := nnfixture.ReadNpy(t, recon)
	for _, path := range []string{pt, st} {
		m := smallAutoEnc(t)
		rep, err := Load(context.Background(), m, path, LoadOptions{})
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if rep.Loaded != len(sd) {
			t.Errorf("%s: loaded %d tensors, want %d", path, rep.Loaded, len(sd))
		}
		g := nn.NewGraph(nn.Options{})
		got := m.Forward(g, x)
		if g.Err() != nil {
			t.Fatal(g.Err())
		}
		if e, _ := compare(got.Data, want.Data); e > 1e-4 {
			t.Errorf("%s: recon differs by %g", path, e)
		}
	}
}

// A checkpoint with a missing, an unexpected and a mis-shaped tensor is
// refused with one *nn.LoadError naming all three, and the model keeps
// its weights; a truncated file is an error, not a panic.
func TestLoadRefusesBadCheckpoint(t *testing.T) {
	sd, _, _ := fixtureState(t, "vitautoenc_small")
	delete(sd, "blocks.1.norm2.bias")
	sd["blocks.0.attn.extra.weight"] = nn.NewTensor(3)
	sd["norm.weight"] = nn.NewTensor(95)
	path := filepath.Join(t.TempDir(), "bad.pt")
	if err := checkpoint.Save(path, sd, checkpoint.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	m := smallAutoEnc(t)
	before := m.enc.blocks[0].mlp.linear1.Weight.Clone()
	_, err := Load(context.Background(), m, path, LoadOptions{})
	var le *nn.LoadError
	if !errors.As(err, &le) {
		t.Fatalf("error %v, want *nn.LoadError", err)
	}
	for _, k := range []string{"blocks.1.norm2.bias", "blocks.0.attn.extra.weight", "norm.weight"} {
		if !strings.Contains(err.Error(), k) {
			t.Errorf("error does not name %s: %v", k, err)
		}
	}
	if e, _ := compare(m.enc.blocks[0].mlp.linear1.Weight.Data, before.Data); e != 0 {
		t.Error("a refused checkpoint changed the model")
	}
	// Allowing missing and unexpected keys still refuses the bad shape.
	if _, err := Load(context.Background(), m, path, LoadOptions{AllowMissing: true, AllowUnexpected: true}); !errors.As(err, &le) || len(le.Report.Mismatched) != 1 {
		t.Errorf("lenient load: %v", err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 10, len(b) / 3, len(b) - 100} {
		p := filepath.Join(t.TempDir(), "trunc.pt")
		if err := os.WriteFile(p, b[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(context.Background(), smallAutoEnc(t), p, LoadOptions{}); err == nil {
			t.Errorf("truncated to %d bytes: no error", n)
		}
	}
}

// The LaMIM classifier takes a bare foundation-model checkpoint into its
// encoder.
func TestLaMIMLoadEncoder(t *testing.T) {
	sd, _, _ := fixtureState(t, "lamim_classifier_small")
	enc := map[string]*nn.Tensor{}
	for k, v := range sd {
		if rest, ok := strings.CutPrefix(k, "model."); ok {
			enc["module."+rest] = v
		}
	}
	path := filepath.Join(t.TempDir(), "ssl.pt")
	if err := checkpoint.Save(path, enc, checkpoint.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	c := Config{InChannels: 4, OutChannels: 4, ImgSize: Cube(32), PatchSize: Cube(16), HiddenSize: 96, MLPDim: 192, NumLayers: 2, NumHeads: 4}
	m, err := NewLaMIM(LaMIMConfig{Encoder: c, Widths: [2]int{16, 8}})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := m.LoadEncoder(context.Background(), path)
	if err != nil || rep.Loaded != len(enc) {
		t.Fatalf("loaded %d of %d: %v", rep.Loaded, len(enc), err)
	}
	if m.Model.enc.patch.pos.Data[5] != sd["model.patch_embedding.position_embeddings"].Data[5] {
		t.Error("encoder weights not loaded")
	}
}

// Latents: the full embedding equals Pool of Encode, per-sequence
// embeddings see only their channel, cls pooling needs a cls token, and
// a cancelled context stops the work.
func TestLatents(t *testing.T) {
	m := smallAutoEnc(t)
	x := nn.NewTensor(4, 32, 32, 32)
	nn.InitNormal(x, 0, 1, nn.NewRNG(3))
	var calls int
	lat, err := Latents(context.Background(), m, x, LatentOptions{Pool: PoolLaMIM, PerSequence: true, Progress: func(d, n int) { calls++ }})
	if err != nil {
		t.Fatal(err)
	}
	if len(lat.Full) != LaMIMPoolDim(m.cfg) || len(lat.Sequences) != 4 || calls != 5 {
		t.Fatalf("full %d, sequences %d, progress calls %d", len(lat.Full), len(lat.Sequences), calls)
	}
	x1 := nn.NewTensor(1, 4, 32, 32, 32)
	copy(x1.Data[2*32*32*32:3*32*32*32], x.Data[2*32*32*32:])
	g := nn.NewGraph(nn.Options{})
	want := Pool(g, m.Encode(g, x1), PoolLaMIM)
	if e, _ := compare(lat.Sequences[2], want.Data); e > 1e-6 {
		t.Errorf("sequence 2 embedding differs by %g", e)
	}
	if _, err := Latents(context.Background(), m, x, LatentOptions{Pool: PoolCLS}); !errors.Is(err, ErrPooling) {
		t.Errorf("cls pooling of an AutoEnc: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Latents(ctx, m, x, LatentOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if _, err := Latents(context.Background(), m, nn.NewTensor(3, 32, 32, 32), LatentOptions{}); !errors.Is(err, ErrInput) {
		t.Errorf("3 channels: %v", err)
	}
}

// A context cancelled before loading makes Load and LoadEncoder refuse
// with context.Canceled before any weight is copied.
func TestLoadCancelled(t *testing.T) {
	c := Config{InChannels: 4, OutChannels: 4, ImgSize: Cube(32), PatchSize: Cube(16), HiddenSize: 96, MLPDim: 192, NumLayers: 2, NumHeads: 4}
	m, err := NewLaMIM(LaMIMConfig{Encoder: c, Widths: [2]int{16, 8}})
	if err != nil {
		t.Fatal(err)
	}
	enc := map[string]*nn.Tensor{}
	nn.Walk(m.Model, func(name string, v *nn.Tensor, _ bool) {
		w := v.Clone()
		for i := range w.Data {
			w.Data[i] += 1
		}
		enc[name] = w
	})
	path := filepath.Join(t.TempDir(), "enc.safetensors")
	if err := checkpoint.Save(path, enc, checkpoint.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	before := map[string][]float32{}
	nn.Walk(m, func(name string, v *nn.Tensor, _ bool) { before[name] = append([]float32{}, v.Data...) })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if rep, err := m.LoadEncoder(ctx, path); !errors.Is(err, context.Canceled) || rep.Loaded != 0 {
		t.Fatalf("LoadEncoder with a cancelled context: %+v, %v", rep, err)
	}
	if _, err := Load(ctx, m.Model, path, LoadOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Load with a cancelled context: %v", err)
	}
	nn.Walk(m, func(name string, v *nn.Tensor, _ bool) {
		for i, x := range v.Data {
			if x != before[name][i] {
				t.Fatalf("%s changed by a cancelled load", name)
			}
		}
	})
	if rep, err := m.LoadEncoder(context.Background(), path); err != nil || rep.Loaded != len(enc) {
		t.Fatalf("loaded %d of %d: %v", rep.Loaded, len(enc), err)
	}
}

package cnn_test

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/metasurv/metasurv/cnn"
	"github.com/metasurv/metasurv/internal/fixture/nnfixture"
	"github.com/metasurv/metasurv/nn"
	"github.com/metasurv/metasurv/nn/checkpoint"
)

func maxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	m := 0.0
	for i := range a {
		d := math.Abs(float64(a[i] - b[i]))
		if !(d <= m) {
			m = d
			if math.IsNaN(d) {
				return math.Inf(1)
			}
		}
	}
	return m
}

func embed(t *testing.T, m nn.Backbone, x *nn.Tensor) *nn.Tensor {
	t.Helper()
	nn.SetTraining(m, false)
	g := nn.NewGraph(nn.Options{})
	y := m.Embed(g, x)
	if err := g.Err(); err != nil {
		t.Fatal(err)
	}
	return y
}

// MedicalNet's released format (legacy torch.save, {"state_dict": …},
// "module." keys, one channel, no downsample bias or shortcut A) is
// recognised as needing the dilated geometry, and the network built for it
// reproduces MedicalNet's own code (testdata/gen_medicalnet.py); the MONAI
// geometry with the same weights does not.
func TestMedicalNetCheckpoint(t *testing.T) {
	for _, tc := range []struct {
		name     string
		shortcut cnn.Shortcut
		block    cnn.Block
	}{{"a", cnn.ShortcutA, cnn.Basic}, {"b", cnn.ShortcutB, cnn.Bottleneck}} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join("testdata", "medicalnet_"+tc.name+".pth")
			m, info, err := cnn.OpenResNet(context.Background(), path, 0, 0, cnn.LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			c := info.Config
			if !info.MedicalNet || c.Geometry != cnn.GeometryMedicalNet || c.Shortcut != tc.shortcut || c.Block != tc.block ||
				c.InChannels != 1 || c.Classes != 0 || (tc.shortcut == cnn.ShortcutB && !c.NoDownsampleBias) {
				t.Fatalf("inspected %+v (%s)", info, info.Reason)
			}
			x := nnfixture.ReadNpy(t, filepath.Join("testdata", "medicalnet_"+tc.name+".input.npy"))
			want := nnfixture.ReadNpy(t, filepath.Join("testdata", "medicalnet_"+tc.name+".embed.npy"))
			got := embed(t, m, x)
			if d := maxAbsDiff(got.Data, want.Data); d > 1e-4 {
				t.Fatalf("embedding differs from MedicalNet's by %g", d)
			}
			// Forward without a classifier is the embedding.
			g := nn.NewGraph(nn.Options{})
			if d := maxAbsDiff(m.Forward(g, x).Data, want.Data); d > 1e-4 {
				t.Fatalf("Forward differs from Embed by %g", d)
			}

			c.Geometry = cnn.GeometryMONAI
			mm, err := cnn.NewResNet(c)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cnn.Load(context.Background(), mm, path, cnn.LoadOptions{}); err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(embed(t, mm, x).Data, want.Data); d < 1e-3 {
				t.Fatalf("MONAI geometry reproduces MedicalNet's output (diff %g): the test cannot tell them apart", d)
			}

			// Transfer to four channels: averaging the stem makes a volume
			// repeated in every channel give the one-channel response;
			// repeating it makes the volume in channel 0 alone give it.
			x4 := nn.NewTensor(2, 4, 24, 24, 24)
			x40 := nn.NewTensor(2, 4, 24, 24, 24)
			vol := 24 * 24 * 24
			for n := range 2 {
				for ch := range 4 {
					copy(x4.Data[(n*4+ch)*vol:(n*4+ch+1)*vol], x.Data[n*vol:(n+1)*vol])
				}
				copy(x40.Data[n*4*vol:(n*4+1)*vol], x.Data[n*vol:(n+1)*vol])
			}
			avg, _, err := cnn.OpenResNet(context.Background(), path, 4, 3, cnn.LoadOptions{Stem: cnn.StemAverage})
			if err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(embed(t, avg, x4).Data, want.Data); d > 1e-4 {
				t.Fatalf("StemAverage: embedding of the repeated volume differs by %g", d)
			}
			if avg.FC == nil || avg.EmbedDim() != want.Shape[1] {
				t.Fatalf("the 3-class model has no classifier or embeds %d values", avg.EmbedDim())
			}
			rep, _, err := cnn.OpenResNet(context.Background(), path, 4, 0, cnn.LoadOptions{Stem: cnn.StemRepeat})
			if err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(embed(t, rep, x40).Data, want.Data); d > 1e-4 {
				t.Fatalf("StemRepeat: embedding with the volume in channel 0 differs by %g", d)
			}
			if _, _, err := cnn.OpenResNet(context.Background(), path, 4, 0, cnn.LoadOptions{}); !errors.Is(err, cnn.ErrCheckpoint) || !strings.Contains(err.Error(), "conv1.weight") {
				t.Fatalf("strict stem mismatch: %v", err)
			}
		})
	}
}

// A checkpoint with a missing, an unexpected and a mis-shaped tensor is
// refused with one error naming all three, and the model is unchanged.
func TestLoadRefusesMismatchNamingEveryKey(t *testing.T) {
	m, err := cnn.NewDenseNet(cnn.DenseNetConfig{InChannels: 2, Classes: 3, InitFeatures: 8, GrowthRate: 4, BlockConfig: []int{1, 1}, BNSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	sd := map[string]*nn.Tensor{}
	for k, v := range nn.StateDict(m) {
		sd["module."+k] = v.Clone()
	}
	delete(sd, "module.features.norm5.running_var")
	sd["module.features.extra.weight"] = nn.NewTensor(3)
	sd["module.class_layers.out.weight"] = nn.NewTensor(5, 7)
	sd["module.features.norm0.bias"] = nil
	for k := range sd {
		if sd[k] != nil {
			for i := range sd[k].Data {
				sd[k].Data[i] = 42
			}
		}
	}
	before := nn.StateDict(m)["features.conv0.weight"].Clone()
	_, err = cnn.LoadStateDict(m, sd, cnn.LoadOptions{})
	if !errors.Is(err, cnn.ErrCheckpoint) {
		t.Fatalf("err = %v, want ErrCheckpoint", err)
	}
	var le *nn.LoadError
	if !errors.As(err, &le) {
		t.Fatalf("err %v does not carry the nn.LoadError report", err)
	}
	for _, k := range []string{"features.norm5.running_var", "features.extra.weight", "class_layers.out.weight: got [5 7], want [3 10]", "features.norm0.bias"} {
		if !strings.Contains(err.Error(), k) {
			t.Errorf("error %q does not name %s", err, k)
		}
	}
	if d := maxAbsDiff(nn.StateDict(m)["features.conv0.weight"].Data, before.Data); d != 0 {
		t.Fatal("a refused checkpoint changed the model")
	}
	// IgnoreHead accepts the foreign classifier, not the other problems.
	_, err = cnn.LoadStateDict(m, sd, cnn.LoadOptions{IgnoreHead: true})
	if err == nil || strings.Contains(err.Error(), "class_layers") || !strings.Contains(err.Error(), "norm5") {
		t.Fatalf("IgnoreHead: %v", err)
	}
}

// Corrupt and truncated files give errors, never panics.
func TestLoadCorruptFiles(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("testdata", "medicalnet_b.pth"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := cnn.NewResNet(cnn.ResNetConfig{Block: cnn.Bottleneck, Layers: [4]int{1, 2, 1, 1}, BlockInplanes: [4]int{4, 8, 12, 16}, Conv1TStride: [3]int{2, 2, 2}, NoDownsampleBias: true, Geometry: cnn.GeometryMedicalNet})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for i, data := range [][]byte{nil, []byte("not a checkpoint"), good[:len(good)/2], good[:100], append([]byte{0x80, 0x02}, good[2:]...)} {
		p := filepath.Join(dir, "bad.pth")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := cnn.Load(context.Background(), m, p, cnn.LoadOptions{}); err == nil && i != 4 {
			t.Errorf("case %d: corrupt checkpoint accepted", i)
		}
		if _, _, err := cnn.OpenResNet(context.Background(), p, 0, 0, cnn.LoadOptions{}); err == nil && i != 4 {
			t.Errorf("case %d: OpenResNet accepted a corrupt checkpoint", i)
		}
	}
	// A state dict that is not a ResNet's.
	if _, err := cnn.InspectResNet(map[string]*nn.Tensor{"x": nn.NewTensor(1)}); !errors.Is(err, cnn.ErrCheckpoint) {
		t.Fatalf("InspectResNet of a non-ResNet: %v", err)
	}
	// A safetensors file written by the library loads the same way.
	p := filepath.Join(dir, "w.safetensors")
	if err := checkpoint.Save(p, nn.StateDict(m), checkpoint.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cnn.Load(context.Background(), m, p, cnn.LoadOptions{}); err != nil {
		t.Fatal(err)
	}
}

// Property: whatever subset of tensors a state dict drops, adds or
// reshapes, loading refuses it with one error that names exactly those
// keys (and no others), and never panics.
func TestLoadReportsExactlyTheOffendingKeys(t *testing.T) {
	m, err := cnn.NewResNet(cnn.ResNetConfig{Layers: [4]int{1, 1, 1, 1}, BlockInplanes: [4]int{2, 4, 4, 8}, InChannels: 1, Classes: 2})
	if err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for k := range nn.StateDict(m) {
		names = append(names, k)
	}
	r := nn.NewRNG(4)
	for trial := range 200 {
		sd := map[string]*nn.Tensor{}
		for k, v := range nn.StateDict(m) {
			sd[k] = v.Clone()
		}
		var missing, extra, bad []string
		for range 1 + r.IntN(4) {
			k := names[r.IntN(len(names))]
			if _, ok := sd[k]; !ok {
				continue
			}
			switch r.IntN(3) {
			case 0:
				delete(sd, k)
				missing = append(missing, k)
			case 1:
				sd[k] = nn.NewTensor(len(sd[k].Data) + 1)
				bad = append(bad, k)
			case 2:
				e := k + ".extra" + string(rune('a'+trial%26))
				sd[e] = nn.NewTensor(1)
				extra = append(extra, e)
			}
		}
		_, err := cnn.LoadStateDict(m, sd, cnn.LoadOptions{})
		var le *nn.LoadError
		if !errors.As(err, &le) {
			t.Fatalf("trial %d: err %v", trial, err)
		}
		rep := le.Report
		count := func(list []string, k string) int {
			n := 0
			for _, s := range list {
				if s == k || strings.HasPrefix(s, k+":") {
					n++
				}
			}
			return n
		}
		got := len(rep.Missing) + len(rep.Unexpected) + len(rep.Mismatched)
		// A key both reshaped and later deleted counts once, as missing.
		dedup := map[string]bool{}
		for _, k := range missing {
			dedup["m"+k] = true
		}
		for _, k := range bad {
			if _, ok := sd[k]; ok {
				dedup["b"+k] = true
			}
		}
		for _, k := range extra {
			dedup["e"+k] = true
		}
		if want := len(dedup); got != want {
			t.Fatalf("trial %d: report %+v, want %d problems (missing %v, extra %v, reshaped %v)", trial, rep, want, missing, extra, bad)
		}
		for _, k := range extra {
			if count(rep.Unexpected, k) != 1 || !strings.Contains(err.Error(), k) {
				t.Fatalf("trial %d: %s not reported as unexpected", trial, k)
			}
		}
		for _, k := range missing {
			if count(rep.Missing, k) != 1 || !strings.Contains(err.Error(), k) {
				t.Fatalf("trial %d: %s not reported as missing", trial, k)
			}
		}
	}
}

// A cancelled context stops Load and OpenResNet with context.Canceled and
// leaves the model's weights as they were.
func TestLoadCancelled(t *testing.T) {
	m, err := cnn.NewResNet(cnn.ResNetConfig{Layers: [4]int{1, 1, 1, 1}, BlockInplanes: [4]int{2, 4, 4, 8}, InChannels: 1, Classes: 2})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "w.safetensors")
	saved := nn.StateDict(m)
	for _, v := range saved {
		for i := range v.Data {
			v.Data[i] += 1
		}
	}
	if err := checkpoint.Save(p, saved, checkpoint.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	before := map[string][]float32{}
	for k, v := range nn.StateDict(m) {
		before[k] = append([]float32{}, v.Data...)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := cnn.Load(ctx, m, p, cnn.LoadOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Load with a cancelled context: %v", err)
	}
	if _, _, err := cnn.OpenResNet(ctx, p, 0, 0, cnn.LoadOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("OpenResNet with a cancelled context: %v", err)
	}
	for k, v := range nn.StateDict(m) {
		for i, x := range v.Data {
			if x != before[k][i] {
				t.Fatalf("%s changed by a cancelled load", k)
			}
		}
	}
	if _, err := cnn.Load(context.Background(), m, p, cnn.LoadOptions{}); err != nil {
		t.Fatal(err)
	}
}

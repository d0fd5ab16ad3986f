package modelspec

import (
	"fmt"
	"strings"

	"github.com/metasurv/metasurv/internal/pycall"
	"github.com/metasurv/metasurv/nn"
	"github.com/metasurv/metasurv/vit"
)

// The transformer constructors: MONAI's ViT and ViTAutoEnc (1.3.2
// arguments, plus 1.4's proj_type spelling of pos_embed) and the study's
// LaMIMClassifier(model, flat[, hidden, num_classes]).

func init() {
	Register("ViT", buildViT)
	Register("ViTAutoEnc", buildViTAutoEnc)
	Register("LaMIMClassifier", buildLaMIM)
}

var vitKwargs = []string{"in_channels", "img_size", "patch_size", "hidden_size", "mlp_dim", "num_layers",
	"num_heads", "pos_embed", "proj_type", "pos_embed_type", "dropout_rate", "spatial_dims", "qkv_bias", "save_attn"}

// vitCommon reads the arguments ViT and ViTAutoEnc share.
func vitCommon(a *pycall.Args) vit.Config {
	check3D(a)
	// Fixture models are loaded right after they are built: skip the
	// random initialisation (seconds for the 506 M-parameter LaMIM).
	c := vit.Config{SkipInit: true}
	c.InChannels = a.PositiveInt("in_channels", 0)
	if img := a.Ints("img_size", 3, nil); img != nil {
		c.ImgSize = [3]int(img)
	}
	if p := a.Ints("patch_size", 3, nil); p != nil {
		c.PatchSize = [3]int(p)
	}
	c.HiddenSize = a.PositiveInt("hidden_size", 768)
	c.MLPDim = a.PositiveInt("mlp_dim", 3072)
	c.NumLayers = a.PositiveInt("num_layers", 12)
	c.NumHeads = a.PositiveInt("num_heads", 12)
	proj := a.String("pos_embed", "conv")
	if a.Has("proj_type") {
		proj = a.String("proj_type", "conv")
	}
	c.ProjType = strings.ToLower(proj)
	if pe := a.String("pos_embed_type", "learnable"); pe != "learnable" {
		a.Fail("pos_embed_type=%q: only 'learnable' position embeddings are implemented", pe)
	}
	c.DropoutRate = a.Float("dropout_rate", 0)
	c.QKVBias = a.Bool("qkv_bias", false)
	a.Bool("save_attn", false)
	return c
}

func buildViT(c *pycall.Call) (*Model, error) {
	a := pycall.Bind(c, append(vitKwargs[:3:3], append(vitKwargs[3:], "classification", "num_classes", "post_activation")...)...)
	a.Require("in_channels", "img_size", "patch_size")
	cfg := vitCommon(a)
	cfg.Classification = a.Bool("classification", false)
	cfg.NumClasses = a.PositiveInt("num_classes", 2)
	if a.Has("post_activation") && !a.IsNone("post_activation") {
		if s := a.String("post_activation", "Tanh"); s != "Tanh" {
			cfg.NoPostActivation = true // MONAI: any other value means no activation
		}
	} else if a.Has("post_activation") {
		cfg.NoPostActivation = true
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	m, err := vit.New(cfg)
	if err != nil {
		return nil, err
	}
	return &Model{Module: m, Outputs: func(g *nn.Graph, x *nn.Tensor) map[string]*nn.Tensor {
		out, h := m.ForwardHidden(g, x)
		name := "features"
		if cfg.Classification {
			name = "logits"
		}
		return hiddenOutputs(h, map[string]*nn.Tensor{name: out})
	}}, nil
}

func hiddenOutputs(h []*nn.Tensor, out map[string]*nn.Tensor) map[string]*nn.Tensor {
	if len(h) > 0 {
		out["hidden_first"], out["hidden_last"] = h[0], h[len(h)-1]
	}
	return out
}

func autoEncConfig(a *pycall.Args) vit.Config {
	a.Require("in_channels", "img_size", "patch_size")
	cfg := vitCommon(a)
	cfg.OutChannels = a.PositiveInt("out_channels", 1)
	cfg.DeconvChannels = a.PositiveInt("deconv_chns", 16)
	return cfg
}

func bindAutoEnc(c *pycall.Call) *pycall.Args {
	return pycall.Bind(c, append(vitKwargs[:3:3], append([]string{"out_channels", "deconv_chns"}, vitKwargs[3:]...)...)...)
}

func buildViTAutoEnc(c *pycall.Call) (*Model, error) {
	a := bindAutoEnc(c)
	cfg := autoEncConfig(a)
	if err := a.Err(); err != nil {
		return nil, err
	}
	m, err := vit.NewAutoEnc(cfg)
	if err != nil {
		return nil, err
	}
	return &Model{Module: m, Outputs: func(g *nn.Graph, x *nn.Tensor) map[string]*nn.Tensor {
		out, h := m.ForwardHidden(g, x)
		return hiddenOutputs(h, map[string]*nn.Tensor{"recon": out})
	}}, nil
}

// buildLaMIM builds LaMIMClassifier(ViTAutoEnc(...), flat=N[, hidden=(w0,
// w1), num_classes=3]). The fixture generator's head is Linear(flat, 16)
// ReLU Linear(16, 8) ReLU Linear(8, 3), hence the default widths here;
// flat must equal the pool size of the encoder.
func buildLaMIM(c *pycall.Call) (*Model, error) {
	a := pycall.Bind(c, "model", "flat", "hidden", "num_classes")
	a.Require("model")
	var enc vit.Config
	if sub := a.Call("model"); sub != nil {
		if sub.Name != "ViTAutoEnc" {
			a.Fail("model=%s(...): want ViTAutoEnc(...)", sub.Name)
		} else {
			sa := bindAutoEnc(sub)
			enc = autoEncConfig(sa)
			if err := sa.Err(); err != nil {
				return nil, err
			}
		}
	}
	w := a.Ints("hidden", 2, []int{16, 8})
	if w != nil && (w[0] < 1 || w[1] < 1) {
		a.Fail("hidden=%v: want positive widths", w)
	}
	classes := a.PositiveInt("num_classes", 3)
	flat := a.Int("flat", 0)
	if err := a.Err(); err != nil {
		return nil, err
	}
	m, err := vit.NewLaMIM(vit.LaMIMConfig{Encoder: enc, Widths: [2]int(w), Classes: classes})
	if err != nil {
		return nil, err
	}
	if want := vit.LaMIMPoolDim(m.Model.Config()); flat != 0 && flat != want {
		return nil, fmt.Errorf("%w: flat=%d does not match the encoder's LaMIM pool size %d", vit.ErrConfig, flat, want)
	}
	return &Model{Module: m, Outputs: func(g *nn.Graph, x *nn.Tensor) map[string]*nn.Tensor {
		out, h := m.ForwardHidden(g, x)
		return hiddenOutputs(h, map[string]*nn.Tensor{"logits": out})
	}}, nil
}

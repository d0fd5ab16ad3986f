package modelspec

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/metasurv/metasurv/internal/pycall"
)

func TestBuildErrors(t *testing.T) {
	if _, err := Build("NoSuchNet(x=1)"); !errors.Is(err, ErrUnknownConstructor) || !strings.Contains(err.Error(), "DenseNet121") {
		t.Errorf("unknown constructor: %v", err)
	}
	if _, err := Build("DenseNet121(spatial_dims=3, in_channels=4"); !errors.Is(err, pycall.ErrSyntax) {
		t.Errorf("syntax error: %v", err)
	}
	for src, want := range map[string]string{
		"DenseNet121(spatial_dims=3, in_channels=4, out_channels=3, pretrained=True)":                  "pretrained=True",
		"DenseNet121(spatial_dims=2, in_channels=4, out_channels=3)":                                   "spatial_dims=2",
		"DenseNet121(spatial_dims=3, in_channels=4, out_channels=3, act='elu')":                        "only relu",
		"resnet18(spatial_dims=3, n_input_channels=4, num_classes=3, bogus=[1])":                       "unknown argument(s) bogus",
		"ResNet(block='basic', layers=[1, 1, 1], block_inplanes=[8, 16, 32, 64])":                      "want 4 integers",
		"SENet(spatial_dims=3, in_channels=4, block=Foo, layers=(1, 1, 1, 1), groups=8, reduction=16)": "block=Foo",
		"EfficientNetBN('efficientnet-b0', spatial_dims=3, norm='instance')":                           "norm=",
		"EfficientNetBN('efficientnet-b0')":                                                            "spatial_dims=2",
		"DenseNet(spatial_dims=3, in_channels=4)":                                                      "missing required argument out_channels",
		// An explicit zero is an error, not the Go models' "default".
		"DenseNet(spatial_dims=3, in_channels=4, out_channels=3, init_features=0)":                                           "init_features=0",
		"SENet(spatial_dims=3, in_channels=4, block=SEResNeXtBottleneck, layers=(1, 1, 1, 1), groups=0, reduction=16)":       "groups=0",
		"SENet(spatial_dims=3, in_channels=4, block=SEResNeXtBottleneck, layers=(1, 1, 1, 1), groups=8, reduction=0)":        "reduction=0",
		"ViT(in_channels=4, img_size=32, patch_size=16, hidden_size=96, num_heads=4, classification=True, num_classes=0)":    "num_classes=0",
		"ViTAutoEnc(in_channels=4, img_size=32, patch_size=16, hidden_size=96, num_heads=4, deconv_chns=-1)":                 "deconv_chns=-1",
		"LaMIMClassifier(ViTAutoEnc(in_channels=4, img_size=32, patch_size=16, hidden_size=96, num_heads=4), hidden=[0, 8])": "hidden=[0 8]",
		"ResNet(block='basic', layers=[1, 1, 1, 1], block_inplanes=[8, 16, 32, 64], widen_factor=0)":                         "widen_factor=0",
		"ResNet(block='basic', layers=[1, 1, 1, 1], block_inplanes=[8, 16, 32, 64], conv1_t_size=[0, 7, 7])":                 "conv1_t_size=[0 7 7]",
		// Sizes a model could not hold come back as errors, not crashes.
		"ResNet(block='basic', layers=[1, 1, 1, 2000000000], block_inplanes=[8, 16, 32, 64], n_input_channels=4)": "parameters",
		"ViTAutoEnc(in_channels=4, img_size=32, patch_size=16, hidden_size=65536, num_heads=4, mlp_dim=65536)":    "parameters",
	} {
		if _, err := Build(src); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error mentioning %q", src, err, want)
		}
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("a second registration of ResNet did not panic")
		}
	}()
	Register("ResNet", buildResNet)
}

func TestToleranceAndKeys(t *testing.T) {
	m := &Manifest{Tolerance: "max |go - torch| <= 2.5e-4 * max(1, max|torch|)"}
	if f, err := m.ToleranceFactor(); err != nil || f != 2.5e-4 {
		t.Errorf("ToleranceFactor = %v, %v", f, err)
	}
	m.Tolerance = "close enough"
	if _, err := m.ToleranceFactor(); err == nil {
		t.Error("an unknown tolerance rule was accepted")
	}
	var spec KeySpec
	src := `{"monai": "ResNet(block='basic', layers=[1, 1, 1, 1], block_inplanes=[2, 2, 2, 2], n_input_channels=1, num_classes=2)",
		"state_dict": {"conv1.weight": [2, 1, 7, 7, 7], "bn1.weight": [3], "extra.weight": [1]}, "params": 0}`
	if err := json.Unmarshal([]byte(src), &spec); err != nil {
		t.Fatal(err)
	}
	if len(spec.StateDict) != 3 || spec.StateDict[2].Name != "extra.weight" {
		t.Fatalf("state dict order lost: %+v", spec.StateDict)
	}
	err := CheckKeys(spec)
	for _, want := range []string{"bn1.weight: shape [2], want [3]", "missing extra.weight", "unexpected fc.bias"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckKeys: %v, want it to mention %q", err, want)
		}
	}
}

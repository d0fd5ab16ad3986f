package cnn

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/metasurv/metasurv/nn"
	"github.com/metasurv/metasurv/nn/checkpoint"
)

// StemAdapt says what to do when a checkpoint's first convolution was
// trained on a different number of input channels than the model takes
// (MedicalNet's one-channel weights on four MRI sequences).
type StemAdapt int

const (
	// StemStrict refuses the mismatch (the zero value).
	StemStrict StemAdapt = iota
	// StemRepeat copies the checkpoint's channel c mod Cin to model
	// channel c, unchanged: every sequence gets the filters the checkpoint
	// learned.
	StemRepeat
	// StemAverage gives every model channel the mean of the checkpoint's
	// channels scaled by Cin/Cout, so that one volume repeated in every
	// channel produces exactly the checkpoint's response.
	StemAverage
)

// LoadOptions configure Load and LoadStateDict. The zero value loads
// strictly: every tensor must be present with its shape and nothing else.
type LoadOptions struct {
	// Stem adapts the first convolution to a different input channel count.
	Stem StemAdapt
	// IgnoreHead leaves the classifier (fc, class_layers.out, last_linear,
	// _fc) at its initial values: the checkpoint may lack it or hold one
	// for another number of classes (transfer learning). Every other tensor
	// must still fit.
	IgnoreHead bool
	// MaxBytes bounds the checkpoint read (checkpoint.Options.MaxBytes).
	MaxBytes int64
}

// headed is implemented by the models: the state-dict prefix of their
// classifier and the name of their first convolution's weight.
type headed interface {
	headPrefix() string
	stemKey() string
}

func (m *ResNet) headPrefix() string       { return "fc." }
func (m *ResNet) stemKey() string          { return "conv1.weight" }
func (m *DenseNet) headPrefix() string     { return "class_layers." }
func (m *DenseNet) stemKey() string        { return "features.conv0.weight" }
func (m *SENet) headPrefix() string        { return "last_linear." }
func (m *SENet) stemKey() string           { return "layer0.conv1.weight" }
func (m *EfficientNet) headPrefix() string { return "_fc." }
func (m *EfficientNet) stemKey() string    { return "_conv_stem.weight" }

// Load reads a PyTorch (.pt/.pth, zip or legacy) or safetensors checkpoint
// into m. A dict wrapping the state dict ({"state_dict": …}, MedicalNet)
// is unwrapped and a "module." prefix on every key (DataParallel) is
// removed. A checkpoint that does not fit is refused with one error naming
// every missing, unexpected and mis-shaped tensor, and m is left unchanged.
// A cancelled ctx stops the read (the error wraps ctx.Err()) and also
// leaves m unchanged: the weights are copied only once fully read.
func Load(ctx context.Context, m nn.Module, path string, o LoadOptions) (nn.LoadReport, error) {
	ck, err := checkpoint.Load(ctx, path, checkpoint.Options{MaxBytes: o.MaxBytes})
	if err != nil {
		return nn.LoadReport{}, fmt.Errorf("cnn: reading %s: %w", path, err)
	}
	return LoadStateDict(m, ck.Tensors, o)
}

// StripModulePrefix returns sd without the "module." prefix when every key
// has it (weights saved from torch.nn.DataParallel), else sd itself.
func StripModulePrefix(sd map[string]*nn.Tensor) map[string]*nn.Tensor {
	if len(sd) == 0 {
		return sd
	}
	for k := range sd {
		if !strings.HasPrefix(k, "module.") {
			return sd
		}
	}
	out := make(map[string]*nn.Tensor, len(sd))
	for k, t := range sd {
		out[strings.TrimPrefix(k, "module.")] = t
	}
	return out
}

// LoadStateDict copies sd into m like Load (sd may carry "module.").
func LoadStateDict(m nn.Module, sd map[string]*nn.Tensor, o LoadOptions) (nn.LoadReport, error) {
	sd = StripModulePrefix(sd)
	var head, stem string
	if h, ok := m.(headed); ok {
		head, stem = h.headPrefix(), h.stemKey()
	}
	if o.IgnoreHead && head == "" {
		return nn.LoadReport{}, fmt.Errorf("%w: IgnoreHead: %T has no known classifier", ErrConfig, m)
	}
	isHead := func(k string) bool { return o.IgnoreHead && strings.HasPrefix(k, head) }
	src := make(map[string]*nn.Tensor, len(sd))
	for k, t := range sd {
		if !isHead(k) {
			src[k] = t
		}
	}
	var rep nn.LoadReport
	seen := map[string]bool{}
	nn.Walk(m, func(name string, t *nn.Tensor, _ bool) {
		if isHead(name) {
			return
		}
		seen[name] = true
		s, ok := src[name]
		switch {
		case !ok:
			rep.Missing = append(rep.Missing, name)
		case s == nil || len(s.Data) != numel(s.Shape):
			rep.Mismatched = append(rep.Mismatched, fmt.Sprintf("%s: an empty or inconsistent tensor", name))
		case name == stem && o.Stem != StemStrict && stemAdaptable(s.Shape, t.Shape):
			a, err := adaptStem(s, t.Shape, o.Stem)
			if err != nil {
				rep.Mismatched = append(rep.Mismatched, fmt.Sprintf("%s: %v", name, err))
				return
			}
			src[name] = a
		case !sameOrScalar(s.Shape, t.Shape):
			rep.Mismatched = append(rep.Mismatched, fmt.Sprintf("%s: got %v, want %v", name, s.Shape, t.Shape))
		}
	})
	for k := range src {
		if !seen[k] {
			rep.Unexpected = append(rep.Unexpected, k)
		}
	}
	sort.Strings(rep.Unexpected)
	if len(rep.Missing)+len(rep.Unexpected)+len(rep.Mismatched) > 0 {
		return rep, fmt.Errorf("%w: %w", ErrCheckpoint, &nn.LoadError{Report: rep})
	}
	got, err := nn.LoadStateDict(m, src, nn.LoadOptions{})
	if err != nil {
		return got, fmt.Errorf("%w: %w", ErrCheckpoint, err)
	}
	return got, nil
}

func sameOrScalar(a, b []int) bool {
	if nn.SameShape(a, b) {
		return true
	}
	return len(a) <= 1 && len(b) <= 1 && numel(a) == 1 && numel(b) == 1
}

func numel(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// stemAdaptable: same shape except the input channels (dimension 1).
func stemAdaptable(src, dst []int) bool {
	if len(src) != 5 || len(dst) != 5 || src[1] == dst[1] {
		return false
	}
	for i := range src {
		if i != 1 && src[i] != dst[i] {
			return false
		}
	}
	return src[1] > 0
}

// adaptStem maps a (Cout, Cin, k...) weight onto shape (Cout, C'in, k...).
func adaptStem(w *nn.Tensor, shape []int, mode StemAdapt) (*nn.Tensor, error) {
	out, cin, cnew := shape[0], w.Shape[1], shape[1]
	k := shape[2] * shape[3] * shape[4]
	if len(w.Data) != out*cin*k {
		return nil, fmt.Errorf("stem weight holds %d values for shape %v", len(w.Data), w.Shape)
	}
	res := nn.NewTensor(shape...)
	for o := range out {
		for c := range cnew {
			dst := res.Data[(o*cnew+c)*k : (o*cnew+c+1)*k]
			switch mode {
			case StemRepeat:
				copy(dst, w.Data[(o*cin+c%cin)*k:(o*cin+c%cin+1)*k])
			case StemAverage:
				for s := range cin {
					src := w.Data[(o*cin+s)*k : (o*cin+s+1)*k]
					for i, v := range src {
						dst[i] += v
					}
				}
				scale := float32(1) / float32(cnew) // mean · Cin/Cout
				for i := range dst {
					dst[i] *= scale
				}
			default:
				return nil, fmt.Errorf("unknown stem adaptation %d", mode)
			}
		}
	}
	return res, nil
}

// ResNetCheckpoint is what a ResNet state dict says about the network that
// wrote it.
type ResNetCheckpoint struct {
	// Config is the ResNet the weights fit: block, layers, widths, input
	// channels, stem kernel, shortcut type, downsample bias, classes and
	// the geometry (see Reason). Conv1TStride and NoMaxPool are not
	// recorded in weights: they are MedicalNet's (2, max pool) for
	// MedicalNet checkpoints and MONAI's defaults (1, max pool) otherwise.
	Config ResNetConfig
	// MedicalNet is true for the released Med3D weights ("module."
	// prefixed keys and no classifier); they need GeometryMedicalNet.
	MedicalNet bool
	// Reason explains the geometry choice in one sentence.
	Reason string
}

// InspectResNet reads a (MONAI or MedicalNet) ResNet state dict and
// returns the configuration that loads it, including which geometry it
// needs.
func InspectResNet(sd map[string]*nn.Tensor) (ResNetCheckpoint, error) {
	var info ResNetCheckpoint
	prefixed := len(sd) > 0
	for k := range sd {
		if !strings.HasPrefix(k, "module.") {
			prefixed = false
			break
		}
	}
	sd = StripModulePrefix(sd)
	c1, ok := sd["conv1.weight"]
	if !ok || len(c1.Shape) != 5 {
		return info, fmt.Errorf("%w: no 5-D conv1.weight: not a 3-D ResNet state dict", ErrCheckpoint)
	}
	c := &info.Config
	c.InChannels = c1.Shape[1]
	c.Conv1TSize = [3]int{c1.Shape[2], c1.Shape[3], c1.Shape[4]}
	if _, ok := sd["layer1.0.conv3.weight"]; ok {
		c.Block = Bottleneck
	}
	for s := range 4 {
		n := 0
		for ; ; n++ {
			if _, ok := sd["layer"+strconv.Itoa(s+1)+"."+strconv.Itoa(n)+".conv1.weight"]; !ok {
				break
			}
		}
		if n == 0 {
			return info, fmt.Errorf("%w: no layer%d.0.conv1.weight", ErrCheckpoint, s+1)
		}
		c.Layers[s] = n
		w := sd["layer"+strconv.Itoa(s+1)+".0.conv1.weight"]
		if len(w.Shape) != 5 {
			return info, fmt.Errorf("%w: layer%d.0.conv1.weight has shape %v", ErrCheckpoint, s+1, w.Shape)
		}
		c.BlockInplanes[s] = w.Shape[0]
	}
	c.Shortcut = ShortcutA
	if _, ok := sd["layer2.0.downsample.0.weight"]; ok {
		c.Shortcut = ShortcutB
		if _, ok := sd["layer2.0.downsample.0.bias"]; !ok {
			c.NoDownsampleBias = true
		}
	}
	if fc, ok := sd["fc.weight"]; ok && len(fc.Shape) == 2 {
		c.Classes = fc.Shape[0]
	}
	info.MedicalNet = prefixed && c.Classes == 0
	if info.MedicalNet {
		c.Geometry = GeometryMedicalNet
		c.Conv1TStride = cube(2)
		info.Reason = "keys prefixed \"module.\" with no classifier: MedicalNet (Med3D) weights, trained with stride-1 dilated layer3/layer4 (GeometryMedicalNet)"
	} else {
		c.Conv1TStride = cube(1)
		info.Reason = "MONAI-style keys: MONAI geometry (stride 2 at layer2, layer3, layer4); the stem stride is not recorded in weights"
	}
	return info, nil
}

// OpenResNet reads a ResNet checkpoint, builds the network it needs
// (InspectResNet) with InChannels/Classes overridden when non-zero, and
// loads it; a changed channel count needs o.Stem, a changed class count
// drops the checkpoint's classifier. A cancelled ctx stops the read with
// an error wrapping ctx.Err().
//
// The network comes back in training mode, as every constructor's (and
// PyTorch's) does, ready for fine-tuning: call nn.SetTraining(net, false)
// before embedding or predicting, or its batch norms use the batch's
// statistics instead of the checkpoint's running means and update them.
func OpenResNet(ctx context.Context, path string, inChannels, classes int, o LoadOptions) (*ResNet, ResNetCheckpoint, error) {
	ck, err := checkpoint.Load(ctx, path, checkpoint.Options{MaxBytes: o.MaxBytes})
	if err != nil {
		return nil, ResNetCheckpoint{}, fmt.Errorf("cnn: reading %s: %w", path, err)
	}
	info, err := InspectResNet(ck.Tensors)
	if err != nil {
		return nil, info, fmt.Errorf("%s: %w", path, err)
	}
	cfg := info.Config
	if inChannels > 0 {
		cfg.InChannels = inChannels
	}
	if classes > 0 && classes != cfg.Classes {
		cfg.Classes = classes
		o.IgnoreHead = true
	}
	m, err := NewResNet(cfg)
	if err != nil {
		return nil, info, err
	}
	if _, err := LoadStateDict(m, ck.Tensors, o); err != nil {
		return nil, info, fmt.Errorf("%s: %w", path, err)
	}
	return m, info, nil
}

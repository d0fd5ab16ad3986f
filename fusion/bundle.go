package fusion

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/metasurv/metasurv/internal/atomicfile"
	"github.com/metasurv/metasurv/nn"
	"github.com/metasurv/metasurv/nn/checkpoint"
	"github.com/metasurv/metasurv/norm"
	"github.com/metasurv/metasurv/survival"
	"github.com/metasurv/metasurv/volume"
)

// BundleVersion is the version of the bundle format this package writes.
// Load refuses bundles of another major version (ErrVersion).
const BundleVersion = 1

const (
	metaKey = "metasurv.fusion"
	sumKey  = "metasurv.fusion.sha256"
	format  = "metasurv-fusion-bundle"
)

// BackboneFactory builds an untrained backbone from the configuration
// stored in a bundle (ModelConfig.BackboneConfig); the bundle's weights are
// loaded into it afterwards.
type BackboneFactory func(config json.RawMessage) (nn.Backbone, error)

var (
	registryMu sync.RWMutex
	registry   = map[string]BackboneFactory{}
)

// RegisterBackbone makes a backbone family loadable from bundles under
// name (ModelConfig.Backbone), as image.RegisterFormat makes a format
// decodable. Registering a name twice replaces the factory.
func RegisterBackbone(name string, f BackboneFactory) {
	registryMu.Lock()
	defer registryMu.Unlock()
	registry[name] = f
}

func backboneFactory(name string) (BackboneFactory, bool) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	f, ok := registry[name]
	return f, ok
}

// Curves are the Kaplan–Meier survival curves of each survival class in
// the training cohort, on a shared time grid; a prediction's survival curve
// is their mixture weighted by its class probabilities.
type Curves struct {
	// Times are in the cohort's TimeUnit, increasing, starting at 0.
	Times []float64 `json:"times"`
	// Surv[c][i] is S(Times[i]) among training patients of class c.
	Surv [][]float64 `json:"surv"`
}

// Preprocessing records how the model's input stacks were made, so that
// a Predictor given raw sequences reproduces it.
type Preprocessing struct {
	// SkipN4, Resize and Missing mirror the norm.Options fields of the
	// same names; a Predictor applies them to raw sequences.
	SkipN4  bool               `json:"skip_n4"`
	Resize  volume.ResizeMode  `json:"resize"`
	Missing norm.MissingPolicy `json:"missing"`
	// BrainMask says the training stacks were brain-masked
	// (norm.Options.AtlasMask or Stripper). The mask belongs to the atlas
	// and is not stored: a Predictor given raw sequences refuses them
	// unless PredictorOptions.Preprocess has an AtlasMask or Stripper, since
	// an unmasked stack is not what the model learnt from. Bundles written
	// before this field existed read as false.
	BrainMask bool `json:"brain_mask,omitempty"`
	// Note is free text (atlas name, normaliser).
	Note string `json:"note,omitempty"`
}

// TrainState is the training progress stored in a checkpoint.
type TrainState struct {
	Epoch      int          `json:"epoch"` // last completed epoch (0-based)
	Step       int          `json:"step"`  // optimizer steps done
	BestEpoch  int          `json:"best_epoch"`
	BestMetric float64      `json:"best_metric"`
	BadEpochs  int          `json:"bad_epochs"`
	History    []EpochStats `json:"history"`
	Seed       uint64       `json:"seed"`
	// Optimizer is the optimizer's state (optim.Optimizer.State: AdamW's
	// moment estimates and step counts), stored as tensors named
	// "optimizer.<name>" next to the weights in the same file, so that a
	// resumed run continues bit for bit.
	Optimizer map[string]*nn.Tensor `json:"-"`
}

// optimizerPrefix names the optimizer's tensors in a checkpoint.
const optimizerPrefix = "optimizer."

// Bundle is everything needed to predict: the model with its weights, the
// clinical encoder, the input shape and channel names, the survival curves
// per class, the preprocessing settings and, in checkpoints, the training
// state. It is stored as one safetensors file whose metadata holds the
// JSON description and a SHA-256 of weights and description.
type Bundle struct {
	Model    *Model
	Encoder  *Encoder
	Shape    [4]int
	Channels []string
	TimeUnit survival.Unit
	Curves   Curves
	Prep     Preprocessing
	Training *TrainState
}

type bundleMeta struct {
	Format   string        `json:"format"`
	Version  int           `json:"version"`
	Config   ModelConfig   `json:"config"`
	Encoder  *Encoder      `json:"encoder,omitempty"`
	Shape    [4]int        `json:"shape"`
	Channels []string      `json:"channels"`
	TimeUnit survival.Unit `json:"time_unit"`
	Curves   Curves        `json:"curves"`
	Prep     Preprocessing `json:"preprocessing"`
	Training *TrainState   `json:"training,omitempty"`
}

// digest hashes the description and every tensor (names sorted, shapes,
// float32 bits), so any change to a stored byte is detected.
func digest(meta []byte, sd map[string]*nn.Tensor) string {
	h := sha256.New()
	h.Write(meta)
	names := make([]string, 0, len(sd))
	for k := range sd {
		names = append(names, k)
	}
	sort.Strings(names)
	var b [8]byte
	for _, k := range names {
		t := sd[k]
		h.Write([]byte(k))
		for _, d := range t.Shape {
			binary.LittleEndian.PutUint64(b[:], uint64(d))
			h.Write(b[:])
		}
		buf := make([]byte, 4*len(t.Data))
		for i, v := range t.Data {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
		}
		h.Write(buf)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Save writes the bundle atomically: to a temporary file in the target
// directory, synced, then renamed over path, so a crash leaves the
// previous file intact.
func (b *Bundle) Save(path string) error {
	if b.Model == nil {
		return fmt.Errorf("%w: no model", ErrBundle)
	}
	meta, err := json.Marshal(bundleMeta{Format: format, Version: BundleVersion, Config: b.Model.Config, Encoder: b.Encoder,
		Shape: b.Shape, Channels: b.Channels, TimeUnit: b.TimeUnit, Curves: b.Curves, Prep: b.Prep, Training: b.Training})
	if err != nil {
		return fmt.Errorf("fusion: bundle description: %w", err)
	}
	sd := nn.StateDict(b.Model)
	if b.Training != nil && len(b.Training.Optimizer) > 0 {
		all := make(map[string]*nn.Tensor, len(sd)+len(b.Training.Optimizer))
		for k, t := range sd {
			if strings.HasPrefix(k, optimizerPrefix) {
				return fmt.Errorf("%w: model tensor %q collides with the optimizer's names", ErrBundle, k)
			}
			all[k] = t
		}
		for k, t := range b.Training.Optimizer {
			all[optimizerPrefix+k] = t
		}
		sd = all
	}
	md := map[string]string{metaKey: string(meta), sumKey: digest(meta, sd)}
	return writeAtomic(path, func(w io.Writer) error {
		return checkpoint.Write(w, sd, checkpoint.SaveOptions{Format: checkpoint.FormatSafetensors, Meta: md})
	})
}

// writeAtomic writes path through internal/atomicfile (temporary file,
// fsync, rename, directory fsync): a failed or interrupted write leaves the
// previous file intact.
func writeAtomic(path string, write func(io.Writer) error) error {
	if err := atomicfile.Write(path, write); err != nil {
		return fmt.Errorf("fusion: writing %s: %w", path, err)
	}
	return nil
}

// LoadOptions configures ReadBundle and Load.
type LoadOptions struct {
	// MaxBytes bounds the weights read; zero means checkpoint's default.
	MaxBytes int64
	// Backbone, when set, is used instead of building one from the
	// registry (a backbone family not registered with RegisterBackbone).
	Backbone nn.Backbone
}

// ReadBundle reads and verifies a bundle: format, version, checksum, and a
// strict match between the stored weights and the rebuilt model. A
// cancelled ctx stops the read with an error wrapping ctx.Err().
func ReadBundle(ctx context.Context, path string, o LoadOptions) (*Bundle, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("fusion: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("fusion: %w", err)
	}
	ck, err := checkpoint.Read(ctx, f, st.Size(), checkpoint.Options{MaxBytes: o.MaxBytes})
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("fusion: reading %s: %w", path, err)
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrBundle, path, err)
	}
	metaS, _ := ck.Meta[metaKey].(string)
	sum, _ := ck.Meta[sumKey].(string)
	if metaS == "" || sum == "" {
		return nil, fmt.Errorf("%w: %s has no %s description (not a fusion bundle)", ErrBundle, path, metaKey)
	}
	var meta bundleMeta
	dec := json.NewDecoder(bytes.NewReader([]byte(metaS)))
	if err := dec.Decode(&meta); err != nil {
		return nil, fmt.Errorf("%w: %s description: %v", ErrBundle, path, err)
	}
	if meta.Format != format {
		return nil, fmt.Errorf("%w: %s has format %q (want %q)", ErrBundle, path, meta.Format, format)
	}
	if meta.Version != BundleVersion {
		return nil, fmt.Errorf("%w: %s is version %d; this library reads version %d", ErrVersion, path, meta.Version, BundleVersion)
	}
	if got := digest([]byte(metaS), ck.Tensors); got != sum {
		return nil, fmt.Errorf("%w: %s checksum mismatch (stored %.12s…, computed %.12s…): the file was modified or corrupted", ErrBundle, path, sum, got)
	}
	var opt map[string]*nn.Tensor
	for k, t := range ck.Tensors {
		if name, ok := strings.CutPrefix(k, optimizerPrefix); ok {
			if opt == nil {
				opt = map[string]*nn.Tensor{}
			}
			opt[name] = t
			delete(ck.Tensors, k)
		}
	}
	if opt != nil {
		if meta.Training == nil {
			return nil, fmt.Errorf("%w: %s holds optimizer state but no training state", ErrBundle, path)
		}
		meta.Training.Optimizer = opt
	}
	bb := o.Backbone
	if bb == nil && meta.Config.Backbone != "" {
		fac, ok := backboneFactory(meta.Config.Backbone)
		if !ok {
			return nil, fmt.Errorf("%w: %s needs backbone %q, which is not registered (RegisterBackbone, or LoadOptions.Backbone)", ErrBundle, path, meta.Config.Backbone)
		}
		if bb, err = fac(meta.Config.BackboneConfig); err != nil {
			return nil, fmt.Errorf("fusion: building backbone %q: %w", meta.Config.Backbone, err)
		}
	}
	if err := checkHeadSize(meta.Config, ck.Tensors); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBundle, path, err)
	}
	if bb == nil {
		for k := range ck.Tensors {
			if strings.HasPrefix(k, "backbone.") {
				return nil, fmt.Errorf("%w: %s holds backbone weights but names no registered backbone (set ModelConfig.Backbone when training, or pass LoadOptions.Backbone)", ErrBundle, path)
			}
		}
	}
	m, err := NewModel(bb, meta.Config)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBundle, path, err)
	}
	if _, err := nn.LoadStateDict(m, ck.Tensors, nn.LoadOptions{Strict: true}); err != nil {
		return nil, fmt.Errorf("%w: %s weights do not fit the model: %v", ErrBundle, path, err)
	}
	if meta.Config.Fusion.usesClinical() && (meta.Encoder == nil || meta.Encoder.Dim() != meta.Config.ClinicalDim) {
		return nil, fmt.Errorf("%w: %s clinical encoder does not match the model", ErrBundle, path)
	}
	if meta.Encoder != nil {
		if err := meta.Encoder.Schema.Validate(); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrBundle, path, err)
		}
		if len(meta.Encoder.Stats) != len(meta.Encoder.Schema.Columns) {
			return nil, fmt.Errorf("%w: %s encoder has %d column statistics for %d columns", ErrBundle, path, len(meta.Encoder.Stats), len(meta.Encoder.Schema.Columns))
		}
	}
	k := m.Config.Scheme.NumClasses()
	if len(meta.Curves.Surv) != 0 && len(meta.Curves.Surv) != k {
		return nil, fmt.Errorf("%w: %s has %d class curves for %d classes", ErrBundle, path, len(meta.Curves.Surv), k)
	}
	for _, s := range meta.Curves.Surv {
		if len(s) != len(meta.Curves.Times) {
			return nil, fmt.Errorf("%w: %s survival curve length %d for %d times", ErrBundle, path, len(s), len(meta.Curves.Times))
		}
	}
	m.SetTraining(false)
	return &Bundle{Model: m, Encoder: meta.Encoder, Shape: meta.Shape, Channels: meta.Channels, TimeUnit: meta.TimeUnit,
		Curves: meta.Curves, Prep: meta.Prep, Training: meta.Training}, nil
}

// classCurves estimates the Kaplan–Meier curve of each survival class
// among the training patients whose class is known, on a grid of 64 times
// from 0 to the last observed time. A class without patients gets the
// whole cohort's curve.
func classCurves(y []survival.Outcome, l *survival.Labels) (Curves, error) {
	k := l.Scheme.NumClasses()
	tmax := 0.0
	for _, o := range y {
		tmax = math.Max(tmax, o.Time)
	}
	const grid = 64
	c := Curves{Times: make([]float64, grid), Surv: make([][]float64, k)}
	for i := range c.Times {
		c.Times[i] = tmax * float64(i) / float64(grid-1)
	}
	all, err := survival.KaplanMeier(y, survival.KMOptions{})
	if err != nil {
		return c, fmt.Errorf("fusion: survival curves: %w", err)
	}
	for cl := 0; cl < k; cl++ {
		var sub []survival.Outcome
		for i, o := range y {
			if l.Class[i] == cl {
				sub = append(sub, o)
			}
		}
		km := all
		if len(sub) > 0 {
			if km, err = survival.KaplanMeier(sub, survival.KMOptions{}); err != nil {
				km = all
			}
		}
		c.Surv[cl] = make([]float64, grid)
		for i, t := range c.Times {
			c.Surv[cl][i] = km.At(t)
		}
	}
	return c, nil
}

// checkHeadSize compares the number of fusion-layer parameters the
// configuration implies with the non-backbone tensors in the file, before
// anything is allocated: a hostile description cannot make NewModel
// allocate much more than the file holds.
func checkHeadSize(c ModelConfig, sd map[string]*nn.Tensor) error {
	c.defaults()
	want, err := headParams(c)
	if err != nil {
		return err
	}
	var have int64
	for k, t := range sd {
		if !strings.HasPrefix(k, "backbone.") {
			have += int64(len(t.Data))
		}
	}
	// A small mismatch is left to the strict load, which names the keys.
	if want > 2*have+4096 {
		return fmt.Errorf("the description implies %d fusion-layer parameters, the file holds %d", want, have)
	}
	return nil
}

package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/metasurv/metasurv/cnn"
	"github.com/metasurv/metasurv/nifti"
	"github.com/metasurv/metasurv/nn"
	"github.com/metasurv/metasurv/norm"
	"github.com/metasurv/metasurv/vit"
	"github.com/metasurv/metasurv/volume"
)

// Config is everything a worker needs to process a patient. It travels
// inside the DoFn (Beam serialises exported fields as JSON), so it holds
// paths and names only, never loaded data.
type Config struct {
	Out         string // output folder (shared by all workers on a cluster)
	Atlas       string // atlas NIfTI, or "phantom:SPACING" (synthetic head)
	AtlasMask   string // brain mask NIfTI on the atlas grid (nonzero = brain)
	Backbone    string // "cnn" or "vit"
	Model       string // cnn.Names() entry, or "base"/"tiny" for vit
	Weights     string // optional checkpoint; random (seeded) weights when empty
	Seed        uint64
	Grid        int      // model grid side (96 in the study)
	Require     []string // sequences whose absence sends the patient to dead-letter
	FailSuspect bool     // a registration flagged suspect is a failure
	Threads     int      // kernel threads per worker process (nn.SetThreads)
	Parallel    int      // patients processed at once per worker process
}

// Outcome is one finished patient: its embeddings and QC.
type Outcome struct {
	ID      string
	Present [4]bool
	Missing []string
	Suspect []string
	// Full is the embedding of the four-sequence stack; PerSeq[s] the
	// embedding of sequence s alone (nil when absent).
	Full    []float32
	PerSeq  [4][]float32
	Resumed bool // found done on disk: not recomputed
	Seconds float64
}

// Failure is a dead-letter record.
type Failure struct {
	ID     string
	Stage  string // manifest, load, qc, preprocess, embed, write
	Reason string
}

// patientDir is where a patient's outputs live.
func (c *Config) patientDir(id string) string { return filepath.Join(c.Out, "patients", id) }

// doneFile is written last: its presence means the patient is finished.
const doneFile = "embedding.json"

// resources are loaded once per worker process and shared by every DoFn
// instance and bundle in it.
type resources struct {
	atlas *volume.Volume
	mask  *volume.Mask
	model nn.Backbone
	sem   chan struct{}
}

var (
	resOnce sync.Once
	res     *resources
	resErr  error
	resKey  string
)

// Setup loads the atlas and the model once per process (sync.Once: Beam
// calls Setup once per DoFn instance, and a worker holds several).
func (c *Config) Setup() (*resources, error) {
	key := fmt.Sprintf("%+v", *c)
	resOnce.Do(func() {
		resKey = key
		nn.SetThreads(c.Threads)
		res, resErr = c.load()
	})
	if resErr == nil && key != resKey {
		return nil, fmt.Errorf("one worker process serves one configuration; got %s after %s", key, resKey)
	}
	return res, resErr
}

func (c *Config) load() (*resources, error) {
	r := &resources{}
	var err error
	r.atlas, r.mask, err = loadAtlas(c.Atlas, c.AtlasMask)
	if err != nil {
		return nil, err
	}
	if r.model, err = c.newModel(); err != nil {
		return nil, err
	}
	nn.SetTraining(r.model, false)
	r.sem = make(chan struct{}, max(1, c.Parallel))
	return r, nil
}

func loadAtlas(image, mask string) (*volume.Volume, *volume.Mask, error) {
	if sp, ok := strings.CutPrefix(image, "phantom:"); ok {
		return phantomAtlas(sp)
	}
	img, err := nifti.Load(image, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("atlas %s: %w", image, err)
	}
	if mask == "" {
		return img, nil, nil
	}
	mv, err := nifti.Load(mask, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("atlas mask %s: %w", mask, err)
	}
	if mv.Dims != img.Dims {
		return nil, nil, fmt.Errorf("atlas mask grid %v differs from the atlas grid %v", mv.Dims, img.Dims)
	}
	m, err := volume.NewMask(mv.Dims)
	if err != nil {
		return nil, nil, err
	}
	for i, v := range mv.Data {
		m.Data[i] = v != 0
	}
	return img, m, nil
}

// newModel builds the backbone; with Weights it loads them.
//
// The weights are read with context.Background(): the model is loaded once
// per process (sync.Once in Setup) and shared by every DoFn instance, so
// no single bundle's context may cancel it.
func (c *Config) newModel() (nn.Backbone, error) {
	ctx := context.Background()
	switch c.Backbone {
	case "", "cnn":
		name := c.Model
		if name == "" {
			name = "resnet10"
		}
		m, err := cnn.New(name, cnn.Config{InChannels: 4, Seed: c.Seed})
		if err != nil {
			return nil, err
		}
		if c.Weights != "" {
			if _, err := cnn.Load(ctx, m, c.Weights, cnn.LoadOptions{Stem: cnn.StemAverage, IgnoreHead: true}); err != nil {
				return nil, fmt.Errorf("weights %s: %w", c.Weights, err)
			}
		}
		return m, nil
	case "vit":
		cfg := vit.Config{InChannels: 4, ImgSize: vit.Cube(c.Grid), PatchSize: vit.Cube(16), Seed: c.Seed}
		switch c.Model {
		case "", "base":
		case "tiny":
			cfg.HiddenSize, cfg.MLPDim, cfg.NumLayers, cfg.NumHeads = 96, 192, 2, 4
			if c.Grid%16 != 0 {
				cfg.PatchSize = vit.Cube(8)
			}
		default:
			return nil, fmt.Errorf("vit model %q: want base or tiny", c.Model)
		}
		m, err := vit.New(cfg)
		if err != nil {
			return nil, err
		}
		if c.Weights != "" {
			if _, err := vit.Load(ctx, m, c.Weights, vit.LoadOptions{AllowUnexpected: true}); err != nil {
				return nil, fmt.Errorf("weights %s: %w", c.Weights, err)
			}
		}
		return m, nil
	}
	return nil, fmt.Errorf("backbone %q: want cnn or vit", c.Backbone)
}

// Process runs one patient end to end. It never returns both; a failure
// is data (dead-letter), an error of the machine (cancelled context) too,
// so that the job itself never fails on a patient.
func (c *Config) Process(ctx context.Context, r *resources, p Patient) (*Outcome, *Failure) {
	fail := func(stage, format string, a ...any) (*Outcome, *Failure) {
		return nil, &Failure{ID: p.ID, Stage: stage, Reason: fmt.Sprintf(format, a...)}
	}
	if p.Problem != "" {
		return fail("manifest", "%s", p.Problem)
	}
	dir := c.patientDir(p.ID)
	if o, err := readDone(dir); err == nil {
		o.Resumed = true
		return o, nil
	}
	r.sem <- struct{}{}
	defer func() { <-r.sem }()
	start := nowSeconds()

	var missing []string
	for s, f := range p.Files {
		if f == "" {
			missing = append(missing, sequenceNames[s])
		}
	}
	for _, need := range c.Require {
		for _, m := range missing {
			if strings.EqualFold(need, m) {
				return fail("qc", "required sequence %s has no file (missing: %s)", m, strings.Join(missing, ", "))
			}
		}
	}
	var v [4]*volume.Volume
	for s, f := range p.Files {
		if f == "" {
			continue
		}
		vol, err := nifti.Load(f, nil)
		if err != nil {
			return fail("load", "%s file %s is not a readable NIfTI image: %v", sequenceNames[s], filepath.Base(f), err)
		}
		v[s] = vol
	}
	grid := c.Grid
	if grid == 0 {
		grid = 96
	}
	st, rep, err := norm.Preprocess(ctx, norm.Sequences{T1: v[0], T1c: v[1], T2: v[2], FLAIR: v[3]}, r.atlas, norm.Options{
		AtlasMask: r.mask, Missing: norm.MissingZeroFill, Target: [3]int{grid, grid, grid},
	})
	if err != nil {
		return fail("preprocess", "preprocessing (registration to the atlas) failed: %v", err)
	}
	if c.FailSuspect && len(rep.Suspect) > 0 {
		return fail("qc", "registration flagged suspect: %s", strings.Join(rep.Suspect, "; "))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail("write", "%v", err)
	}
	if err := writeStack(filepath.Join(dir, "stack.npy"), st); err != nil {
		return fail("write", "stack: %v", err)
	}
	rb, _ := json.MarshalIndent(rep, "", " ")
	if err := writeAtomic(filepath.Join(dir, "report.json"), func(w io.Writer) error { _, err := w.Write(rb); return err }); err != nil {
		return fail("write", "report: %v", err)
	}
	o := &Outcome{ID: p.ID, Missing: rep.Missing, Suspect: rep.Suspect}
	copy(o.Present[:], st.Present)
	o.Full, o.PerSeq, err = embed(ctx, r.model, st)
	if err != nil {
		return fail("embed", "%v", err)
	}
	o.Seconds = nowSeconds() - start
	if err := writeDone(dir, o); err != nil {
		return fail("write", "embedding: %v", err)
	}
	return o, nil
}

// embed returns the four-sequence embedding and each present sequence's
// alone (the other channels zero), as the study's Figure 2.
func embed(ctx context.Context, m nn.Backbone, st *volume.Stack) ([]float32, [4][]float32, error) {
	var per [4][]float32
	sh := st.Shape()
	if sh[0] != 4 {
		return nil, per, fmt.Errorf("stack has %d channels, want 4", sh[0])
	}
	if enc, ok := m.(vit.Encoder); ok {
		x, err := nn.FromData(st.Data, sh[0], sh[1], sh[2], sh[3])
		if err != nil {
			return nil, per, err
		}
		lat, err := vit.Latents(ctx, enc, x, vit.LatentOptions{PerSequence: true})
		if err != nil {
			return nil, per, err
		}
		for s := range per {
			if st.Present[s] {
				per[s] = lat.Sequences[s]
			}
		}
		return lat.Full, per, finite(lat.Full)
	}
	one := func(data []float32) ([]float32, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		x, err := nn.FromData(data, 1, sh[0], sh[1], sh[2], sh[3])
		if err != nil {
			return nil, err
		}
		g := nn.NewGraph(nn.Options{})
		e := m.Embed(g, x)
		if err := g.Err(); err != nil {
			return nil, err
		}
		out := append([]float32(nil), e.Data...)
		return out, finite(out)
	}
	full, err := one(st.Data)
	if err != nil {
		return nil, per, err
	}
	n := sh[1] * sh[2] * sh[3]
	buf := make([]float32, len(st.Data))
	for s := range per {
		if !st.Present[s] {
			continue
		}
		clear(buf)
		copy(buf[s*n:(s+1)*n], st.Data[s*n:(s+1)*n])
		if per[s], err = one(buf); err != nil {
			return nil, per, fmt.Errorf("%s alone: %w", sequenceNames[s], err)
		}
	}
	return full, per, nil
}

func finite(v []float32) error {
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("embedding feature %d is %v (want finite)", i, x)
		}
	}
	return nil
}

// doneRecord is the JSON of embedding.json (float32 values round-trip
// exactly through Go's shortest formatting).
type doneRecord struct {
	ID      string       `json:"id"`
	Present [4]bool      `json:"present"`
	Missing []string     `json:"missing"`
	Suspect []string     `json:"suspect"`
	Full    []float32    `json:"embedding"`
	PerSeq  [4][]float32 `json:"per_sequence"`
	Seconds float64      `json:"seconds"`
}

func writeDone(dir string, o *Outcome) error {
	b, err := json.Marshal(doneRecord{o.ID, o.Present, o.Missing, o.Suspect, o.Full, o.PerSeq, o.Seconds})
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, doneFile), func(w io.Writer) error { _, err := w.Write(b); return err })
}

func readDone(dir string) (*Outcome, error) {
	b, err := os.ReadFile(filepath.Join(dir, doneFile))
	if err != nil {
		return nil, err
	}
	var d doneRecord
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, err
	}
	if len(d.Full) == 0 {
		return nil, errors.New("empty embedding")
	}
	return &Outcome{ID: d.ID, Present: d.Present, Missing: d.Missing, Suspect: d.Suspect, Full: d.Full, PerSeq: d.PerSeq, Seconds: d.Seconds}, nil
}

// writeAtomic writes path through a temporary file in its folder, fsyncs
// and renames it: readers see the old file or the whole new one.
func writeAtomic(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// writeNPY writes a little-endian float32 C-order .npy array.
func writeNPY(w io.Writer, shape []int, data []float32) error {
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = fmt.Sprint(d)
	}
	tup := strings.Join(dims, ", ")
	if len(shape) == 1 {
		tup += ","
	}
	h := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", tup)
	pad := 64 - (10+len(h)+1)%64
	h += strings.Repeat(" ", pad%64) + "\n"
	hdr := append([]byte("\x93NUMPY\x01\x00"), byte(len(h)), byte(len(h)>>8))
	if _, err := w.Write(append(hdr, h...)); err != nil {
		return err
	}
	buf := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
	}
	_, err := w.Write(buf)
	return err
}

func writeStack(path string, st *volume.Stack) error {
	sh := st.Shape()
	return writeAtomic(path, func(w io.Writer) error { return writeNPY(w, sh[:], st.Data) })
}

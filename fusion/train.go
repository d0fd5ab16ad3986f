package fusion

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/metasurv/metasurv/nn"
	"github.com/metasurv/metasurv/nn/optim"
	"github.com/metasurv/metasurv/survival"
)

// Monitor is the validation metric that early stopping and the best
// checkpoint follow.
type Monitor int

const (
	// MonitorCIndex follows Harrell's C-index of the ordinal risk (higher
	// is better).
	MonitorCIndex Monitor = iota
	// MonitorBalancedAccuracy follows the balanced accuracy of the
	// survival class over patients whose class is known.
	MonitorBalancedAccuracy
	// MonitorLoss follows the validation loss (lower is better).
	MonitorLoss
)

// EpochStats reports one epoch to TrainOptions.Progress and History.
type EpochStats struct {
	Epoch     int     `json:"epoch"`
	Steps     int     `json:"steps"`
	TrainLoss float64 `json:"train_loss"`
	LR        float64 `json:"lr"`
	// Val holds the validation metrics (zero without a validation set).
	Val Metrics `json:"val"`
	// Improved says this epoch is the best so far on the monitored metric.
	Improved bool    `json:"improved"`
	Seconds  float64 `json:"seconds"`
}

// History is the record of a training run.
type History struct {
	Epochs []EpochStats
	// BestEpoch is the epoch with the best validation metric (−1 without
	// a validation set); Best is that metric, negated for MonitorLoss so
	// that higher is always better.
	BestEpoch    int
	Best         float64
	StoppedEarly bool
	// Resumed is the epoch a run resumed after (−1 for a fresh run).
	Resumed int
}

// TrainOptions configures Train. The zero value trains 20 epochs with
// batches of 8 on 2 loader goroutines, AdamW (lr 1e-3, weight decay 1e-2)
// with a cosine schedule, balanced class weights, no augmentation, no early
// stopping and no checkpoints, with seed 0.
type TrainOptions struct {
	Epochs    int
	BatchSize int
	// Workers is the number of loader goroutines that assemble and
	// augment batches ahead of the optimiser; Prefetch is how many
	// batches they may run ahead (zero: 2·Workers).
	Workers, Prefetch int
	// LR is AdamW's peak learning rate, annealed by a cosine to MinLR
	// (zero: LR/100) over the run.
	LR, MinLR float64
	// WeightDecay is AdamW's decoupled decay; zero means 1e-2, negative
	// means none.
	WeightDecay float64
	// ClipNorm clips the global gradient norm when > 0.
	ClipNorm float64
	// Patience stops training after that many epochs without improvement
	// of Monitor on the validation set; zero never stops early.
	Patience int
	Monitor  Monitor
	// Augment configures the image augmentation of the loader.
	Augment Augment
	// UnweightedClasses turns off the balanced survival-class weights.
	UnweightedClasses bool
	// IPCW weights each known-class patient's survival cross-entropy by
	// its inverse probability of censoring (survival.Labels.IPCW), so the
	// patients whose class is known stand for the whole cohort, censored
	// ones included.
	IPCW bool
	// FrozenBackbone trains the fusion layers only: the backbone's
	// embeddings of every patient are computed once (without
	// augmentation) and reused, the study's foundation-model setting.
	// Otherwise the whole model is fine-tuned.
	FrozenBackbone bool
	// CheckpointDir, when set, receives last.safetensors after every
	// epoch and best.safetensors at every improvement, both written
	// atomically.
	CheckpointDir string
	// Resume continues from CheckpointDir/last.safetensors when it exists.
	// Weights, optimizer state (AdamW's moments and step counts), epoch,
	// schedule position, best metric and history are restored, so a
	// resumed run equals an uninterrupted one bit for bit. (Checkpoints
	// written before optimizer state was saved resume with fresh moments.)
	Resume bool
	// Seed drives shuffling, augmentation, modality dropout and dropout.
	Seed uint64
	// Progress, when set, is called after every epoch.
	Progress func(EpochStats)
	// Channels names the image channels stored in the bundle (default
	// T1, T1c, T2, FLAIR for 4 channels).
	Channels []string
	// Prep is stored in the bundle: how the training stacks were
	// prepared (norm.Options' SkipN4, Resize, Missing, and whether they were
	// brain-masked), so that a Predictor prepares raw scans the same way.
	Prep Preprocessing
}

func (o *TrainOptions) defaults() {
	if o.Epochs <= 0 {
		o.Epochs = 20
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 8
	}
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.Prefetch <= 0 {
		o.Prefetch = 2 * o.Workers
	}
	if o.LR <= 0 {
		o.LR = 1e-3
	}
	if o.MinLR <= 0 {
		o.MinLR = o.LR / 100
	}
	switch {
	case o.WeightDecay == 0:
		o.WeightDecay = 1e-2
	case o.WeightDecay < 0:
		o.WeightDecay = 0
	}
}

// trainer holds one run's state.
type trainer struct {
	m       *Model
	o       TrainOptions
	shape   [4]int
	train   []prepared
	val     []prepared
	valY    []survival.Outcome
	valLab  *survival.Labels
	weights []float32
	frozen  bool
}

// Train fits m on train, monitoring val (which may be nil), and returns a
// Bundle ready to Save together with the run's history. With a validation
// set the returned model holds the weights of the best epoch.
func Train(ctx context.Context, m *Model, enc *Encoder, train, val *Cohort, o TrainOptions) (*Bundle, *History, error) {
	o.defaults()
	if train == nil {
		return nil, nil, fmt.Errorf("%w: no training cohort", ErrShape)
	}
	if o.Monitor < MonitorCIndex || o.Monitor > MonitorLoss {
		return nil, nil, fmt.Errorf("%w: unknown monitor %d", ErrSchema, int(o.Monitor))
	}
	if o.Channels != nil && len(o.Channels) != train.Shape[0] {
		return nil, nil, fmt.Errorf("%w: %d channel names %v for %d image channels", ErrShape, len(o.Channels), o.Channels, train.Shape[0])
	}
	tr := &trainer{m: m, o: o, shape: train.Shape}
	var labels *survival.Labels
	var err error
	if tr.train, labels, err = prepare(m, enc, train); err != nil {
		return nil, nil, fmt.Errorf("fusion: training cohort: %w", err)
	}
	if val != nil {
		if val.Shape != train.Shape || val.TimeUnit != train.TimeUnit {
			return nil, nil, fmt.Errorf("%w: validation shape %v/%v differs from training %v/%v", ErrShape, val.Shape, val.TimeUnit, train.Shape, train.TimeUnit)
		}
		if tr.val, tr.valLab, err = prepare(m, enc, val); err != nil {
			return nil, nil, fmt.Errorf("fusion: validation cohort: %w", err)
		}
		tr.valY = val.Outcomes()
	}
	if !o.UnweightedClasses {
		tr.weights = balancedWeights(labels.Class, m.Config.Scheme.NumClasses())
	}
	curves, err := classCurves(train.Outcomes(), labels)
	if err != nil {
		return nil, nil, err
	}
	ch := o.Channels
	if ch == nil && train.Shape[0] == 4 {
		ch = []string{"T1", "T1c", "T2", "FLAIR"}
	}
	bundle := &Bundle{Model: m, Encoder: enc, Shape: train.Shape, Channels: ch, TimeUnit: train.TimeUnit, Curves: curves, Prep: o.Prep}

	if o.FrozenBackbone && m.Backbone != nil && m.Config.Fusion.usesImage() {
		nn.Freeze(m.Backbone)
		defer nn.Unfreeze(m.Backbone)
		tr.frozen = true
		for _, set := range [][]prepared{tr.train, tr.val} {
			if err := tr.cacheEmbeddings(ctx, set); err != nil {
				return nil, nil, err
			}
		}
	}
	h, err := tr.run(ctx, bundle)
	if err != nil {
		return nil, h, err
	}
	m.SetTraining(false)
	return bundle, h, nil
}

// cacheEmbeddings runs the backbone once over the samples (evaluation
// mode, no augmentation) and stores the embeddings in place of the images.
func (tr *trainer) cacheEmbeddings(ctx context.Context, set []prepared) error {
	m := tr.m
	m.SetTraining(false)
	bs := tr.o.BatchSize
	for lo := 0; lo < len(set); lo += bs {
		if err := ctx.Err(); err != nil {
			return err
		}
		var ps []*prepared
		for i := lo; i < min(lo+bs, len(set)); i++ {
			ps = append(ps, &set[i])
		}
		b, _ := batchOf(m, ps, tr.shape, nil, false)
		g := nn.NewGraph(nn.Options{})
		e := m.Backbone.Embed(g, b.Images)
		if err := g.Err(); err != nil {
			return fmt.Errorf("fusion: caching embeddings: %w", err)
		}
		d := m.Config.EmbedDim
		for k, p := range ps {
			if p.image != nil {
				p.embedding = append([]float32(nil), e.Data[k*d:(k+1)*d]...)
			}
			p.image = nil
		}
	}
	return nil
}

// batchOfPrepared builds a batch; in frozen mode it carries embeddings.
func (tr *trainer) batchOf(ps []*prepared, fill func(k int, dst []float32)) (Batch, Targets) {
	return batchOf(tr.m, ps, tr.shape, fill, tr.frozen || tr.m.Backbone == nil)
}

type loaded struct {
	b Batch
	t Targets
}

// epochBatches starts the loader goroutines for one epoch and returns the
// batches in order. Batch content depends only on (seed, epoch, sample),
// never on which goroutine built it.
func (tr *trainer) epochBatches(ctx context.Context, epoch int) (<-chan loaded, func()) {
	n := len(tr.train)
	order := nn.NewRNG(sampleSeed(tr.o.Seed, epoch, -1)).Perm(n)
	bs := tr.o.BatchSize
	nb := (n + bs - 1) / bs
	res := make([]chan loaded, nb)
	for i := range res {
		res[i] = make(chan loaded, 1)
	}
	jobs := make(chan int)
	done := make(chan struct{})
	sem := make(chan struct{}, tr.o.Prefetch)
	var wg sync.WaitGroup
	go func() {
		defer close(jobs)
		for j := 0; j < nb; j++ {
			select {
			case sem <- struct{}{}:
			case <-done:
				return
			}
			select {
			case jobs <- j:
			case <-done:
				return
			}
		}
	}()
	cfg := tr.m.Config
	vox := tr.shape[0] * tr.shape[1] * tr.shape[2] * tr.shape[3]
	// More loaders than batches would only idle (and an absurd Workers
	// would start that many goroutines).
	for w := 0; w < min(tr.o.Workers, nb); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				idx := order[j*bs : min((j+1)*bs, n)]
				ps := make([]*prepared, len(idx))
				rngs := make([]*nn.RNG, len(idx))
				for k, i := range idx {
					p := tr.train[i] // copy: modality dropout edits flags
					rngs[k] = nn.NewRNG(sampleSeed(tr.o.Seed, epoch, i))
					if cfg.ModalityDropout > 0 && p.hasImg && p.hasClin {
						di := rngs[k].Float64() < cfg.ModalityDropout
						dc := rngs[k].Float64() < cfg.ModalityDropout
						switch {
						case di:
							p.hasImg = false
						case dc:
							p.hasClin = false
						}
					}
					ps[k] = &p
				}
				fill := func(k int, dst []float32) {
					tr.o.Augment.apply(dst, ps[k].image[:vox], tr.shape, ps[k].present, cfg.SequenceDropout, rngs[k])
				}
				b, t := tr.batchOf(ps, fill)
				select {
				case res[j] <- loaded{b, t}:
				case <-done:
					return
				}
			}
		}()
	}
	out := make(chan loaded)
	go func() {
		defer close(out)
		for j := 0; j < nb; j++ {
			select {
			case l := <-res[j]:
				<-sem
				select {
				case out <- l:
				case <-done:
					return
				}
			case <-done:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() { close(done) })
		wg.Wait()
	}
	return out, stop
}

func (tr *trainer) run(ctx context.Context, bundle *Bundle) (*History, error) {
	m, o := tr.m, tr.o
	h := &History{Resumed: -1, Best: math.NaN(), BestEpoch: -1}
	state := &TrainState{Seed: o.Seed, BestEpoch: -1, BestMetric: math.NaN(), Epoch: -1}
	var best map[string]*nn.Tensor
	if o.Resume && o.CheckpointDir != "" {
		if err := tr.resume(ctx, state, &best); err != nil {
			return nil, err
		}
		h.Resumed = state.Epoch
		h.Epochs = append(h.Epochs, state.History...)
		h.Best, h.BestEpoch = state.BestMetric, state.BestEpoch
	}
	params := nn.Parameters(m)
	opt, err := optim.NewAdamW(params, optim.AdamOptions{LR: o.LR, WeightDecay: o.WeightDecay})
	if err != nil {
		return nil, fmt.Errorf("fusion: optimizer: %w", err)
	}
	if state.Optimizer != nil {
		if err := opt.SetState(state.Optimizer); err != nil {
			return nil, fmt.Errorf("fusion: resuming the optimizer: %w", err)
		}
	}
	nb := (len(tr.train) + o.BatchSize - 1) / o.BatchSize
	sched := optim.Cosine{Base: o.LR, Min: o.MinLR, Steps: o.Epochs * nb}
	step := state.Step
	for epoch := state.Epoch + 1; epoch < o.Epochs; epoch++ {
		t0 := time.Now()
		m.SetTraining(true)
		if tr.frozen {
			nn.SetTraining(m.Backbone, false)
		}
		batches, stop := tr.epochBatches(ctx, epoch)
		var sum float64
		var cnt int
		bi := 0
		for l := range batches {
			if err := ctx.Err(); err != nil {
				stop()
				return h, err
			}
			g := nn.NewGraph(nn.Options{Grad: true, RNG: nn.NewRNG(sampleSeed(o.Seed, epoch, -2-bi))})
			bi++
			outs, err := m.ForwardBatch(g, l.b)
			if err != nil {
				stop()
				return h, fmt.Errorf("fusion: step %d (epoch %d, batch %d): %w", step, epoch, bi-1, err)
			}
			loss, err := m.Loss(g, outs, l.t, tr.lossOptions(l.t))
			if err != nil {
				stop()
				return h, fmt.Errorf("fusion: step %d (epoch %d, batch %d): %w", step, epoch, bi-1, err)
			}
			if loss == nil {
				continue // no label in this batch
			}
			v := loss.Item()
			if !finite(v) {
				stop()
				return h, fmt.Errorf("%w: loss %v at step %d (epoch %d, batch %d)", ErrNonFinite, v, step, epoch, bi-1)
			}
			if err := g.Backward(loss); err != nil {
				stop()
				return h, fmt.Errorf("fusion: backward at step %d: %w", step, err)
			}
			if o.ClipNorm > 0 {
				optim.ClipGradNorm(params, o.ClipNorm)
			}
			optim.Apply(opt, sched, step)
			if err := opt.Step(); err != nil {
				stop()
				return h, fmt.Errorf("fusion: optimizer at step %d: %w", step, err)
			}
			opt.ZeroGrad()
			step++
			sum += float64(v)
			cnt++
		}
		stop()
		if err := ctx.Err(); err != nil {
			return h, err
		}
		es := EpochStats{Epoch: epoch, Steps: step, TrainLoss: sum / math.Max(float64(cnt), 1), LR: opt.LR()}
		if tr.val != nil {
			probs, risk, vloss, err := tr.predict(tr.val, true)
			if err != nil {
				return h, fmt.Errorf("fusion: validation after epoch %d: %w", epoch, err)
			}
			es.Val = computeMetrics(probs, risk, tr.valY, tr.valLab)
			es.Val.Loss = vloss
			score := monitored(o.Monitor, es.Val)
			if !math.IsNaN(score) && (math.IsNaN(h.Best) || score > h.Best) {
				h.Best, h.BestEpoch, es.Improved = score, epoch, true
				best = snapshot(m)
				state.BadEpochs = 0
			} else {
				state.BadEpochs++
			}
		}
		es.Seconds = time.Since(t0).Seconds()
		h.Epochs = append(h.Epochs, es)
		state.Epoch, state.Step, state.History = epoch, step, h.Epochs
		state.BestEpoch, state.BestMetric = h.BestEpoch, h.Best
		if o.CheckpointDir != "" {
			if state.Optimizer, err = opt.State(); err != nil {
				return h, fmt.Errorf("fusion: checkpoint after epoch %d: %w", epoch, err)
			}
			if err := tr.checkpoint(bundle, state, es.Improved); err != nil {
				return h, err
			}
		}
		if o.Progress != nil {
			o.Progress(es)
		}
		if o.Patience > 0 && tr.val != nil && state.BadEpochs >= o.Patience {
			h.StoppedEarly = true
			break
		}
	}
	if best != nil {
		if _, err := nn.LoadStateDict(m, best, nn.LoadOptions{Strict: true}); err != nil {
			return h, fmt.Errorf("fusion: restoring the best weights: %w", err)
		}
	}
	return h, nil
}

func (tr *trainer) lossOptions(t Targets) LossOptions {
	o := LossOptions{ClassWeights: tr.weights}
	if tr.o.IPCW {
		o.SampleWeights = t.ipcw
	}
	return o
}

// monitored returns the metric to maximise.
func monitored(mo Monitor, v Metrics) float64 {
	switch mo {
	case MonitorBalancedAccuracy:
		return v.BalancedAccuracy
	case MonitorLoss:
		return -v.Loss
	}
	return v.CIndex
}

func snapshot(m *Model) map[string]*nn.Tensor {
	sd := nn.StateDict(m)
	c := make(map[string]*nn.Tensor, len(sd))
	for k, t := range sd {
		c[k] = t.Clone()
	}
	return c
}

func (tr *trainer) checkpoint(b *Bundle, s *TrainState, improved bool) error {
	if err := os.MkdirAll(tr.o.CheckpointDir, 0o755); err != nil {
		return fmt.Errorf("fusion: checkpoint directory: %w", err)
	}
	c := *b
	st := *s
	c.Training = &st
	if err := c.Save(filepath.Join(tr.o.CheckpointDir, "last.safetensors")); err != nil {
		return err
	}
	if improved {
		return c.Save(filepath.Join(tr.o.CheckpointDir, "best.safetensors"))
	}
	return nil
}

// resume loads last.safetensors (and best.safetensors) when present.
func (tr *trainer) resume(ctx context.Context, s *TrainState, best *map[string]*nn.Tensor) error {
	last := filepath.Join(tr.o.CheckpointDir, "last.safetensors")
	if _, err := os.Stat(last); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	load := func(path string) (*Bundle, error) {
		b, err := ReadBundle(ctx, path, LoadOptions{Backbone: tr.m.Backbone})
		if err != nil {
			return nil, fmt.Errorf("fusion: resuming from %s: %w", path, err)
		}
		if b.Training == nil {
			return nil, fmt.Errorf("%w: %s holds no training state", ErrBundle, path)
		}
		return b, nil
	}
	b, err := load(last)
	if err != nil {
		return err
	}
	if _, err := nn.LoadStateDict(tr.m, nn.StateDict(b.Model), nn.LoadOptions{Strict: true}); err != nil {
		return fmt.Errorf("fusion: resuming: checkpoint does not fit the model: %w", err)
	}
	*s = *b.Training
	bp := filepath.Join(tr.o.CheckpointDir, "best.safetensors")
	if _, err := os.Stat(bp); err == nil && s.BestEpoch >= 0 {
		bb, err := load(bp)
		if err != nil {
			return err
		}
		*best = snapshot(bb.Model)
	}
	return nil
}

// predict runs the model in evaluation mode over prepared samples and
// returns survival class probabilities, the risk the model ranks patients
// by (Model.rank) and the mean loss when asked.
func (tr *trainer) predict(set []prepared, withLoss bool) ([][]float64, []float64, float64, error) {
	m := tr.m
	m.SetTraining(false)
	var probs [][]float64
	var risk []float64
	var lsum float64
	var lcnt int
	for lo := 0; lo < len(set); lo += tr.o.BatchSize {
		var ps []*prepared
		for i := lo; i < min(lo+tr.o.BatchSize, len(set)); i++ {
			ps = append(ps, &set[i])
		}
		b, t := tr.batchOf(ps, nil)
		g := nn.NewGraph(nn.Options{})
		outs, err := m.ForwardBatch(g, b)
		if err != nil {
			return nil, nil, 0, err
		}
		p := m.SurvivalProbs(outs[0])
		probs = append(probs, p...)
		risk = append(risk, m.rank(outs, p)...)
		if withLoss {
			l, err := m.Loss(g, outs, t, tr.lossOptions(t))
			if err != nil {
				return nil, nil, 0, err
			}
			if l != nil {
				lsum += float64(l.Item()) * float64(len(ps))
				lcnt += len(ps)
			}
		}
	}
	return probs, risk, lsum / math.Max(float64(lcnt), 1), nil
}

// Metrics are the study's evaluation numbers for the survival class.
type Metrics struct {
	// CIndex is Harrell's concordance of the model's ranking risk
	// (Model.Rank: the Cox head's when it has one, else
	// survival.OrdinalRisk of the class probabilities) with the outcomes
	// (all patients, censored ones included).
	CIndex float64 `json:"c_index"`
	// BalancedAccuracy, MacroF1 and AUC (one-vs-rest macro) are over the
	// patients whose class is known; NaN when undefined.
	BalancedAccuracy float64 `json:"balanced_accuracy"`
	MacroF1          float64 `json:"macro_f1"`
	AUC              float64 `json:"auc"`
	Loss             float64 `json:"loss"`
	N                int     `json:"n"`
	Known            int     `json:"known"`
}

func computeMetrics(probs [][]float64, risk []float64, y []survival.Outcome, l *survival.Labels) Metrics {
	mt := Metrics{N: len(y), CIndex: math.NaN(), BalancedAccuracy: math.NaN(), MacroF1: math.NaN(), AUC: math.NaN()}
	if c, err := survival.Concordance(y, risk, survival.ConcordanceOptions{}); err == nil {
		mt.CIndex = c.C
	}
	var yt []int
	var pk [][]float64
	for i, c := range l.Class {
		if c >= 0 {
			yt = append(yt, c)
			pk = append(pk, probs[i])
		}
	}
	mt.Known = len(yt)
	if len(yt) == 0 {
		return mt
	}
	k := l.Scheme.NumClasses()
	if r, err := survival.Classify(yt, survival.Argmax(pk), k); err == nil {
		mt.BalancedAccuracy, mt.MacroF1 = r.BalancedAccuracy, r.F1Macro
	}
	if a, err := survival.MulticlassAUC(yt, pk); err == nil {
		mt.AUC = a.OvRMacro
	}
	return mt
}

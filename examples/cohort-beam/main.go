// Command cohort-beam preprocesses and embeds a whole cohort as an Apache
// Beam pipeline: the same binary runs on one machine (the embedded prism
// runner, the default) and on Flink, Spark or Dataflow through Beam's
// portable runner. See README.md.
//
//	cohort-beam -data /data/cohort -clinical /data/cohort/clinical.csv \
//	    -atlas atlas.nii.gz -atlas-mask atlas_mask.nii.gz -out /data/out
//
// Per patient (a splittable DoFn over the manifest): NIfTI load,
// norm.Preprocess, QC, the 4×G³ stack and report written atomically,
// embeddings (four-sequence and per sequence) with a cnn or vit backbone.
// Failing patients go to the dead-letter output with their reason; a
// re-run skips the patients already done. With -sequential the same work
// runs as a plain loop without Beam (the reference the tests compare with).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners"

	// Runners: prism (local), universal (portable: Flink/Spark job servers).
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec/optimized"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/flink"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/spark"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/universal"
)

var (
	data        = flag.String("data", "", "cohort folder: one sub-folder of NIfTI files per patient")
	manifest    = flag.String("manifest", "", "CSV with columns id,t1,t1c,t2,flair (paths; empty = absent) instead of -data")
	clinical    = flag.String("clinical", "", "clinical CSV (id column); patients without a row go to dead-letter (default DATA/clinical.csv if present)")
	out         = flag.String("out", "", "output folder (required; on a cluster a path every worker can write)")
	atlas       = flag.String("atlas", "", "atlas NIfTI, or phantom:SPACING for the synthetic cohort's atlas")
	atlasMask   = flag.String("atlas-mask", "", "brain mask NIfTI on the atlas grid")
	backbone    = flag.String("backbone", "cnn", "cnn or vit")
	model       = flag.String("model", "", "cnn: a cnn.Names() entry (default resnet10); vit: base or tiny")
	weights     = flag.String("weights", "", "checkpoint for the backbone (default: seeded random weights)")
	seed        = flag.Uint64("seed", 1, "initialisation seed when no -weights")
	grid        = flag.Int("grid", 96, "model grid side (96 in the study)")
	require     = flag.String("require", "", "comma-separated sequences (T1,T1c,T2,FLAIR) whose absence sends the patient to dead-letter; others are zero-filled")
	failSuspect = flag.Bool("fail-suspect", false, "send patients with a registration flagged suspect to dead-letter")
	threads     = flag.Int("threads", 0, "kernel threads per worker process (0: GOMAXPROCS)")
	parallel    = flag.Int("parallel", 1, "patients processed at once per worker process")
	sequential  = flag.Bool("sequential", false, "run a plain loop without Beam (reference)")
)

func main() {
	flag.Parse()
	beam.Init() // returns only in the launcher; a worker process runs the harness and exits
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "cohort-beam:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	if *out == "" || *atlas == "" {
		return fmt.Errorf("-out and -atlas are required (see -h)")
	}
	clin := *clinical
	if clin == "" && *data != "" {
		if _, err := os.Stat(*data + "/clinical.csv"); err == nil {
			clin = *data + "/clinical.csv"
		}
	}
	m, classes, err := listCohort(*data, *manifest, clin)
	if err != nil {
		return err
	}
	c := Config{Out: *out, Atlas: *atlas, AtlasMask: *atlasMask, Backbone: *backbone, Model: *model,
		Weights: *weights, Seed: *seed, Grid: *grid, FailSuspect: *failSuspect, Threads: *threads, Parallel: *parallel}
	for _, r := range strings.Split(*require, ",") {
		if r = strings.TrimSpace(r); r != "" {
			c.Require = append(c.Require, r)
		}
	}
	if *sequential {
		s, err := runSequential(ctx, c, m, classes)
		if err != nil {
			return err
		}
		fmt.Println(s)
		return nil
	}
	if *runners.Runner == "" {
		*runners.Runner = "prism"
	}
	p := buildPipeline(c, m, classes)
	if _, err := beam.Run(ctx, *runners.Runner, p); err != nil {
		return err
	}
	fmt.Printf("done: see %s/qc_summary.json and %s/deadletter.jsonl\n", c.Out, c.Out)
	return nil
}

// runSequential is the plain loop: the same Config.Process per patient,
// one after another, then the same aggregation.
func runSequential(ctx context.Context, c Config, m *Manifest, classes map[string]int) (*Summary, error) {
	r, err := c.Setup()
	if err != nil {
		return nil, err
	}
	var oks []Outcome
	var fails []Failure
	for _, p := range m.Patients {
		o, f := c.Process(ctx, r, p)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if f != nil {
			fails = append(fails, *f)
			continue
		}
		oks = append(oks, *o)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return aggregate(ctx, c.Out, classes, oks, fails)
}

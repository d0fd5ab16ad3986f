// Command peerbench times metasurv's kernels against PyTorch on this
// machine, alternating the two round by round so that both see the same
// machine state. A shared VM's speed drifts by ±30 % within seconds, so
// separate runs (or a benchmark mean against the peer's best) compare
// different moments; the per-round ratio of paired measurements is robust
// to that drift.
//
// Each round runs the peer's best of -calls back-to-back calls (as
// ../shared/bench/peers_torch.py times), pauses, then ours the same way,
// and reports per workload the median and quartiles of the ratio
// peer time / our time (> 1: we are faster) and both GFLOP/s.
//
// It needs /usr/bin/python3 with torch (Debian's python3-torch) and is a
// developer tool: tests never run it.
//
//	go run ./internal/peerbench -rounds 30
//	go run ./internal/peerbench -only sgemm2048,stem
package main

import (
	"bufio"
	_ "embed"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

//go:embed peer.py
var peerScript string

func main() {
	rounds := flag.Int("rounds", 20, "paired rounds per workload")
	calls := flag.Int("calls", 5, "back-to-back calls per side and round (the best counts)")
	only := flag.String("only", "", "comma-separated workloads (default all): "+strings.Join(names(), ","))
	python := flag.String("python", "/usr/bin/python3", "Python with torch")
	coretype := flag.String("openblas-coretype", "SapphireRapids", "OPENBLAS_CORETYPE for the peer (empty: OpenBLAS's own detection, which falls back to a generic kernel on CPUs it does not know)")
	pause := flag.Duration("pause", 300*time.Millisecond, "pause between the two sides, longer than the peer's thread spin-wait")
	flag.Parse()

	peer, err := startPeer(*python, *coretype)
	if err != nil {
		log.Fatal(err)
	}
	defer peer.close()
	for _, w := range workloads {
		if *only != "" && !slices.Contains(strings.Split(*only, ","), w.name) {
			continue
		}
		run, err := w.setup()
		if err != nil {
			log.Fatalf("%s: %v", w.name, err)
		}
		best := func() float64 {
			b := 1e9
			for range *calls {
				t0 := time.Now()
				run()
				b = min(b, time.Since(t0).Seconds())
			}
			return b
		}
		best() // warm-up: plans, packing, page faults
		if _, err := peer.best(w.name, 3); err != nil {
			log.Fatal(err)
		}
		var ratio, ours, theirs []float64
		for range *rounds {
			tp, err := peer.best(w.name, *calls)
			if err != nil {
				log.Fatal(err)
			}
			time.Sleep(*pause)
			tg := best()
			time.Sleep(*pause)
			ratio = append(ratio, tp/tg)
			ours = append(ours, w.flops/tg/1e9)
			theirs = append(theirs, w.flops/tp/1e9)
		}
		report(w.name, ratio, ours, theirs)
	}
}

// report prints the quartiles of the paired ratios and of both speeds.
func report(name string, ratio, ours, theirs []float64) {
	q := func(x []float64) (lo, med, hi, top float64) {
		s := slices.Clone(x)
		slices.Sort(s)
		n := len(s)
		return s[n/4], s[n/2], s[(3*n)/4], s[n-1]
	}
	rl, rm, rh, _ := q(ratio)
	_, om, _, ot := q(ours)
	_, tm, _, tt := q(theirs)
	fmt.Printf("%-10s ratio median %.2f [IQR %.2f–%.2f]  ours median %.0f best %.0f GFLOP/s  PyTorch median %.0f best %.0f (%d rounds)\n",
		name, rm, rl, rh, om, ot, tm, tt, len(ratio))
}

// peerProc is the Python side: one line per request, one line per answer.
type peerProc struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func startPeer(python, coretype string) (*peerProc, error) {
	f, err := os.CreateTemp("", "peerbench-*.py")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name()) // Python has read it once it answers the first request
	if _, err := f.WriteString(peerScript); err != nil {
		return nil, err
	}
	f.Close()
	cmd := exec.Command(python, f.Name())
	cmd.Env = os.Environ()
	if coretype != "" {
		cmd.Env = append(cmd.Env, "OPENBLAS_CORETYPE="+coretype)
	}
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the peer: %w", err)
	}
	p := &peerProc{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	if _, err := p.best("sgemm256", 1); err != nil { // the script is loaded
		return nil, err
	}
	return p, nil
}

// best asks for the best of calls back-to-back calls of a workload.
func (p *peerProc) best(name string, calls int) (float64, error) {
	if _, err := fmt.Fprintln(p.in, name, calls); err != nil {
		return 0, fmt.Errorf("peer: %w", err)
	}
	if !p.out.Scan() {
		return 0, fmt.Errorf("peer exited (%v)", p.out.Err())
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(p.out.Text()), 64)
	if err != nil {
		return 0, fmt.Errorf("peer answered %q: %w", p.out.Text(), err)
	}
	return v, nil
}

func (p *peerProc) close() {
	p.in.Close()
	p.cmd.Wait()
}

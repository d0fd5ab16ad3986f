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
	"math"
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
	if *rounds < 1 || *calls < 1 {
		log.Fatalf("-rounds and -calls must be at least 1, got %d and %d", *rounds, *calls)
	}
	selected, err := selectWorkloads(*only)
	if err != nil {
		log.Fatal(err)
	}
	peer, err := startPeer(*python, *coretype)
	if err != nil {
		log.Fatal(err)
	}
	if err := compare(peer, selected, *rounds, *calls, *pause); err != nil {
		peer.close()
		log.Fatal(err)
	}
	peer.close()
}

// selectWorkloads returns the workloads named in the comma-separated list
// (all when it is empty).
func selectWorkloads(only string) ([]workload, error) {
	if only == "" {
		return workloads, nil
	}
	var sel []workload
	for _, name := range strings.Split(only, ",") {
		i := slices.IndexFunc(workloads, func(w workload) bool { return w.name == name })
		if i < 0 {
			return nil, fmt.Errorf("unknown workload %q (known: %s)", name, strings.Join(names(), ","))
		}
		sel = append(sel, workloads[i])
	}
	return sel, nil
}

// compare runs the paired rounds of each workload and prints a report
// line per workload. The side that goes first alternates between rounds,
// so that neither always runs right after a pause.
func compare(peer *peerProc, sel []workload, rounds, calls int, pause time.Duration) error {
	for _, w := range sel {
		run, err := w.setup()
		if err != nil {
			return fmt.Errorf("%s: %w", w.name, err)
		}
		best := func() float64 {
			b := math.Inf(1)
			for range calls {
				t0 := time.Now()
				run()
				b = min(b, time.Since(t0).Seconds())
			}
			return b
		}
		best() // warm-up: plans, packing, page faults
		if _, err := peer.best(w.name, 3); err != nil {
			return err
		}
		var ratio, ours, theirs []float64
		for r := range rounds {
			var tp, tg float64
			if r%2 == 0 {
				if tp, err = peer.best(w.name, calls); err != nil {
					return err
				}
				time.Sleep(pause)
				tg = best()
			} else {
				tg = best()
				time.Sleep(pause)
				if tp, err = peer.best(w.name, calls); err != nil {
					return err
				}
			}
			time.Sleep(pause)
			ratio = append(ratio, tp/tg)
			ours = append(ours, w.flops/tg/1e9)
			theirs = append(theirs, w.flops/tp/1e9)
		}
		report(w.name, ratio, ours, theirs)
	}
	return nil
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

// startPeer starts the Python side with the embedded script and waits
// until it answers a first request.
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
		p.close()
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
		err := p.out.Err()
		if err == nil {
			err = p.cmd.Wait() // its exit status; the traceback went to stderr
		}
		return 0, fmt.Errorf("peer stopped answering %s: %v", name, err)
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(p.out.Text()), 64)
	if err != nil {
		return 0, fmt.Errorf("peer answered %q: %w", p.out.Text(), err)
	}
	if !(v > 0) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("peer answered %v seconds for %s", v, name)
	}
	return v, nil
}

// close ends the Python side: end of input stops its loop; a peer that
// does not stop is killed.
func (p *peerProc) close() {
	p.in.Close()
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
}

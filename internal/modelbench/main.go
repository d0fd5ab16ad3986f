// Command modelbench times the model zoo's forward pass (batch 1, 4×96³,
// evaluation mode, random weights) against ONNX Runtime on the networks
// ../shared/bench/peers_torch.py --onnx DIR exports, the way issue 17's
// goals are stated: same-run ratios of wall time and peak RSS.
//
// Every measurement is a fresh process (load, one warm-up pass, then the
// best of -passes), so that its peak resident set is that of one model
// alone, runtime included, as /usr/bin/time reports it. A round runs every
// side once: ONNX Runtime, float32, Options.BF16 and, for the ViTs,
// Options.BF16 after nn.ConvertBF16 (resident bfloat16 weights); the order
// rotates from round to round so that no side always follows the same
// one. A shared VM's speed drifts by a third within minutes, so the report
// gives the best-to-best ratio, the median of the per-round ratios and
// their range.
//
// It needs node with onnxruntime-node (npm install --ignore-scripts
// onnxruntime-node@1.30.0; pass its node_modules with -node-path) and is a
// developer tool: tests never run it.
//
//	go run ./internal/modelbench -onnx DIR -node-path $PWD/node_modules -rounds 8
//	go run ./internal/modelbench -onnx DIR -models vitb16 -rounds 8
package main

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

//go:embed ort.js
var ortScript string

func main() {
	onnx := flag.String("onnx", "", "directory of the ONNX files written by peers_torch.py --onnx (empty: no ONNX Runtime side)")
	nodePath := flag.String("node-path", "", "NODE_PATH holding onnxruntime-node")
	models := flag.String("models", "resnet18,densenet121,vitb16,lamim", "comma-separated models: "+strings.Join(modelNames(), ","))
	rounds := flag.Int("rounds", 4, "rounds; each runs every side once in a fresh process")
	passes := flag.Int("passes", 5, "timed passes per process after one warm-up (the best counts)")
	threads := flag.Int("threads", 2, "threads on both sides")
	child := flag.String("child", "", "internal: run one side (model/variant) and print its times")
	flag.Parse()
	if *child != "" {
		if err := runChild(*child, *passes, *threads); err != nil {
			log.Fatal(err)
		}
		return
	}
	if *rounds < 1 || *passes < 1 || *threads < 1 {
		log.Fatalf("-rounds, -passes and -threads must be at least 1")
	}
	err := compare(strings.Split(*models, ","), *onnx, *nodePath, *rounds, *passes, *threads)
	if scriptPath != "" {
		os.Remove(scriptPath)
	}
	if err != nil {
		log.Fatal(err)
	}
}

// compare measures and reports each model in turn.
func compare(names []string, onnx, nodePath string, rounds, passes, threads int) error {
	for _, name := range names {
		m, ok := zoo[name]
		if !ok {
			return fmt.Errorf("unknown model %q (known: %s)", name, strings.Join(modelNames(), ","))
		}
		sides := m.variants()
		if onnx != "" {
			sides = append([]string{"ort"}, sides...)
		}
		res, err := measure(name, m, sides, onnx, nodePath, rounds, passes, threads)
		if err != nil {
			return err
		}
		report(os.Stdout, name, sides, res)
	}
	return nil
}

// result is one process's measurement.
type result struct {
	Wall, CPU float64 // best pass's wall seconds; CPU seconds per pass
	RSS       int64   // the process's peak resident set, bytes
}

// measure runs the rounds of one model; res[side][round].
func measure(name string, m model, sides []string, onnx, nodePath string, rounds, passes, threads int) (map[string][]result, error) {
	res := map[string][]result{}
	for r := range rounds {
		for _, side := range rotate(sides, r) {
			var cmd *exec.Cmd
			if side == "ort" {
				script, err := writeScript()
				if err != nil {
					return nil, err
				}
				cmd = exec.Command("node", script, filepath.Join(onnx, m.onnx+".onnx"), strconv.Itoa(passes), strconv.Itoa(threads))
				cmd.Env = append(os.Environ(), "NODE_PATH="+nodePath)
			} else {
				exe, err := os.Executable()
				if err != nil {
					return nil, err
				}
				cmd = exec.Command(exe, "-child", name+"/"+side, "-passes", strconv.Itoa(passes), "-threads", strconv.Itoa(threads))
			}
			x, err := run(cmd)
			if err != nil {
				return nil, fmt.Errorf("%s %s round %d: %w", name, side, r+1, err)
			}
			fmt.Fprintf(os.Stderr, "%s round %d %-13s %.3f s wall, %.3f CPU-s, %4.0f MB\n", name, r+1, side, x.Wall, x.CPU, float64(x.RSS)/1e6)
			res[side] = append(res[side], x)
			time.Sleep(time.Second)
		}
	}
	return res, nil
}

// rotate returns sides rotated left by r: round r starts with side r mod
// len(sides), so that no side always runs first or after the same one.
func rotate(sides []string, r int) []string {
	k := r % len(sides)
	return append(slices.Clone(sides[k:]), sides[:k]...)
}

// run starts one side and reads its JSON line and its peak RSS.
func run(cmd *exec.Cmd) (result, error) {
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return result{}, fmt.Errorf("%w: %s", err, strings.TrimSpace(errb.String()))
	}
	var x result
	if err := json.Unmarshal(out.Bytes(), &x); err != nil {
		return result{}, fmt.Errorf("reading %q: %w", out.String(), err)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return result{}, fmt.Errorf("no resource usage on this system")
	}
	x.RSS = int64(ru.Maxrss) * 1024 // kilobytes on Linux
	return x, nil
}

var scriptPath string

// writeScript writes the ONNX Runtime side's script once per run.
func writeScript() (string, error) {
	if scriptPath != "" {
		return scriptPath, nil
	}
	f, err := os.CreateTemp("", "modelbench-*.js")
	if err != nil {
		return "", err
	}
	if _, err := f.WriteString(ortScript); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	scriptPath = f.Name()
	return scriptPath, nil
}

// report writes, per side, wall and memory ranges and, against ONNX
// Runtime, the ratios of pair.
func report(w io.Writer, name string, sides []string, res map[string][]result) {
	fmt.Fprintf(w, "%s (%d rounds)\n", name, len(res[sides[0]]))
	wall := func(x result) float64 { return x.Wall }
	mb := func(x result) float64 { return float64(x.RSS) / 1e6 }
	cpu := func(x result) float64 { return x.CPU }
	for _, side := range sides {
		rs := res[side]
		fmt.Fprintf(w, "  %-13s %.3f–%.3f s wall, %.2f–%.2f CPU-s, %.0f–%.0f MB", side,
			lo(rs, wall), hi(rs, wall), lo(rs, cpu), hi(rs, cpu), lo(rs, mb), hi(rs, mb))
		if ort, ok := res["ort"]; ok && side != "ort" {
			r := pair(rs, ort)
			fmt.Fprintf(w, "; vs ONNX Runtime best to best %.3f×, median %.3f× (rounds %.2f–%.2f×), memory %.2f–%.2f×",
				r.best, r.median, r.lo, r.hi, r.memLo, r.memHi)
		}
		fmt.Fprintln(w)
	}
}

// ratios are one side's times and peak RSS over ONNX Runtime's.
type ratios struct {
	best         float64 // best wall time over the peer's best
	median       float64 // median of the per-round wall-time ratios
	lo, hi       float64 // their range
	memLo, memHi float64 // range of the per-round peak-RSS ratios
}

// pair pairs the rounds of one side with the peer's (round i with round
// i: the same minutes of the machine).
func pair(rs, peer []result) ratios {
	wall := func(x result) float64 { return x.Wall }
	var per, mem []float64
	for i := range rs {
		per = append(per, rs[i].Wall/peer[i].Wall)
		mem = append(mem, float64(rs[i].RSS)/float64(peer[i].RSS))
	}
	slices.Sort(per)
	n := len(per)
	return ratios{
		best:   lo(rs, wall) / lo(peer, wall),
		median: (per[(n-1)/2] + per[n/2]) / 2,
		lo:     per[0], hi: per[n-1],
		memLo: slices.Min(mem), memHi: slices.Max(mem),
	}
}

func lo(rs []result, f func(result) float64) float64 {
	m := math.Inf(1)
	for _, r := range rs {
		m = min(m, f(r))
	}
	return m
}

func hi(rs []result, f func(result) float64) float64 {
	m := math.Inf(-1)
	for _, r := range rs {
		m = max(m, f(r))
	}
	return m
}

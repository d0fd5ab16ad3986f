package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	"github.com/metasurv/metasurv/internal/synth"
)

// The pipeline runs as a separate process, as in production: the test
// binary builds the command once.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cohort-beam-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "cohort-beam")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the command:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cohort writes n synthetic patients and injects the three failures of
// the proof: a truncated NIfTI (patient 2), a deleted T1c under
// -require T1c (patient 3, one that had all four), a patient without a
// row in clinical.csv (patient 4). It returns the folder and the ids.
func cohort(t *testing.T, n int, spacing float64) (string, [3]string) {
	t.Helper()
	dir := t.TempDir()
	co, err := synth.NewCohort(synth.CohortOptions{N: n, Seed: 7, Spacing: spacing, MissingShare: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if err := co.Export(context.Background(), dir, synth.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	pats, err := scanFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	var inj [3]string
	// Truncated NIfTI: the first file of the second patient.
	p := pats[1]
	for _, f := range p.Files {
		if f != "" {
			b, _ := os.ReadFile(f)
			if err := os.WriteFile(f, b[:len(b)/2], 0o644); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	inj[0] = p.ID
	// Missing T1c: a later patient that has all four sequences.
	for _, q := range pats[2 : len(pats)-1] {
		if q.Files[0] != "" && q.Files[1] != "" && q.Files[2] != "" && q.Files[3] != "" {
			if err := os.Remove(q.Files[1]); err != nil {
				t.Fatal(err)
			}
			inj[1] = q.ID
			break
		}
	}
	if inj[1] == "" {
		t.Fatal("no patient with all four sequences to remove T1c from")
	}
	// Missing from the clinical table: the last patient.
	inj[2] = pats[len(pats)-1].ID
	csvPath := filepath.Join(dir, synth.ClinicalFile)
	b, err := os.ReadFile(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, inj[2]+",") {
			keep = append(keep, l)
		}
	}
	if err := os.WriteFile(csvPath, []byte(strings.Join(keep, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, inj
}

type runResult struct {
	out     string
	seconds float64
	maxRSS  int64 // KiB
}

func runCmd(t *testing.T, args ...string) runResult {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	start := time.Now()
	err := cmd.Run()
	r := runResult{out: buf.String(), seconds: time.Since(start).Seconds()}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.maxRSS = ru.Maxrss
	}
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, tail(r.out, 4000))
	}
	return r
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func readSummary(t *testing.T, out string) *Summary {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(out, "qc_summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s Summary
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

// sameOutputs checks that two output folders hold bit-identical stacks,
// embeddings and cohort files.
func sameOutputs(t *testing.T, a, b string, ids []string) {
	t.Helper()
	for _, f := range []string{"ids.txt", "embeddings.npy", "embeddings_per_sequence.npy", "per_sequence_rows.csv", "deadletter.jsonl"} {
		x, err1 := os.ReadFile(filepath.Join(a, f))
		y, err2 := os.ReadFile(filepath.Join(b, f))
		if err1 != nil || err2 != nil || !bytes.Equal(x, y) {
			t.Errorf("%s differs between %s and %s (%v, %v)", f, a, b, err1, err2)
		}
	}
	for _, id := range ids {
		x, err1 := os.ReadFile(filepath.Join(a, "patients", id, "stack.npy"))
		y, err2 := os.ReadFile(filepath.Join(b, "patients", id, "stack.npy"))
		if err1 != nil || err2 != nil || !bytes.Equal(x, y) {
			t.Errorf("patient %s: stack.npy differs (%v, %v)", id, err1, err2)
		}
		o1, err1 := readDone(filepath.Join(a, "patients", id))
		o2, err2 := readDone(filepath.Join(b, "patients", id))
		if err1 != nil || err2 != nil {
			t.Errorf("patient %s: %v, %v", id, err1, err2)
			continue
		}
		if fmt.Sprint(o1.Full, o1.PerSeq) != fmt.Sprint(o2.Full, o2.PerSeq) {
			t.Errorf("patient %s: embeddings differ", id)
		}
	}
}

func completedIDs(t *testing.T, out string) []string {
	b, err := os.ReadFile(filepath.Join(out, "ids.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

func checkDeadLetter(t *testing.T, s *Summary, inj [3]string) {
	t.Helper()
	want := map[string]string{
		inj[0]: "is not a readable NIfTI image",
		inj[1]: "required sequence T1c has no file",
		inj[2]: "no row in the clinical table",
	}
	got := map[string]string{}
	for _, f := range s.Failures {
		got[f.ID] = f.Reason
	}
	for id, w := range want {
		if !strings.Contains(got[id], w) {
			t.Errorf("dead-letter for %s = %q, want a reason containing %q", id, got[id], w)
		}
	}
	if s.Completed == 0 || s.Completed+s.Failed != s.Patients {
		t.Errorf("summary %+v: want the other patients completed", s)
	}
}

func common(data, out string, extra ...string) []string {
	return append([]string{"-data", data, "-out", out, "-atlas", "phantom:4", "-grid", "32",
		"-model", "resnet10", "-require", "T1c", "-threads", "1"}, extra...)
}

// TestPipeline is the proof at test size: prism (the default runner)
// against the plain sequential loop — bit-identical stacks and
// embeddings; the injected failures in dead-letter with their reasons;
// a re-run redoes nothing.
func TestPipeline(t *testing.T) {
	data, inj := cohort(t, 6, 4)
	root := t.TempDir()
	pb, seq := filepath.Join(root, "beam"), filepath.Join(root, "seq")
	r := runCmd(t, common(data, pb, "-parallel", "2")...)
	t.Logf("prism: %.1f s, peak RSS %d MiB", r.seconds, r.maxRSS>>10)
	rs := runCmd(t, common(data, seq, "-sequential")...)
	t.Logf("sequential: %.1f s, peak RSS %d MiB", rs.seconds, rs.maxRSS>>10)
	s := readSummary(t, pb)
	checkDeadLetter(t, s, inj)
	ids := completedIDs(t, pb)
	if len(ids) != s.Completed {
		t.Fatalf("ids.txt has %d rows, summary %d completed", len(ids), s.Completed)
	}
	sameOutputs(t, pb, seq, ids)
	if _, err := os.Stat(filepath.Join(pb, "figure2.png")); err != nil && len(ids) >= 4 {
		t.Errorf("no Figure 2: %v", err)
	}

	// Re-run: everything done is resumed, nothing rewritten.
	before := mtimes(t, pb, ids)
	runCmd(t, common(data, pb, "-parallel", "2")...)
	s2 := readSummary(t, pb)
	if s2.Resumed != s.Completed || s2.Completed != s.Completed {
		t.Errorf("re-run: %d resumed of %d completed, want all %d", s2.Resumed, s2.Completed, s.Completed)
	}
	if after := mtimes(t, pb, ids); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("re-run rewrote finished patients")
	}
}

func mtimes(t *testing.T, out string, ids []string) map[string]time.Time {
	m := map[string]time.Time{}
	for _, id := range ids {
		for _, f := range []string{"stack.npy", "report.json", doneFile} {
			fi, err := os.Stat(filepath.Join(out, "patients", id, f))
			if err != nil {
				t.Fatal(err)
			}
			m[id+"/"+f] = fi.ModTime()
		}
	}
	return m
}

// TestKillResume kills the job after its first finished patient and
// re-runs it: the finished patients are not redone and the cohort
// completes.
func TestKillResume(t *testing.T) {
	data, _ := cohort(t, 5, 4)
	out := filepath.Join(t.TempDir(), "out")
	cmd := exec.Command(bin, common(data, out, "-parallel", "1")...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	var done []string
	for time.Now().Before(deadline) {
		done, _ = filepath.Glob(filepath.Join(out, "patients", "*", doneFile))
		if len(done) > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if len(done) == 0 {
		t.Fatalf("no patient finished within 5 minutes:\n%s", tail(buf.String(), 3000))
	}
	if _, err := os.Stat(filepath.Join(out, "qc_summary.json")); err == nil {
		t.Skip("the job finished before it was killed; nothing to resume")
	}
	var ids []string
	for _, d := range done {
		ids = append(ids, filepath.Base(filepath.Dir(d)))
	}
	before := mtimes(t, out, ids)
	runCmd(t, common(data, out, "-parallel", "1")...)
	s := readSummary(t, out)
	if s.Resumed < len(ids) || s.Completed <= s.Resumed {
		t.Errorf("after the kill: %d finished; re-run resumed %d, completed %d (want ≥ %d resumed and more completed)", len(ids), s.Resumed, s.Completed, len(ids))
	}
	if after := mtimes(t, out, ids); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("re-run rewrote patients finished before the kill")
	}
	t.Logf("killed with %d of %d patients done; re-run: %v", len(ids), s.Patients, s)
}

// TestPortable submits the job to a standalone prism job server through
// Beam's portable path (--runner=flink --endpoint=…), as it would be to a
// Flink or Spark job server, with the LOOPBACK environment, embedding with
// a ViT backbone.
func TestPortable(t *testing.T) {
	l, err := net.Listen("tcp", "localhost:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := prism.CreateJobServer(ctx, prism.Options{Port: port}); err != nil {
		t.Fatal(err)
	}
	data, inj := cohort(t, 4, 4)
	out := filepath.Join(t.TempDir(), "out")
	// The ViT backbone (a tiny one) rides along: the flag comes last and wins.
	r := runCmd(t, common(data, out, "--runner=flink", fmt.Sprintf("--endpoint=localhost:%d", port), "--environment_type=LOOPBACK",
		"-backbone", "vit", "-model", "tiny")...)
	t.Logf("portable: %.1f s", r.seconds)
	s := readSummary(t, out)
	checkDeadLetter(t, s, inj)
	for _, id := range completedIDs(t, out) {
		o, err := readDone(filepath.Join(out, "patients", id))
		if err != nil {
			t.Fatal(err)
		}
		if len(o.Full) != 96 {
			t.Errorf("patient %s: ViT-tiny embedding has %d features, want its hidden size 96", id, len(o.Full))
		}
	}
}

// TestProof is the proof at cohort size (METASURV_BEAM_PROOF=1;
// METASURV_BEAM_N patients, default 20; METASURV_BEAM_SPACING and
// METASURV_BEAM_GRID set the image size): prism with -parallel 2 against
// the sequential loop, bit-identical outputs, the three injected failures
// in dead-letter, throughput and peak RSS of each.
func TestProof(t *testing.T) {
	if os.Getenv("METASURV_BEAM_PROOF") == "" {
		t.Skip("set METASURV_BEAM_PROOF=1 (minutes)")
	}
	n, spacing, grid := 20, 4.0, "32"
	fmt.Sscan(os.Getenv("METASURV_BEAM_N"), &n)
	fmt.Sscan(os.Getenv("METASURV_BEAM_SPACING"), &spacing)
	if g := os.Getenv("METASURV_BEAM_GRID"); g != "" {
		grid = g
	}
	data, inj := cohort(t, n, spacing)
	root := t.TempDir()
	args := func(out string, extra ...string) []string {
		return append([]string{"-data", data, "-out", out, "-atlas", fmt.Sprintf("phantom:%g", spacing), "-grid", grid,
			"-model", "resnet10", "-require", "T1c"}, extra...)
	}
	pb, seq := filepath.Join(root, "beam"), filepath.Join(root, "seq")
	rs := runCmd(t, args(seq, "-sequential", "-threads", "2")...)
	r := runCmd(t, args(pb, "-parallel", "2", "-threads", "1")...)
	s := readSummary(t, pb)
	checkDeadLetter(t, s, inj)
	ids := completedIDs(t, pb)
	sameOutputs(t, pb, seq, ids)
	t.Logf("%d patients (%d completed, %d dead-letter), spacing %g, grid %s", s.Patients, s.Completed, s.Failed, spacing, grid)
	t.Logf("sequential loop (-threads 2): %.1f s, %.2f patients/min, peak RSS %d MiB", rs.seconds, float64(s.Completed)/rs.seconds*60, rs.maxRSS>>10)
	t.Logf("prism -parallel 2 -threads 1: %.1f s, %.2f patients/min, peak RSS %d MiB", r.seconds, float64(s.Completed)/r.seconds*60, r.maxRSS>>10)
}

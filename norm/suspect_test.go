package norm

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestPreprocessFlagsSuspect replaces the T2 of the synthetic patient by
// noise on its grid: no transform can align it, so its registration must
// be reported suspect, while the others pass.
func TestPreprocessFlagsSuspect(t *testing.T) {
	atlas, mask := testAtlas(t, 3)
	seqs, _ := cachedPatient(t)
	noise := seqs.T2.Clone()
	r := rand.New(rand.NewPCG(1, 2))
	for i := range noise.Data {
		noise.Data[i] = float32(100 * r.Float64())
	}
	seqs.T2 = noise
	_, rep, err := Preprocess(context.Background(), seqs, atlas, Options{SkipN4: true, AtlasMask: mask, Target: [3]int{16, 16, 16}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("suspect %v; T2 check %+v", rep.Suspect, rep.Sequences[2].ToHub.Check)
	if !slices.Equal(rep.Suspect, []string{"T2 → T1c"}) {
		t.Errorf("suspect registrations %v, want [T2 → T1c]", rep.Suspect)
	}
	for _, c := range []int{0, 3} {
		if ck := rep.Sequences[c].ToHub.Check; ck.Suspect {
			t.Errorf("%s flagged: %v", SequenceNames[c], ck)
		}
	}
}

package cpu

import (
	"runtime"
	"testing"
)

func TestSetLevelClampsAndRestores(t *testing.T) {
	start := Current()
	if start != Detected() {
		t.Fatalf("Current()=%v before any SetLevel, want Detected()=%v", start, Detected())
	}
	restore := SetLevel(Portable)
	if Current() != Portable {
		t.Fatalf("Current()=%v after SetLevel(Portable)", Current())
	}
	inner := SetLevel(AVX512 + 5)
	if Current() != Detected() {
		t.Fatalf("SetLevel above hardware gave %v, want clamp to %v", Current(), Detected())
	}
	inner()
	if Current() != Portable {
		t.Fatalf("inner restore gave %v, want portable", Current())
	}
	restore()
	if Current() != start {
		t.Fatalf("restore gave %v, want %v", Current(), start)
	}
	r := SetLevel(-3)
	if Current() != Portable {
		t.Fatalf("SetLevel(-3) gave %v, want portable", Current())
	}
	r()
}

func TestLevelsListsEveryUsableLevel(t *testing.T) {
	ls := Levels()
	if len(ls) != int(Detected())+1 || ls[0] != Portable || ls[len(ls)-1] != Detected() {
		t.Fatalf("Levels()=%v with Detected()=%v", ls, Detected())
	}
	if runtime.GOARCH != "amd64" && Detected() != Portable {
		t.Fatalf("non-amd64 build detected %v", Detected())
	}
	for _, l := range ls {
		if l.String() == "" {
			t.Fatalf("empty name for level %d", l)
		}
	}
	if Level(9).String() != "Level(9)" {
		t.Fatalf("unknown level name %q", Level(9).String())
	}
}

func TestExtensionsNeedAVX512(t *testing.T) {
	if f := Extensions(); (f.BF16 || f.VNNI) && Detected() != AVX512 {
		t.Fatalf("extensions %+v reported without AVX512 (detected %v)", f, Detected())
	}
}

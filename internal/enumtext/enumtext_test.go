package enumtext

import (
	"errors"
	"strings"
	"testing"
)

var errKind = errors.New("kind")

func TestRoundTrip(t *testing.T) {
	names := []string{"linear", "", "bspline3|cubic"}
	for _, v := range []int{0, 2} {
		b, err := Marshal(v, names, "interpolation", errKind)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Unmarshal(b, names, "interpolation", errKind)
		if err != nil || got != v {
			t.Fatalf("%d → %q → %d, %v", v, b, got, err)
		}
	}
	if v, err := Unmarshal([]byte(" BSpline3\n"), names, "x", errKind); err != nil || v != 2 {
		t.Errorf("case/space-insensitive parse: %d, %v", v, err)
	}
	if v, err := Unmarshal([]byte("Cubic"), names, "x", errKind); err != nil || v != 2 {
		t.Errorf("alias: %d, %v", v, err)
	}
	if b, _ := Marshal(2, names, "x", errKind); string(b) != "bspline3" {
		t.Errorf("Marshal writes %q, want the canonical name", b)
	}
	for _, v := range []int{-1, 1, 3} {
		if _, err := Marshal(v, names, "x", errKind); !errors.Is(err, errKind) {
			t.Errorf("Marshal(%d): %v, want errKind", v, err)
		}
	}
	_, err := Unmarshal([]byte(strings.Repeat("z", 10000)), names, "interpolation", errKind)
	if !errors.Is(err, errKind) || len(err.Error()) > 200 || !strings.Contains(err.Error(), "linear, bspline3") {
		t.Errorf("bad name: %v", err)
	}
	if _, err := Unmarshal(nil, names, "x", errKind); !errors.Is(err, errKind) {
		t.Errorf("empty name accepted: %v", err)
	}
}

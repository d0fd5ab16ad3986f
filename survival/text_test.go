package survival

import (
	"encoding"
	"encoding/json"
	"errors"
	"flag"
	"testing"
)

func TestEnumText(t *testing.T) {
	type enum interface {
		encoding.TextMarshaler
		encoding.TextUnmarshaler
	}
	cases := []struct {
		v     enum
		names []string
	}{
		{new(Unit), []string{"days", "months", "years", "weeks"}},
		{new(Ties), []string{"efron", "breslow"}},
		{new(ConfType), []string{"log", "log-log", "plain", "none"}},
		{new(TimeWeight), []string{"harrell", "uno"}},
		{new(IPCWConvention), []string{"g-left", "g-right"}},
	}
	for _, c := range cases {
		for _, n := range c.names {
			if err := c.v.UnmarshalText([]byte(n)); err != nil {
				t.Fatalf("%T: %q: %v", c.v, n, err)
			}
			b, err := c.v.MarshalText()
			if err != nil || string(b) != n {
				t.Fatalf("%T: %q round-trips to %q, %v", c.v, n, b, err)
			}
		}
		if err := c.v.UnmarshalText([]byte("nonsense")); !errors.Is(err, ErrInput) {
			t.Fatalf("%T accepted nonsense: %v", c.v, err)
		}
	}
	if Unit(99).String() != "Unit(99)" {
		t.Fatal(Unit(99).String())
	}
	if _, err := Unit(99).MarshalText(); !errors.Is(err, ErrInput) {
		t.Fatal("unnamed unit marshalled")
	}
	// flag.TextVar and encoding/json use them.
	var ties Ties
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.TextVar(&ties, "ties", Efron, "")
	if err := fs.Parse([]string{"-ties", "breslow"}); err != nil || ties != Breslow {
		t.Fatalf("flag: %v %v", ties, err)
	}
	var o struct {
		Unit Unit
		Conf ConfType
	}
	if err := json.Unmarshal([]byte(`{"Unit":"months","Conf":"log-log"}`), &o); err != nil || o.Unit != Months || o.Conf != ConfLogLog {
		t.Fatalf("json: %+v %v", o, err)
	}
	b, _ := json.Marshal(o)
	if string(b) != `{"Unit":"months","Conf":"log-log"}` {
		t.Fatalf("json out %s", b)
	}
}

func TestErrorSentinels(t *testing.T) {
	y, _ := NewOutcomes([]float64{1, 2, 3}, []bool{true, false, true})
	if _, _, err := CoxLoss(y, []float64{1, 2}, Efron); !errors.Is(err, ErrShape) {
		t.Fatalf("CoxLoss lengths: %v", err)
	}
	cens, _ := NewOutcomes([]float64{1, 2}, []bool{false, false})
	if _, _, err := CoxLoss(cens, []float64{1, 2}, Efron); !errors.Is(err, ErrNoEvents) {
		t.Fatalf("CoxLoss censored: %v", err)
	}
	if _, err := NewOutcomes([]float64{1}, []bool{true, false}); !errors.Is(err, ErrShape) {
		t.Fatalf("NewOutcomes: %v", err)
	}
	if _, err := KaplanMeier(y, KMOptions{ConfLevel: 2}); !errors.Is(err, ErrInput) {
		t.Fatalf("KM level 2: %v", err)
	}
	if _, err := KaplanMeier(nil, KMOptions{}); !errors.Is(err, ErrEmpty) {
		t.Fatalf("KM empty: %v", err)
	}
}

package register

import (
	"encoding"
	"encoding/json"
	"errors"
	"testing"
)

// TestEnumText round-trips every register enum through its text form and
// JSON, checks the aliases the command lines accept, and rejects unknown
// names and values with ErrInput.
func TestEnumText(t *testing.T) {
	type textEnum interface {
		encoding.TextMarshaler
		String() string
	}
	cases := []struct {
		v   textEnum
		new func() encoding.TextUnmarshaler
	}{
		{MattesMI, func() encoding.TextUnmarshaler { return new(Metric) }},
		{NMI, func() encoding.TextUnmarshaler { return new(Metric) }},
		{NCC, func() encoding.TextUnmarshaler { return new(Metric) }},
		{MSE, func() encoding.TextUnmarshaler { return new(Metric) }},
		{KindRigid, func() encoding.TextUnmarshaler { return new(Kind) }},
		{KindSimilarity, func() encoding.TextUnmarshaler { return new(Kind) }},
		{KindAffine, func() encoding.TextUnmarshaler { return new(Kind) }},
		{RegularStep, func() encoding.TextUnmarshaler { return new(Optimizer) }},
		{LBFGS, func() encoding.TextUnmarshaler { return new(Optimizer) }},
		{InitCenters, func() encoding.TextUnmarshaler { return new(Init) }},
		{InitMoments, func() encoding.TextUnmarshaler { return new(Init) }},
		{InitIdentity, func() encoding.TextUnmarshaler { return new(Init) }},
	}
	for _, c := range cases {
		b, err := c.v.MarshalText()
		if err != nil || string(b) != c.v.String() {
			t.Fatalf("%v: MarshalText %q, %v", c.v, b, err)
		}
		u := c.new()
		if err := u.UnmarshalText(b); err != nil {
			t.Fatal(err)
		}
		if got := u.(interface{ String() string }).String(); got != c.v.String() {
			t.Fatalf("%v → %s → %v", c.v, b, got)
		}
		if err := c.new().UnmarshalText([]byte("no-such-name")); !errors.Is(err, ErrInput) {
			t.Errorf("%T: unknown name gives %v, want ErrInput", c.v, err)
		}
	}
	for _, alias := range []string{"mattes", "MI", "mattesmi"} {
		var m Metric
		if err := m.UnmarshalText([]byte(alias)); err != nil || m != MattesMI {
			t.Errorf("%q → %v, %v; want MattesMI", alias, m, err)
		}
	}
	var o Options
	if err := json.Unmarshal([]byte(`{"Metric":"nmi","Kind":"affine","Optimizer":"lbfgs","Init":"moments"}`), &o); err != nil {
		t.Fatal(err)
	}
	if o.Metric != NMI || o.Kind != KindAffine || o.Optimizer != LBFGS || o.Init != InitMoments {
		t.Errorf("JSON options decoded as %v %v %v %v", o.Metric, o.Kind, o.Optimizer, o.Init)
	}
	if _, err := Metric(9).MarshalText(); !errors.Is(err, ErrInput) {
		t.Errorf("unknown metric value: %v, want ErrInput", err)
	}
	if s := Kind(5).String(); s != "Kind(5)" {
		t.Errorf("Kind(5).String() = %q", s)
	}
}

package norm

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestMissingPolicyText(t *testing.T) {
	for _, p := range []MissingPolicy{MissingError, MissingZeroFill} {
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var got MissingPolicy
		if err := json.Unmarshal(b, &got); err != nil || got != p {
			t.Fatalf("%v → %s → %v, %v", p, b, got, err)
		}
	}
	var p MissingPolicy
	if err := p.UnmarshalText([]byte("ZeroFill")); err != nil || p != MissingZeroFill {
		t.Errorf("alias zerofill: %v, %v", p, err)
	}
	if err := p.UnmarshalText([]byte("ignore")); !errors.Is(err, ErrInput) {
		t.Errorf("unknown policy: %v, want ErrInput", err)
	}
	if _, err := MissingPolicy(3).MarshalText(); !errors.Is(err, ErrInput) {
		t.Errorf("unknown value: %v, want ErrInput", err)
	}
}

package survival

import (
	"fmt"
	"strings"
)

// The option enums that users type on command lines and in configuration
// files implement encoding.TextMarshaler and encoding.TextUnmarshaler with
// the names R and the study use, so flag.TextVar, encoding/json and YAML
// decoders accept them directly.

// enumText maps names (the first is canonical) to values.
type enumText[T comparable] struct {
	what  string
	names []string
	vals  []T
}

func (e enumText[T]) marshal(v T) ([]byte, error) {
	for i, x := range e.vals {
		if x == v {
			return []byte(e.names[i]), nil
		}
	}
	return nil, fmt.Errorf("%w: %s %v has no name", ErrInput, e.what, v)
}

func (e enumText[T]) unmarshal(text []byte, dst *T) error {
	s := strings.ToLower(strings.TrimSpace(string(text)))
	for i, n := range e.names {
		if n == s {
			*dst = e.vals[i]
			return nil
		}
	}
	canon := []string{}
	seen := map[T]bool{}
	for i, n := range e.names {
		if !seen[e.vals[i]] {
			seen[e.vals[i]] = true
			canon = append(canon, n)
		}
	}
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return fmt.Errorf("%w: unknown %s %q (want %s)", ErrInput, e.what, s, strings.Join(canon, ", "))
}

var (
	unitText = enumText[Unit]{"time unit", []string{"days", "months", "years", "weeks", "day", "month", "year", "week"},
		[]Unit{Days, Months, Years, Weeks, Days, Months, Years, Weeks}}
	tiesText      = enumText[Ties]{"tie method", []string{"efron", "breslow"}, []Ties{Efron, Breslow}}
	confText      = enumText[ConfType]{"confidence interval type", []string{"log", "log-log", "plain", "none"}, []ConfType{ConfLog, ConfLogLog, ConfPlain, ConfNone}}
	timeWeightTxt = enumText[TimeWeight]{"concordance time weight", []string{"harrell", "uno", "n", "n/g2"}, []TimeWeight{Harrell, Uno, Harrell, Uno}}
	ipcwText      = enumText[IPCWConvention]{"IPCW convention", []string{"g-left", "g-right"}, []IPCWConvention{GLeft, GRight}}
)

// MarshalText returns the unit's name (days, months, years, weeks).
func (u Unit) MarshalText() ([]byte, error) { return unitText.marshal(u) }

// UnmarshalText parses days, months, years or weeks (singular accepted).
func (u *Unit) UnmarshalText(text []byte) error { return unitText.unmarshal(text, u) }

// MarshalText returns R's name of the tie method (efron, breslow).
func (t Ties) MarshalText() ([]byte, error) { return tiesText.marshal(t) }

// UnmarshalText parses efron or breslow.
func (t *Ties) UnmarshalText(text []byte) error { return tiesText.unmarshal(text, t) }

// MarshalText returns R's conf.type name (log, log-log, plain, none).
func (c ConfType) MarshalText() ([]byte, error) { return confText.marshal(c) }

// UnmarshalText parses log, log-log, plain or none.
func (c *ConfType) UnmarshalText(text []byte) error { return confText.unmarshal(text, c) }

// String returns the weight's name (harrell, uno).
func (w TimeWeight) String() string {
	b, err := w.MarshalText()
	if err != nil {
		return fmt.Sprintf("TimeWeight(%d)", int(w))
	}
	return string(b)
}

// MarshalText returns harrell or uno.
func (w TimeWeight) MarshalText() ([]byte, error) { return timeWeightTxt.marshal(w) }

// UnmarshalText parses harrell or uno (or R's timewt names n and n/G2).
func (w *TimeWeight) UnmarshalText(text []byte) error { return timeWeightTxt.unmarshal(text, w) }

// String returns the convention's name (g-left, g-right).
func (c IPCWConvention) String() string {
	b, err := c.MarshalText()
	if err != nil {
		return fmt.Sprintf("IPCWConvention(%d)", int(c))
	}
	return string(b)
}

// MarshalText returns g-left or g-right.
func (c IPCWConvention) MarshalText() ([]byte, error) { return ipcwText.marshal(c) }

// UnmarshalText parses g-left or g-right.
func (c *IPCWConvention) UnmarshalText(text []byte) error { return ipcwText.unmarshal(text, c) }

// Package enumtext implements encoding.TextMarshaler and
// encoding.TextUnmarshaler for the small integer enums of the public
// packages (interpolations, metrics, transform kinds, policies), so that
// command lines, JSON and YAML name them the same way everywhere and no
// caller re-writes a string switch.
//
// An enum keeps its names in a slice indexed by value; an entry may list
// aliases after the canonical name, separated by "|" ("MattesMI|mattes|mi"):
// MarshalText writes the canonical name, UnmarshalText accepts any. Its
// methods call Name, Marshal and Unmarshal:
//
//	var interpNames = []string{Linear: "linear", Nearest: "nearest"}
//	func (m Interp) MarshalText() ([]byte, error) { return enumtext.Marshal(int(m), interpNames, "interpolation", ErrInvalid) }
package enumtext

import (
	"fmt"
	"strings"
)

// Name returns the canonical name of v, or "" when v has none.
func Name(v int, names []string) string {
	if v < 0 || v >= len(names) {
		return ""
	}
	n, _, _ := strings.Cut(names[v], "|")
	return n
}

// Marshal returns the canonical name of v, or an error wrapping kind when v
// has no name.
func Marshal(v int, names []string, what string, kind error) ([]byte, error) {
	n := Name(v, names)
	if n == "" {
		return nil, fmt.Errorf("%w: unknown %s %d", kind, what, v)
	}
	return []byte(n), nil
}

// Unmarshal returns the value one of whose names is b (ignoring case and
// surrounding white space), or an error wrapping kind that lists the
// canonical names.
func Unmarshal(b []byte, names []string, what string, kind error) (int, error) {
	s := strings.TrimSpace(string(b))
	var valid []string
	for v, all := range names {
		for _, n := range strings.Split(all, "|") {
			if n != "" && strings.EqualFold(s, n) {
				return v, nil
			}
		}
		if n := Name(v, names); n != "" {
			valid = append(valid, n)
		}
	}
	const maxShown = 40 // never echo an unbounded attacker-controlled string
	if r := []rune(s); len(r) > maxShown {
		s = string(r[:maxShown]) + "…"
	}
	return 0, fmt.Errorf("%w: unknown %s %q, want one of %s", kind, what, s, strings.Join(valid, ", "))
}

// String returns the canonical name of v, or typ(v) (e.g. "Metric(9)")
// when v has none: the String method of an enum.
func String(v int, names []string, typ string) string {
	if n := Name(v, names); n != "" {
		return n
	}
	return fmt.Sprintf("%s(%d)", typ, v)
}

// Set parses b as Unmarshal does and stores the value in *dst: the
// UnmarshalText method of an enum. *dst is unchanged on error.
func Set[T ~int](dst *T, b []byte, names []string, what string, kind error) error {
	v, err := Unmarshal(b, names, what, kind)
	if err == nil {
		*dst = T(v)
	}
	return err
}

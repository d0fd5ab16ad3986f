package pycall

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Args is a call's arguments bound to parameter names. Its getters return
// a default when the argument is absent and record an error when it has the
// wrong type; Err reports every problem at once.
type Args struct {
	call   string
	params []string
	vals   map[string]Value
	errs   []string
}

// Bind maps c's positional arguments onto params in order and checks that
// every keyword names one of params, as Python does for a function with
// that signature. Problems are collected and returned by Args.Err.
func Bind(c *Call, params ...string) *Args {
	a := &Args{call: c.Name, params: params, vals: map[string]Value{}}
	if len(c.Args) > len(params) {
		a.errs = append(a.errs, fmt.Sprintf("%d positional arguments, at most %d accepted (%s)", len(c.Args), len(params), strings.Join(params, ", ")))
	}
	for i, v := range c.Args {
		if i < len(params) {
			a.vals[params[i]] = v
		}
	}
	known := map[string]bool{}
	for _, p := range params {
		known[p] = true
	}
	var unknown []string
	for _, k := range c.Kwargs {
		if !known[k.Name] {
			unknown = append(unknown, k.Name)
			continue
		}
		if _, dup := a.vals[k.Name]; dup {
			a.errs = append(a.errs, fmt.Sprintf("argument %s given twice", k.Name))
			continue
		}
		a.vals[k.Name] = k.Value
	}
	if len(unknown) > 0 {
		a.errs = append(a.errs, fmt.Sprintf("unknown argument(s) %s (accepted: %s)", strings.Join(unknown, ", "), strings.Join(params, ", ")))
	}
	return a
}

// Has reports whether the argument was given.
func (a *Args) Has(name string) bool { _, ok := a.vals[name]; return ok }

// IsNone reports whether the argument was given as None.
func (a *Args) IsNone(name string) bool { v, ok := a.vals[name]; return ok && v == nil }

// Value returns the raw argument (nil when absent or None).
func (a *Args) Value(name string) Value { return a.vals[name] }

func (a *Args) bad(name string, want string, v Value) {
	a.errs = append(a.errs, fmt.Sprintf("argument %s=%s: want %s", name, Repr(v), want))
}

// Require records an error for each name that was not given.
func (a *Args) Require(names ...string) {
	for _, n := range names {
		if !a.Has(n) {
			a.errs = append(a.errs, fmt.Sprintf("missing required argument %s", n))
		}
	}
}

// Fail records a problem found by the caller (a value out of range).
func (a *Args) Fail(format string, args ...any) {
	a.errs = append(a.errs, fmt.Sprintf(format, args...))
}

// Int returns an integer argument (def when absent).
func (a *Args) Int(name string, def int) int {
	v, ok := a.vals[name]
	if !ok {
		return def
	}
	if i, ok := asInt(v); ok {
		return i
	}
	a.bad(name, "an integer", v)
	return def
}

// PositiveInt is Int for a size or count: a value given but below 1 is an
// error (the constructor would fail in Python, and the Go models read zero
// as "default", which would silently build another network).
func (a *Args) PositiveInt(name string, def int) int {
	v, ok := a.vals[name]
	if !ok {
		return def
	}
	if i, ok := asInt(v); ok && i >= 1 {
		return i
	}
	a.bad(name, "a positive integer", v)
	return def
}

func asInt(v Value) (int, bool) {
	switch x := v.(type) {
	case int64:
		if x < math.MinInt32 || x > math.MaxInt32 {
			return 0, false
		}
		return int(x), true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// Float returns a number argument (def when absent).
func (a *Args) Float(name string, def float64) float64 {
	v, ok := a.vals[name]
	if !ok {
		return def
	}
	if f, ok := toFloat(v); ok {
		return f
	}
	a.bad(name, "a number", v)
	return def
}

// String returns a string argument (def when absent). A bare name (Ident)
// is accepted too, so block=SEResNeXtBottleneck reads as its name.
func (a *Args) String(name string, def string) string {
	v, ok := a.vals[name]
	if !ok {
		return def
	}
	switch x := v.(type) {
	case string:
		return x
	case Ident:
		return string(x)
	}
	a.bad(name, "a string", v)
	return def
}

// Bool returns a boolean argument (def when absent).
func (a *Args) Bool(name string, def bool) bool {
	v, ok := a.vals[name]
	if !ok {
		return def
	}
	if b, ok := v.(bool); ok {
		return b
	}
	a.bad(name, "True or False", v)
	return def
}

// Ints returns a list/tuple of integers; a single integer is repeated n
// times when n > 0 (MONAI's ensure_tuple_rep), def when absent.
func (a *Args) Ints(name string, n int, def []int) []int {
	v, ok := a.vals[name]
	if !ok {
		return def
	}
	if i, ok := asInt(v); ok && n > 0 {
		out := make([]int, n)
		for k := range out {
			out[k] = i
		}
		return out
	}
	list, ok := v.([]Value)
	if !ok {
		a.bad(name, "a list of integers", v)
		return def
	}
	out := make([]int, len(list))
	for k, e := range list {
		i, ok := asInt(e)
		if !ok {
			a.bad(name, "a list of integers", v)
			return def
		}
		out[k] = i
	}
	if n > 0 && len(out) != n {
		a.bad(name, fmt.Sprintf("%d integers", n), v)
		return def
	}
	return out
}

// Call returns a nested call argument (nil when absent).
func (a *Args) Call(name string) *Call {
	v, ok := a.vals[name]
	if !ok {
		return nil
	}
	if c, ok := v.(*Call); ok {
		return c
	}
	a.bad(name, "a call such as Model(...)", v)
	return nil
}

// Err returns every problem recorded so far as one error wrapping ErrArgs,
// or nil.
func (a *Args) Err() error {
	if len(a.errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s: %s", ErrArgs, a.call, strings.Join(a.errs, "; "))
}

// IsArgs reports whether err is an argument error.
func IsArgs(err error) bool { return errors.Is(err, ErrArgs) }

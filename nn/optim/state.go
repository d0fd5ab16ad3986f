package optim

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/metasurv/metasurv/nn"
)

// Optimizer state as named tensors, flattened from torch.optim's
// state_dict()["state"]: "<i>.<name>", where i is the index of the
// parameter in the list given to the constructor. Parameters that were
// never stepped have no entries. Hyper-parameters and the learning rate
// are not part of it: they come from the options and the schedule, which
// a resumed run sets again (optim.Apply at the saved step).

// maxExactStep is the largest step count a float32 tensor holds exactly.
const maxExactStep = 1 << 24

// State returns a copy of Adam's state: for every parameter stepped so
// far, "<i>.exp_avg" and "<i>.exp_avg_sq" (the moment estimates m and v,
// shaped like the parameter) and "<i>.step" (the step count, one value),
// as torch names them. It fails beyond 2²⁴ steps, which float32 cannot
// count exactly.
func (a *Adam) State() (map[string]*nn.Tensor, error) {
	sd := map[string]*nn.Tensor{}
	for i, p := range a.ps {
		if a.m[i] == nil {
			continue
		}
		if a.step[i] > maxExactStep {
			return nil, fmt.Errorf("%w: parameter %d has taken %d steps, more than a float32 state counts exactly (%d)", ErrInput, i, a.step[i], maxExactStep)
		}
		sd[key(i, "exp_avg")] = copyOf(a.m[i], p.Shape)
		sd[key(i, "exp_avg_sq")] = copyOf(a.v[i], p.Shape)
		sd[key(i, "step")] = copyOf([]float32{float32(a.step[i])}, []int{1})
	}
	return sd, nil
}

// SetState restores a state returned by State for the same parameter
// list (same order and shapes). Parameters without entries start afresh.
// Every name must be known and every shape must fit, or nothing changes.
func (a *Adam) SetState(state map[string]*nn.Tensor) error {
	idx, err := parseState(state, len(a.ps), "exp_avg", "exp_avg_sq", "step")
	if err != nil {
		return err
	}
	n := len(a.ps)
	m, v, steps := make([][]float32, n), make([][]float32, n), make([]int, n)
	for i := range idx {
		p := a.ps[i]
		em, ev, st := state[key(i, "exp_avg")], state[key(i, "exp_avg_sq")], state[key(i, "step")]
		if em == nil || ev == nil || st == nil {
			return fmt.Errorf("%w: optimizer state of parameter %d needs exp_avg, exp_avg_sq and step", ErrInput, i)
		}
		if err := fits(i, "exp_avg", em, len(p.Data)); err != nil {
			return err
		}
		if err := fits(i, "exp_avg_sq", ev, len(p.Data)); err != nil {
			return err
		}
		if err := fits(i, "step", st, 1); err != nil {
			return err
		}
		s := st.Data[0]
		if !(s >= 1 && s <= maxExactStep) || s != float32(int(s)) {
			return fmt.Errorf("%w: optimizer state %s is %v (want a whole number ≥ 1)", ErrInput, key(i, "step"), s)
		}
		m[i], v[i], steps[i] = append([]float32(nil), em.Data...), append([]float32(nil), ev.Data...), int(s)
	}
	a.m, a.v, a.step = m, v, steps
	return nil
}

// State returns a copy of SGD's state: "<i>.momentum_buffer" for every
// parameter with a momentum buffer (none without momentum).
func (s *SGD) State() (map[string]*nn.Tensor, error) {
	sd := map[string]*nn.Tensor{}
	for i, p := range s.ps {
		if s.buf[i] != nil {
			sd[key(i, "momentum_buffer")] = copyOf(s.buf[i], p.Shape)
		}
	}
	return sd, nil
}

// SetState restores a state returned by State for the same parameter
// list. Every name must be known and every shape must fit, or nothing
// changes.
func (s *SGD) SetState(state map[string]*nn.Tensor) error {
	idx, err := parseState(state, len(s.ps), "momentum_buffer")
	if err != nil {
		return err
	}
	buf := make([][]float32, len(s.ps))
	for i := range idx {
		b := state[key(i, "momentum_buffer")]
		if err := fits(i, "momentum_buffer", b, len(s.ps[i].Data)); err != nil {
			return err
		}
		buf[i] = append([]float32(nil), b.Data...)
	}
	s.buf = buf
	return nil
}

func key(i int, name string) string { return strconv.Itoa(i) + "." + name }

func copyOf(data []float32, shape []int) *nn.Tensor {
	t := nn.NewTensor(shape...)
	copy(t.Data, data)
	return t
}

// parseState checks that every name is "<i>.<field>" with i < n and a
// known field, and returns the indices present.
func parseState(state map[string]*nn.Tensor, n int, fields ...string) (map[int]bool, error) {
	idx := map[int]bool{}
	names := make([]string, 0, len(state))
	for k := range state {
		names = append(names, k)
	}
	sort.Strings(names) // report the first bad name deterministically
	for _, k := range names {
		is, field, ok := strings.Cut(k, ".")
		i, err := strconv.Atoi(is)
		if !ok || err != nil || i < 0 || i >= n || strconv.Itoa(i) != is {
			return nil, fmt.Errorf("%w: optimizer state %q does not name one of the %d parameters (want \"<index>.<field>\")", ErrInput, k, n)
		}
		known := false
		for _, f := range fields {
			known = known || f == field
		}
		if !known {
			return nil, fmt.Errorf("%w: optimizer state %q: unknown field %q (want one of %v)", ErrInput, k, field, fields)
		}
		idx[i] = true
	}
	return idx, nil
}

func fits(i int, field string, t *nn.Tensor, n int) error {
	if t == nil || len(t.Data) != n {
		got := -1
		if t != nil {
			got = len(t.Data)
		}
		return fmt.Errorf("%w: optimizer state %s has %d values, the parameter needs %d", ErrInput, key(i, field), got, n)
	}
	return nil
}

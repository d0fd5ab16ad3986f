package nn

import "testing"

func TestTensorFilled(t *testing.T) {
	for _, c := range []struct {
		t    *Tensor
		want bool
	}{
		{NewTensor(2, 3), true},
		{&Tensor{Shape: []int{2, 3}, Data: make([]float32, 5)}, false},
		{&Tensor{Shape: []int{2, -3}, Data: make([]float32, 6)}, false},
		{&Tensor{Shape: []int{1 << 40, 1 << 40}}, false},
		{&Tensor{Shape: []int{0, 7}}, true},
		{&Tensor{}, false}, // a scalar shape holds one value
	} {
		if got := c.t.Filled(); got != c.want {
			t.Errorf("shape %v with %d values: Filled %v, want %v", c.t.Shape, len(c.t.Data), got, c.want)
		}
	}
}

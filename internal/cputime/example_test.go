package cputime_test

import (
	"fmt"

	"github.com/metasurv/metasurv/internal/cputime"
)

// Time some work in CPU seconds, as the benchmarks report it.
func Example() {
	c0 := cputime.Now()
	s := 0
	for i := range 1_000_000 {
		s += i % 7
	}
	spent := cputime.Now() - c0
	fmt.Println(s > 0, spent >= 0)
	// Output: true true
}

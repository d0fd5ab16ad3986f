package cpu_test

import (
	"fmt"

	"github.com/metasurv/metasurv/internal/cpu"
)

// A test runs one kernel on the portable path, then restores the fastest level.
func ExampleSetLevel() {
	restore := cpu.SetLevel(cpu.Portable)
	fmt.Println(cpu.Current())
	restore()
	fmt.Println(cpu.Current() == cpu.Detected())
	// Output:
	// portable
	// true
}

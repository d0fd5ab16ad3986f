package atomicfile_test

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/metasurv/metasurv/internal/atomicfile"
)

// A JSON report replaces the previous one only once it is complete.
func ExampleWrite() {
	dir, _ := os.MkdirTemp("", "atomicfile")
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "report.json")
	err := atomicfile.Write(p, func(w io.Writer) error {
		return json.NewEncoder(w).Encode(map[string]int{"patients": 3})
	})
	b, _ := os.ReadFile(p)
	fmt.Print(string(b), err)
	// Output:
	// {"patients":3}
	// <nil>
}

package chunked_test

import (
	"fmt"
	"strings"

	"github.com/metasurv/metasurv/internal/chunked"
)

// A header claimed 1 GiB, the stream holds 11 bytes: the read fails after
// allocating one chunk, not 1 GiB.
func Example() {
	_, err := chunked.ReadFull(strings.NewReader("eleven byte"), 1<<30)
	fmt.Println(err)
	b, _ := chunked.ReadFull(strings.NewReader("eleven bytes and more"), 12)
	fmt.Printf("%q\n", b)
	// Output:
	// truncated: got 11 of 1073741824 bytes: unexpected EOF
	// "eleven bytes"
}

// Package cli holds what the example commands share: a progress bar on
// standard error, and the reading of a hospital export (one folder per
// patient, sequence files named by their protocol, a clinical CSV).
package cli

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Bar is a one-line progress bar redrawn in place on a terminal (or
// printed at most every few seconds elsewhere). Its methods are safe for
// concurrent use; a nil *Bar does nothing.
type Bar struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
	last  time.Time
	task  string
	width int
}

// NewBar returns a bar writing to w (normally os.Stderr); a nil w gives a
// silent bar.
func NewBar(w io.Writer) *Bar {
	if w == nil {
		return nil
	}
	return &Bar{w: w, start: time.Now(), width: 24}
}

// Update draws the bar for task at fraction done (0..1) with a note.
func (b *Bar) Update(task string, done float64, note string) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	if task == b.task && now.Sub(b.last) < 100*time.Millisecond && done < 1 {
		return
	}
	b.task, b.last = task, now
	if done < 0 {
		done = 0
	}
	if done > 1 {
		done = 1
	}
	n := int(done*float64(b.width) + 0.5)
	fmt.Fprintf(b.w, "\r\033[K[%s%s] %3.0f%% %-12s %s  %5.1fs", strings.Repeat("#", n), strings.Repeat(".", b.width-n),
		100*done, task, note, now.Sub(b.start).Seconds())
}

// Done finishes the current line so that following output starts clean.
func (b *Bar) Done() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.task != "" {
		fmt.Fprintln(b.w)
		b.task = ""
	}
}

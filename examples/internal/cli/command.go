package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
)

// RunFunc is the body of a command: it parses args, does the work, and
// writes results to stdout and progress or usage to stderr.
type RunFunc func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// Main runs a command with a context cancelled on Ctrl-C, and exits: 0 on
// success or after -h, 1 after printing "name: error" to standard error.
// The commands share it so that they all stop and report the same way.
func Main(name string, run RunFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}

// NewFlagSet returns a flag set that reports errors instead of exiting,
// writes to stderr, and whose -h prints usage (the command's synopsis and
// description), a blank line, "Flags:" and the defaults.
func NewFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "%s\n\nFlags:\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

// NoArgs returns an error when fs has arguments left after the flags.
func NoArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags only; see -h)", fs.Arg(0))
	}
	return nil
}

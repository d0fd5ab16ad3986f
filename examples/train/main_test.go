package main

import (
	"bytes"
	"context"
	"testing"
)

func TestTrainFlags(t *testing.T) {
	for _, args := range [][]string{
		{}, {"-data", "x"}, {"-data", "x", "-out", "y", "-test", "0.9"}, {"-data", "x", "-out", "y", "-epochs", "0"},
		{"-data", "x", "-out", "y", "-grid", "1000"},
	} {
		var out, errb bytes.Buffer
		if err := run(context.Background(), args, &out, &errb); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

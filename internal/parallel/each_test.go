package parallel

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
)

func TestEachVisitsEveryIndexOnce(t *testing.T) {
	for _, workers := range []int{0, 1, 3, 50} {
		seen := make([]atomic.Int32, 40)
		if err := Each(context.Background(), len(seen), workers, func(i int) error {
			seen[i].Add(1)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		for i := range seen {
			if c := seen[i].Load(); c != 1 {
				t.Errorf("workers %d: index %d ran %d times", workers, i, c)
			}
		}
	}
}

func TestEachStopsAtFirstError(t *testing.T) {
	bad := errors.New("bad patient")
	var ran atomic.Int32
	err := Each(context.Background(), 1000, 2, func(i int) error {
		ran.Add(1)
		if i == 3 {
			return bad
		}
		return nil
	})
	if !errors.Is(err, bad) {
		t.Fatalf("error %v, want %v", err, bad)
	}
	if r := ran.Load(); r > 10 {
		t.Errorf("%d jobs ran after the error at index 3", r)
	}
}

func TestEachCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var ran atomic.Int32
	err := Each(ctx, 10, 2, func(int) error { ran.Add(1); return nil })
	if !errors.Is(err, context.Canceled) || ran.Load() != 0 {
		t.Errorf("cancelled: error %v, %d jobs ran", err, ran.Load())
	}
}

package persons

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestOnCore(t *testing.T) {
	// Every core taken: a caller whose deadline passes while it waits
	// gives up without running.
	for range cap(cores) {
		cores <- struct{}{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	ran := false
	if err := onCore(ctx, func() { ran = true }); !errors.Is(err, context.DeadlineExceeded) || ran {
		t.Fatalf("every core taken: err %v, ran %v", err, ran)
	}
	// A core freed: it runs, and gives the core back.
	<-cores
	if err := onCore(context.Background(), func() { ran = true }); err != nil || !ran {
		t.Fatalf("a core free: err %v, ran %v", err, ran)
	}
	for range cap(cores) - 1 {
		<-cores
	}
	if len(cores) != 0 {
		t.Fatalf("%d cores still taken", len(cores))
	}
}

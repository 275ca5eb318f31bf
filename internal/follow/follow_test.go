package follow

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a log sink the test reads while Run writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestRunLogsOutageEdgesOnly(t *testing.T) {
	var buf lockedBuffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	// Ten ticks failing, then working: one warning, one recovery line.
	var calls int
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, log, "missions", time.Millisecond, func(context.Context) error {
			calls++
			switch {
			case calls <= 10:
				return errors.New("store unreachable")
			case calls == 15:
				cancel()
			}
			return nil
		})
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not end with its context")
	}
	out := buf.String()
	if n := strings.Count(out, "not following"); n != 1 {
		t.Errorf("%d warnings for one outage, want 1:\n%s", n, out)
	}
	if n := strings.Count(out, "following the cluster's store again"); n != 1 {
		t.Errorf("%d recovery lines, want 1:\n%s", n, out)
	}
}

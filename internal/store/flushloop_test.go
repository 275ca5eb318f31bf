package store

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// loopProbe is a FlushLoop whose flushes and prunes are counted, and whose
// flushes fail while failing is set.
type loopProbe struct {
	loop    *FlushLoop
	flushes atomic.Int64
	fails   atomic.Uint64
	failing atomic.Bool
	prunes  atomic.Int64
	more    atomic.Bool
	finals  atomic.Int64
	logMu   sync.Mutex
	log     bytes.Buffer
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func newLoopProbe(t *testing.T, retention time.Duration) *loopProbe {
	t.Helper()
	p := &loopProbe{}
	p.loop = &FlushLoop{
		Interval:  5 * time.Millisecond,
		Retention: retention,
		Flush: func(context.Context) error {
			p.flushes.Add(1)
			if p.failing.Load() {
				p.fails.Add(1)
				return errors.New("disk full")
			}
			return nil
		},
		Prune: func(context.Context, time.Time) (bool, error) {
			p.prunes.Add(1)
			return p.more.Load(), nil
		},
		Final:    func() error { p.finals.Add(1); return nil },
		Failures: p.fails.Load,
		Log:      slog.New(slog.NewTextHandler(lockedWriter{&p.logMu, &p.log}, nil)),
	}
	return p
}

func (p *loopProbe) logged() string {
	p.logMu.Lock()
	defer p.logMu.Unlock()
	return p.log.String()
}

// start runs the loop until the test ends and returns Run's result channel.
func (p *loopProbe) start(t *testing.T) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- p.loop.Run(context.Background()) }()
	t.Cleanup(p.loop.Stop)
	return done
}

func TestFlushLoop(t *testing.T) {
	t.Run("flushes on its interval and once more when stopped", func(t *testing.T) {
		p := newLoopProbe(t, 0)
		done := p.start(t)
		waitFor(t, "three flushes", 10*time.Second, func() bool { return p.flushes.Load() >= 3 })
		p.loop.Stop()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
		if p.finals.Load() != 1 {
			t.Fatalf("final flushes: %d, want 1", p.finals.Load())
		}
		if p.prunes.Load() != 0 {
			t.Fatalf("pruned %d times with no retention", p.prunes.Load())
		}
	})
	t.Run("a second Run and a Run after Stop are refused", func(t *testing.T) {
		p := newLoopProbe(t, 0)
		p.start(t)
		waitFor(t, "the first flush", 10*time.Second, func() bool { return p.flushes.Load() >= 1 })
		if err := p.loop.Run(context.Background()); !errors.Is(err, ErrRunning) {
			t.Fatalf("second Run: %v, want ErrRunning", err)
		}
		p.loop.Stop()
		p.loop.Stop() // safe twice
		if err := p.loop.Run(context.Background()); !errors.Is(err, ErrClosed) {
			t.Fatalf("Run after Stop: %v, want ErrClosed", err)
		}
	})
	t.Run("Stop before Run does not wait", func(t *testing.T) {
		p := newLoopProbe(t, 0)
		p.loop.Stop()
		if err := p.loop.Run(context.Background()); !errors.Is(err, ErrClosed) {
			t.Fatalf("Run after Stop: %v, want ErrClosed", err)
		}
	})
	t.Run("a failing flush is logged once, retried, and its recovery logged", func(t *testing.T) {
		p := newLoopProbe(t, 0)
		p.failing.Store(true)
		p.start(t)
		waitFor(t, "five failed flushes", 10*time.Second, func() bool { return p.fails.Load() >= 5 })
		p.failing.Store(false)
		waitFor(t, "the recovery", 10*time.Second, func() bool { return strings.Contains(p.logged(), "flush recovered") })
		// The first failure is logged, then one in fifty: a failing disk
		// cannot flood the log.
		limit := 1 + int(p.fails.Load()/50)
		if n := strings.Count(p.logged(), "flush failed"); n < 1 || n > limit {
			t.Fatalf("logged %d flush failures of %d, want 1 to %d:\n%s", n, p.fails.Load(), limit, p.logged())
		}
	})
	t.Run("retention with rows left runs again after the next flush", func(t *testing.T) {
		p := newLoopProbe(t, time.Hour)
		p.more.Store(true)
		p.start(t)
		waitFor(t, "three prunes", 10*time.Second, func() bool { return p.prunes.Load() >= 3 })
	})
	t.Run("retention done waits for its pause", func(t *testing.T) {
		p := newLoopProbe(t, time.Hour) // pause: max(1h/100, 1 s) capped at 1 min = 36 s
		p.start(t)
		waitFor(t, "the first prune and twenty flushes", 10*time.Second, func() bool { return p.prunes.Load() >= 1 && p.flushes.Load() >= 20 })
		if n := p.prunes.Load(); n != 1 {
			t.Fatalf("pruned %d times within the pause, want 1", n)
		}
	})
}

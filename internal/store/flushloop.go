package store

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// FlushLoop is the write-behind loop both backends run: it flushes the
// pending changes every Interval and applies history retention between
// flushes, until its context ends or Stop is called; then it makes a final
// flush. It refuses a second Run, and a Run after Stop.
type FlushLoop struct {
	Interval  time.Duration
	Retention time.Duration // 0: keep all history
	// Flush writes what is pending; on failure the changes stay queued.
	Flush func(ctx context.Context) error
	// Prune removes history older than Retention; more reports that it
	// stopped at its budget with rows left, so it runs again after the
	// next flush rather than after the pause.
	Prune func(ctx context.Context, now time.Time) (more bool, err error)
	// Final is the last flush, on its own deadline.
	Final    func() error
	Failures func() uint64 // flushes failed so far
	Log      *slog.Logger

	mu    sync.Mutex
	state int // 0 idle, 1 running, 2 stopped
	stop  chan struct{}
	done  chan struct{}
}

// channels makes the loop's channels on first use; f.mu is held.
func (f *FlushLoop) channels() {
	if f.stop == nil {
		f.stop, f.done = make(chan struct{}), make(chan struct{})
	}
}

// Run runs the loop and returns the final flush's error.
func (f *FlushLoop) Run(ctx context.Context) error {
	f.mu.Lock()
	switch f.state {
	case 1:
		f.mu.Unlock()
		return ErrRunning
	case 2:
		f.mu.Unlock()
		return ErrClosed
	}
	f.state = 1
	f.channels()
	f.mu.Unlock()
	defer close(f.done)

	tick := time.NewTicker(f.Interval)
	defer tick.Stop()
	pruneEvery := min(max(f.Retention/100, time.Second), time.Minute)
	nextPrune := time.Now()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return f.Final()
		case <-f.stop:
			return f.Final()
		case <-tick.C:
		}
		if err := f.Flush(ctx); err != nil {
			if ctx.Err() != nil {
				continue // the final flush retries
			}
			if !failing || f.Failures()%50 == 0 {
				f.Log.Error("flush failed; changes stay queued", "err", err, "failures", f.Failures())
			}
			failing = true
			continue
		}
		if failing {
			f.Log.Info("flush recovered", "failures", f.Failures())
			failing = false
		}
		if f.Retention > 0 && !time.Now().Before(nextPrune) {
			more, err := f.Prune(ctx, time.Now())
			if err != nil && ctx.Err() == nil {
				f.Log.Error("history retention failed", "err", err)
			}
			if !more || err != nil {
				nextPrune = time.Now().Add(pruneEvery)
			}
		}
	}
}

// Stop ends Run, if it runs, and waits for it to return. Run is refused
// after Stop. It is safe to call more than once.
func (f *FlushLoop) Stop() {
	f.mu.Lock()
	if f.state == 2 {
		f.mu.Unlock()
		return
	}
	running := f.state == 1
	f.state = 2
	f.channels()
	close(f.stop)
	f.mu.Unlock()
	if running {
		<-f.done
	}
}

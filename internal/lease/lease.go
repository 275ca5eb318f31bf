// Package lease gives one instance of a cluster exclusive hold of a named
// duty (a federation peer link) through a JetStream key-value bucket, and
// keeps the duty's acknowledged position so that the next holder resumes
// where the last one stopped.
//
// The lease is the key "lease.NAME" in a bucket whose entries expire after
// TTL. Acquiring is a create (fails if the key exists); renewing is an
// update conditioned on the revision the holder last wrote (fails if
// anyone else wrote since). A holder that dies stops renewing, the entry
// expires after TTL, and another instance's create succeeds. A holder
// that cannot renew in time (partitioned) learns it lost the lease before
// TTL ends (it renews every TTL/3) and must stop the duty. The
// acknowledged position is the key "ack.NAME" in a second bucket without
// TTL, written by the holder after renewing the lease.
//
// The node holds each of its federation peer links with a lease of its own
// (node/fedcluster.go, TryAcquire, Holder and Stop); the acknowledged
// position of a link lives in the shared PostgreSQL queue, committed with
// the queue itself, so Ack is not used there.
package lease

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Sentinel errors.
var (
	ErrNotHeld = errors.New("lease not held")
	ErrConfig  = errors.New("invalid lease configuration")
)

// Config configures a Lease.
type Config struct {
	// KV is the lease bucket (TTL equal to the lease TTL) and Acks the
	// bucket of acknowledged positions (no TTL); see Buckets.
	KV   jetstream.KeyValue
	Acks jetstream.KeyValue
	// Name is the duty, e.g. the peer's name.
	Name string
	// Holder identifies this instance.
	Holder string
	// TTL is the bucket's TTL; renewals happen every TTL/3.
	TTL time.Duration
	// OnAcquire runs (on the lease goroutine) when this instance gains the
	// lease, with the last acknowledged position; OnLose when it loses it.
	OnAcquire func(ackSeq uint64)
	OnLose    func()
	Log       *slog.Logger
}

// Buckets creates or opens the lease bucket (entries expire after ttl)
// and the bucket of acknowledged positions (kept until overwritten).
func Buckets(ctx context.Context, js jetstream.JetStream, name string, ttl time.Duration) (leases, acks jetstream.KeyValue, err error) {
	leases, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: name, TTL: ttl, History: 1})
	if err != nil {
		return nil, nil, fmt.Errorf("lease bucket %s: %w", name, err)
	}
	acks, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: name + "_acks", History: 1})
	if err != nil {
		return nil, nil, fmt.Errorf("lease bucket %s_acks: %w", name, err)
	}
	return leases, acks, nil
}

// Lease is one instance's claim on one duty.
type Lease struct {
	cfg Config
	log *slog.Logger

	mu   sync.Mutex
	rev  uint64 // revision of our last write of the lease key; 0 when not held
	stop context.CancelFunc
	done chan struct{}
}

// New validates cfg.
func New(cfg Config) (*Lease, error) {
	if cfg.KV == nil || cfg.Acks == nil || cfg.Name == "" || cfg.Holder == "" || cfg.TTL <= 0 {
		return nil, fmt.Errorf("%w: bucket, name, holder and TTL are required", ErrConfig)
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Lease{cfg: cfg, log: log.With("component", "lease", "lease", cfg.Name, "holder", cfg.Holder)}, nil
}

func (l *Lease) key() string    { return "lease." + l.cfg.Name }
func (l *Lease) ackKey() string { return "ack." + l.cfg.Name }

// Held reports whether this instance holds the lease as of its last
// renewal.
func (l *Lease) Held() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rev != 0
}

// TryAcquire makes one attempt to acquire or renew the lease and reports
// whether this instance holds it afterwards.
func (l *Lease) TryAcquire(ctx context.Context) (bool, error) {
	l.mu.Lock()
	rev := l.rev
	l.mu.Unlock()
	var (
		newRev uint64
		err    error
	)
	if rev != 0 {
		newRev, err = l.cfg.KV.Update(ctx, l.key(), []byte(l.cfg.Holder), rev)
	} else {
		newRev, err = l.cfg.KV.Create(ctx, l.key(), []byte(l.cfg.Holder))
	}
	if err != nil {
		l.mu.Lock()
		l.rev = 0
		l.mu.Unlock()
		if errors.Is(err, jetstream.ErrKeyExists) {
			return false, nil
		}
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
			return false, nil
		}
		return false, fmt.Errorf("lease %s: %w", l.cfg.Name, err)
	}
	l.mu.Lock()
	l.rev = newRev
	l.mu.Unlock()
	return true, nil
}

// Ack records the acknowledged position of the duty. Only the holder may
// write it: the lease is renewed first, so that a holder that lost the
// lease cannot move the position under the new one.
func (l *Lease) Ack(ctx context.Context, seq uint64) error {
	held, err := l.TryAcquire(ctx)
	if err != nil {
		return err
	}
	if !held {
		return ErrNotHeld
	}
	if _, err := l.cfg.Acks.Put(ctx, l.ackKey(), []byte(strconv.FormatUint(seq, 10))); err != nil {
		return fmt.Errorf("recording acknowledged position of %s: %w", l.cfg.Name, err)
	}
	return nil
}

// Acked returns the last acknowledged position (0 if none).
func (l *Lease) Acked(ctx context.Context) (uint64, error) {
	e, err := l.cfg.Acks.Get(ctx, l.ackKey())
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading acknowledged position of %s: %w", l.cfg.Name, err)
	}
	return strconv.ParseUint(string(e.Value()), 10, 64)
}

// Start keeps trying to acquire and renew the lease every TTL/3 until
// Stop, calling OnAcquire and OnLose on changes.
func (l *Lease) Start(ctx context.Context) error {
	runCtx, cancel := context.WithCancel(context.Background())
	l.stop, l.done = cancel, make(chan struct{})
	go func() {
		defer close(l.done)
		t := time.NewTicker(l.cfg.TTL / 3)
		defer t.Stop()
		was := false
		for {
			cctx, c := context.WithTimeout(runCtx, l.cfg.TTL/3)
			held, err := l.TryAcquire(cctx)
			c()
			if err != nil && runCtx.Err() == nil {
				l.log.Warn("lease renewal failed", "err", err)
			}
			switch {
			case held && !was:
				seq, _ := l.Acked(runCtx)
				l.log.Info("lease acquired", "acked", seq)
				if l.cfg.OnAcquire != nil {
					l.cfg.OnAcquire(seq)
				}
			case !held && was:
				l.log.Warn("lease lost")
				if l.cfg.OnLose != nil {
					l.cfg.OnLose()
				}
			}
			was = held
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return nil
}

// Stop ends renewals and releases the lease if held, so that another
// instance takes over at once.
func (l *Lease) Stop(ctx context.Context) error {
	if l.stop != nil {
		l.stop()
		<-l.done
	}
	l.mu.Lock()
	rev := l.rev
	l.rev = 0
	l.mu.Unlock()
	if rev == 0 {
		return nil
	}
	if err := l.cfg.KV.Delete(ctx, l.key(), jetstream.LastRevision(rev)); err != nil {
		return fmt.Errorf("releasing lease %s: %w", l.cfg.Name, err)
	}
	return nil
}

// Abandon ends renewals without releasing, as a killed instance would.
func (l *Lease) Abandon() {
	if l.stop != nil {
		l.stop()
		<-l.done
	}
}

// Holder returns the instance that holds the lease ("" when none).
func (l *Lease) Holder(ctx context.Context) (string, error) {
	e, err := l.cfg.KV.Get(ctx, l.key())
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading lease %s: %w", l.cfg.Name, err)
	}
	return string(e.Value()), nil
}

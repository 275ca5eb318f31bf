package cyber

import (
	"context"
	"crypto/sha1"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"kizuna/internal/stix"
)

// SecurityEvent is one security-relevant event the node saw.
type SecurityEvent struct {
	Category string // e.g. tls_refused, event_rejected, rate_limited
	Message  string
	Remote   string // host:port or host of the source, if known
	Time     time.Time
}

// SightingsConfig configures Sightings.
type SightingsConfig struct {
	NodeID string
	Nation string
	// Flush is how often batched events become STIX objects.
	Flush time.Duration
	// Store stores one batch of STIX objects.
	Store func(ctx context.Context, objs []json.RawMessage) error
	// MaxPending bounds the events waiting for a flush; beyond it events
	// are counted and dropped.
	MaxPending int
	Log        *slog.Logger
}

// Sightings batches security events into STIX objects.
type Sightings struct {
	cfg     SightingsConfig
	mu      sync.Mutex
	pending map[batchKey]*batch
	dropped atomic.Int64
	cancel  context.CancelFunc
	done    chan struct{}
}

type batchKey struct{ category, source string }

type batch struct {
	first, last time.Time
	count       int
	message     string
}

// NewSightings checks cfg.
func NewSightings(cfg SightingsConfig) (*Sightings, error) {
	if cfg.Store == nil || cfg.NodeID == "" || cfg.Nation == "" {
		return nil, errors.New("cyber: sightings need Store, NodeID and Nation")
	}
	if cfg.Flush <= 0 {
		cfg.Flush = 10 * time.Second
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 10000
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Sightings{cfg: cfg, pending: map[batchKey]*batch{}}, nil
}

// Observe records one event. It never blocks on I/O.
func (s *Sightings) Observe(ev SecurityEvent) {
	src := ev.Remote
	if h, _, err := net.SplitHostPort(src); err == nil {
		src = h
	}
	if net.ParseIP(src) == nil {
		src = ""
	}
	k := batchKey{ev.Category, src}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.pending[k]
	if !ok {
		if len(s.pending) >= s.cfg.MaxPending {
			s.dropped.Add(1)
			return
		}
		b = &batch{first: ev.Time, message: ev.Message}
		s.pending[k] = b
	}
	b.count++
	if ev.Time.Before(b.first) {
		b.first = ev.Time
	}
	if ev.Time.After(b.last) {
		b.last = ev.Time
	}
}

// Dropped counts events dropped because too many sources were pending.
func (s *Sightings) Dropped() int64 { return s.dropped.Load() }

// Start runs the flush loop.
func (s *Sightings) Start(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	s.cancel = cancel
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		t := time.NewTicker(s.cfg.Flush)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := s.Flush(ctx); err != nil {
					s.cfg.Log.Error("cyber: storing sightings failed", "err", err)
				}
			}
		}
	}()
	return nil
}

// Stop ends the loop and flushes what is pending.
func (s *Sightings) Stop(ctx context.Context) error {
	if s.cancel != nil {
		s.cancel()
		<-s.done
	}
	return s.Flush(ctx)
}

// nameID returns a name-based (version 5 style) identifier, so that the
// node's identity, each attack pattern and each source address keep one
// id across batches and restarts.
func nameID(typ, name string) string {
	h := sha1.Sum([]byte("kizuna\x00" + typ + "\x00" + name))
	h[6] = (h[6] & 0x0f) | 0x50
	h[8] = (h[8] & 0x3f) | 0x80
	return fmt.Sprintf("%s--%x-%x-%x-%x-%x", typ, h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// IdentityID is the STIX identity of a node.
func IdentityID(nodeID string) string { return nameID("identity", nodeID) }

// Flush turns the pending batches into STIX objects and stores them.
func (s *Sightings) Flush(ctx context.Context) error {
	s.mu.Lock()
	batches := s.pending
	s.pending = map[batchKey]*batch{}
	s.mu.Unlock()
	if len(batches) == 0 {
		return nil
	}
	now := stix.FormatTimestamp(time.Now())
	ident := IdentityID(s.cfg.NodeID)
	objs := []json.RawMessage{mustJSON(map[string]any{
		"type": "identity", "spec_version": "2.1", "id": ident, "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
		"name": "Kizuna node " + s.cfg.NodeID, "identity_class": "system", "sectors": []string{"defense"},
	})}
	seenAP := map[string]bool{}
	for k, b := range batches {
		ap := nameID("attack-pattern", k.category)
		if !seenAP[ap] {
			seenAP[ap] = true
			objs = append(objs, mustJSON(map[string]any{
				"type": "attack-pattern", "spec_version": "2.1", "id": ap, "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
				"name": "Kizuna security event: " + k.category, "created_by_ref": ident,
			}))
		}
		first, last := stix.FormatTimestamp(b.first), stix.FormatTimestamp(b.last)
		sighting := map[string]any{
			"type": "sighting", "spec_version": "2.1", "id": stix.NewIDv4("sighting"), "created": now, "modified": now,
			"sighting_of_ref": ap, "where_sighted_refs": []string{ident}, "count": b.count,
			"first_seen": first, "last_seen": last, "created_by_ref": ident,
			"description": fmt.Sprintf("%d× %s (%s)", b.count, k.category, b.message),
		}
		if k.source != "" {
			typ := "ipv4-addr"
			if net.ParseIP(k.source).To4() == nil {
				typ = "ipv6-addr"
			}
			addr := nameID(typ, k.source)
			od := stix.NewIDv4("observed-data")
			objs = append(objs,
				mustJSON(map[string]any{"type": typ, "spec_version": "2.1", "id": addr, "value": k.source}),
				mustJSON(map[string]any{
					"type": "observed-data", "spec_version": "2.1", "id": od, "created": now, "modified": now,
					"first_observed": first, "last_observed": last, "number_observed": b.count,
					"object_refs": []string{addr}, "created_by_ref": ident,
				}))
			sighting["observed_data_refs"] = []string{od}
			sighting["description"] = fmt.Sprintf("%d× %s from %s (%s)", b.count, k.category, k.source, b.message)
		}
		objs = append(objs, mustJSON(sighting))
	}
	return s.cfg.Store(ctx, objs)
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

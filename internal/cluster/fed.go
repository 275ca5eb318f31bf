package cluster

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The stream is also the node's log for federation: the instance that
// holds a peer link's lease reads it whole, in order, from the position
// the link's shared queue recorded (Read), and events that arrived from
// allied nodes carry their federation facts in headers, so that the
// holder relays them as such, whichever instance received them.

// Headers of a federated event.
const (
	HdrFedOrigin = "Kizuna-Fed-Origin"
	HdrFedSeq    = "Kizuna-Fed-Seq"
	HdrFedPath   = "Kizuna-Fed-Path"
	HdrFedPeer   = "Kizuna-Fed-Peer"
	HdrFedSigned = "Kizuna-Fed-Signed"
)

// Fed is the federation provenance of an event: its origin node and
// sequence number, the path it took, the peer it arrived from and the
// origin's signed record.
type Fed struct {
	Origin string
	Seq    uint64
	Path   []string
	Peer   string
	Signed []byte
}

func (f *Fed) setHeader(h nats.Header) {
	h.Set(HdrFedOrigin, f.Origin)
	h.Set(HdrFedSeq, strconv.FormatUint(f.Seq, 10))
	h.Set(HdrFedPath, strings.Join(f.Path, " "))
	h.Set(HdrFedPeer, f.Peer)
	h.Set(HdrFedSigned, base64.StdEncoding.EncodeToString(f.Signed))
}

// fedFromHeader returns the provenance in h, or nil for a local event (or
// malformed headers, which then count as no provenance: the holder does
// not relay what it cannot prove).
func fedFromHeader(h nats.Header) *Fed {
	origin := h.Get(HdrFedOrigin)
	if origin == "" {
		return nil
	}
	seq, err := strconv.ParseUint(h.Get(HdrFedSeq), 10, 64)
	if err != nil {
		return nil
	}
	signed, err := base64.StdEncoding.DecodeString(h.Get(HdrFedSigned))
	if err != nil {
		return nil
	}
	return &Fed{Origin: origin, Seq: seq, Path: strings.Fields(h.Get(HdrFedPath)), Peer: h.Get(HdrFedPeer), Signed: signed}
}

// LogID identifies the stream as created: a recreated stream numbers its
// messages from 1 again, and readers that keep positions must know.
func (b *Bus) LogID(ctx context.Context) (uint64, error) {
	if b.js == nil {
		return 0, ErrUnavailable
	}
	s, err := b.js.Stream(ctx, b.stream)
	if err != nil {
		return 0, fmt.Errorf("%w: stream %s: %w", ErrUnavailable, b.stream, err)
	}
	return uint64(s.CachedInfo().Created.UnixNano()), nil
}

// Reader is a running Read.
type Reader struct {
	cc jetstream.ConsumeContext
}

// Stop ends the reading. A call of fn already running may still end
// after Stop returns.
func (r *Reader) Stop() { r.cc.Stop() }

// Read calls fn with every event of the stream after position after, the
// instance's own included, in stream order, each once, until Stop. A
// reconnect resumes where it stopped. Events the stream no longer holds
// (older than MaxAge) are reported as lost in the log.
func (b *Bus) Read(ctx context.Context, after uint64, fn func(Envelope)) (*Reader, error) {
	if b.js == nil {
		return nil, ErrUnavailable
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{b.subject + ".ev.>"}, DeliverPolicy: jetstream.DeliverAllPolicy}
	if after > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, after+1
	}
	cons, err := b.js.OrderedConsumer(ctx, b.stream, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: reading %s: %w", ErrUnavailable, b.stream, err)
	}
	next := after + 1
	cc, err := cons.Consume(func(m jetstream.Msg) {
		md, err := m.Metadata()
		if err != nil {
			return
		}
		seq := md.Sequence.Stream
		if seq > next {
			b.log.Warn("stream read skipped positions (expired or removed)", "from", next, "to", seq-1)
		}
		next = seq + 1
		if _, err := levelFromSubject(m.Subject()); err != nil {
			return
		}
		h := m.Headers()
		fn(Envelope{Instance: h.Get(HdrInstance), Owner: h.Get(HdrOwner), Kind: h.Get(HdrKind), XML: m.Data(), Seq: seq, Fed: fedFromHeader(h)})
	}, jetstream.PullExpiry(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("%w: reading %s: %w", ErrUnavailable, b.stream, err)
	}
	return &Reader{cc: cc}, nil
}

// Synced waits until every event queued by Publish before the call is
// stored in JetStream, or ctx ends.
func (b *Bus) Synced(ctx context.Context) error {
	target := b.enqueued.Load()
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for b.published.Load() < target {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %d events not yet stored in JetStream", ErrUnavailable, target-b.published.Load())
		case <-t.C:
		}
	}
	return nil
}

// StreamName is the node's stream, a valid prefix for other JetStream
// names of the node (its federation lease bucket).
func (b *Bus) StreamName() string { return b.stream }

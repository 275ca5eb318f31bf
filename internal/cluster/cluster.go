// Package cluster joins one Kizuna instance to the other instances of the
// same national node through NATS JetStream, so that clients connected to
// any instance see one picture.
//
// Events. Every event an instance accepts is published once to the node's
// stream, on subject PREFIX.ev.LEVEL.ORIGINATOR, where LEVEL is the stored
// classification level (1 UNCLASSIFIED … 4 TOP SECRET) and ORIGINATOR the
// label's originator nation. Each instance reads the stream through
// ordered consumers (in stream order, each message once, resumed after a
// reconnect at the next sequence) filtered to the levels at or below the
// highest clearance any of its clients can hold: an instance that serves
// only UNCLASSIFIED clients never receives SECRET traffic at all. What it
// receives is handed to Deliver, where the node applies it to its picture
// and fans it out through its hub: the label check (label.Releasable)
// happens at the egress of the instance that serves the client, exactly as
// for a local event. An instance skips its own messages, which its hub
// delivered already; so each client gets each event once.
//
// Publishing never blocks ingest: Publish queues into a bounded outbox that
// one goroutine sends asynchronously. Each message carries a Nats-Msg-Id
// (instance id + sequence), so a send retried after a failure is stored
// once. While NATS is unreachable the outbox keeps what was accepted and
// Admit refuses new work with ErrUnavailable; nothing accepted is dropped
// unless the outbox overflows, which is counted.
//
// Membership. Every instance writes a heartbeat to the key-value bucket
// PREFIX_members (entries expire after MemberTTL); Members lists the live
// instances.
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"kizuna/internal/label"
)

// Sentinel errors.
var (
	// ErrUnavailable means the instance cannot take new work now: NATS is
	// unreachable or the outbox is nearly full.
	ErrUnavailable = errors.New("cluster unavailable")
	ErrConfig      = errors.New("invalid cluster configuration")
)

// Headers of a cluster message.
const (
	HdrInstance = "Kizuna-Instance"
	HdrOwner    = "Kizuna-Owner"
	HdrKind     = "Kizuna-Kind"
)

// Defaults.
const (
	DefaultOutbox    = 65536
	DefaultMaxAge    = time.Hour
	DefaultMemberTTL = 10 * time.Second
	// StartBacklog is how far back a starting instance reads the stream:
	// well over the store's flush interval plus one write.
	StartBacklog = 3 * time.Second
)

// Config configures a Bus.
type Config struct {
	// URL is the NATS server, nats://HOST:PORT.
	URL string
	// Name names the node's stream and subjects; every instance of one
	// node uses the same (the node id, reduced to [A-Za-z0-9_-]).
	Name string
	// Instance identifies this instance; default host-pid-random.
	Instance string
	// MaxClearance is the highest clearance any client of this instance
	// can hold; the instance receives no level above it.
	MaxClearance label.Classification
	// Nations, when set, are the node's release tokens (the same list on
	// every instance) and Serve the nations this instance's clients
	// belong to (nil: any nation); see nations.go.
	Nations []string
	Serve   []string
	// Outbox bounds messages accepted but not yet stored by JetStream.
	Outbox int
	// MaxAge is how long the stream keeps events (default 1h).
	MaxAge time.Duration
	// MemberTTL is how long a heartbeat keeps an instance listed.
	MemberTTL time.Duration
	// Deliver receives, in stream order per level, every event published
	// by another instance. It runs on the consumer's goroutine.
	Deliver func(Envelope)
	Log     *slog.Logger
}

// Envelope is one event as carried between instances.
type Envelope struct {
	Instance string // the instance that accepted it
	Owner    string // the nation that owns the uid
	Kind     string // "event"
	Label    label.Label
	XML      []byte // canonical CoT XML with label and __origin
	Seq      uint64 // stream sequence (on receipt)
	// Fed is set for an event that arrived from an allied node, so that
	// the instance holding federation relays it as such (fed.go).
	Fed *Fed
}

// Stats are the bus's counters.
type Stats struct {
	Published     uint64 // messages stored by JetStream
	PublishErrors uint64 // failed sends (retried)
	OutboxDropped uint64 // messages lost to a full outbox
	Outbox        int    // messages waiting to be stored
	Received      uint64 // messages from other instances delivered
	Skipped       uint64 // own messages skipped
	BytesReceived uint64 // payload bytes received (own and others')
	Lag           uint64 // messages pending in this instance's consumers
	LastSeq       uint64 // last stream sequence handled
}

// Member is one live instance.
type Member struct {
	Instance string    `json:"instance"`
	Started  time.Time `json:"started"`
	Seen     time.Time `json:"seen"`
}

// Bus is this instance's connection to the cluster.
type Bus struct {
	cfg     Config
	log     *slog.Logger
	stream  string
	subject string
	started time.Time

	nc        *nats.Conn
	js        jetstream.JetStream
	members   jetstream.KeyValue
	startTime time.Time // consume events stored from then on

	outbox   chan Envelope
	inflight atomic.Int64 // messages taken from the outbox, not yet acknowledged
	seq      atomic.Uint64

	published, pubErrs, dropped, received, skipped, bytesIn, lastSeq atomic.Uint64
	enqueued                                                         atomic.Uint64
	lag                                                              sync.Map // filter -> uint64
	connected                                                        atomic.Bool
	sendFailing                                                      atomic.Bool

	mu       sync.Mutex
	known    []Member
	consumes []jetstream.ConsumeContext
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// New validates cfg. Connect makes the connection.
func New(cfg Config) (*Bus, error) {
	if cfg.URL == "" {
		return nil, fmt.Errorf("%w: no NATS URL", ErrConfig)
	}
	if !strings.HasPrefix(cfg.URL, "nats://") && !strings.HasPrefix(cfg.URL, "tls://") {
		return nil, fmt.Errorf("%w: NATS URL %q must be nats://HOST:PORT", ErrConfig, cfg.URL)
	}
	name := sanitize(cfg.Name)
	if name == "" {
		return nil, fmt.Errorf("%w: empty cluster name", ErrConfig)
	}
	if cfg.Deliver == nil {
		return nil, fmt.Errorf("%w: no Deliver function", ErrConfig)
	}
	if cfg.Instance == "" {
		host, _ := os.Hostname()
		var b [3]byte
		rand.Read(b[:])
		cfg.Instance = sanitize(host) + "-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b[:])
	}
	if cfg.MaxClearance == label.Invalid {
		cfg.MaxClearance = label.TopSecret
	}
	if cfg.Outbox <= 0 {
		cfg.Outbox = DefaultOutbox
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.MemberTTL <= 0 {
		cfg.MemberTTL = DefaultMemberTTL
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Bus{
		cfg: cfg, log: log.With("component", "cluster", "instance", cfg.Instance),
		stream: name, subject: name, started: time.Now(),
		outbox: make(chan Envelope, cfg.Outbox),
	}, nil
}

// sanitize keeps the characters valid in stream names and subject tokens.
func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// Instance returns this instance's id.
func (b *Bus) Instance() string { return b.cfg.Instance }

// Subject returns the subject an event with label l is published on.
func (b *Bus) Subject(l label.Label) string {
	s := b.subject + ".ev." + strconv.Itoa(level(l.Classification)) + "." + sanitize(l.Originator)
	if len(b.cfg.Nations) > 0 {
		s += releaseTokens(b.cfg.Nations, l)
	}
	return s
}

func level(c label.Classification) int { return c.Level() }

// Filters returns the subject filters this instance consumes: every level
// at or below MaxClearance (one filter for all when that is TOP SECRET).
func (b *Bus) Filters() []string {
	if len(b.cfg.Nations) > 0 {
		return nationFilters(b.subject, b.cfg.MaxClearance, b.cfg.Nations, b.cfg.Serve)
	}
	top := level(b.cfg.MaxClearance)
	if top >= 4 {
		return []string{b.subject + ".ev.>"}
	}
	var f []string
	for l := 1; l <= top; l++ {
		f = append(f, b.subject+".ev."+strconv.Itoa(l)+".>")
	}
	return f
}

// Connect connects to NATS, creates (or updates) the stream and the
// members bucket, and records where consumption will start: StartBacklog
// before now, since everything older is in the shared store the node
// restores from. Call it before restoring the picture.
func (b *Bus) Connect(ctx context.Context) error {
	nc, err := nats.Connect(b.cfg.URL,
		nats.Name("kizuna "+b.cfg.Instance),
		nats.Timeout(5*time.Second),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500*time.Millisecond),
		nats.RetryOnFailedConnect(false),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			b.connected.Store(false)
			if err != nil {
				b.log.Warn("NATS disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) {
			b.connected.Store(true)
			b.log.Info("NATS reconnected")
		}),
		nats.ClosedHandler(func(*nats.Conn) { b.connected.Store(false) }),
	)
	if err != nil {
		return fmt.Errorf("%w: connecting to %s: %w", ErrUnavailable, b.cfg.URL, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return fmt.Errorf("%w: jetstream: %w", ErrUnavailable, err)
	}
	_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       b.stream,
		Subjects:   []string{b.subject + ".ev.>"},
		Storage:    jetstream.FileStorage,
		Retention:  jetstream.LimitsPolicy,
		MaxAge:     b.cfg.MaxAge,
		Duplicates: 2 * time.Minute,
	})
	if err != nil {
		nc.Close()
		return fmt.Errorf("%w: creating stream %s: %w", ErrUnavailable, b.stream, err)
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: b.stream + "_members",
		TTL:    b.cfg.MemberTTL,
	})
	if err != nil {
		nc.Close()
		return fmt.Errorf("%w: creating members bucket: %w", ErrUnavailable, err)
	}
	b.nc, b.js, b.members = nc, js, kv
	// Resume a little before now: events other instances accepted in the
	// last moments may not be in the shared store yet (write-behind). The
	// node ignores what its restored picture already holds.
	b.startTime = time.Now().Add(-StartBacklog)

	b.connected.Store(true)
	return nil
}

// JetStream returns the JetStream context (after Connect), for other
// cluster components (leases).
func (b *Bus) JetStream() jetstream.JetStream { return b.js }

// Start begins consuming, publishing and heartbeating. ctx bounds the
// setup only; Stop ends the work.
func (b *Bus) Start(ctx context.Context) error {
	if b.js == nil {
		return fmt.Errorf("cluster: Start before Connect")
	}
	runCtx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	for _, f := range b.Filters() {
		cons, err := b.js.OrderedConsumer(ctx, b.stream, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{f},
			DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
			OptStartTime:   &b.startTime,
		})
		if err != nil {
			b.Stop(ctx)
			return fmt.Errorf("%w: consumer %s: %w", ErrUnavailable, f, err)
		}
		filter := f
		cc, err := cons.Consume(func(m jetstream.Msg) { b.handle(filter, m) },
			// Short pulls: a restarted server is noticed (missed
			// heartbeats) within seconds and the consumer resumes.
			jetstream.PullExpiry(5*time.Second),
			jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
				b.log.Debug("consume", "filter", filter, "err", err)
			}))
		if err != nil {
			b.Stop(ctx)
			return fmt.Errorf("%w: consuming %s: %w", ErrUnavailable, f, err)
		}
		b.mu.Lock()
		b.consumes = append(b.consumes, cc)
		b.mu.Unlock()
	}
	b.wg.Add(2)
	go func() {
		defer b.wg.Done()
		b.sendLoop(runCtx)
	}()
	go func() {
		defer b.wg.Done()
		b.heartbeatLoop(runCtx)
	}()
	return nil
}

func (b *Bus) handle(filter string, m jetstream.Msg) {
	md, err := m.Metadata()
	if err == nil {
		b.lag.Store(filter, md.NumPending)
		b.lastSeq.Store(md.Sequence.Stream)
	}
	data := m.Data()
	b.bytesIn.Add(uint64(len(data)))
	h := m.Headers()
	inst := h.Get(HdrInstance)
	if inst == b.cfg.Instance {
		b.skipped.Add(1)
		return
	}
	if _, err := levelFromSubject(m.Subject()); err != nil {
		b.log.Warn("dropping malformed cluster message", "subject", m.Subject(), "err", err)
		return
	}
	env := Envelope{Instance: inst, Owner: h.Get(HdrOwner), Kind: h.Get(HdrKind), XML: data, Fed: fedFromHeader(h)}
	if md != nil {
		env.Seq = md.Sequence.Stream
	}
	b.received.Add(1)
	b.cfg.Deliver(env)
}

// levelFromSubject checks that a subject has the PREFIX.ev.LEVEL.NATION
// form (followed by the release tokens when the node has them). The label itself travels in the event's XML, which the receiving
// node parses and checks again.
func levelFromSubject(s string) (int, error) {
	parts := strings.Split(s, ".")
	if len(parts) < 4 || parts[1] != "ev" {
		return 0, fmt.Errorf("unexpected subject %q", s)
	}
	lv, err := strconv.Atoi(parts[2])
	if err != nil || lv < 1 || lv > 4 {
		return 0, fmt.Errorf("bad level in subject %q", s)
	}
	return lv, nil
}

// Admit reports whether the instance can take new work now.
func (b *Bus) Admit() error {
	if !b.connected.Load() {
		return fmt.Errorf("%w: NATS at %s unreachable", ErrUnavailable, b.cfg.URL)
	}
	if len(b.outbox) > cap(b.outbox)*3/4 {
		return fmt.Errorf("%w: %d events waiting for JetStream", ErrUnavailable, len(b.outbox))
	}
	if b.sendFailing.Load() {
		return fmt.Errorf("%w: JetStream is not storing events", ErrUnavailable)
	}
	return nil
}

// Health reports the bus's state: nil when connected and keeping up.
func (b *Bus) Health() error { return b.Admit() }

// Publish queues an accepted event for the other instances. It never
// blocks; a full outbox drops the event and counts it (Admit refuses work
// well before that).
func (b *Bus) Publish(env Envelope) {
	b.enqueued.Add(1) // before the send: Synced never waits for less than was queued
	select {
	case b.outbox <- env:
	default:
		b.enqueued.Add(^uint64(0))
		b.dropped.Add(1)
	}
}

const sendBatch = 256

// sendLoop stores outbox messages in JetStream, in order, retrying a
// failed send (with the same message id, so JetStream stores it once)
// until it succeeds.
func (b *Bus) sendLoop(ctx context.Context) {
	batch := make([]*nats.Msg, 0, sendBatch)
	futs := make([]jetstream.PubAckFuture, 0, sendBatch)
	for {
		batch = batch[:0]
		select {
		case <-ctx.Done():
			return
		case env := <-b.outbox:
			batch = append(batch, b.msg(env))
		}
	fill:
		for len(batch) < sendBatch {
			select {
			case env := <-b.outbox:
				batch = append(batch, b.msg(env))
			default:
				break fill
			}
		}
		b.inflight.Store(int64(len(batch)))
		backoff := 50 * time.Millisecond
		for len(batch) > 0 {
			futs = futs[:0]
			var sendErr error
			for _, m := range batch {
				f, err := b.js.PublishMsgAsync(m)
				if err != nil {
					sendErr = err
					break
				}
				futs = append(futs, f)
			}
			// Wait for every ack; keep the messages from the first failure
			// on (later ones are resent too: deduplication drops repeats).
			failed := len(futs)
			for i, f := range futs {
				select {
				case <-f.Ok():
				case err := <-f.Err():
					if failed == len(futs) {
						failed, sendErr = i, err
					}
				case <-ctx.Done():
					return
				}
			}
			if sendErr == nil && failed == len(futs) && len(futs) == len(batch) {
				b.published.Add(uint64(len(batch)))
				b.sendFailing.Store(false)
				b.inflight.Store(0)
				break
			}
			b.published.Add(uint64(failed))
			batch = batch[failed:]
			b.inflight.Store(int64(len(batch)))
			b.pubErrs.Add(1)
			if !b.sendFailing.Swap(true) {
				b.log.Error("JetStream publish failing; events stay queued", "err", sendErr, "queued", len(batch)+len(b.outbox))
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 2*time.Second)
		}
	}
}

func (b *Bus) msg(env Envelope) *nats.Msg {
	m := nats.NewMsg(b.Subject(env.Label))
	m.Data = env.XML
	m.Header.Set(HdrInstance, b.cfg.Instance)
	m.Header.Set(HdrOwner, env.Owner)
	if env.Kind != "" {
		m.Header.Set(HdrKind, env.Kind)
	}
	if env.Fed != nil {
		env.Fed.setHeader(m.Header)
	}
	id := b.cfg.Instance + "-" + strconv.FormatUint(b.seq.Add(1), 10)
	if env.Fed != nil {
		// One event of an allied node, whichever instance took it (two
		// links held by two instances can each bring it): the stream
		// stores it once within its duplicate window.
		id = "fed-" + env.Fed.Origin + "-" + strconv.FormatUint(env.Fed.Seq, 10)
	}
	m.Header.Set(jetstream.MsgIDHeader, id)
	return m
}

func (b *Bus) heartbeatLoop(ctx context.Context) {
	every := b.cfg.MemberTTL / 3
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		b.beat(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (b *Bus) beat(ctx context.Context) {
	v, _ := json.Marshal(Member{Instance: b.cfg.Instance, Started: b.started, Seen: time.Now()})
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := b.members.Put(cctx, b.cfg.Instance, v); err != nil && ctx.Err() == nil {
		b.log.Debug("heartbeat failed", "err", err)
		return
	}
	if ms, err := b.Members(cctx); err == nil {
		b.mu.Lock()
		b.known = ms
		b.mu.Unlock()
	}
}

// KnownMembers returns the live instances as of the last heartbeat.
func (b *Bus) KnownMembers() []Member {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Member(nil), b.known...)
}

// Members lists the instances whose heartbeat has not expired.
func (b *Bus) Members(ctx context.Context) ([]Member, error) {
	if b.members == nil {
		return nil, ErrUnavailable
	}
	lister, err := b.members.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: listing members: %w", ErrUnavailable, err)
	}
	var out []Member
	for k := range lister.Keys() {
		e, err := b.members.Get(ctx, k)
		if err != nil {
			continue
		}
		var m Member
		if json.Unmarshal(e.Value(), &m) == nil {
			out = append(out, m)
		}
	}
	return out, nil
}

// Stats returns the counters.
func (b *Bus) Stats() Stats {
	st := Stats{
		Published: b.published.Load(), PublishErrors: b.pubErrs.Load(), OutboxDropped: b.dropped.Load(),
		Outbox: len(b.outbox), Received: b.received.Load(), Skipped: b.skipped.Load(),
		BytesReceived: b.bytesIn.Load(), LastSeq: b.lastSeq.Load(),
	}
	b.lag.Range(func(_, v any) bool {
		st.Lag += v.(uint64)
		return true
	})
	return st
}

// Drain waits until the outbox is empty and every send acknowledged, or
// ctx ends.
func (b *Bus) Drain(ctx context.Context) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		if len(b.outbox) == 0 && b.inflight.Load() == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("draining cluster outbox (%d left): %w", len(b.outbox), ctx.Err())
		case <-t.C:
		}
	}
}

// Stop drains the outbox (bounded by ctx), stops consuming and closes the
// connection.
func (b *Bus) Stop(ctx context.Context) error {
	var err error
	if b.cancel != nil && b.connected.Load() {
		err = b.Drain(ctx)
	}
	b.mu.Lock()
	for _, cc := range b.consumes {
		cc.Stop()
	}
	b.consumes = nil
	b.mu.Unlock()
	if b.cancel != nil {
		b.cancel()
	}
	b.wg.Wait()
	if b.members != nil {
		dctx, cancel := context.WithTimeout(context.Background(), time.Second)
		b.members.Delete(dctx, b.cfg.Instance)
		cancel()
	}
	if b.nc != nil {
		b.nc.Close()
	}
	return err
}

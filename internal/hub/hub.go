package hub

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"kizuna/internal/label"
)

// Format is the wire format a subscriber reads.
type Format uint8

const (
	FormatXML Format = iota
	FormatProto
	FormatJSON
)

// ErrSlowConsumer is the reason a subscriber is dropped when its queue is
// full of updates that cannot be shed.
var ErrSlowConsumer = errors.New("slow consumer: queue full")

// ErrClosed is returned by Next after the subscriber was closed.
var ErrClosed = errors.New("subscriber closed")

// Identity is what directed delivery matches: the uid and callsign a TAK
// client announced in its own position reports.
type Identity struct {
	UID      string
	Callsign string
}

// Subscriber is one recipient: a TAK connection, a web stream or a
// federation link.
type Subscriber struct {
	ID        uint64
	Principal label.Principal
	// Web marks a subscriber that wants KindExpire messages.
	Web bool
	// Relay marks a federation link, which receives directed traffic so
	// that it can reach recipients at other nodes.
	Relay bool

	format atomic.Uint32
	ident  atomic.Pointer[Identity]
	region atomic.Pointer[Region] // nil: ScopeAll (region.go)

	mu     sync.Mutex
	queue  []*Message
	spare  []*Message
	flash  int // flash messages at the head of queue
	max    int
	closed bool
	// waiting is set by Next before it parks on an empty queue: only then
	// does Enqueue signal wake, so that a writer that is busy or pausing
	// to coalesce costs a publisher no channel operation.
	waiting bool
	err     error
	wake    chan struct{}
	// latest indexes the queued Latest messages by uid (region.go).
	latest map[string]int

	onReplace func()

	onDrop  func(superseded bool)
	onSlow  func()
	onFlash func()
}

// Format returns the subscriber's current wire format.
func (s *Subscriber) Format() Format { return Format(s.format.Load()) }

// SetFormat changes the wire format (after TAK protocol negotiation).
func (s *Subscriber) SetFormat(f Format) { s.format.Store(uint32(f)) }

// SetIdentity records the uid and callsign the client announced.
func (s *Subscriber) SetIdentity(id Identity) {
	if cur := s.ident.Load(); cur != nil && *cur == id {
		return
	}
	s.ident.Store(&id)
}

// Identity returns what the client announced, if anything.
func (s *Subscriber) Identity() Identity {
	if p := s.ident.Load(); p != nil {
		return *p
	}
	return Identity{}
}

// Enqueue queues m for this subscriber, shedding superseded position
// updates when the queue is full. When nothing can be shed the subscriber
// is closed with ErrSlowConsumer. It never blocks on the network.
func (s *Subscriber) Enqueue(m *Message) bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	if m.Latest && !m.Flash && s.replaceLatest(m) {
		s.mu.Unlock()
		return true
	}
	if len(s.queue) >= s.max && !s.shed(m) {
		s.closed = true
		s.err = ErrSlowConsumer
		s.queue = nil
		s.flash = 0
		s.forgetLatest()
		s.mu.Unlock()
		if s.onDrop != nil {
			s.onDrop(false)
		}
		if s.onSlow != nil {
			s.onSlow()
		}
		s.signal()
		return false
	}
	if m.Flash && s.flash < len(s.queue) {
		// Behind earlier flash messages, ahead of all routine ones.
		s.queue = append(s.queue, nil)
		copy(s.queue[s.flash+1:], s.queue[s.flash:])
		s.queue[s.flash] = m
		s.flash++
	} else {
		s.queue = append(s.queue, m)
		if m.Flash {
			s.flash++
		}
	}
	waiting := s.waiting
	s.waiting = false
	s.mu.Unlock()
	if waiting {
		s.signal()
	}
	if m.Flash && s.onFlash != nil {
		s.onFlash()
	}
	return true
}

// EnqueueAll queues messages without the size limit, for replay on connect.
func (s *Subscriber) EnqueueAll(ms []*Message) {
	if len(ms) == 0 {
		return
	}
	s.mu.Lock()
	if !s.closed {
		s.queue = append(s.queue, ms...)
	}
	s.mu.Unlock()
	s.signal()
}

// EnqueueReplay queues the picture for a new subscriber, without the size
// limit, skipping any object already queued live: an update published
// between Subscribe and the snapshot is delivered once, not twice.
func (s *Subscriber) EnqueueReplay(ms []*Message) {
	if len(ms) == 0 {
		return
	}
	s.mu.Lock()
	if !s.closed {
		queued := make(map[*Message]bool, len(s.queue))
		for _, q := range s.queue {
			queued[q] = true
		}
		for _, m := range ms {
			if !queued[m] && s.inScope(m) {
				s.queue = append(s.queue, m)
			}
		}
	}
	s.mu.Unlock()
	s.signal()
}

// shed makes room for m by removing one superseded position update. It
// prefers an older update of m's own uid, then any update that a later
// queued update of the same uid supersedes. Called with s.mu held.
func (s *Subscriber) shed(m *Message) bool {
	drop := -1
	if m.Position {
		for i, q := range s.queue {
			if q.Position && q.UID == m.UID {
				drop = i
				break
			}
		}
	}
	if drop < 0 {
		latest := make(map[string]int, len(s.queue))
		for i, q := range s.queue {
			if q.Position {
				latest[q.UID] = i
			}
		}
		for i, q := range s.queue {
			if q.Position && latest[q.UID] != i {
				drop = i
				break
			}
		}
	}
	if drop < 0 {
		return false
	}
	if drop < s.flash {
		s.flash--
	}
	copy(s.queue[drop:], s.queue[drop+1:])
	s.queue[len(s.queue)-1] = nil
	s.queue = s.queue[:len(s.queue)-1]
	if s.onDrop != nil {
		s.onDrop(true)
	}
	return true
}

func (s *Subscriber) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Next waits for queued messages and returns all of them at once, so that
// the caller can coalesce them into one write. The returned slice is valid
// until the following call to Next.
func (s *Subscriber) Next(ctx context.Context) ([]*Message, error) {
	for {
		s.mu.Lock()
		if len(s.queue) > 0 {
			out := s.queue
			clear(s.spare)
			s.queue = s.spare[:0]
			s.spare = out
			s.flash = 0
			s.forgetLatest()
			s.waiting = false
			s.mu.Unlock()
			return out, nil
		}
		if s.closed {
			err := s.err
			s.mu.Unlock()
			if err == nil {
				err = ErrClosed
			}
			return nil, err
		}
		s.waiting = true
		s.mu.Unlock()
		select {
		case <-s.wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// TakeFlash appends the flash messages queued at the head of the queue to
// dst and removes them, leaving routine messages queued. A writer that is
// behind (still writing an earlier batch) uses it to send flash traffic
// before the rest of that batch.
func (s *Subscriber) TakeFlash(dst []*Message) []*Message {
	s.mu.Lock()
	if s.flash > 0 && s.flash <= len(s.queue) {
		dst = append(dst, s.queue[:s.flash]...)
		n := copy(s.queue, s.queue[s.flash:])
		clear(s.queue[n:])
		s.queue = s.queue[:n]
		s.flash = 0
	}
	s.mu.Unlock()
	return dst
}

// HasFlash reports whether flash traffic is queued.
func (s *Subscriber) HasFlash() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flash > 0
}

// Close closes the subscriber with the given reason; queued messages are
// discarded and Next returns the reason.
func (s *Subscriber) Close(reason error) {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		s.err = reason
		s.queue = nil
		s.flash = 0
		s.forgetLatest()
	}
	s.mu.Unlock()
	s.signal()
}

// Err returns why the subscriber was closed, or nil.
func (s *Subscriber) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Len returns the number of queued messages.
func (s *Subscriber) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// Stats counts hub activity; the node exports it as metrics.
type Stats struct {
	Published  atomic.Uint64
	Enqueued   atomic.Uint64
	Denied     atomic.Uint64 // recipients skipped by the label policy
	Superseded atomic.Uint64 // position updates shed from congested queues
	SlowDrops  atomic.Uint64 // subscribers disconnected as slow consumers
	OutOfScope atomic.Uint64 // Regional messages outside a subscriber's scope
	Replaced   atomic.Uint64 // queued Latest messages replaced by a newer state
}

// Hub fans messages out to subscribers.
type Hub struct {
	mu     sync.Mutex
	subs   atomic.Pointer[[]*Subscriber]
	nextID atomic.Uint64
	queue  int
	Stats  Stats
}

// New returns a hub whose subscribers queue at most queueSize messages.
func New(queueSize int) *Hub {
	if queueSize <= 0 {
		queueSize = 4096
	}
	h := &Hub{queue: queueSize}
	empty := []*Subscriber{}
	h.subs.Store(&empty)
	return h
}

// Options describe a subscriber.
type Options struct {
	Web   bool // wants KindExpire messages; see Subscriber.Web
	Relay bool // federation link; see Subscriber.Relay
	Queue int  // queue bound; the hub's default when zero
	// First are queued before the subscriber becomes visible to Publish,
	// so they precede every published message (a protocol offer).
	First []*Message
	// OnSlow is called (once, on the publisher's goroutine, without locks
	// held) when the subscriber is closed as a slow consumer, so that its
	// owner can drop the connection at once. It must not block.
	OnSlow func()
	// OnFlash is called (on the publisher's goroutine, without locks held)
	// after flash traffic is queued, so that a writer pausing to coalesce
	// its writes sends it at once. It must not block.
	OnFlash func()
}

// Subscribe adds a subscriber for principal p in format f.
func (h *Hub) Subscribe(p label.Principal, f Format, o Options) *Subscriber {
	s := &Subscriber{
		ID:        h.nextID.Add(1),
		Principal: p,
		Web:       o.Web,
		Relay:     o.Relay,
		onSlow:    o.OnSlow,
		onFlash:   o.OnFlash,
		max:       h.queue,
		wake:      make(chan struct{}, 1),
	}
	if o.Queue > 0 {
		s.max = o.Queue
	}
	s.queue = append(s.queue, o.First...)
	s.format.Store(uint32(f))
	s.onReplace = func() { h.Stats.Replaced.Add(1) }
	s.onDrop = func(superseded bool) {
		if superseded {
			h.Stats.Superseded.Add(1)
		} else {
			h.Stats.SlowDrops.Add(1)
		}
	}
	h.mu.Lock()
	old := *h.subs.Load()
	next := make([]*Subscriber, len(old), len(old)+1)
	copy(next, old)
	next = append(next, s)
	h.subs.Store(&next)
	h.mu.Unlock()
	return s
}

// Unsubscribe removes s and closes it.
func (h *Hub) Unsubscribe(s *Subscriber) {
	h.mu.Lock()
	old := *h.subs.Load()
	next := make([]*Subscriber, 0, len(old))
	for _, o := range old {
		if o != s {
			next = append(next, o)
		}
	}
	h.subs.Store(&next)
	h.mu.Unlock()
	s.Close(ErrClosed)
}

// Subscribers returns the current subscribers.
func (h *Hub) Subscribers() []*Subscriber { return *h.subs.Load() }

// Publish delivers m to every subscriber that may receive it: not the
// sender, a named recipient if the message is directed, and always one the
// label policy releases it to. Publish runs on the publisher's goroutine and
// does no I/O.
//
// Each sender's events walk the subscribers from a different place (the
// sender's id modulo their number): publishers running at once on several
// cores then lock different subscribers' queues instead of following one
// another through the same order and meeting on every lock.
func (h *Hub) Publish(m *Message) {
	h.Stats.Published.Add(1)
	subs := *h.subs.Load()
	if len(subs) == 0 {
		return
	}
	start := int(m.From % uint64(len(subs)))
	var p publication
	p.offer(subs[start:], m)
	p.offer(subs[:start], m)
	h.Stats.Enqueued.Add(p.enq)
	if p.denied > 0 {
		h.Stats.Denied.Add(p.denied)
	}
	if p.outside > 0 {
		h.Stats.OutOfScope.Add(p.outside)
	}
}

// publication is the state of one Publish: the label policy's answers
// for this message, remembered per principal (principals repeat across
// subscribers: every client of one listener shares one), and the counts.
type publication struct {
	cache [8]struct {
		k  principalKey
		ok bool
	}
	n                    int
	enq, denied, outside uint64
}

type principalKey struct {
	nation string
	cl     label.Classification
}

// offer queues m for every subscriber of subs that may receive it.
func (p *publication) offer(subs []*Subscriber, m *Message) {
	for _, s := range subs {
		if s.ID == m.From {
			continue
		}
		if m.Kind == KindExpire && !s.Web {
			continue
		}
		if len(m.Dests) > 0 && !directedTo(s, m) {
			continue
		}
		if m.Regional && !s.inScope(m) {
			p.outside++
			continue
		}
		if !p.releasable(s.Principal, m) {
			p.denied++
			continue
		}
		if s.Enqueue(m) {
			p.enq++
		}
	}
}

// releasable asks the label policy once per distinct principal.
func (p *publication) releasable(pr label.Principal, m *Message) bool {
	k := principalKey{pr.Nation, pr.Clearance}
	for i := 0; i < p.n; i++ {
		if p.cache[i].k == k {
			return p.cache[i].ok
		}
	}
	ok := label.Releasable(pr, m.Label)
	if p.n < len(p.cache) {
		p.cache[p.n].k, p.cache[p.n].ok = k, ok
		p.n++
	}
	return ok
}

// directedTo reports whether s is a named recipient of m. A relay (a
// federation link) carries directed traffic on towards recipients at other
// nodes; the label policy still decides.
func directedTo(s *Subscriber, m *Message) bool {
	if s.Relay {
		return true
	}
	id := s.Identity()
	for _, d := range m.Dests {
		if (d.UID != "" && d.UID == id.UID) || (d.Callsign != "" && d.Callsign == id.Callsign) {
			return true
		}
	}
	return false
}

package federation

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"kizuna/internal/label"
)

// link is the lasting state of one declared peer, across connections.
type link struct {
	f     *Federation
	name  string
	addr  string
	class label.Classification

	// next is the last link sequence number handed out per lane: the
	// routine lane's by the flusher only, the flash lane's under
	// Federation.flashMu.
	next [numLanes]uint64
	// hot holds the flash events not yet acknowledged by the peer, in
	// sequence order, so that the writer sends them without waiting for
	// the commit (guarded by mu).
	hot []queued
	// hotFloor: every flash event with a sequence number from hotFloor on
	// that is not yet acknowledged is in hot (guarded by mu).
	hotFloor uint64

	depth [numLanes]atomic.Int64
	wakeC chan struct{}

	mu        sync.Mutex
	nation    string // learned from its certificate (pinned once known)
	conn      *conn
	recvMem   [numLanes]uint64 // highest link seq received
	recvDone  [numLanes]uint64 // highest link seq committed (acknowledged)
	lastErr   string
	upSince   time.Time
	downSince time.Time
	lastHB    time.Time
	peerClock time.Duration // peer clock minus ours at the last heartbeat

	stats struct {
		sent, received, acked, withheld, dropped, connects atomic.Uint64
		// unverified counts events from this peer refused because their
		// origin could not be proven (a bad certificate included).
		unverified atomic.Uint64
	}
}

func newLink(f *Federation, p PeerConfig) *link {
	return &link{f: f, name: p.Name, addr: p.Addr, class: p.Classification, wakeC: make(chan struct{}, 1), downSince: time.Now()}
}

func (l *link) load(pr peerRow, depth [numLanes]int64, epoch uint64) {
	l.next = [numLanes]uint64{epoch << SeqBits, epoch << SeqBits}
	l.hotFloor = epoch<<SeqBits + 1
	l.mu.Lock()
	l.nation = pr.nation
	l.recvMem, l.recvDone = pr.recv, pr.recv
	l.mu.Unlock()
	for i, d := range depth {
		l.depth[i].Store(d)
	}
}

func (l *link) allocSeq(lane int) uint64 { l.next[lane]++; return l.next[lane] }

// maxHot bounds the in-memory copy of unacknowledged flash events; older
// ones are still sent from the durable queue.
const maxHot = 1 << 16

func (l *link) pushHot(q queued) {
	l.mu.Lock()
	if len(l.hot) >= maxHot {
		n := len(l.hot) - maxHot + 1
		l.hotFloor = l.hot[n-1].seq + 1
		l.hot = slices.Delete(l.hot, 0, n)
	}
	l.hot = append(l.hot, q)
	l.mu.Unlock()
}

// hotComplete reports whether every flash event after seq that is still
// to be sent is in memory.
func (l *link) hotComplete(seq uint64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return seq+1 >= l.hotFloor
}

// hotAfter returns the in-memory flash events after seq.
func (l *link) hotAfter(seq uint64, limit int) []queued {
	l.mu.Lock()
	defer l.mu.Unlock()
	i, _ := slices.BinarySearchFunc(l.hot, seq+1, func(q queued, s uint64) int { return cmp.Compare(q.seq, s) })
	return slices.Clone(l.hot[i:min(len(l.hot), i+limit)])
}

func (l *link) ackHot(seq uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i, _ := slices.BinarySearchFunc(l.hot, seq+1, func(q queued, s uint64) int { return cmp.Compare(q.seq, s) })
	l.hot = slices.Delete(l.hot, 0, i)
}

func (l *link) committedRecv() [numLanes]uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.recvDone
}

func (l *link) commitRecv(lane int, seq uint64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if seq > l.recvDone[lane] {
		l.recvDone[lane] = seq
		return true
	}
	return false
}

// principal is the peer as the label policy sees it: its certificate's
// nation at the link's accredited classification.
func (l *link) principal() (label.Principal, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return label.Principal{Nation: l.nation, Clearance: l.class, Name: l.name}, l.nation != ""
}

// mayQueue is the egress pre-check at enqueue time: above the link's
// accreditation never; when the peer's nation is known, only what the
// policy releases to it.
func (l *link) mayQueue(lb label.Label) bool {
	if lb.Classification > l.class || !lb.Valid() {
		return false
	}
	if p, ok := l.principal(); ok {
		return label.Releasable(p, lb)
	}
	return true
}

func (l *link) isUp() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.conn != nil
}

func (l *link) wake() {
	select {
	case l.wakeC <- struct{}{}:
	default:
	}
}

func (l *link) wakeAck() {
	l.mu.Lock()
	c := l.conn
	l.mu.Unlock()
	if c != nil {
		c.wakeAck()
	}
}

func (l *link) overflowed(n int64) { l.stats.dropped.Add(uint64(n)) }

// setErr records why the link went down or an attempt failed; the losing
// connection of a pair that ended while another one is up does not count.
func (l *link) setErr(err error) {
	l.mu.Lock()
	if l.conn == nil {
		l.lastErr = err.Error()
	}
	l.mu.Unlock()
}

func (l *link) closeConn(err error) {
	l.mu.Lock()
	c := l.conn
	l.mu.Unlock()
	if c != nil {
		c.close(err)
	}
}

// dialLoop keeps an outbound link up, redialling with exponential backoff
// and jitter while it is down.
func (l *link) dialLoop(ctx context.Context) {
	backoff := l.f.cfg.MinBackoff
	for ctx.Err() == nil {
		if l.isUp() {
			// The peer dialled us; wait until that link ends.
			select {
			case <-ctx.Done():
				return
			case <-time.After(l.f.cfg.MinBackoff):
			}
			continue
		}
		start := time.Now()
		err := l.dialOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil && !errors.Is(err, ErrDuplicateLink) && !errors.Is(err, ErrReplaced) {
			l.setErr(err)
			l.f.log.Warn("federation link failed", "peer", l.name, "addr", l.addr, "err", err)
		}
		if time.Since(start) > 30*time.Second {
			backoff = l.f.cfg.MinBackoff // it was up for a while
		}
		d := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-ctx.Done():
			return
		case <-time.After(d):
		}
		backoff = min(backoff*2, l.f.cfg.MaxBackoff)
	}
}

func (l *link) dialOnce(ctx context.Context) error {
	d := &net.Dialer{Timeout: handshakeTimeout, KeepAlive: 15 * time.Second}
	dctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	raw, err := d.DialContext(dctx, "tcp", l.addr)
	if err != nil {
		return fmt.Errorf("dialling %s: %w", l.addr, err)
	}
	l.f.tuneSocket(raw)
	tc := tls.Client(raw, l.f.trust.ClientTLS(*l.f.cert, l.name))
	if err := tc.HandshakeContext(dctx); err != nil {
		raw.Close()
		l.f.audit("federation.refuse", l.name, "deny", "outbound handshake: "+err.Error())
		return fmt.Errorf("TLS handshake with %s: %w", l.name, err)
	}
	peer, err := l.f.trust.IdentifyNode(tc.ConnectionState().PeerCertificates, x509.ExtKeyUsageServerAuth)
	if err != nil {
		tc.Close()
		return err
	}
	return l.f.serve(ctx, tc, peer, true)
}

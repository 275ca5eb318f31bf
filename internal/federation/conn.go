package federation

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/label"
	"kizuna/internal/pki"
	"kizuna/internal/seclog"
	"kizuna/internal/sockopt"
)

// This file holds one connection of a link, inbound or outbound: the
// handshake that admits it (serve), and its read and write loops.

// acceptLoop serves inbound links until the listener closes.
func (f *Federation) acceptLoop(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		raw, err := f.ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			f.log.Warn("federation accept", "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.accept(ctx, raw)
		}()
	}
}

func (f *Federation) accept(ctx context.Context, raw net.Conn) {
	remote := raw.RemoteAddr().String()
	tc, peer, err := AcceptTLS(ctx, raw, f.trust, *f.cert)
	if err != nil {
		f.log.Warn("federation handshake refused", seclog.Tag(seclog.Federation), "remote", remote, "err", err)
		f.audit("federation.refuse", remote, "deny", "inbound handshake: "+err.Error())
		return
	}
	f.serveAccepted(ctx, tc, peer, remote)
}

// AcceptTLS runs the server side of the mutual-TLS handshake of an
// inbound federation connection and names the peer node. On error raw is
// closed.
func AcceptTLS(ctx context.Context, raw net.Conn, trust *pki.TrustStore, cert tls.Certificate) (*tls.Conn, pki.Node, error) {
	tc := tls.Server(raw, trust.FederationTLS(cert))
	hctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	err := tc.HandshakeContext(hctx)
	cancel()
	if err != nil {
		raw.Close()
		return nil, pki.Node{}, err
	}
	peer, err := trust.PeerNode(tc.ConnectionState())
	if err != nil {
		tc.Close()
		return nil, pki.Node{}, err
	}
	return tc, peer, nil
}

// ServeInbound runs an inbound connection that the node accepted and
// authenticated (AcceptTLS) until it ends: in cluster mode each instance
// listens itself and hands a peer's connection to the federation that
// carries that peer's link.
func (f *Federation) ServeInbound(tc *tls.Conn, peer pki.Node) {
	if !f.ready.Load() || f.closing.Load() || f.ctx == nil {
		tc.Close()
		return
	}
	f.serveAccepted(f.ctx, tc, peer, tc.RemoteAddr().String())
}

func (f *Federation) serveAccepted(ctx context.Context, tc *tls.Conn, peer pki.Node, remote string) {
	f.tuneSocket(tc.NetConn())
	l := f.byID[peer.ID]
	if l == nil {
		tc.Close()
		f.log.Warn("federation link refused", seclog.Tag(seclog.Federation), "remote", remote, "node", peer.ID, "nation", peer.Nation, "err", ErrNotPeer)
		f.audit("federation.refuse", peer.ID+"@"+peer.Nation, "deny", ErrNotPeer.Error())
		return
	}
	if err := f.serve(ctx, tc, peer, false); err != nil && !errors.Is(err, ErrClosed) && !errors.Is(err, ErrDuplicateLink) && !errors.Is(err, ErrReplaced) {
		l.setErr(err)
		f.log.Warn("federation link ended", "peer", l.name, "err", err)
	}
}

// tuneSocket bounds what the kernel holds unsent on a link socket
// (Config.NotSentLowat).
func (f *Federation) tuneSocket(raw net.Conn) {
	if f.cfg.NotSentLowat <= 0 {
		return
	}
	if err := sockopt.SetNotSentLowat(raw, f.cfg.NotSentLowat); err != nil {
		f.log.Debug("TCP_NOTSENT_LOWAT not set on a federation link", "err", err)
	}
}

// conn is one live connection of a link.
type conn struct {
	l    *link
	tc   *tls.Conn
	peer pki.Node
	// outbound: this node dialled it.
	outbound bool
	ackC     chan struct{}
	done     chan struct{}
	fin      chan struct{}
	once     sync.Once
	err      error
	acked    [numLanes]atomic.Uint64
	sent     [numLanes]uint64 // writer only
	ackOut   [numLanes]uint64 // writer only: last ack written
	// certsOut: origin certificates already sent on this connection
	// (writer only).
	certsOut map[[32]byte]bool
	// ahead holds routine events read from the queue but not yet written,
	// left over from a write bounded by WriteChunk (writer only).
	ahead []queued
	// recvQ holds routine events read off the socket ahead of their
	// handling (nil: each is handled as it is read; see Config.RecvQueue).
	recvQ *recvQueue
	// refusedN counts unverifiable events and certificates on this
	// connection, to bound what a flood writes to the log and the audit
	// chain.
	refusedN atomic.Uint64
	// unavailable: the node could not take an event now; nothing after it
	// on this connection is handled (cluster.go).
	unavailable atomic.Bool
}

// auditRefusalLimit: the first refusals of a connection are each logged
// and audited; after that, one in auditRefusalEvery, with the count so
// far. Every refusal is counted.
const (
	auditRefusalLimit = 100
	auditRefusalEvery = 1000
)

// refusal logs and audits one unverifiable event or certificate, within
// the connection's bounds.
func (c *conn) refusal(action string, err error, attrs ...any) {
	n := c.refusedN.Add(1)
	if n > auditRefusalLimit && n%auditRefusalEvery != 0 {
		return
	}
	f := c.l.f
	reason := err.Error()
	if n > auditRefusalLimit {
		reason = fmt.Sprintf("%d refused on this link so far; latest: %s", n, reason)
	}
	f.log.Warn("federated "+action+" refused", append([]any{"peer", c.peer.ID, "err", reason}, attrs...)...)
	f.audit(action, c.peer.ID+"@"+c.peer.Nation, "deny", reason)
}

func (c *conn) wakeAck() {
	select {
	case c.ackC <- struct{}{}:
	default:
	}
}

func (c *conn) close(err error) {
	c.once.Do(func() {
		c.err = err
		close(c.done)
		c.tc.Close()
	})
}

// serve runs one authenticated connection to its end.
func (f *Federation) serve(ctx context.Context, tc *tls.Conn, peer pki.Node, outbound bool) error {
	l := f.byID[peer.ID]
	if l == nil {
		tc.Close()
		return ErrNotPeer
	}
	if err := f.pinNation(l, peer); err != nil {
		tc.Close()
		return err
	}
	c := &conn{l: l, tc: tc, peer: peer, outbound: outbound, ackC: make(chan struct{}, 1), done: make(chan struct{}), fin: make(chan struct{})}
	if f.cfg.RecvQueue > 0 {
		c.recvQ = newRecvQueue(f.cfg.RecvQueue)
	}
	br := bufio.NewReaderSize(tc, 64<<10)
	bw := bufio.NewWriterSize(tc, 64<<10)
	resume, err := f.hello(c, br, bw)
	if err != nil {
		tc.Close()
		return err
	}
	if err := f.install(c, resume); err != nil {
		tc.Close()
		return err
	}
	dir := "inbound"
	if outbound {
		dir = "outbound"
	}
	f.log.Info("federation link up", "peer", peer.ID, "nation", peer.Nation, "direction", dir, "classification", l.class.String())
	f.audit("federation.link_up", peer.ID+"@"+peer.Nation, "allow", dir+" at "+l.class.String())
	return f.run(ctx, c, br, bw)
}

// pinNation refuses a peer whose certificate names another nation than the
// one it first connected with, and pins the nation on first contact.
func (f *Federation) pinNation(l *link, peer pki.Node) error {
	l.mu.Lock()
	pinned := l.nation
	l.mu.Unlock()
	if pinned != "" && pinned != peer.Nation {
		err := fmt.Errorf("%w: %s was %s, now %s", ErrNationPinned, peer.ID, pinned, peer.Nation)
		f.log.Warn("federation link refused", seclog.Tag(seclog.Federation), "peer", peer.ID, "err", err)
		f.audit("federation.refuse", peer.ID+"@"+peer.Nation, "deny", err.Error())
		return err
	}
	if pinned == "" {
		if _, err := f.db.Exec(`UPDATE peers SET nation = ? WHERE name = ?`, peer.Nation, peer.ID); err != nil {
			return fmt.Errorf("pinning nation of %s: %w", peer.ID, err)
		}
		l.mu.Lock()
		l.nation = peer.Nation
		l.mu.Unlock()
	}
	return nil
}

// hello exchanges Hello frames both ways and returns what the peer has
// committed on each lane.
func (f *Federation) hello(c *conn, br *bufio.Reader, bw *bufio.Writer) ([numLanes]uint64, error) {
	tc, peer := c.tc, c.peer
	hello := Hello{Version: ProtocolVersion, NodeID: f.cfg.NodeID, Nation: f.cfg.Nation, Resume: c.l.committedRecv()}
	tc.SetDeadline(time.Now().Add(handshakeTimeout))
	if _, err := bw.Write(AppendHello(nil, hello)); err != nil {
		return [numLanes]uint64{}, fmt.Errorf("sending hello to %s: %w", peer.ID, err)
	}
	if err := bw.Flush(); err != nil {
		return [numLanes]uint64{}, fmt.Errorf("sending hello to %s: %w", peer.ID, err)
	}
	fr, _, err := ReadFrame(br, f.cfg.MaxFrame, nil)
	if err != nil {
		return [numLanes]uint64{}, fmt.Errorf("reading hello of %s: %w", peer.ID, err)
	}
	if fr.Hello == nil || fr.Hello.Version != ProtocolVersion || fr.Hello.NodeID != peer.ID || fr.Hello.Nation != peer.Nation {
		return [numLanes]uint64{}, fmt.Errorf("%w from %s", ErrHello, peer.ID)
	}
	tc.SetDeadline(time.Time{})
	return fr.Hello.Resume, nil
}

// install makes c the link's connection, replacing an older one, and
// resumes each lane where the peer's Hello says it stands.
func (f *Federation) install(c *conn, resume [numLanes]uint64) error {
	l, peer, outbound := c.l, c.peer, c.outbound
	// When both nodes dial each other, both sides keep the connection
	// dialled by the node whose id sorts first. Otherwise the newest
	// connection wins: a peer that restarted replaces its old one.
	l.mu.Lock()
	old := l.conn
	l.mu.Unlock()
	if old != nil && old.outbound != outbound {
		oldDialer := peer.ID
		if old.outbound {
			oldDialer = f.cfg.NodeID
		}
		if oldDialer == min(f.cfg.NodeID, peer.ID) {
			return ErrDuplicateLink
		}
	}
	if old != nil {
		old.close(ErrReplaced)
		<-old.finished()
	}
	l.mu.Lock()
	if f.closing.Load() {
		l.mu.Unlock()
		return ErrClosed
	}
	l.conn = c
	l.upSince = time.Now()
	l.lastErr = ""
	l.lastHB = time.Now()
	l.mu.Unlock()
	l.stats.connects.Add(1)
	for lane := range numLanes {
		c.sent[lane] = resume[lane]
		c.acked[lane].Store(resume[lane])
	}
	// What the peer has committed is acknowledged.
	l.ackHot(resume[LaneFlash])
	f.mu.Lock()
	for lane := range numLanes {
		if resume[lane] > 0 {
			f.pend.acks = append(f.pend.acks, laneMark{l: l, lane: lane, seq: resume[lane]})
		}
	}
	f.mu.Unlock()
	f.kick()
	f.linkUp(peer.ID)
	return nil
}

// run serves an installed connection until either loop ends or ctx is
// cancelled, then takes it down.
func (f *Federation) run(ctx context.Context, c *conn, br *bufio.Reader, bw *bufio.Writer) error {
	l, peer := c.l, c.peer
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		c.close(c.readLoop(br))
	}()
	if c.recvQ != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.handleRoutine()
		}()
	}
	go func() {
		defer wg.Done()
		c.close(c.writeLoop(ctx, bw))
	}()
	select {
	case <-ctx.Done():
		c.close(ErrClosed)
	case <-c.done:
	}
	wg.Wait()
	l.mu.Lock()
	if l.conn == c {
		l.conn = nil
		l.downSince = time.Now()
		if c.err != nil && !errors.Is(c.err, ErrClosed) {
			l.lastErr = c.err.Error()
		}
	}
	l.mu.Unlock()
	c.finish()
	reason := ""
	if c.err != nil {
		reason = c.err.Error()
	}
	f.log.Info("federation link down", "peer", peer.ID, "reason", reason)
	f.audit("federation.link_down", peer.ID+"@"+peer.Nation, "info", reason)
	if errors.Is(c.err, ErrClosed) {
		return ErrClosed
	}
	return c.err
}

// finished is closed once the connection's goroutines have ended.
func (c *conn) finished() <-chan struct{} { return c.fin }

func (c *conn) finish() { close(c.fin) }

// readLoop handles the peer's frames: acknowledgements, certificates and
// flash events at once, routine events through recvQ when there is one.
func (c *conn) readLoop(br *bufio.Reader) error {
	f, l := c.l.f, c.l
	for {
		c.tc.SetReadDeadline(time.Now().Add(f.cfg.LinkTimeout))
		fr, raw, err := ReadFrame(br, f.cfg.MaxFrame, nil)
		if err != nil {
			if errors.Is(err, ErrFrame) || errors.Is(err, ErrTooLarge) {
				f.stats.badFrames.Add(1)
				f.audit("federation.bad_frame", c.peer.ID+"@"+c.peer.Nation, "deny", err.Error())
			}
			if errors.Is(err, io.EOF) {
				return errors.New("peer closed the link")
			}
			return err
		}
		switch {
		case fr.Event != nil && fr.Event.Lane == LaneRoutine && c.recvQ != nil:
			if !c.recvQ.push(fr.Event, len(raw), c.done) {
				return c.err
			}
		case fr.Event != nil:
			c.receive(fr.Event)
		case fr.Ack != nil:
			a := fr.Ack
			if a.Seq > c.acked[a.Lane].Load() {
				c.acked[a.Lane].Store(a.Seq)
				if a.Lane == LaneFlash {
					l.ackHot(a.Seq)
				}
				f.mu.Lock()
				f.pend.acks = append(f.pend.acks, laneMark{l: l, lane: int(a.Lane), seq: a.Seq})
				f.mu.Unlock()
				l.wake()
			}
		case fr.Cert != nil:
			c.receiveCert(fr.Cert)
		case fr.Heartbeat != nil:
			l.mu.Lock()
			l.lastHB = time.Now()
			l.peerClock = time.Duration(fr.Heartbeat.Time - time.Now().UnixNano())
			l.mu.Unlock()
		default:
			f.stats.badFrames.Add(1)
			return fmt.Errorf("%w: unexpected hello", ErrFrame)
		}
	}
}

// handleRoutine handles the routine events the reader queued, in their
// order, until the connection ends.
func (c *conn) handleRoutine() {
	for {
		e, ok := c.recvQ.pop(c.done)
		if !ok {
			return
		}
		c.receive(e)
	}
}

// receive checks one inbound event and hands it to the node. Whatever
// happens to it, its link sequence number is marked received, so that it
// is acknowledged once the batch is committed.
func (c *conn) receive(e *Event) {
	f, l := c.l.f, c.l
	lane := int(e.Lane)
	if c.unavailable.Load() {
		return // neither handled nor marked: the peer sends it again
	}
	l.mu.Lock()
	dup := e.Seq <= l.recvMem[lane]
	if !dup {
		l.recvMem[lane] = e.Seq
	}
	l.mu.Unlock()
	if dup {
		// Resent after a reconnect; already handled. Acknowledge again.
		c.wakeAck()
		return
	}
	l.stats.received.Add(1)
	var seen *seenMark
	if ok := c.check(e); ok {
		if f.seenBefore(e.OriginNode, e.OriginSeq) {
			f.stats.dups.Add(1)
		} else {
			seen = &seenMark{origin: e.OriginNode, seq: e.OriginSeq}
			if errors.Is(c.ingest(e), ErrHostUnavailable) {
				c.hostUnavailable(e)
				return
			}
		}
	}
	f.mu.Lock()
	f.pend.recv = append(f.pend.recv, laneMark{l: l, lane: lane, seq: e.Seq})
	if seen != nil {
		f.pend.seen = append(f.pend.seen, *seen)
	}
	f.mu.Unlock()
	if lane == LaneFlash {
		f.kick()
	}
}

// receiveCert verifies an origin certificate a peer sent. One that does
// not verify is refused, audited and counted; the link stays up, and the
// events that name it are refused as unverified.
func (c *conn) receiveCert(ct *Cert) {
	f := c.l.f
	_, fresh, err := f.verifier.addCert(ct.DER)
	if err != nil {
		f.stats.badCerts.Add(1)
		c.l.stats.unverified.Add(1)
		c.refusal("federation.bad_certificate", err)
		return
	}
	if fresh {
		f.storeCert(ct.DER)
	}
}

// check applies the inbound rules: no loops, the sender ends the path,
// the origin is proven (origin.go), a node speaks for its own nation only,
// and nothing arrives that this node may not hold at this link's
// accreditation.
func (c *conn) check(e *Event) bool {
	f := c.l.f
	if len(e.Path) > 0 && !slices.Contains(e.Path, f.cfg.NodeID) && e.Path[len(e.Path)-1] == c.peer.ID && !hasRepeat(e.Path) {
		if err := f.verifier.verify(e); err != nil {
			f.stats.unverified.Add(1)
			c.l.stats.unverified.Add(1)
			c.refusal("federation.unverified", err, "origin", e.OriginNode)
			return false
		}
	}
	switch {
	case slices.Contains(e.Path, f.cfg.NodeID):
		f.stats.loops.Add(1)
		return false
	case e.Path[len(e.Path)-1] != c.peer.ID || hasRepeat(e.Path):
		f.stats.badFrames.Add(1)
		f.audit("federation.bad_path", c.peer.ID+"@"+c.peer.Nation, "deny", "event path does not end at the sending node")
		return false
	case e.OriginNode == c.peer.ID && e.Label.Originator != c.peer.Nation:
		f.stats.notOwnerDirect.Add(1)
		f.audit("federation.foreign_originator", c.peer.ID+"@"+c.peer.Nation, "deny", "a node originated an event for nation "+e.Label.Originator)
		return false
	case !label.Releasable(label.Principal{Nation: f.cfg.Nation, Clearance: c.l.class}, e.Label):
		f.stats.unreleasableIn.Add(1)
		f.audit("federation.unreleasable_inbound", c.peer.ID+"@"+c.peer.Nation, "deny", "peer sent an event this node may not hold at "+c.l.class.String())
		return false
	}
	return true
}

func hasRepeat(p []string) bool {
	for i := range p {
		if slices.Contains(p[i+1:], p[i]) {
			return true
		}
	}
	return false
}

func (c *conn) ingest(e *Event) error {
	f := c.l.f
	ev, err := cot.Decode(e.Payload)
	if err != nil {
		f.log.Warn("federated event dropped", seclog.Tag(seclog.Federation), "peer", c.peer.ID, "reason", cot.Reason(err))
		return nil
	}
	fed := &Provenance{OriginNode: e.OriginNode, Seq: e.OriginSeq, Path: e.Path, Peer: c.peer.ID, Signed: e.Signed}
	if err := f.cfg.Host.IngestFederated(ev, e.Label, fed); err != nil {
		f.log.Warn("federated event refused", seclog.Tag(seclog.Federation), "peer", c.peer.ID, "err", err)
		return err
	}
	return nil
}

// writeLoop sends acknowledgements, heartbeats and the queue: flash lane
// first, then the routine lane, each within MaxInFlight unacknowledged.
func (c *conn) writeLoop(ctx context.Context, bw *bufio.Writer) error {
	f, l := c.l.f, c.l
	hb := time.NewTicker(f.cfg.Heartbeat)
	defer hb.Stop()
	var buf []byte
	hbDue := true
	for {
		select {
		case <-hb.C:
			hbDue = true
		default:
		}
		buf = buf[:0]
		done := l.committedRecv()
		for lane := range numLanes {
			if done[lane] > c.ackOut[lane] {
				buf = AppendAck(buf, Ack{Lane: uint8(lane), Seq: done[lane]})
				c.ackOut[lane] = done[lane]
			}
		}
		if hbDue {
			buf = AppendHeartbeat(buf, Heartbeat{Time: time.Now().UnixNano()})
			hbDue = false
		}
		var err error
		progress := false
		for lane := range numLanes {
			if lane == LaneRoutine && progress {
				break // flash first: look again before any routine event
			}
			var p bool
			buf, p, err = c.sendLane(ctx, lane, buf)
			if err != nil {
				return err
			}
			progress = progress || p
		}
		if len(buf) > 0 {
			c.tc.SetWriteDeadline(time.Now().Add(f.cfg.LinkTimeout))
			if _, err := bw.Write(buf); err != nil {
				return fmt.Errorf("writing to %s: %w", c.peer.ID, err)
			}
			if err := bw.Flush(); err != nil {
				return fmt.Errorf("writing to %s: %w", c.peer.ID, err)
			}
		}
		if progress {
			continue
		}
		l.mu.Lock()
		silent := time.Since(l.lastHB) > f.cfg.LinkTimeout
		l.mu.Unlock()
		if silent {
			return errors.New("peer silent")
		}
		select {
		case <-ctx.Done():
			return ErrClosed
		case <-c.done:
			return c.err
		case <-l.wakeC:
		case <-c.ackC:
		case <-hb.C:
			hbDue = true
		}
	}
}

// sendLane appends up to sendBatch queued events of one lane to buf,
// applying the egress policy to each; withheld ones are deleted. Routine
// events stop at WriteChunk bytes; those left over are kept in c.ahead
// for the next write.
func (c *conn) sendLane(ctx context.Context, lane int, buf []byte) ([]byte, bool, error) {
	f, l := c.l.f, c.l
	var inFlight uint64
	if a := c.acked[lane].Load(); c.sent[lane] > a {
		inFlight = c.sent[lane] - a
	}
	if inFlight >= uint64(f.cfg.MaxInFlight) {
		return buf, false, nil
	}
	limit := int(min(uint64(f.cfg.MaxInFlight)-inFlight, sendBatch))
	fromAhead := lane == LaneRoutine && len(c.ahead) > 0
	qs, err := c.next(ctx, lane, limit)
	if err != nil {
		if ctx.Err() != nil {
			return buf, false, ErrClosed
		}
		return buf, false, err
	}
	if len(qs) == 0 {
		return buf, false, nil
	}
	p := label.Principal{Nation: c.peer.Nation, Clearance: l.class, Name: c.peer.ID}
	var drops []laneMark
	start, taken := len(buf), 0
	for _, q := range qs {
		prev := c.sent[lane]
		if lane == LaneRoutine && f.cfg.WriteChunk > 0 && len(buf)-start >= f.cfg.WriteChunk {
			// This write is full: the rest waits for the next one, which
			// the writer starts by looking at the flash lane again.
			break
		}
		taken++
		c.sent[lane] = q.seq
		// An event not sent is never acknowledged: with nothing in flight
		// before it, the window moves past it, or the link would wait for
		// an acknowledgement that never comes.
		skip := func() { c.acked[lane].CompareAndSwap(prev, q.seq) }
		e, ok := f.releasable(p, q.body)
		if !ok {
			l.stats.withheld.Add(1)
			f.stats.denied.Add(1)
			drops = append(drops, laneMark{l: l, lane: lane, seq: q.seq})
			skip()
			continue
		}
		if !c.certsOut[e.Auth.CertFP] {
			der := f.certFor(ctx, e.Auth.CertFP)
			if der == nil {
				// Nothing could prove its origin to the peer.
				f.stats.unprovable.Add(1)
				drops = append(drops, laneMark{l: l, lane: lane, seq: q.seq})
				skip()
				continue
			}
			if c.certsOut == nil {
				c.certsOut = map[[32]byte]bool{}
			}
			c.certsOut[e.Auth.CertFP] = true
			buf = AppendCert(buf, der)
		}
		buf = AppendEvent(buf, uint8(lane), q.seq, q.body)
		l.stats.sent.Add(1)
	}
	if lane == LaneRoutine {
		if fromAhead {
			c.ahead = c.ahead[taken:]
		} else {
			c.ahead = qs[taken:]
		}
		if len(c.ahead) == 0 {
			c.ahead = nil
		}
	}
	if len(drops) > 0 {
		f.mu.Lock()
		f.pend.drops = append(f.pend.drops, drops...)
		f.mu.Unlock()
	}
	return buf, true, nil
}

// certFor returns the certificate that proves the origin of what a link
// sends. In cluster mode one that another link received (perhaps on
// another instance) is read from the shared table when this federation
// does not know it yet.
func (f *Federation) certFor(ctx context.Context, fp [32]byte) []byte {
	if der := f.verifier.der(fp); der != nil || f.cfg.Shared == nil {
		return der
	}
	var der []byte
	if err := f.db.QueryRowContext(ctx, `SELECT der FROM certs WHERE fp = ?`, fp[:]).Scan(&der); err != nil {
		return nil
	}
	if _, _, err := f.verifier.addCert(der); err != nil {
		f.log.Warn("shared origin certificate does not verify", "err", err)
		return nil
	}
	return f.verifier.der(fp)
}

// next returns up to limit events of a lane to send next: for the flash
// lane what is committed first (after a restart or a long outage the
// queue holds more than memory), then what is not committed yet; for the
// routine lane what the last write left over, else the durable queue.
func (c *conn) next(ctx context.Context, lane, limit int) ([]queued, error) {
	f, l := c.l.f, c.l
	if lane == LaneRoutine {
		if len(c.ahead) > 0 {
			return c.ahead[:min(len(c.ahead), limit)], nil
		}
		return readQueue(ctx, f.db, l.name, lane, c.sent[lane], limit)
	}
	var qs []queued
	if !l.hotComplete(c.sent[lane]) {
		var err error
		if qs, err = readQueue(ctx, f.db, l.name, lane, c.sent[lane], limit); err != nil {
			return nil, err
		}
	}
	after := c.sent[lane]
	if len(qs) > 0 {
		after = qs[len(qs)-1].seq
	}
	if len(qs) < limit {
		qs = append(qs, l.hotAfter(after, limit-len(qs))...)
	}
	return qs, nil
}

// releasable is the egress check at send time: the one policy function,
// for the peer node's verified nation at the link's accreditation, and
// never back to a node the event already crossed.
func (f *Federation) releasable(p label.Principal, body []byte) (*Event, bool) {
	e, err := DecodeEventBody(body)
	if err != nil {
		return nil, false
	}
	if slices.Contains(e.Path, p.Name) {
		return nil, false
	}
	return e, label.Releasable(label.Principal{Nation: p.Nation, Clearance: p.Clearance}, e.Label)
}

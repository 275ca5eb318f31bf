package stream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/hub"
	"kizuna/internal/label"
	"kizuna/internal/metrics"
	"kizuna/internal/reject"
	"kizuna/internal/seclog"
	"kizuna/internal/sockopt"
	"kizuna/internal/takproto"
)

// Identify maps a completed TLS handshake to a principal.
type Identify func(cs tls.ConnectionState) (label.Principal, error)

// Listener describes one CoT listener.
type Listener struct {
	Kind string // "cot-tcp" or "cot-tls"
	Addr string
	// Principal is the fixed principal of every connection on a plain
	// listener.
	Principal label.Principal
	// TLS, when set, makes this a TLS listener; Identify then derives each
	// connection's principal from its client certificate.
	TLS      *tls.Config
	Identify Identify
}

// Options configure a Server.
type Options struct {
	Config  Config
	Hub     *hub.Hub
	Metrics *metrics.Metrics
	Log     *slog.Logger
	Ingest  Ingest
	Replay  Replay
	// Encoders are the hub's wire encoders (for protocol replies).
	Encoders *hub.Encoders
	// Reject is told of every dropped event (for logs and audit).
	Reject func(c *Conn, reason string, err error)
	// Refuse is told of every refused connection (TLS handshake failure).
	Refuse func(remote, listener string, err error)
	// Closed is told when a connection is closed for cause.
	Closed func(c *Conn, reason string)
	// Connected is told of every accepted connection and its principal.
	Connected func(c *Conn)
	// MaxConnsPerIP and MaxConnsPerPrincipal cap concurrent connections;
	// zero means no cap.
	MaxConnsPerIP        int
	MaxConnsPerPrincipal int
}

// Server accepts TAK client connections on any number of listeners.
type Server struct {
	Options
	cfg     Config
	hub     *hub.Hub
	metrics *metrics.Metrics
	log     *slog.Logger

	mu        sync.Mutex
	listeners []net.Listener
	packets   []net.PacketConn
	conns     map[*Conn]struct{}
	nconns    atomic.Int64 // len(conns), read by every write loop
	// flashing counts connections with flash traffic queued and not yet
	// written; while it is non-zero, write loops with only routine bytes
	// to write step aside first (see Conn.yieldToFlash).
	flashing atomic.Int64
	closing  bool
	wg       sync.WaitGroup

	caps *caps // connection caps and refusal reports (limits.go)
}

// NewServer checks the options and returns a server with no listeners.
func NewServer(o Options) (*Server, error) {
	if o.Hub == nil || o.Metrics == nil || o.Ingest == nil || o.Replay == nil {
		return nil, errors.New("stream: hub, metrics, ingest and replay are required")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Config.MaxEventSize <= 0 {
		o.Config.MaxEventSize = cot.MaxEventSize
	}
	if o.Config.EventTimeout == 0 {
		o.Config.EventTimeout = DefaultEventTimeout
	}
	return &Server{Options: o, cfg: o.Config, hub: o.Hub, metrics: o.Metrics, log: o.Log,
		conns: make(map[*Conn]struct{}), caps: newCaps()}, nil
}

// Listen binds l and starts accepting on it. It returns the bound address.
func (s *Server) Listen(ctx context.Context, l Listener) (net.Addr, error) {
	ln, err := net.Listen("tcp", l.Addr)
	if err != nil {
		return nil, fmt.Errorf("listening %s on %s: %w", l.Kind, l.Addr, err)
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return nil, net.ErrClosed
	}
	s.listeners = append(s.listeners, ln)
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		s.accept(ctx, ln, l)
	}()
	return ln.Addr(), nil
}

func (s *Server) accept(ctx context.Context, ln net.Listener, l Listener) {
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Temporary trouble (for example out of file descriptors):
			// back off rather than spin.
			if delay == 0 {
				delay = 5 * time.Millisecond
			} else if delay < time.Second {
				delay *= 2
			}
			s.log.Warn("accept failed", "listener", l.Kind, "err", err)
			select {
			case <-time.After(delay):
				continue
			case <-ctx.Done():
				return
			}
		}
		delay = 0
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handle(ctx, nc, l)
		}()
	}
}

func (s *Server) handle(ctx context.Context, nc net.Conn, l Listener) {
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
		tc.SetKeepAlive(true)
		if s.cfg.NotSentLowat > 0 {
			if err := sockopt.SetNotSentLowat(tc, s.cfg.NotSentLowat); err != nil {
				s.log.Debug("TCP_NOTSENT_LOWAT not set", "err", err)
			}
		}
	}
	remote := nc.RemoteAddr().String()
	host, _, _ := net.SplitHostPort(remote)
	// The per-IP slot is taken before the TLS handshake: a capped address
	// costs no handshake, and handshakes in flight count against the cap.
	if !s.admitIP(host) {
		s.refuse(nc, l.Kind, "conn_cap", label.Principal{}, fmt.Errorf("%w: %d connections from %s", ErrConnCap, s.MaxConnsPerIP, host))
		nc.Close()
		return
	}
	defer s.releaseIP(host)
	p := l.Principal
	if l.TLS != nil {
		tc := tls.Server(nc, l.TLS)
		hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err == nil && l.Identify != nil {
			p, err = l.Identify(tc.ConnectionState())
		}
		if err != nil {
			// The trust store counts, logs and audits refused
			// handshakes; here only the connection ends.
			s.log.Debug("TLS connection ended before identification", "listener", l.Kind, "remote", remote, "err", err)
			nc.Close()
			return
		}
		nc = tc
	}
	if !s.admitPrincipal(p) {
		s.refuse(nc, l.Kind, "conn_cap", p, fmt.Errorf("%w: %d connections of %s", ErrConnCap, s.MaxConnsPerPrincipal, p))
		nc.Close()
		return
	}
	defer s.releasePrincipal(p)
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		nc.Close()
		return
	}
	c := &Conn{
		Conn:      nc,
		Principal: p,
		Kind:      l.Kind,
		srv:       s,
		log:       s.log.With("listener", l.Kind, "remote", remote, "principal", p.String()),
		pause:     time.NewTimer(time.Hour),
	}
	c.pause.Stop()
	// A slow consumer is dropped at once: closing the socket ends both
	// loops, and nothing more is queued for it.
	// The TAK protocol offer goes first, before anything published.
	offer := hub.NewControl(hub.KindControl, takproto.Offer(time.Now()))
	c.Sub = s.hub.Subscribe(p, hub.FormatXML, hub.Options{
		OnSlow:  func() { nc.Close() },
		OnFlash: c.flashQueued,
		First:   []*hub.Message{offer},
	})
	s.conns[c] = struct{}{}
	s.nconns.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.nconns.Add(-1)
		s.mu.Unlock()
	}()
	c.log.Info("connection accepted")
	if s.Connected != nil {
		s.Connected(c)
	}
	c.serve(ctx)
}

// CloseWhere closes every connection for which match returns true, for
// example those of a certificate revoked after they connected.
func (s *Server) CloseWhere(match func(*Conn) bool, reason string) int {
	s.mu.Lock()
	var hit []*Conn
	for c := range s.conns {
		if match(c) {
			hit = append(hit, c)
		}
	}
	s.mu.Unlock()
	for _, c := range hit {
		c.log.Warn("closing connection", seclog.Tag(seclog.Connection), "reason", reason)
		if s.Closed != nil {
			s.Closed(c, reason)
		}
		c.Conn.Close()
	}
	return len(hit)
}

// budgetKnee is the pause beyond which the write budget tightens: past
// it, the pause grows with the square of connections / WriteBudget.
const budgetKnee = 25 * time.Millisecond

// coalesce returns the shortest time between two writes to one busy
// connection: Config.Coalesce, lengthened when the node has so many
// connections that Config.WriteBudget writes per second would be exceeded
// if every one wrote at that pace (connections / WriteBudget). Beyond
// budgetKnee (800 connections at the default budget) the pause grows
// faster, as p²/budgetKnee: with every client publishing, deliveries grow
// with the square of the connections, and each write must carry more of
// them for the node to keep up (100 ms at 1,600 connections, where the
// per-write cost, a system call plus the receiver's TCP work on
// loopback, would otherwise take a fifth of the server's CPU).
func (s *Server) coalesce() time.Duration {
	d := s.cfg.Coalesce
	if b := s.cfg.WriteBudget; b > 0 {
		e := time.Duration(s.nconns.Load()) * time.Second / time.Duration(b)
		if e > budgetKnee {
			e = e * e / budgetKnee
		}
		if e > d {
			d = e
		}
	}
	return d
}

// Conns returns the number of open connections.
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Shutdown stops accepting, gives every connection until ctx is done to
// flush what is queued for it, then closes them all and waits for every
// goroutine.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	for _, ln := range s.listeners {
		ln.Close()
	}
	for _, pc := range s.packets {
		pc.Close()
	}
	conns := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	// Stop reading; let writers drain their queues.
	for _, c := range conns {
		c.Conn.SetReadDeadline(time.Now())
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		s.flushRefusals()
		return nil
	case <-ctx.Done():
	}
	for _, c := range conns {
		c.Conn.Close()
	}
	<-done
	s.flushRefusals()
	return ctx.Err()
}

func (s *Server) reject(c *Conn, reason string, err error) {
	s.metrics.Rejected.WithLabelValues(reason).Inc()
	if !c.noteDrop(reason) {
		c.log.Debug("event dropped", "reason", reason, "err", err)
		return
	}
	attrs := append(reject.Reason(reason).LogAttrs(), "err", err, "note", "further drops of this reason on this connection are counted and summed up when it closes")
	c.log.Info("event dropped", attrs...)
	if s.Reject != nil {
		s.Reject(c, reason, err)
	}
}

func (s *Server) onClose(c *Conn, reason string) {
	if s.Closed != nil {
		s.Closed(c, reason)
	}
}

// pong answers a ping (t-x-c-t) with t-x-c-t-r.
func (s *Server) pong(ping *cot.Event) *hub.Message {
	now := time.Now().UTC()
	ev := &cot.Event{
		Version: "2.0", UID: "takPong", Type: "t-x-c-t-r", How: "h-g-i-g-o",
		Time: now, Start: now, Stale: now.Add(20 * time.Second),
		Point: cot.Point{HAE: cot.Unknown, CE: cot.Unknown, LE: cot.Unknown},
	}
	m := hub.NewMessage(ev, label.Label{}, 0, s.Encoders)
	m.Kind = hub.KindControl
	return m
}

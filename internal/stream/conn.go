// Package stream owns TAK client connections: the plain-TCP and TLS CoT
// listeners, the per-connection read loop (CoT XML streaming, TAK protocol
// negotiation, TAK v1 protobuf framing, pings) and the write loop that
// drains the connection's hub queue with coalesced writes.
//
// Events enter Kizuna here. Every decoded event is handed to the Ingest
// function, which owns validation, labelling and ownership (package node).
package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/hub"
	"kizuna/internal/label"
	"kizuna/internal/metrics"
	"kizuna/internal/seclog"
	"kizuna/internal/takproto"
)

// Ingest receives each event a client sent. format is "xml" or "protobuf".
// It returns an error when the event was rejected; the connection goes on.
type Ingest func(c *Conn, ev *cot.Event, format string) error

// Replay returns what a newly connected principal receives first: the
// current, not-yet-stale objects it may see.
type Replay func(p label.Principal) []*hub.Message

// Config holds per-connection limits.
type Config struct {
	MaxEventSize int           // bytes; larger closes the connection
	WriteTimeout time.Duration // a write stalled this long drops the client
	IdleTimeout  time.Duration // no bytes read for this long closes the connection
	// EventTimeout is the longest an incomplete event may take to arrive
	// (slowloris); 0 means DefaultEventTimeout, negative disables.
	EventTimeout time.Duration
	// EventRate caps events per second read from one connection
	// (token bucket with a burst of one second's worth); 0 disables.
	EventRate int
	// Coalesce is the shortest time between two writes to one busy
	// connection. Everything queued meanwhile goes out in one write, which
	// cuts system calls under load; an idle connection writes at once.
	Coalesce time.Duration
	// WriteBudget, when positive, is the number of writes per second the
	// node aims at over all its connections: with more connections than
	// WriteBudget × Coalesce, the pause between two writes to one busy
	// connection grows to connections / WriteBudget (and faster beyond
	// 25 ms; see Server.coalesce), so that the system calls per second stay
	// bounded and each write carries more events (flash traffic still cuts
	// the pause short).
	WriteBudget int
	// WriteChunk, when positive, caps the routine bytes of one write: a
	// larger batch is written in parts, flash traffic first between them.
	WriteChunk int
	// NotSentLowat, when positive, sets TCP_NOTSENT_LOWAT on TCP client
	// connections (Linux): the kernel accepts more bytes only while fewer
	// than this many are unsent, so routine bytes wait in the process,
	// where flash traffic can pass them, rather than in the socket.
	NotSentLowat int
}

// Conn is one TAK client connection.
type Conn struct {
	net.Conn
	Principal label.Principal
	Kind      string // listener kind: cot-tcp or cot-tls
	Sub       *hub.Subscriber

	srv *Server
	log *slog.Logger
	// pause times the coalescing pause of the write loop; flash traffic
	// queued for the connection fires it at once (hub.Options.OnFlash).
	pause *time.Timer
	// flashDue is set while flash traffic queued for this connection is
	// not yet written; it is counted once in Server.flashing.
	flashDue atomic.Bool
	proto    bool // input switched to TAK protobuf (read loop only)
	identSet bool
	tokens   float64
	last     time.Time
	limits   connLimits // read loop only (limits.go)
}

// Remote returns the peer address as a string.
func (c *Conn) Remote() string { return c.Conn.RemoteAddr().String() }

var errRateLimited = errors.New("event rate limit exceeded")

// allow applies the per-connection event rate limit.
func (c *Conn) allow(now time.Time) bool {
	r := float64(c.srv.cfg.EventRate)
	if r <= 0 {
		return true
	}
	if c.last.IsZero() {
		c.tokens = r
	} else {
		c.tokens += now.Sub(c.last).Seconds() * r
		if c.tokens > r {
			c.tokens = r
		}
	}
	c.last = now
	if c.tokens < 1 {
		return false
	}
	c.tokens--
	return true
}

// serve runs the connection until it ends. It owns conn.
func (c *Conn) serve(ctx context.Context) {
	m := c.srv.metrics
	m.Connections.WithLabelValues(c.Kind).Inc()
	m.ConnectionsTotal.WithLabelValues(c.Kind).Inc()
	defer m.Connections.WithLabelValues(c.Kind).Dec()

	// The protocol offer was queued first (see Server.handle); now replay
	// the picture.
	c.Sub.EnqueueReplay(c.srv.Replay(c.Principal))

	var wg sync.WaitGroup
	wg.Add(1)
	writeErr := make(chan error, 1)
	go func() {
		defer wg.Done()
		writeErr <- c.writeLoop(ctx)
	}()
	rerr := c.readLoop()
	c.dropSummary()
	// Reading ended: stop the writer (ending its coalescing pause, after
	// which it finds the subscriber closed) and release the connection.
	c.srv.hub.Unsubscribe(c.Sub)
	c.Conn.Close()
	c.pause.Reset(0)
	wg.Wait()
	c.flashWritten()
	werr := <-writeErr
	reason := "closed"
	switch {
	case errors.Is(rerr, cot.ErrTooLarge):
		reason = "too_large"
	case errors.Is(werr, hub.ErrSlowConsumer), errors.Is(c.Sub.Err(), hub.ErrSlowConsumer):
		reason = "slow_consumer"
	case errors.Is(rerr, ErrEventTimeout):
		reason = "event_timeout"
	case errors.Is(rerr, os.ErrDeadlineExceeded) && !c.srv.shuttingDown():
		reason = "idle"
	case errors.Is(rerr, takproto.ErrBadVarint):
		reason = "bad_frame"
	}
	if reason != "closed" {
		m.Refused.WithLabelValues(reason).Inc()
		c.log.Warn("connection closed", seclog.Tag(seclog.Connection), "reason", reason, "read_err", rerr, "write_err", werr)
		c.srv.onClose(c, reason)
	} else {
		c.log.Info("connection closed")
	}
}

// readLoop reads until EOF, error or a fatal framing problem.
func (c *Conn) readLoop() error {
	max := c.srv.cfg.MaxEventSize
	xs := cot.NewSplitter(max)
	var ps *takproto.Splitter
	for {
		c.armReadDeadline(time.Now())
		var n int
		var err error
		if c.proto {
			buf := ps.Buffer(32 << 10)
			n, err = c.Conn.Read(buf)
			ps.Commit(n)
		} else {
			buf := xs.Buffer(32 << 10)
			n, err = c.Conn.Read(buf)
			xs.Commit(n)
		}
		if n > 0 {
			if !c.proto {
				if ferr := c.drainXML(xs); ferr != nil {
					return ferr
				}
				if c.proto {
					ps = takproto.NewSplitter(max)
					ps.Feed(xs.Rest())
				}
			}
			if c.proto {
				if ferr := c.drainProto(ps); ferr != nil {
					return ferr
				}
				c.limits.timer.update(time.Now(), ps.Buffered())
			} else {
				c.limits.timer.update(time.Now(), xs.Buffered())
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				return nil
			}
			if c.eventTimedOut(err) {
				return fmt.Errorf("%w (%s): %w", ErrEventTimeout, c.srv.cfg.EventTimeout, err)
			}
			return err
		}
	}
}

// drainXML handles every complete XML document buffered. It switches the
// connection to protobuf when the client asks for it, leaving the rest of
// the buffer for the protobuf reader.
func (c *Conn) drainXML(xs *cot.Splitter) error {
	for {
		doc, err := xs.Next()
		if errors.Is(err, cot.ErrTooLarge) {
			c.srv.reject(c, cot.Reason(err), err)
			return err
		}
		if err != nil {
			c.srv.reject(c, cot.Reason(err), err)
			continue
		}
		if doc == nil {
			return nil
		}
		c.limits.timer.docs++
		if cot.IsAuth(doc) {
			c.authMessage(doc)
			continue
		}
		ev, err := cot.DecodeUnchecked(doc)
		if err != nil {
			c.srv.reject(c, cot.Reason(err), err)
			continue
		}
		if ev.Type == "t-x-takp-q" {
			c.negotiate(ev)
			if c.proto {
				return nil
			}
			continue
		}
		c.handle(ev, "xml")
	}
}

func (c *Conn) drainProto(ps *takproto.Splitter) error {
	for {
		payload, err := ps.Next()
		if errors.Is(err, cot.ErrTooLarge) || errors.Is(err, takproto.ErrBadVarint) {
			c.srv.reject(c, "too_large", err)
			return err
		}
		if err != nil {
			c.srv.reject(c, "bad_frame", err)
			continue
		}
		if payload == nil {
			return nil
		}
		c.limits.timer.docs++
		ev, err := takproto.ToEvent(payload)
		if errors.Is(err, takproto.ErrNoEvent) {
			continue // a TakControl announcement, not an event
		}
		if err != nil {
			c.srv.reject(c, cot.Reason(err), err)
			continue
		}
		c.handle(ev, "protobuf")
	}
}

// negotiate answers a TAK protocol request. Only version 1 is supported.
func (c *Conn) negotiate(ev *cot.Event) {
	v, ok := takproto.RequestedVersion(ev)
	ok = ok && v == 1
	kind := hub.KindControl
	if ok {
		kind = hub.KindSwitchProto
	}
	resp := hub.NewControl(kind, takproto.Response(time.Now(), ok))
	c.Sub.EnqueueAll([]*hub.Message{resp})
	if ok {
		c.proto = true
		c.log.Info("switched to TAK protocol v1")
	}
}

// handle processes one decoded event: protocol control, ping, or ingest.
func (c *Conn) handle(ev *cot.Event, format string) {
	switch {
	case ev.IsPing():
		c.Sub.EnqueueAll([]*hub.Message{c.srv.pong(ev)})
		return
	case ev.IsControl():
		return
	}
	if err := ev.Validate(); err != nil {
		c.srv.reject(c, cot.Reason(err), err)
		return
	}
	if !c.allow(time.Now()) {
		c.rateLimited()
		return
	}
	if err := c.srv.Ingest(c, ev, format); err != nil {
		return
	}
	if c.Sub != nil && !c.identSet && ev.IsPosition() && ev.Callsign != "" {
		c.identSet = true
		c.Sub.SetIdentity(hub.Identity{UID: ev.UID, Callsign: ev.Callsign})
	}
}

// writeLoop drains the subscriber's queue, coalescing everything queued
// into one write. A batch with more routine bytes than Config.WriteChunk
// goes out in parts, and flash traffic queued meanwhile is written before
// the next part: a warning waits behind at most one part (and the few
// unsent bytes TCP_NOTSENT_LOWAT lets the kernel hold), not behind a whole
// backlog or a new client's replay.
//
// Long on purpose: the per-connection write loop, kept in one piece so the
// flash/routine batching reads in one place and nothing is added on the hot path.
func (c *Conn) writeLoop(ctx context.Context) error {
	m := c.srv.metrics
	tcp, _ := c.Conn.(*net.TCPConn)
	// chunk is the routine bytes one write may carry: Config.WriteChunk,
	// doubled (up to maxChunkGrowth times) while writes of a full chunk
	// return at once, back to WriteChunk after a write that had to wait
	// (see adaptChunk).
	base := c.srv.cfg.WriteChunk
	chunk := base
	var bufs net.Buffers
	var flat []byte
	var last, deadline time.Time
	var pending []*hub.Message // the unwritten rest of a split batch
	var flash []*hub.Message
	pause := c.pause
	defer pause.Stop()
	var lat metrics.LatencyBatch
	done := ctx.Done()
	for {
		var batch []*hub.Message
		fromFlash := false
		if len(pending) == 0 {
			// Coalesce a busy connection's writes, but send flash traffic
			// (missile warnings, emergencies) at once: queuing it fires the
			// pause timer, and flash queued before the Reset below is seen
			// by HasFlash after it. One channel, no select, per write. The
			// pause is short and bounded, so the context is checked after it.
			if d := c.srv.coalesce() - time.Since(last); d > 0 {
				pause.Reset(d)
				if c.Sub.HasFlash() {
					pause.Stop()
				} else {
					<-pause.C
				}
			}
			select {
			case <-done:
				return ctx.Err()
			default:
			}
			var err error
			if batch, err = c.Sub.Next(ctx); err != nil {
				return err
			}
		} else {
			// Behind: flash traffic queued since goes before the rest.
			select {
			case <-done:
				return ctx.Err()
			default:
			}
			clear(flash)
			if flash = c.Sub.TakeFlash(flash[:0]); len(flash) > 0 {
				batch, fromFlash = flash, true
			} else {
				batch = pending
			}
		}
		bufs = bufs[:0]
		format := c.Sub.Format()
		n, size, used := 0, 0, 0
		flashIn := false
		for _, msg := range batch {
			if chunk > 0 && size >= chunk && !msg.Flash {
				break
			}
			used++
			flashIn = flashIn || msg.Flash
			if msg.Kind == hub.KindExpire {
				continue
			}
			var b []byte
			if format == hub.FormatProto {
				b = msg.Proto()
			} else {
				b = msg.XML()
			}
			if len(b) == 0 {
				continue
			}
			bufs = append(bufs, b)
			size += len(b)
			if !msg.Control() {
				n++
			}
			if msg.Kind == hub.KindSwitchProto {
				format = hub.FormatProto
				c.Sub.SetFormat(hub.FormatProto)
			}
		}
		written := batch[:used]
		if !fromFlash {
			pending = batch[used:]
		}
		if len(bufs) == 0 {
			continue
		}
		if flashIn {
			c.flashWritten()
		} else {
			c.yieldToFlash()
		}
		if wt := c.srv.cfg.WriteTimeout; wt > 0 {
			// The deadline is moved only when less than WriteTimeout is
			// left (to WriteTimeout and a quarter from now), not before
			// every write: a stalled write still has at least WriteTimeout,
			// and a busy connection resets its deadline timer a few times
			// per WriteTimeout instead of on every write.
			if now := time.Now(); deadline.Sub(now) < wt {
				deadline = now.Add(wt + wt/4)
				c.Conn.SetWriteDeadline(deadline)
			}
		}
		var err error
		begin := time.Now()
		if tcp != nil {
			wb := bufs
			_, err = wb.WriteTo(tcp)
		} else {
			flat = flat[:0]
			for _, b := range bufs {
				flat = append(flat, b...)
			}
			_, err = c.Conn.Write(flat)
		}
		if err != nil {
			c.Conn.Close()
			return fmt.Errorf("writing to %s: %w", c.Remote(), err)
		}
		now := time.Now()
		last = now
		if base > 0 {
			chunk = adaptChunk(chunk, base, size, now.Sub(begin))
		}
		for _, msg := range written {
			if msg.Kind == hub.KindEvent {
				lat.Add(m.Latency, now.Sub(msg.Received))
			}
		}
		lat.Flush(m.Latency)
		m.Deliveries.Add(float64(n))
		m.Writes.Inc()
	}
}

// flashQueued is the connection's hub.Options.OnFlash, run on the
// publisher's goroutine right after flash traffic was queued: it ends the
// write loop's coalescing pause and marks the connection as owing a flash
// write, which makes the node's routine writers step aside
// (yieldToFlash) until every such write is done.
func (c *Conn) flashQueued() {
	if c.flashDue.CompareAndSwap(false, true) {
		c.srv.flashing.Add(1)
	}
	c.pause.Reset(0)
}

// flashWritten clears the connection's flash mark after a write that
// carried flash traffic (or when the connection ends).
func (c *Conn) flashWritten() {
	if c.flashDue.Swap(false) {
		c.srv.flashing.Add(-1)
	}
}

// yieldToFlash runs before a write with routine bytes only. While any
// connection of the node owes a flash write, the routine writer gives up
// its processor once (runtime.Gosched moves it to the global run queue),
// so that the write loops a warning just woke, which wait in the local run
// queues, run first. Under full load a warning otherwise waits for every
// routine writer and reader queued ahead of it. One load of a shared
// counter when no warning is in flight.
func (c *Conn) yieldToFlash() {
	if c.srv.flashing.Load() > 0 {
		runtime.Gosched()
	}
}

// maxChunkGrowth bounds how far adaptChunk lets a write grow beyond
// Config.WriteChunk.
const maxChunkGrowth = 4

// adaptChunk returns the routine-byte cap for a connection's next write
// after a write of size bytes that took took. A receiver that takes a
// full chunk at once (a fast link, a prompt reader) gets a doubled chunk,
// up to maxChunkGrowth × base: under load each write then carries more
// deliveries, and every write costs a system call and, on loopback, the
// receiver's TCP work. A write that waited for the peer (the kernel took
// the bytes only as the link drained them) drops the cap back to base, so
// that on a slow link a warning waits behind at most base bytes.
func adaptChunk(chunk, base, size int, took time.Duration) int {
	switch {
	case took > 5*time.Millisecond:
		return base
	case size >= chunk && took < time.Millisecond && chunk < maxChunkGrowth*base:
		return chunk * 2
	}
	return chunk
}

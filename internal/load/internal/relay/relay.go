// Package relay is a zero-logic TAK relay used to test the load generator
// and to measure a baseline on the same machine: it splits each CoT XML
// stream on </event> (or, after TAK protocol v1 negotiation, on streaming
// frames) and copies every event to every other connection of the same wire
// format. It keeps no state, checks nothing and converts nothing. It is not
// part of the product.
package relay

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a relay.
type Config struct {
	Addr string // listen address, loopback; port 0 picks one
	// Protobuf makes the relay offer TAK protocol v1 (t-x-takp-v) on
	// connect and switch a connection to streaming frames when it asks.
	Protobuf bool
	// Mute makes the relay offer TAK protocol v1 but never answer a
	// request (to test a client's timeout).
	Mute bool
	// Echo makes the relay also copy every event back to its sender.
	Echo bool
	// Twice makes the relay deliver every event twice.
	Twice bool
	// Drop, if set, is asked for every incoming event, numbered from 0
	// across all connections; the relay drops the event if it says true.
	Drop func(n uint64) bool
	// Coalesce, if set, is the shortest time between two writes to one
	// connection: events arriving meanwhile go out in the next write.
	Coalesce time.Duration
	// MaxQueue bounds the bytes queued for one connection (default 8 MiB);
	// events that do not fit are dropped.
	MaxQueue int
	Logger   *slog.Logger
}

// Relay is a running relay.
type Relay struct {
	cfg   Config
	ln    net.Listener
	log   *slog.Logger
	count atomic.Uint64

	mu    sync.Mutex
	conns map[*conn]struct{}
	peers atomic.Pointer[[]*conn] // copy of conns for broadcast
	wg    sync.WaitGroup
}

// New listens on cfg.Addr.
func New(cfg Config) (*Relay, error) {
	if cfg.MaxQueue <= 0 {
		cfg.MaxQueue = 8 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("relay listening on %s: %w", cfg.Addr, err)
	}
	r := &Relay{cfg: cfg, ln: ln, log: cfg.Logger, conns: map[*conn]struct{}{}}
	r.peers.Store(&[]*conn{})
	return r, nil
}

// Addr is the address the relay listens on.
func (r *Relay) Addr() string { return r.ln.Addr().String() }

// Run accepts connections until ctx ends, then closes every connection and
// returns once all goroutines have finished.
func (r *Relay) Run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { r.ln.Close() })
	defer stop()
	for {
		nc, err := r.ln.Accept()
		if err != nil {
			r.mu.Lock()
			for c := range r.conns {
				c.nc.Close()
			}
			r.mu.Unlock()
			r.wg.Wait()
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("relay accepting: %w", err)
		}
		c := &conn{nc: nc, wake: make(chan struct{}, 1), done: make(chan struct{})}
		r.mu.Lock()
		r.conns[c] = struct{}{}
		r.publish()
		r.mu.Unlock()
		r.wg.Add(2)
		go func() { defer r.wg.Done(); r.write(c) }()
		go func() { defer r.wg.Done(); r.read(c) }()
	}
}

// publish refreshes the broadcast list; r.mu is held.
func (r *Relay) publish() {
	list := make([]*conn, 0, len(r.conns))
	for c := range r.conns {
		list = append(list, c)
	}
	r.peers.Store(&list)
}

type conn struct {
	nc       net.Conn
	protobuf atomic.Bool
	wake     chan struct{}
	done     chan struct{}

	mu     sync.Mutex
	out    []byte
	closed bool
}

func (c *conn) enqueue(b []byte, limit int) {
	c.mu.Lock()
	if c.closed || len(c.out)+len(b) > limit {
		c.mu.Unlock()
		return
	}
	c.out = append(c.out, b...)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (r *Relay) write(c *conn) {
	var spare []byte
	var last time.Time
	for {
		select {
		case <-c.done:
			return
		case <-c.wake:
		}
		if d := r.cfg.Coalesce - time.Since(last); d > 0 {
			time.Sleep(d)
		}
		last = time.Now()
		c.mu.Lock()
		out := c.out
		c.out = spare[:0]
		c.mu.Unlock()
		if _, err := c.nc.Write(out); err != nil {
			c.nc.Close()
			return
		}
		spare = out
	}
}

func (r *Relay) read(c *conn) {
	defer func() {
		c.nc.Close()
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		close(c.done)
		r.mu.Lock()
		delete(r.conns, c)
		r.publish()
		r.mu.Unlock()
	}()
	if r.cfg.Protobuf || r.cfg.Mute {
		c.enqueue(offer(), r.cfg.MaxQueue)
	}
	buf := make([]byte, 64<<10)
	n := 0
	for {
		m, err := c.nc.Read(buf[n:])
		n += m
		done := 0
		for done < n {
			k := r.unit(c, buf[done:n])
			if k == 0 {
				break
			}
			done += k
		}
		n = copy(buf, buf[done:n])
		if n == len(buf) {
			buf = append(buf, make([]byte, len(buf))...)
		}
		if err != nil {
			return
		}
	}
}

var endTag = []byte("</event>")

// unit handles the first complete event or frame in b and returns its
// length, or 0 if b holds none yet.
func (r *Relay) unit(c *conn, b []byte) int {
	if !c.protobuf.Load() {
		i := bytes.Index(b, endTag)
		if i < 0 {
			return 0
		}
		ev := b[:i+len(endTag)]
		if (r.cfg.Protobuf || r.cfg.Mute) && bytes.Contains(ev, []byte(`type="t-x-takp-q"`)) {
			if !r.cfg.Mute {
				c.enqueue(answer(), r.cfg.MaxQueue)
				c.protobuf.Store(true)
			}
			return len(ev)
		}
		r.broadcast(c, ev, false)
		return len(ev)
	}
	if b[0] != 0xbf {
		if i := bytes.IndexByte(b, 0xbf); i > 0 {
			return i
		}
		return len(b)
	}
	size, w := binary.Uvarint(b[1:])
	if w == 0 {
		return 0
	}
	if w < 0 {
		return 1
	}
	if size > 1<<20 {
		return len(b) // oversized: drop what we have and resync
	}
	end := 1 + w + int(size)
	if end > len(b) {
		return 0
	}
	r.broadcast(c, b[:end], true)
	return end
}

func (r *Relay) broadcast(from *conn, ev []byte, protobuf bool) {
	if r.cfg.Drop != nil && r.cfg.Drop(r.count.Add(1)-1) {
		return
	}
	for _, p := range *r.peers.Load() {
		if (p != from || r.cfg.Echo) && p.protobuf.Load() == protobuf {
			p.enqueue(ev, r.cfg.MaxQueue)
			if r.cfg.Twice {
				p.enqueue(ev, r.cfg.MaxQueue)
			}
		}
	}
}

func controlEvent(typ, inner string) []byte {
	now := time.Now().UTC()
	t := now.Format("2006-01-02T15:04:05.000Z")
	return []byte(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` +
		`<event version="2.0" uid="relay" type="` + typ + `" how="m-g" time="` + t + `" start="` + t +
		`" stale="` + now.Add(time.Minute).Format("2006-01-02T15:04:05.000Z") +
		`"><point lat="0.0" lon="0.0" hae="0.0" ce="9999999.0" le="9999999.0"/><detail><TakControl>` +
		inner + `</TakControl></detail></event>`)
}

func offer() []byte {
	return controlEvent("t-x-takp-v", `<TakProtocolSupport version="1"/>`)
}

func answer() []byte { return controlEvent("t-x-takp-r", `<TakResponse status="true"/>`) }

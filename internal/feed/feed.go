// Package feed owns ISR feed inputs: one feed reads one sensor source over
// a transport (TCP client with reconnection, TCP server, or UDP), frames
// its bytes per kind (AIS NMEA lines, SBS-1 lines, the Beast binary stream,
// ASTERIX datagrams or TCP blocks, CoT XML), decodes them with the format
// packages and hands observations to fusion in batches, under the feed's
// security label. It counts messages, errors by kind, rate, lag and
// connection state per feed.
//
// A node configures its feeds with --feed NAME=KIND:TRANSPORT:HOST:PORT
// [@CLASSIFICATION/NATION,NATION] or in its configuration file, where a
// radar also gets the site its CAT048 polar plots are measured from (an
// sbs or beast feed may give its receiver position the same way):
//
//	"feeds": [
//	  {"name": "adsb", "kind": "beast", "transport": "tcp", "addr": "127.0.0.1:30005"},
//	  {"name": "radar-tsushima", "kind": "asterix", "transport": "udp", "addr": "0.0.0.0:8600",
//	   "classification": "SECRET", "releasableTo": ["JPN"],
//	   "site": {"lat": 34.20, "lon": 129.29, "height": 60}}
//	]
package feed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"kizuna/internal/asterix"
	"kizuna/internal/cot"
	"kizuna/internal/fusion"
	"kizuna/internal/label"
)

// Kinds and transports, as in --feed NAME=KIND:TRANSPORT:HOST:PORT.
const (
	KindAIS     = "ais"
	KindSBS     = "sbs"
	KindBeast   = "beast"
	KindASTERIX = "asterix"
	KindCoT     = "cot"

	TransportTCP       = "tcp"
	TransportTCPListen = "tcp-listen"
	TransportUDP       = "udp"
)

// ErrConfig is wrapped by configuration errors.
var ErrConfig = errors.New("invalid feed configuration")

// Config configures one feed.
type Config struct {
	Name      string
	Kind      string
	Transport string
	Addr      string
	// Label is what the feed reports is labelled with: it decides who may
	// see it, whatever the input claims.
	Label label.Label

	// Site is the radar's position, needed to locate CAT048 polar plots; for
	// Mode S kinds it is the receiver position (surface positions and a
	// range check). Nil when unknown.
	Site *asterix.Site
	// RangeSigma (metres, default 60) and AzimuthSigma (degrees, default
	// 0.08) are the radar's measurement accuracies, for plot covariances.
	RangeSigma, AzimuthSigma float64

	// Sink receives observation batches (fusion.Engine.Submit). It must not
	// block; false counts the batch as dropped.
	Sink func([]fusion.Observation) bool
	// CoT receives every event of a cot feed, already labelled with Label
	// (node.Inject).
	CoT func(context.Context, *cot.Event) error

	// MinBackoff and MaxBackoff bound the reconnection delay of a tcp feed
	// (defaults 250 ms and 30 s; exponential with full jitter).
	MinBackoff, MaxBackoff time.Duration
	// IdleTimeout reconnects a tcp feed that sent nothing for this long, and
	// closes such a tcp-listen connection (default 2 min).
	IdleTimeout time.Duration
	// MaxLine bounds one NMEA or SBS line (default 1024 bytes); longer lines
	// are dropped.
	MaxLine int
	// MaxConns bounds concurrent connections of a tcp-listen feed (default 16).
	MaxConns int
	Log      *slog.Logger
}

func (c *Config) check() error {
	switch c.Kind {
	case KindAIS, KindSBS, KindBeast, KindASTERIX, KindCoT:
	default:
		return fmt.Errorf("%w: feed %s: unknown kind %q", ErrConfig, c.Name, c.Kind)
	}
	switch c.Transport {
	case TransportTCP, TransportTCPListen, TransportUDP:
	default:
		return fmt.Errorf("%w: feed %s: unknown transport %q", ErrConfig, c.Name, c.Transport)
	}
	if c.Name == "" {
		return fmt.Errorf("%w: feed without a name", ErrConfig)
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("%w: feed %s: address %q: %v", ErrConfig, c.Name, c.Addr, err)
	}
	if !c.Label.Valid() {
		return fmt.Errorf("%w: feed %s: invalid label", ErrConfig, c.Name)
	}
	if c.Kind == KindCoT && c.CoT == nil {
		return fmt.Errorf("%w: feed %s: a cot feed needs a CoT sink", ErrConfig, c.Name)
	}
	if c.Sink == nil {
		c.Sink = func([]fusion.Observation) bool { return true }
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = 250 * time.Millisecond
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = max(30*time.Second, c.MinBackoff)
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 2 * time.Minute
	}
	if c.MaxLine <= 0 {
		c.MaxLine = 1024
	}
	if c.MaxConns <= 0 {
		c.MaxConns = 16
	}
	if c.RangeSigma <= 0 {
		c.RangeSigma = 60
	}
	if c.AzimuthSigma <= 0 {
		c.AzimuthSigma = 0.08
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Feed is one running ISR feed.
type Feed struct {
	cfg   Config
	log   *slog.Logger
	st    stats
	ready chan struct{}
	addr  atomic.Value // string: the bound address (listen, udp) or the peer

	// dec is the feed-level decoding state (AIS fragments, Mode S aircraft),
	// shared by the feed's connections under decMu.
	decMu sync.Mutex
	dec   *decoder
}

// New checks cfg and returns a feed; Run starts it.
func New(cfg Config) (*Feed, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	f := &Feed{cfg: cfg, log: cfg.Log.With("feed", cfg.Name, "kind", cfg.Kind, "transport", cfg.Transport), ready: make(chan struct{})}
	f.st.errors = map[string]uint64{}
	f.dec = newDecoder(f)
	return f, nil
}

// Name returns the feed's name.
func (f *Feed) Name() string { return f.cfg.Name }

// Ready is closed once a tcp-listen or udp feed is bound (or a tcp feed has
// started dialling).
func (f *Feed) Ready() <-chan struct{} { return f.ready }

// Addr returns the bound address of a tcp-listen or udp feed, or the
// address a tcp feed dials.
func (f *Feed) Addr() string {
	if s, ok := f.addr.Load().(string); ok {
		return s
	}
	return f.cfg.Addr
}

// Run runs the feed until ctx ends, joining every goroutine it started. It
// returns an error only when a listening transport cannot bind.
func (f *Feed) Run(ctx context.Context) error {
	switch f.cfg.Transport {
	case TransportTCP:
		f.addr.Store(f.cfg.Addr)
		close(f.ready)
		f.dialLoop(ctx)
		return nil
	case TransportTCPListen:
		return f.listenLoop(ctx)
	default:
		return f.udpLoop(ctx)
	}
}

// backoff returns the delay before reconnection attempt n (0-based):
// exponential from MinBackoff, capped at MaxBackoff, with full jitter over
// its upper half so that many feeds do not reconnect in step.
func (f *Feed) backoff(n int) time.Duration {
	d := f.cfg.MinBackoff << min(n, 20)
	if d <= 0 || d > f.cfg.MaxBackoff {
		d = f.cfg.MaxBackoff
	}
	return d/2 + rand.N(d/2+1)
}

func (f *Feed) dialLoop(ctx context.Context) {
	failures := 0
	for ctx.Err() == nil {
		d := net.Dialer{Timeout: 10 * time.Second}
		c, err := d.DialContext(ctx, "tcp", f.cfg.Addr)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			f.errorf("connect", err)
		} else {
			f.st.connects.Add(1)
			start := time.Now()
			got := f.serveConn(ctx, c)
			if got && time.Since(start) > time.Second {
				failures = 0
			}
		}
		wait := f.backoff(failures)
		failures++
		f.log.Debug("reconnecting", "in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

func (f *Feed) listenLoop(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", f.cfg.Addr)
	if err != nil {
		return fmt.Errorf("feed %s: listening on %s: %w", f.cfg.Name, f.cfg.Addr, err)
	}
	f.addr.Store(ln.Addr().String())
	close(f.ready)
	f.log.Info("feed listening", "addr", ln.Addr().String())
	var wg sync.WaitGroup
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	sem := make(chan struct{}, f.cfg.MaxConns)
	failures := 0
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			f.errorf("accept", err)
			select {
			case <-ctx.Done():
			case <-time.After(f.backoff(failures)):
			}
			failures++
			continue
		}
		failures = 0
		select {
		case sem <- struct{}{}:
		default:
			f.errorf("too_many_connections", errors.New("connection limit reached"))
			c.Close()
			continue
		}
		f.st.connects.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			f.serveConn(ctx, c)
		}()
	}
	ln.Close()
	wg.Wait()
	return nil
}

// serveConn reads one TCP connection until it fails or ctx ends. It
// reports whether any byte was received.
func (f *Feed) serveConn(ctx context.Context, c net.Conn) bool {
	f.st.connected.Add(1)
	defer f.st.connected.Add(-1)
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	defer c.Close()
	f.log.Info("feed connected", "remote", c.RemoteAddr().String())
	fr := newFramer(f)
	buf := make([]byte, 64<<10)
	got := false
	for {
		c.SetReadDeadline(time.Now().Add(f.cfg.IdleTimeout))
		n, err := c.Read(buf)
		if n > 0 {
			got = true
			f.st.bytes.Add(uint64(n))
			if ferr := fr.stream(ctx, buf[:n], time.Now()); ferr != nil {
				f.errorf("framing", ferr)
				return got
			}
		}
		if err != nil {
			if ctx.Err() == nil {
				var ne net.Error
				switch {
				case errors.Is(err, io.EOF):
					f.errorf("disconnected", err)
				case errors.As(err, &ne) && ne.Timeout():
					f.errorf("idle", err)
				default:
					f.errorf("read", err)
				}
			}
			return got
		}
	}
}

func (f *Feed) udpLoop(ctx context.Context) error {
	var lc net.ListenConfig
	pc, err := lc.ListenPacket(ctx, "udp", f.cfg.Addr)
	if err != nil {
		return fmt.Errorf("feed %s: listening on udp %s: %w", f.cfg.Name, f.cfg.Addr, err)
	}
	f.addr.Store(pc.LocalAddr().String())
	close(f.ready)
	f.log.Info("feed listening", "addr", pc.LocalAddr().String())
	stop := context.AfterFunc(ctx, func() { pc.Close() })
	defer stop()
	defer pc.Close()
	fr := newFramer(f)
	buf := make([]byte, 65536)
	for {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			f.errorf("read", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(f.cfg.MinBackoff):
			}
			continue
		}
		f.st.bytes.Add(uint64(n))
		fr.datagram(ctx, buf[:n], time.Now())
	}
}

// errorf counts an error of the given kind and logs it at debug level
// (inputs can be noisy; the counters are the signal).
func (f *Feed) errorf(kind string, err error) {
	f.st.mu.Lock()
	f.st.errors[kind]++
	f.st.mu.Unlock()
	f.log.Debug("feed error", "reason", kind, "err", err)
}

// Package load owns the fan-out load generator behind `kizuna load`. It
// drives any TAK server that speaks CoT over TCP (Kizuna, TAK Server,
// goatak, FreeTAKServer…) with TAK Server's load-test profile: N clients,
// each sending one position report every 1/R seconds and reading every
// event the server fans out to it. It measures end-to-end latency and
// completeness from a marker that each event carries in its <detail>, and
// reports one summary line.
//
// The generator shares its machine with the server under test, so the read
// path is cheap: one reader per connection with a large buffer, no XML or
// protobuf parsing (event and frame boundaries and the marker are found with
// byte searches), a per-reader histogram and counters merged at the end.
package load

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Proto is the wire format the clients speak.
type Proto string

// Wire formats.
const (
	ProtoXML      Proto = "xml"      // CoT XML events
	ProtoProtobuf Proto = "protobuf" // TAK protocol v1 streaming, negotiated
)

// Sentinel errors callers can branch on.
var (
	// ErrConfig reports an invalid configuration.
	ErrConfig = errors.New("invalid load configuration")
	// ErrConnect reports that too few clients could connect to run a load.
	ErrConnect = errors.New("clients could not connect")
	// ErrNegotiation reports that TAK protocol v1 could not be negotiated.
	ErrNegotiation = errors.New("TAK protocol negotiation failed")
)

// Config describes one load run.
type Config struct {
	Addr     string        // server CoT TCP address, HOST:PORT; a comma-separated list spreads the clients round robin (the instances of a cluster)
	Clients  int           // number of clients, at least 2
	Rate     float64       // position reports per second per client
	Duration time.Duration // how long the clients send
	Proto    Proto         // ProtoXML (default) or ProtoProtobuf
	// Drain is how long the clients keep reading after the last send so
	// late deliveries count (default 3s; negative means none).
	Drain time.Duration
	// Settle is the pause between the last connection and the first send,
	// so the server has accepted and registered every client (default 1s;
	// negative means none).
	Settle time.Duration
	// ConnectTimeout bounds one dial (default 10s).
	ConnectTimeout time.Duration
	// ConnectConcurrency bounds the dials in flight (default 64).
	ConnectConcurrency int
	// NegotiateTimeout bounds waiting for the server's t-x-takp-v offer and
	// then for its t-x-takp-r answer (default 10s).
	NegotiateTimeout time.Duration
	// Stale is the lifetime stamped on each position report (default 30s,
	// at least three send periods).
	Stale time.Duration
	// CPUProfile, if set, names a file that receives a CPU profile of the
	// load generator itself while it sends and drains.
	CPUProfile string
	// Logger receives progress messages; nil discards them.
	Logger *slog.Logger
}

func (c *Config) setDefaults() error {
	if c.Proto == "" {
		c.Proto = ProtoXML
	}
	switch {
	case c.Addr == "":
		return fmt.Errorf("%w: no server address", ErrConfig)
	case c.Clients < 2:
		return fmt.Errorf("%w: %d clients: all-to-all fan-out needs at least 2", ErrConfig, c.Clients)
	case !(c.Rate > 0) || math.IsInf(c.Rate, 0):
		return fmt.Errorf("%w: rate %v: must be a positive number of reports per second", ErrConfig, c.Rate)
	case c.Duration <= 0:
		return fmt.Errorf("%w: duration %v: must be positive", ErrConfig, c.Duration)
	case c.Proto != ProtoXML && c.Proto != ProtoProtobuf:
		return fmt.Errorf("%w: proto %q: want xml or protobuf", ErrConfig, c.Proto)
	}
	for _, a := range strings.Split(c.Addr, ",") {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return fmt.Errorf("%w: address %q: %v", ErrConfig, a, err)
		}
	}
	if c.Drain == 0 {
		c.Drain = 3 * time.Second
	} else if c.Drain < 0 {
		c.Drain = 0
	}
	if c.Settle == 0 {
		c.Settle = time.Second
	} else if c.Settle < 0 {
		c.Settle = 0
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 10 * time.Second
	}
	if c.ConnectConcurrency <= 0 {
		c.ConnectConcurrency = 64
	}
	if c.NegotiateTimeout <= 0 {
		c.NegotiateTimeout = 10 * time.Second
	}
	if c.Stale <= 0 {
		c.Stale = 30 * time.Second
	}
	c.Stale = max(c.Stale, 3*c.period())
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

func (c *Config) period() time.Duration { return time.Duration(float64(time.Second) / c.Rate) }

// Result is what one run measured.
type Result struct {
	Clients  int
	Rate     float64
	Duration time.Duration
	Proto    Proto

	Connected       int
	ConnectFailures int
	// Sent counts the events written in full. Skipped counts send slots
	// missed because a write was still blocked when the next one was due.
	Sent, Skipped uint64
	// Expected is Sent × (Connected − 1): the server never echoes an event
	// to its sender.
	Expected uint64
	// Received counts distinct deliveries of this run's events to other
	// clients. Duplicates counts deliveries of an event a client already
	// had (or more than 64 sequence numbers late); Echoes counts this run's
	// events delivered back to their sender. Neither is in Received.
	Received, Duplicates, Echoes uint64
	// Errors counts write and read failures and unparseable markers.
	Errors uint64
	// Elapsed is the measured send window, the base of DeliveriesPerSecond.
	Elapsed time.Duration
	// GeneratorCPU is the CPU time the load generator itself used from the
	// first connection to the end of the drain (0 where not measured), so
	// that its share of a machine it shares with the server is known.
	GeneratorCPU time.Duration

	P50, P90, P99, Max time.Duration
}

// Completeness is Received / Expected.
func (r Result) Completeness() float64 {
	if r.Expected == 0 {
		return 0
	}
	return float64(r.Received) / float64(r.Expected)
}

// DeliveriesPerSecond is Received over the send window.
func (r Result) DeliveriesPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Received) / r.Elapsed.Seconds()
}

// String is the one-line summary of key=value fields.
func (r Result) String() string {
	var b strings.Builder
	f := func(k, v string) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v)
	}
	u := func(k string, v uint64) { f(k, strconv.FormatUint(v, 10)) }
	ms := func(d time.Duration) string {
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + "ms"
	}
	f("clients", strconv.Itoa(r.Clients))
	f("rate", strconv.FormatFloat(r.Rate, 'g', -1, 64))
	f("duration", r.Duration.String())
	f("proto", string(r.Proto))
	f("connected", strconv.Itoa(r.Connected))
	f("connect_failures", strconv.Itoa(r.ConnectFailures))
	u("sent", r.Sent)
	u("skipped", r.Skipped)
	u("expected", r.Expected)
	u("received", r.Received)
	f("deliveries_per_s", strconv.FormatFloat(r.DeliveriesPerSecond(), 'f', 1, 64))
	f("completeness", strconv.FormatFloat(r.Completeness(), 'f', 5, 64))
	f("p50", ms(r.P50))
	f("p90", ms(r.P90))
	f("p99", ms(r.P99))
	f("max", ms(r.Max))
	f("generator_cpu", strconv.FormatFloat(r.GeneratorCPU.Seconds(), 'f', 1, 64)+"s")
	u("duplicates", r.Duplicates)
	u("echoes", r.Echoes)
	u("errors", r.Errors)
	return b.String()
}

// ParseResult parses a summary line written by Result.String into its
// key=value fields.
func ParseResult(line string) (map[string]string, error) {
	fields := strings.Fields(line)
	if len(fields) == 0 {
		return nil, errors.New("empty summary line")
	}
	m := make(map[string]string, len(fields))
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("summary field %q is not key=value", f)
		}
		m[k] = v
	}
	return m, nil
}

// newRunID returns a random id that marks this run's events, so that
// events of other runs (replayed by the server) are not counted.
func newRunID() string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // never fails
	return hex.EncodeToString(b[:])
}

// client is one simulated TAK client: a connection, its sender's state and
// its reader's tally. Sender and reader touch disjoint fields.
type client struct {
	idx   int
	conn  net.Conn
	carry []byte // bytes read past the negotiation answer (protobuf)
	pos   *position

	// Sender.
	sent, skipped uint64
	writeErr      error

	// Reader.
	tally   *tally
	readErr error
}

// Run performs one load run and returns what it measured. It connects all
// clients first, then starts sending, phases staggered evenly over one send
// period, for cfg.Duration, then reads on for cfg.Drain. If ctx ends early
// the run stops and Run returns what it measured so far with ctx's error.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.setDefaults(); err != nil {
		return Result{}, err
	}
	log := cfg.Logger
	run := newRunID()
	res := Result{Clients: cfg.Clients, Rate: cfg.Rate, Duration: cfg.Duration, Proto: cfg.Proto}

	// Each client starts reading as soon as it is connected, so that what
	// the server sends on connect (replayed objects) never backs up.
	t0 := time.Now()
	cpu0 := processCPU()
	var readers sync.WaitGroup
	clients, failures, firstErr := connectAll(ctx, &cfg, run, &readers)
	res.Connected, res.ConnectFailures = len(clients), failures
	log.Info("clients connected", "connected", len(clients), "failed", failures, "took", time.Since(t0).Round(time.Millisecond))
	if len(clients) < 2 {
		for _, c := range clients {
			c.conn.Close()
		}
		readers.Wait()
		if err := ctx.Err(); err != nil {
			return res, err
		}
		return res, fmt.Errorf("%w: %d of %d connected to %s: %w", ErrConnect, len(clients), cfg.Clients, cfg.Addr, firstErr)
	}
	if failures > 0 {
		log.Warn("some clients failed to connect", "failed", failures, "first_error", firstErr)
	}

	if cfg.CPUProfile != "" {
		stop, err := startProfile(cfg.CPUProfile)
		if err != nil {
			for _, c := range clients {
				c.conn.Close()
			}
			readers.Wait()
			return res, err
		}
		defer stop()
	}

	res.Elapsed = sendAndDrain(ctx, &cfg, clients)
	readers.Wait()
	res.GeneratorCPU = processCPU() - cpu0
	res.addUp(clients, log)
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("load run interrupted: %w", err)
	}
	if res.Sent > 0 && res.Received == 0 {
		log.Warn("no event of this run came back; does the server forward unknown <detail> elements such as <__load> intact?")
	}
	return res, nil
}

// sendAndDrain sends, staggered over one period, for cfg.Duration, then
// reads on for cfg.Drain, then closes every connection (which also ends a
// write blocked in it) and waits for the senders. It returns how long the
// clients sent.
func sendAndDrain(ctx context.Context, cfg *Config, clients []*client) time.Duration {
	period := cfg.period()
	start := time.Now().Add(cfg.Settle + 10*time.Millisecond)
	end := start.Add(cfg.Duration)
	var senders sync.WaitGroup
	for i, c := range clients {
		phase := time.Duration(int64(period) * int64(i) / int64(len(clients)))
		senders.Go(func() { c.send(ctx, cfg.Proto, start.Add(phase), end, period) })
	}
	cfg.Logger.Info("sending", "clients", len(clients), "rate", cfg.Rate, "duration", cfg.Duration, "proto", cfg.Proto)
	wait := func(until time.Time) {
		t := time.NewTimer(time.Until(until))
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
	wait(end)
	elapsed := cfg.Duration
	if ctx.Err() != nil {
		elapsed = min(max(time.Since(start), 0), cfg.Duration)
	} else if cfg.Drain > 0 {
		cfg.Logger.Info("draining", "for", cfg.Drain)
		wait(end.Add(cfg.Drain))
	}
	for _, c := range clients {
		c.conn.Close()
	}
	senders.Wait()
	return elapsed
}

// addUp adds up what the clients counted and the latency quantiles.
func (res *Result) addUp(clients []*client, log *slog.Logger) {
	var h histogram
	var firstIOErr error
	for _, c := range clients {
		res.Sent += c.sent
		res.Skipped += c.skipped
		res.Received += c.tally.received
		res.Echoes += c.tally.echoes
		res.Duplicates += c.tally.duplicates
		res.Errors += c.tally.malformed
		for _, err := range []error{c.writeErr, c.readErr} {
			if err != nil {
				res.Errors++
				firstIOErr = cmp.Or(firstIOErr, err)
			}
		}
		h.merge(&c.tally.hist)
	}
	if firstIOErr != nil {
		log.Warn("connections failed during the run", "errors", res.Errors, "first", firstIOErr)
	}
	res.Expected = res.Sent * uint64(len(clients)-1)
	res.P50, res.P90, res.P99 = h.quantile(0.50), h.quantile(0.90), h.quantile(0.99)
	res.Max = time.Duration(h.max) * time.Microsecond
}

func startProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("creating CPU profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting CPU profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// connectAll dials every client, at most cfg.ConnectConcurrency at a time,
// negotiates protobuf if asked and starts each connected client's reader in
// readers. It returns the connected clients in index order, how many failed
// and the first failure.
func connectAll(ctx context.Context, cfg *Config, run string, readers *sync.WaitGroup) ([]*client, int, error) {
	all := make([]*client, cfg.Clients)
	errs := make([]error, cfg.Clients)
	sem := make(chan struct{}, cfg.ConnectConcurrency)
	var wg sync.WaitGroup
	for i := range cfg.Clients {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			errs[i] = ctx.Err()
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			all[i], errs[i] = connect(ctx, cfg, run, i)
			if c := all[i]; c != nil {
				readers.Go(func() { c.read(cfg.Proto) })
			}
		})
	}
	wg.Wait()
	var ok []*client
	var first error
	failed := 0
	for i, c := range all {
		if errs[i] != nil {
			failed++
			if first == nil {
				first = errs[i]
			}
			continue
		}
		ok = append(ok, c)
	}
	return ok, failed, first
}

func connect(ctx context.Context, cfg *Config, run string, i int) (*client, error) {
	d := net.Dialer{Timeout: cfg.ConnectTimeout}
	addrs := strings.Split(cfg.Addr, ",")
	addr := addrs[i%len(addrs)]
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", addr, err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true) // as TAK clients do
	}
	c := &client{idx: i, conn: conn, pos: newPosition(run, i, cfg.Stale)}
	c.tally = newTally(c.pos.marker, int64(i), cfg.Clients)
	if cfg.Proto == ProtoProtobuf {
		c.carry, err = negotiate(conn, c.pos.uid, cfg.NegotiateTimeout)
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("negotiating with %s: %w", cfg.Addr, err)
		}
	}
	return c, nil
}

// send writes one position report at each slot first, first+period, …
// before end. A slot is skipped when the sender gets to it one period late
// (a write was blocked or the machine is overloaded) or only after end, as a
// TAK client's timer would skip it; so sent + skipped is the number of slots.
func (c *client) send(ctx context.Context, proto Proto, first, end time.Time, period time.Duration) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	buf := make([]byte, 0, 2048)
	var seq uint64
	for next := first; next.Before(end); next = next.Add(period) {
		if d := time.Until(next); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		}
		if ctx.Err() != nil {
			return
		}
		now := time.Now()
		if now.Sub(next) >= period || !now.Before(end) {
			c.skipped++
			continue
		}
		if proto == ProtoProtobuf {
			buf = c.pos.appendFrame(buf[:0], now, seq)
		} else {
			buf = c.pos.appendXML(buf[:0], now, seq)
		}
		seq++
		if _, err := c.conn.Write(buf); err != nil {
			if !errors.Is(err, net.ErrClosed) {
				c.writeErr = fmt.Errorf("client %d writing: %w", c.idx, err)
			}
			return
		}
		c.sent++
	}
}

// readBuf is the initial read buffer of each client.
const readBuf = 64 << 10

// read reads until the connection is closed, counting this run's events.
func (c *client) read(proto Proto) {
	buf := make([]byte, max(readBuf, 2*len(c.carry)))
	n := copy(buf, c.carry)
	c.carry = nil
	t := c.tally
	scan := t.scanXML
	if proto == ProtoProtobuf {
		scan = t.scanFrames
	}
	t.now = time.Now().UnixNano()
	for {
		if n > 0 {
			done := scan(buf[:n])
			n = copy(buf, buf[done:n])
			if n == len(buf) { // one unfinished event fills the buffer
				if len(buf) > maxFrame {
					t.malformed++ // no event of ours is this large
					n = 0
				} else {
					buf = append(buf, make([]byte, len(buf))...)
				}
			}
		}
		m, err := c.conn.Read(buf[n:])
		if m > 0 {
			t.now = time.Now().UnixNano()
			n += m
		}
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				c.readErr = fmt.Errorf("client %d reading: %w", c.idx, err)
				if errors.Is(err, io.EOF) {
					c.readErr = fmt.Errorf("client %d: server closed the connection", c.idx)
				}
			}
			return
		}
	}
}

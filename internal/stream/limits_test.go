package stream

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/hub"
	"kizuna/internal/label"
	"kizuna/internal/metrics"
	"kizuna/internal/taktest"
)

func TestEventTimer(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	type step struct {
		at       time.Duration
		docs     uint64 // documents completed before this update
		buffered int
		want     time.Duration // expected since (offset from t0), -1 for none
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"nothing buffered", []step{{0, 0, 0, -1}, {time.Second, 0, 0, -1}}},
		{"partial starts the clock and trickling keeps it", []step{
			{time.Second, 0, 10, time.Second}, {2 * time.Second, 0, 11, time.Second}, {90 * time.Second, 0, 12, time.Second},
		}},
		{"a completed event with a partial tail restarts it", []step{
			{time.Second, 0, 10, time.Second}, {5 * time.Second, 1, 10, 5 * time.Second}, {6 * time.Second, 1, 20, 5 * time.Second},
		}},
		{"an empty buffer stops it", []step{
			{time.Second, 0, 10, time.Second}, {2 * time.Second, 1, 0, -1}, {3 * time.Second, 1, 5, 3 * time.Second},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var et eventTimer
			for i, s := range tt.steps {
				et.docs = s.docs
				et.update(t0.Add(s.at), s.buffered)
				want := time.Time{}
				if s.want >= 0 {
					want = t0.Add(s.want)
				}
				if !et.since.Equal(want) {
					t.Fatalf("step %d: since = %v, want %v", i, et.since, want)
				}
			}
		})
	}
}

func TestReadDeadline(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name        string
		idle, event time.Duration
		since       time.Duration // partial began this long before now; 0 none
		want        time.Duration // deadline offset from now; 0 none
		wantEvent   bool
	}{
		{"idle only", 10 * time.Minute, time.Minute, 0, 10 * time.Minute, false},
		{"partial event due first", 10 * time.Minute, time.Minute, 20 * time.Second, 40 * time.Second, true},
		{"event overdue", 10 * time.Minute, time.Minute, 2 * time.Minute, -time.Minute, true},
		{"idle shorter than event", 10 * time.Second, time.Minute, time.Second, 10 * time.Second, false},
		{"no idle timeout", 0, time.Minute, 30 * time.Second, 30 * time.Second, true},
		{"event timeout disabled", 0, -1, 30 * time.Second, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Conn{srv: &Server{cfg: Config{IdleTimeout: tt.idle, EventTimeout: tt.event}}}
			if tt.since > 0 {
				c.limits.timer.since = now.Add(-tt.since)
			}
			d, ev := c.readDeadline(now)
			want := time.Time{}
			if tt.want != 0 {
				want = now.Add(tt.want)
			}
			if !d.Equal(want) || ev != tt.wantEvent {
				t.Errorf("deadline = %v (event %v), want %v (event %v)", d, ev, want, tt.wantEvent)
			}
		})
	}
}

// testServer is a stream server on loopback whose hooks are recorded.
type testServer struct {
	srv     *Server
	m       *metrics.Metrics
	addr    string
	mu      sync.Mutex
	ingest  []string
	rejects []string // reason: err
	refuses []string
	closed  []string
}

func newTestServer(t *testing.T, cfg Config, perIP int) *testServer {
	t.Helper()
	ts := &testServer{m: metrics.New()}
	srv, err := NewServer(Options{
		Config:   cfg,
		Hub:      hub.New(64),
		Metrics:  ts.m,
		Encoders: &hub.Encoders{},
		Ingest: func(c *Conn, ev *cot.Event, format string) error {
			ts.mu.Lock()
			ts.ingest = append(ts.ingest, ev.UID)
			ts.mu.Unlock()
			return nil
		},
		Replay: func(label.Principal) []*hub.Message { return nil },
		Reject: func(c *Conn, reason string, err error) {
			ts.mu.Lock()
			ts.rejects = append(ts.rejects, reason+": "+err.Error())
			ts.mu.Unlock()
		},
		Refuse: func(remote, listener string, err error) {
			ts.mu.Lock()
			ts.refuses = append(ts.refuses, err.Error())
			ts.mu.Unlock()
		},
		Closed: func(c *Conn, reason string) {
			ts.mu.Lock()
			ts.closed = append(ts.closed, reason)
			ts.mu.Unlock()
		},
		MaxConnsPerIP: perIP,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr, err := srv.Listen(ctx, Listener{Kind: "cot-tcp", Addr: "127.0.0.1:0", Principal: label.Principal{Nation: "USA", Clearance: label.Secret}})
	if err != nil {
		t.Fatal(err)
	}
	ts.srv, ts.addr = srv, addr.String()
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		srv.Shutdown(sctx)
		cancel()
	})
	return ts
}

func (ts *testServer) snapshot() (ingest, rejects, refuses, closed []string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]string(nil), ts.ingest...), append([]string(nil), ts.rejects...),
		append([]string(nil), ts.refuses...), append([]string(nil), ts.closed...)
}

// counter reads one labelled counter of a metric family.
func counter(t *testing.T, m *metrics.Metrics, family, lbl string) float64 {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != family {
			continue
		}
		for _, mm := range mf.GetMetric() {
			for _, lp := range mm.GetLabel() {
				if lp.GetName() == "reason" && lp.GetValue() == lbl {
					return mm.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func dialTest(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	// Drain what the server sends (offer, pongs) so that it never blocks.
	go func() {
		buf := make([]byte, 4096)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	}()
	return c
}

// closedByServer reports whether the server closed c within d: a write
// after the close fails once the reset arrives.
func closedByServer(c net.Conn, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		c.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := c.Write([]byte(" ")); err != nil {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func testEvent(uid string) string {
	now := time.Now().UTC()
	return fmt.Sprintf(`<event version="2.0" uid="%s" type="a-f-G" how="m-g" time="%s" start="%s" stale="%s"><point lat="35" lon="139" hae="0" ce="1" le="1"/><detail/></event>`,
		uid, now.Format(time.RFC3339), now.Format(time.RFC3339), now.Add(time.Minute).Format(time.RFC3339))
}

// TestEventTimeout: a client trickling one incomplete event (a byte at a
// time, well inside the idle timeout) is disconnected once the event is
// older than EventTimeout; clients that keep completing events, or that
// are quiet between events, are not.
func TestEventTimeout(t *testing.T) {
	const limit = 400 * time.Millisecond
	ts := newTestServer(t, Config{IdleTimeout: time.Minute, EventTimeout: limit}, 0)

	slow := dialTest(t, ts.addr)
	quiet := dialTest(t, ts.addr)
	busy := dialTest(t, ts.addr)

	if _, err := quiet.Write([]byte(testEvent("quiet-1") + "\n")); err != nil {
		t.Fatal(err)
	}
	// The busy client sends events split across writes, so that an
	// incomplete event is always buffered, each finishing well in time,
	// for several times the limit.
	busyDone := make(chan error, 1)
	go func() {
		end := time.Now().Add(3 * limit)
		for i := 0; time.Now().Before(end); i++ {
			ev := testEvent(fmt.Sprintf("busy-%d", i))
			half := len(ev) / 2
			if _, err := busy.Write([]byte(ev[:half])); err != nil {
				busyDone <- err
				return
			}
			time.Sleep(limit / 4)
			if _, err := busy.Write([]byte(ev[half:])); err != nil {
				busyDone <- err
				return
			}
		}
		busyDone <- nil
	}()

	start := time.Now()
	partial := testEvent("slow-1")
	trickled := 0
	for i := 0; i < len(partial)-1 && time.Since(start) < 5*time.Second; i++ {
		slow.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := slow.Write([]byte{partial[i]}); err != nil {
			break
		}
		trickled++
		time.Sleep(limit / 8)
	}
	if !closedByServer(slow, 5*time.Second) {
		t.Fatal("a client trickling one event was not disconnected")
	}
	if el := time.Since(start); el < limit {
		t.Errorf("disconnected after %v, before the %v limit", el, limit)
	}
	if err := <-busyDone; err != nil {
		t.Errorf("busy client: %v", err)
	}
	taktest.WaitUntil(t, "event_timeout counted", 5*time.Second, func() bool {
		return counter(t, ts.m, "kizuna_connections_refused_total", "event_timeout") == 1
	})
	if closedByServer(quiet, 50*time.Millisecond) || closedByServer(busy, 50*time.Millisecond) {
		t.Error("a client that completed its events was disconnected")
	}
	ingest, _, _, closed := ts.snapshot()
	if len(closed) != 1 || closed[0] != "event_timeout" {
		t.Errorf("closed hooks = %v, want [event_timeout]", closed)
	}
	busyN := 0
	for _, uid := range ingest {
		if strings.HasPrefix(uid, "busy-") {
			busyN++
		}
		if uid == "slow-1" {
			t.Error("the trickled event was ingested")
		}
	}
	if busyN < 3 {
		t.Errorf("busy client: %d events ingested, want at least 3", busyN)
	}
}

// TestRateLimitReports: events over the rate are dropped and every drop
// is counted, but only the first is reported (audited) while the
// connection lives, then one summary when it ends; the connection stays
// open meanwhile.
func TestRateLimitReports(t *testing.T) {
	ts := newTestServer(t, Config{EventRate: 5}, 0)
	c := dialTest(t, ts.addr)
	var b strings.Builder
	for i := range 50 {
		b.WriteString(testEvent(fmt.Sprintf("r-%d", i)))
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	taktest.WaitUntil(t, "50 events handled", 5*time.Second, func() bool {
		ingest, _, _, _ := ts.snapshot()
		return float64(len(ingest))+counter(t, ts.m, "kizuna_events_rejected_total", "rate_limited") == 50
	})
	ingest, rejects, _, _ := ts.snapshot()
	if len(ingest) < 5 || len(ingest) > 7 {
		t.Errorf("%d events passed a limit of 5/s", len(ingest))
	}
	if len(rejects) != 1 || !strings.HasPrefix(rejects[0], "rate_limited: ") {
		t.Fatalf("reports while connected = %q, want one rate_limited", rejects)
	}
	if closedByServer(c, 100*time.Millisecond) {
		t.Fatal("rate-limited connection was closed")
	}
	c.Close()
	dropped := 50 - len(ingest)
	taktest.WaitUntil(t, "summary report", 5*time.Second, func() bool {
		_, r, _, _ := ts.snapshot()
		return len(r) == 2
	})
	_, rejects, _, _ = ts.snapshot()
	if want := fmt.Sprintf("%d events dropped", dropped); !strings.Contains(rejects[1], want) {
		t.Errorf("summary %q does not say %q", rejects[1], want)
	}
}

// TestConnCapReports: connections over the per-IP cap are refused and
// each is counted; one report per window covers a flood, and the number
// suppressed is reported at shutdown.
func TestConnCapReports(t *testing.T) {
	ts := newTestServer(t, Config{}, 2)
	a, b := dialTest(t, ts.addr), dialTest(t, ts.addr)
	taktest.WaitUntil(t, "two connections", 5*time.Second, func() bool { return ts.srv.Conns() == 2 })
	const extra = 6
	for range extra {
		c := dialTest(t, ts.addr)
		if !closedByServer(c, 5*time.Second) {
			t.Fatal("connection over the per-IP cap was not closed")
		}
	}
	if got := counter(t, ts.m, "kizuna_connections_refused_total", "conn_cap"); got != extra {
		t.Errorf("conn_cap counted %v, want %d", got, extra)
	}
	_, _, refuses, _ := ts.snapshot()
	if len(refuses) != 1 {
		t.Errorf("refusals reported %d times during the flood, want once: %q", len(refuses), refuses)
	}
	if closedByServer(a, 50*time.Millisecond) || closedByServer(b, 50*time.Millisecond) {
		t.Error("connections under the cap were closed")
	}
	// A slot freed is a slot available.
	a.Close()
	taktest.WaitUntil(t, "slot freed", 5*time.Second, func() bool { return ts.srv.Conns() == 1 })
	dialTest(t, ts.addr)
	taktest.WaitUntil(t, "slot reused", 5*time.Second, func() bool { return ts.srv.Conns() == 2 })

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ts.srv.Shutdown(ctx)
	_, _, refuses, _ = ts.snapshot()
	if len(refuses) != 2 || !strings.Contains(refuses[1], fmt.Sprintf("%d similar refusals", extra-1)) {
		t.Errorf("reports after shutdown = %q, want a summary of %d", refuses, extra-1)
	}
}

// TestDropReports: a flood of hostile events (DTDs, which the rate limit
// does not see because they never decode) is counted in full but
// reported once per reason while the connection lives, and summed up per
// reason when it ends.
func TestDropReports(t *testing.T) {
	ts := newTestServer(t, Config{}, 0)
	c := dialTest(t, ts.addr)
	const dtds, garbage = 40, 3
	var b strings.Builder
	for range dtds {
		b.WriteString(`<!DOCTYPE event [<!ENTITY x "y">]>` + testEvent("dtd"))
	}
	for range garbage {
		b.WriteString(`<event uid="m"><point></event>`)
	}
	b.WriteString(testEvent("good"))
	if _, err := c.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	taktest.WaitUntil(t, "good event after the flood", 5*time.Second, func() bool {
		ingest, _, _, _ := ts.snapshot()
		return len(ingest) == 1
	})
	if got := counter(t, ts.m, "kizuna_events_rejected_total", "dtd"); got != dtds {
		t.Errorf("dtd counted %v, want %d", got, dtds)
	}
	_, rejects, _, _ := ts.snapshot()
	if len(rejects) != 2 || !strings.HasPrefix(rejects[0], "dtd: ") {
		t.Fatalf("reports while connected = %q, want one dtd and one malformed", rejects)
	}
	c.Close()
	taktest.WaitUntil(t, "summaries", 5*time.Second, func() bool {
		_, r, _, _ := ts.snapshot()
		return len(r) == 4
	})
	_, rejects, _, _ = ts.snapshot()
	want := []string{
		fmt.Sprintf("dtd: %d events dropped on this connection in total (dtd)", dtds),
	}
	if !strings.Contains(strings.Join(rejects[2:], "\n"), want[0]) {
		t.Errorf("summaries = %q, want one saying %q", rejects[2:], want[0])
	}
}

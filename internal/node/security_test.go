package node

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kizuna/internal/audit"
	"kizuna/internal/cot"
	"kizuna/internal/label"
	"kizuna/internal/reject"
	"kizuna/internal/seclog"
	"kizuna/internal/taktest"
)

func TestSecurityCategory(t *testing.T) {
	rec := func(level slog.Level, msg string, attrs ...any) slog.Record {
		r := slog.NewRecord(time.Now(), level, msg, 0)
		r.Add(attrs...)
		return r
	}
	tests := []struct {
		name  string
		r     slog.Record
		bound []slog.Attr
		want  string // "" means not security-relevant
	}{
		{"TLS refusal", rec(slog.LevelWarn, "TLS handshake refused", seclog.Tag(SecTLS), "remote", "127.0.0.1:1"), nil, SecTLS},
		{"cap refusal", rec(slog.LevelWarn, "connection refused", seclog.Tag(SecConnection), "reason", "conn_cap"), nil, SecConnection},
		{"label rejection", rec(slog.LevelInfo, "event dropped", reject.Reason("above_clearance").LogAttrs()...), nil, SecEvent},
		{"ownership", rec(slog.LevelInfo, "event dropped", reject.Reason("not_owner").LogAttrs()...), nil, SecEvent},
		{"ownership summary", rec(slog.LevelWarn, "events dropped", append(reject.Reason("not_owner").LogAttrs(), "dropped", 3)...), nil, SecEvent},
		{"DTD dropped", rec(slog.LevelInfo, "event dropped", reject.Reason("dtd").LogAttrs()...), nil, SecEvent},
		{"rate limited", rec(slog.LevelInfo, "event dropped", reject.Reason("rate_limited").LogAttrs()...), nil, SecRate},
		{"rate summary", rec(slog.LevelWarn, "events dropped", append(reject.Reason("rate_limited").LogAttrs(), "dropped", 7)...), nil, SecRate},
		{"DTD summary", rec(slog.LevelWarn, "events dropped", append(reject.Reason("dtd").LogAttrs(), "dropped", 7)...), nil, SecEvent},
		{"malformed summary is not", rec(slog.LevelWarn, "events dropped", append(reject.Reason("malformed").LogAttrs(), "dropped", 7)...), nil, ""},
		{"unflagged drop text is not", rec(slog.LevelInfo, "event dropped", "reason", "dtd"), nil, ""},
		{"malformed XML is not", rec(slog.LevelInfo, "event dropped", reject.Reason("xml").LogAttrs()...), nil, ""},
		{"closed for cause", rec(slog.LevelWarn, "connection closed", seclog.Tag(SecConnection), "reason", "event_timeout"), nil, SecConnection},
		{"ordinary close is not", rec(slog.LevelInfo, "connection closed"), nil, ""},
		{"revocation", rec(slog.LevelWarn, "closed connections of revoked certificates", seclog.Tag(SecRevocation), "count", 1), nil, SecRevocation},
		{"enrollment", rec(slog.LevelInfo, "enrollment: issued client certificate", seclog.Tag(SecEnrollment)), nil, SecEnrollment},
		{"enrollment failure", rec(slog.LevelWarn, "enrollment login failed", seclog.Tag(SecEnrollment)), nil, SecEnrollment},
		{"federation", rec(slog.LevelWarn, "federation link refused", seclog.Tag(SecFederation)), nil, SecFederation},
		{"message text alone is not", rec(slog.LevelWarn, "TLS handshake refused", "remote", "127.0.0.1:1"), nil, ""},
		{"untagged federation text is not", rec(slog.LevelWarn, "federation link refused"), nil, ""},
		{"flagged", rec(slog.LevelInfo, "something new", "security", true, "category", "custom"), nil, "custom"},
		{"flagged by With", rec(slog.LevelInfo, "something new"), []slog.Attr{slog.Bool("security", true)}, "other"},
		{"flag false", rec(slog.LevelWarn, "something new", "security", false), nil, ""},
		{"unrelated", rec(slog.LevelWarn, "listening", "kind", "http"), nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := securityCategory(tt.r, tt.bound)
			if ok != (tt.want != "") || got != tt.want {
				t.Errorf("category = %q, %v; want %q", got, ok, tt.want)
			}
		})
	}
}

// readSecurityLog returns the JSON lines of a security log file.
func readSecurityLog(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		t.Fatal(err)
	}
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("security log line is not JSON: %v: %s", err, sc.Bytes())
		}
		out = append(out, m)
	}
	return out
}

// TestSecurityHandler: security-relevant records reach the security log
// whatever the operator's level, with node, nation, category and the
// bound attributes; others only reach the operator's log.
func TestSecurityHandler(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", SecurityLogFile)
	w := newRotatingFile(path, 1<<20, 2)
	var ops bytes.Buffer
	inner := slog.NewTextHandler(&ops, &slog.HandlerOptions{Level: slog.LevelWarn})
	log := slog.New(newSecurityHandler(inner, w, slog.String("node_id", "n1"), slog.String("node_nation", "JPN")))

	stream := log.With("component", "stream", "listener", "cot-tls")
	stream.Info("connection accepted", "remote", "127.0.0.1:9")
	stream.Info("event dropped", append(reject.DTD.LogAttrs(), "remote", "127.0.0.1:9")...)
	stream.Warn("connection refused", seclog.Tag(SecConnection), "reason", "conn_cap", "remote", "127.0.0.1:9")
	log.Info("enrollment: issued client certificate", seclog.Tag(SecEnrollment), "user", "sakura")
	log.Warn("TLS handshake refused", "remote", "127.0.0.1:9") // untagged: the text alone does not decide
	log.Debug("TLS handshake refused")                         // below Info: nowhere
	log.With("security", true).WithGroup("g").Info("custom act", "k", "v")

	lines := readSecurityLog(t, path)
	var msgs []string
	for _, l := range lines {
		msgs = append(msgs, l["msg"].(string))
		cat := l["category"]
		if g, ok := l["g"].(map[string]any); ok {
			cat = g["category"] // inside a group, slog puts it there
		}
		if l["node_id"] != "n1" || l["node_nation"] != "JPN" || cat == nil || cat == "" {
			t.Errorf("line lacks node, nation or category: %v", l)
		}
	}
	want := []string{"event dropped", "connection refused", "enrollment: issued client certificate", "custom act"}
	if strings.Join(msgs, "|") != strings.Join(want, "|") {
		t.Fatalf("security log messages = %q, want %q", msgs, want)
	}
	if lines[0]["component"] != "stream" || lines[0]["listener"] != "cot-tls" || lines[0]["reason"] != "dtd" {
		t.Errorf("bound and record attributes missing: %v", lines[0])
	}
	if g, ok := lines[3]["g"].(map[string]any); !ok || g["k"] != "v" || g["category"] != "other" {
		t.Errorf("grouped line = %v", lines[3])
	}
	// The operator's log at Warn sees only the two warnings.
	if got := strings.Count(ops.String(), "\n"); got != 2 || !strings.Contains(ops.String(), "connection refused") {
		t.Errorf("operator log:\n%s", ops.String())
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("security log mode: %v %v", st.Mode(), err)
	}

	// After Close, late records still land.
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	log.Warn("TLS handshake refused", seclog.Tag(SecTLS), "remote", "127.0.0.1:10")
	if got := readSecurityLog(t, path); len(got) != len(lines)+1 {
		t.Errorf("after close: %d lines, want %d", len(got), len(lines)+1)
	}
}

func TestRotatingFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, SecurityLogFile)
	w := newRotatingFile(path, 100, 2)
	line := []byte(strings.Repeat("x", 39) + "\n") // 40 bytes: two per file
	for i := 0; i < 9; i++ {
		if _, err := w.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	for _, tc := range []struct {
		name string
		size int64
	}{{SecurityLogFile, 40}, {SecurityLogFile + ".1", 80}, {SecurityLogFile + ".2", 80}} {
		st, err := os.Stat(filepath.Join(dir, tc.name))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if st.Size() != tc.size {
			t.Errorf("%s: %d bytes, want %d", tc.name, st.Size(), tc.size)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, SecurityLogFile+".3")); !os.IsNotExist(err) {
		t.Errorf("more rotated files kept than asked: %v", err)
	}
	// Reopening appends, and rotates a file already over the size.
	w2 := newRotatingFile(path, 100, 2)
	w2.Write(line)
	w2.Write(line)
	w2.Close()
	if st, _ := os.Stat(path); st.Size() != 40 {
		t.Errorf("after reopen: %d bytes, want 40", st.Size())
	}
}

// auditRecords reads the node's audit log.
func auditRecords(t *testing.T, dir string) []audit.Record {
	t.Helper()
	var out []audit.Record
	if err := audit.Read(dir, func(r audit.Record) error { out = append(out, r); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func countAudit(t *testing.T, dir, action, decision, reasonPart string) int {
	t.Helper()
	n := 0
	for _, r := range auditRecords(t, dir) {
		if r.Action == action && (decision == "" || r.Decision == decision) && strings.Contains(r.Reason, reasonPart) {
			n++
		}
	}
	return n
}

func countSecurityLog(t *testing.T, dir, category, text string) int {
	t.Helper()
	n := 0
	for _, l := range readSecurityLog(t, filepath.Join(dir, SecurityLogFile)) {
		b, _ := json.Marshal(l)
		if l["category"] == category && strings.Contains(string(b), text) {
			n++
		}
	}
	return n
}

func ping() []byte {
	now := time.Now().UTC().Format(time.RFC3339)
	return []byte(`<event version="2.0" uid="ping-1" type="t-x-c-t" how="h-g-i-g-o" time="` + now + `" start="` + now + `" stale="` + now + `"><point lat="0" lon="0" hae="0" ce="9999999" le="9999999"/><detail/></event>`)
}

// TestRateLimitThroughNode: a client flooding over --event-rate has the
// excess dropped (rate_limited, counted in /metrics), keeps its
// connection, and is audited once while connected plus once with the
// total when it leaves; the security log has it.
func TestRateLimitThroughNode(t *testing.T) {
	cfg := baseConfig([]string{"USA:SECRET"}, []string{"USA:SECRET"})
	cfg.EventRate = 10
	n := startNode(t, cfg)
	dir := n.Config().DataDir
	addr, httpAddr := addrOf(t, n, KindCoTTCP, ""), addrOf(t, n, KindHTTP, "")

	watcher := dial(t, addr)
	watcher.Expect("offer", func(e *cot.Event) bool { return e.Type == "t-x-takp-v" }, 5*time.Second)
	flood := dial(t, addr)
	flood.Expect("offer", func(e *cot.Event) bool { return e.Type == "t-x-takp-v" }, 5*time.Second)

	const sent = 200
	var b bytes.Buffer
	for i := range sent {
		b.Write(event(fmt.Sprintf("flood-%d", i), "a-f-G-U-C", "").XML())
	}
	flood.Send(b.Bytes())
	taktest.WaitUntil(t, "every flood event accepted or dropped", 10*time.Second, func() bool {
		in := taktest.Metric(t, httpAddr, `kizuna_events_in_total{format="xml"}`)
		dropped := taktest.Metric(t, httpAddr, `kizuna_events_rejected_total{reason="rate_limited"}`)
		return in+dropped == sent
	})
	in := taktest.Metric(t, httpAddr, `kizuna_events_in_total{format="xml"}`)
	if in < 10 || in > 15 {
		t.Errorf("%v of %d events passed a limit of 10/s", in, sent)
	}
	// The connection is still open and answers pings at once.
	flood.Send(ping())
	flood.Expect("pong", func(e *cot.Event) bool { return e.Type == "t-x-c-t-r" }, 5*time.Second)
	// Once tokens refill, its events flow again.
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; ; i++ {
		uid := fmt.Sprintf("after-%d", i)
		flood.SendEvent(event(uid, "a-f-G-U-C", ""))
		got := false
		for _, e := range watcher.Collect(200 * time.Millisecond) {
			if strings.HasPrefix(e.UID, "after-") {
				got = true
			}
		}
		if got {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no event passed after the flood")
		}
	}
	if got := countAudit(t, dir, "event.rate_limited", "deny", ""); got != 1 {
		t.Errorf("%d rate_limited audit records during the flood, want 1", got)
	}
	flood.Conn.Close()
	taktest.WaitUntil(t, "rate-limit summary audited", 5*time.Second, func() bool {
		return countAudit(t, dir, "event.rate_limited", "deny", "dropped on this connection in total") == 1
	})
	if got := countAudit(t, dir, "event.rate_limited", "", ""); got != 2 {
		t.Errorf("%d rate_limited audit records in all, want 2", got)
	}
	if countSecurityLog(t, dir, SecRate, "rate_limited") < 2 {
		t.Error("security log lacks the rate-limit lines")
	}
}

// TestConnCapsThroughNode: the connection over --max-conns-per-ip (plain
// TCP) or --max-conns-per-principal (same client certificate) is refused,
// counted as conn_cap, audited and in the security log; others go on.
func TestConnCapsThroughNode(t *testing.T) {
	t.Run("per IP", func(t *testing.T) {
		cfg := baseConfig([]string{"USA:SECRET"}, []string{"USA:SECRET"})
		cfg.MaxConnsPerIP = 3 // the test's HTTP polls use other listeners
		n := startNode(t, cfg)
		dir := n.Config().DataDir
		addr, httpAddr := addrOf(t, n, KindCoTTCP, ""), addrOf(t, n, KindHTTP, "")
		var ok []*takClient
		for range 3 {
			c := dial(t, addr)
			c.Expect("offer", func(e *cot.Event) bool { return e.Type == "t-x-takp-v" }, 5*time.Second)
			ok = append(ok, c)
		}
		over := dial(t, addr)
		if !over.Closed(5 * time.Second) {
			t.Fatal("fourth connection from one IP was not refused")
		}
		taktest.WaitUntil(t, "conn_cap counted", 5*time.Second, func() bool {
			return taktest.Metric(t, httpAddr, `kizuna_connections_refused_total{reason="conn_cap"}`) == 1
		})
		taktest.WaitUntil(t, "refusal audited", 5*time.Second, func() bool {
			return countAudit(t, dir, "connect", "deny", "connection cap reached") == 1
		})
		if countSecurityLog(t, dir, SecConnection, "conn_cap") != 1 {
			t.Error("security log lacks the refusal")
		}
		ok[0].Send(ping())
		ok[0].Expect("pong", func(e *cot.Event) bool { return e.Type == "t-x-c-t-r" }, 5*time.Second)
		// A freed slot can be used again.
		ok[1].Conn.Close()
		taktest.WaitUntil(t, "slot freed", 5*time.Second, func() bool {
			return taktest.Metric(t, httpAddr, `kizuna_connections{listener="cot-tcp"}`) == 2
		})
		again := dial(t, addr)
		again.Expect("offer", func(e *cot.Event) bool { return e.Type == "t-x-takp-v" }, 5*time.Second)
	})
	t.Run("per principal", func(t *testing.T) {
		tp := newTestPKI(t, "USA", "JPN")
		tp.cfg.MaxConnsPerPrincipal = 2
		n := startNode(t, tp.cfg)
		dir := n.Config().DataDir
		addr, httpAddr := addrOf(t, n, KindCoTTLS, ""), addrOf(t, n, KindHTTP, "")
		sakura, _ := tp.client(t, "JPN", "SAKURA-1", label.Secret)
		other, _ := tp.client(t, "JPN", "SAKURA-2", label.Secret)
		for range 2 {
			c := dialTLS(t, addr, tp.clientTLS(sakura))
			c.Expect("offer", func(e *cot.Event) bool { return e.Type == "t-x-takp-v" }, 5*time.Second)
		}
		over := dialTLS(t, addr, tp.clientTLS(sakura))
		if !over.Closed(5 * time.Second) {
			t.Fatal("third connection of one certificate was not refused")
		}
		for _, e := range over.Collect(50 * time.Millisecond) {
			t.Errorf("refused connection received %s", e.Type)
		}
		// Another principal from the same address is not affected.
		c := dialTLS(t, addr, tp.clientTLS(other))
		c.Expect("offer", func(e *cot.Event) bool { return e.Type == "t-x-takp-v" }, 5*time.Second)
		if got := taktest.Metric(t, httpAddr, `kizuna_connections_refused_total{reason="conn_cap"}`); got != 1 {
			t.Errorf("conn_cap = %v, want 1", got)
		}
		taktest.WaitUntil(t, "refusal audited", 5*time.Second, func() bool {
			return countAudit(t, dir, "connect", "deny", "2 connections of SAKURA-1@JPN:SECRET") == 1
		})
		if countSecurityLog(t, dir, SecConnection, "SAKURA-1") != 1 {
			t.Error("security log lacks the refusal naming the principal")
		}
	})
	t.Run("per IP before the TLS handshake", func(t *testing.T) {
		tp := newTestPKI(t, "USA", "JPN")
		tp.cfg.MaxConnsPerIP = 1
		n := startNode(t, tp.cfg)
		addr := addrOf(t, n, KindCoTTLS, "")
		sakura, _ := tp.client(t, "JPN", "SAKURA-1", label.Secret)
		c := dialTLS(t, addr, tp.clientTLS(sakura))
		c.Expect("offer", func(e *cot.Event) bool { return e.Type == "t-x-takp-v" }, 5*time.Second)
		// A raw TCP connection holding a handshake open is refused before
		// any TLS is spoken: the server closes without a ServerHello.
		raw, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		raw.SetReadDeadline(time.Now().Add(5 * time.Second))
		if nr, err := raw.Read(make([]byte, 1)); err == nil || nr != 0 {
			t.Errorf("over-cap connection got %d bytes, err %v; want it closed", nr, err)
		}
		if _, err := tls.Dial("tcp", addr, tp.clientTLS(sakura)); err == nil {
			t.Error("TLS handshake completed over the per-IP cap")
		}
	})
}

// TestHTTPLimits: request headers over 64 KiB are refused with 431 and a
// body over the configured maximum is refused without being applied.
func TestHTTPLimits(t *testing.T) {
	cfg := baseConfig(nil, []string{"USA:SECRET"})
	cfg.MaxHTTPBody = 1024
	n := startNode(t, cfg)
	base := "http://" + addrOf(t, n, KindHTTP, "")

	t.Run("header", func(t *testing.T) {
		for _, tc := range []struct {
			size int
			want int
		}{{1 << 10, http.StatusOK}, {100 << 10, http.StatusRequestHeaderFieldsTooLarge}} {
			req, _ := http.NewRequest("GET", base+"/api/v1/objects", nil)
			req.Header.Set("X-Pad", strings.Repeat("a", tc.size))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("%d-byte header: %v", tc.size, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("%d-byte header: status %d, want %d", tc.size, resp.StatusCode, tc.want)
			}
		}
	})
	t.Run("body", func(t *testing.T) {
		unit := func(pad int) string {
			return fmt.Sprintf(`{"id":"LIMIT-1","name":"limit test","nation":"USA","comment":%q}`, strings.Repeat("p", pad))
		}
		resp, err := http.Post(base+"/api/v1/units", "application/json", strings.NewReader(unit(8<<10)))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode < 400 || resp.StatusCode >= 500 {
			t.Fatalf("8 KiB body over a 1 KiB limit: status %d %s", resp.StatusCode, b)
		}
		if !strings.Contains(string(b), "too large") {
			t.Errorf("refusal does not say the body is too large: %s", b)
		}
		if code := getJSON(t, base+"/api/v1/units/LIMIT-1", nil); code == http.StatusOK {
			t.Error("the over-size request was applied")
		}
	})
}

// TestSecurityLogThroughNode: a label rejection and an ownership
// violation through a real node reach DATA/security.log.
func TestSecurityLogThroughNode(t *testing.T) {
	cfg := baseConfig([]string{"USA:UNCLASSIFIED", "JPN:SECRET"}, nil)
	n := startNode(t, cfg)
	dir := n.Config().DataDir
	usa := dial(t, addrOf(t, n, KindCoTTCP, "USA:UNCLASSIFIED"))
	jpn := dial(t, addrOf(t, n, KindCoTTCP, "JPN:SECRET"))
	usa.SendEvent(event("above", "a-f-G-U-C", `access="SECRET"`))
	jpn.SendEvent(event("jpn-owned", "a-f-G-U-C", ""))
	taktest.WaitUntil(t, "jpn object", 5*time.Second, func() bool { _, ok := n.Picture().Owner("jpn-owned"); return ok })
	usa.SendEvent(event("jpn-owned", "a-f-G-U-C", ""))
	taktest.WaitUntil(t, "both rejections in the security log", 5*time.Second, func() bool {
		return countSecurityLog(t, dir, SecEvent, "above_clearance") == 1 && countSecurityLog(t, dir, SecEvent, "not_owner") == 1
	})
	for _, l := range readSecurityLog(t, filepath.Join(dir, SecurityLogFile)) {
		if l["node_id"] != "test-node" || l["node_nation"] != "USA" {
			t.Errorf("line without the node's id and nation: %v", l)
		}
	}
}

// TestSlowlorisThroughNode: a client that opens a connection and then
// stalls or trickles is cut off by a fixed deadline, not kept alive by
// its trickle: HTTP request headers (ReadHeaderTimeout 10s), and the TLS
// handshake of the CoT and HTTPS listeners (10s). A trickled TAK event is
// covered by the stream package's per-event deadline test.
func TestSlowlorisThroughNode(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("waits for the 10 s handshake and header deadlines")
	}
	tp := newTestPKI(t, "USA")
	n := startNode(t, tp.cfg)
	const limit, slack = 10 * time.Second, 5 * time.Second
	cases := []struct {
		kind    string
		trickle []byte // sent a byte at a time, one per 500 ms, after the start
		start   []byte
	}{
		{KindHTTP, []byte("X-Slow: " + strings.Repeat("a", 100)), []byte("GET /api/v1/objects HTTP/1.1\r\nHost: x\r\n")},
		{KindCoTTLS, nil, nil},                           // nothing at all: the handshake never starts
		{KindHTTPS, []byte{0x16, 0x03, 0x01, 0x00}, nil}, // a TLS record header, slowly
	}
	for _, tc := range cases {
		t.Run(tc.kind, func(t *testing.T) {
			t.Parallel()
			conn, err := net.DialTimeout("tcp", addrOf(t, n, tc.kind, ""), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			start := time.Now()
			if len(tc.start) > 0 {
				conn.Write(tc.start)
			}
			closed := make(chan time.Duration, 1)
			go func() {
				buf := make([]byte, 4096)
				conn.SetReadDeadline(time.Now().Add(limit + slack))
				for {
					if _, err := conn.Read(buf); err != nil {
						closed <- time.Since(start)
						return
					}
				}
			}()
			for i := 0; ; i++ {
				select {
				case d := <-closed:
					if d >= limit+slack {
						t.Fatalf("still open after %v", d)
					}
					if d < limit-time.Second {
						t.Fatalf("closed after %v, before the %v deadline", d, limit)
					}
					return
				case <-time.After(500 * time.Millisecond):
				}
				if i < len(tc.trickle) {
					conn.Write(tc.trickle[i : i+1])
				}
			}
		})
	}
}

// BenchmarkSecurityHandler measures what the tee costs a log call: an
// ordinary Info line the operator's Warn-level log discards, and a
// security line written to the file.
func BenchmarkSecurityHandler(b *testing.B) {
	w := newRotatingFile(filepath.Join(b.TempDir(), SecurityLogFile), SecurityLogMaxBytes, 1)
	defer w.Close()
	inner := slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn})
	log := slog.New(newSecurityHandler(inner, w, slog.String("node_id", "n1"))).With("component", "stream", "remote", "127.0.0.1:5000")
	b.Run("ordinary info", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			log.Info("connection accepted", "principal", "USA:SECRET")
		}
	})
	b.Run("security line", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			log.Info("event dropped", append(reject.DTD.LogAttrs(), "err", "DTD not allowed")...)
		}
	})
}

// TestHostileFloodAuditedOnce: a client flooding DTD-bearing events (no
// rate limit configured) gets every one dropped and counted, but the audit
// chain and the security log get one record while it is connected and one
// summary when it leaves.
func TestHostileFloodAuditedOnce(t *testing.T) {
	n := startNode(t, baseConfig([]string{"USA:SECRET"}, []string{"USA:SECRET"}))
	dir := n.Config().DataDir
	httpAddr := addrOf(t, n, KindHTTP, "")
	c := dial(t, addrOf(t, n, KindCoTTCP, ""))
	c.Expect("offer", func(e *cot.Event) bool { return e.Type == "t-x-takp-v" }, 5*time.Second)
	const flood = 500
	doc := `<!DOCTYPE event [<!ENTITY x "boom">]>` + string(event("dtd-flood", "a-f-G-U-C", "").XML())
	c.Send([]byte(strings.Repeat(doc, flood)))
	taktest.WaitUntil(t, "every DTD counted", 10*time.Second, func() bool {
		return taktest.Metric(t, httpAddr, `kizuna_events_rejected_total{reason="dtd"}`) == flood
	})
	if got := countAudit(t, dir, "event.dtd", "deny", ""); got != 1 {
		t.Errorf("%d audit records during a flood of %d DTDs, want 1", got, flood)
	}
	c.Conn.Close()
	taktest.WaitUntil(t, "summary audited", 5*time.Second, func() bool {
		return countAudit(t, dir, "event.dtd", "deny", fmt.Sprintf("%d events dropped on this connection in total", flood)) == 1
	})
	if got := countSecurityLog(t, dir, SecEvent, "dtd"); got != 2 {
		t.Errorf("%d security log lines for the flood, want 2", got)
	}
}

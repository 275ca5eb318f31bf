package stream

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/hub"
	"kizuna/internal/label"
	"kizuna/internal/metrics"
	"kizuna/internal/sockopt"
	"kizuna/internal/taktest"
)

// rawMessage is a published message with the given XML.
func rawMessage(uid string, flash bool, pad int) *hub.Message {
	l := label.Label{Classification: label.Unclassified, Originator: "USA"}
	m := &hub.Message{Kind: hub.KindEvent, Label: l, UID: uid, Flash: flash, Received: time.Now()}
	m.SetXML(fmt.Appendf(nil, `<event version="2.0" uid="%s" type="a-f-G" how="m-g"><detail><remarks>%s</remarks></detail></event>`,
		uid, strings.Repeat("x", pad)))
	return m
}

// TestFlashPassesBacklog: a new client that does not read yet is sent a
// replay far larger than its socket buffers, which its writer takes as one
// batch; a warning published meanwhile reaches it before the end of that
// replay when writes are chunked, and only after all of it otherwise.
func TestFlashPassesBacklog(t *testing.T) {
	for _, tc := range []struct {
		name         string
		chunk, lowat int
		wantBefore   bool
	}{
		{"chunked, low unsent mark", 8 << 10, 16 << 10, true},
		{"one write per batch", 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// 8 MB of routine events: far more than the socket buffers of a
			// client that does not read.
			const n = 4000
			var picture []*hub.Message
			for i := range n {
				picture = append(picture, rawMessage(fmt.Sprintf("r%d", i), false, 2000))
			}
			h, srv, c := startFlashServer(t, Config{Coalesce: 5 * time.Millisecond, WriteChunk: tc.chunk, NotSentLowat: tc.lowat}, 100_000, picture)
			sub := h.Subscribers()[0]
			if tc.lowat > 0 {
				srv.mu.Lock()
				for conn := range srv.conns {
					if v, err := sockopt.NotSentLowat(conn.Conn); err == nil && v != tc.lowat {
						t.Errorf("TCP_NOTSENT_LOWAT = %d, want %d", v, tc.lowat)
					}
				}
				srv.mu.Unlock()
			}
			taktest.WaitUntil(t, "replay taken by the writer", 10*time.Second, func() bool { return sub.Len() == 0 })
			h.Publish(rawMessage("flash", true, 10))
			// Read everything: the flash event and the last routine one.
			c.SetReadDeadline(time.Now().Add(60 * time.Second))
			var got []byte
			buf := make([]byte, 256<<10)
			last := []byte(fmt.Sprintf(`uid="r%d"`, n-1))
			for !(bytes.Contains(got, []byte(`uid="flash"`)) && bytes.Contains(got, last)) {
				k, err := c.Read(buf)
				got = append(got, buf[:k]...)
				if err == io.EOF || err != nil {
					t.Fatalf("read after %d bytes: %v", len(got), err)
				}
			}
			before := bytes.Index(got, []byte(`uid="flash"`)) < bytes.Index(got, last)
			if before != tc.wantBefore {
				t.Errorf("flash before the end of the backlog: %v, want %v", before, tc.wantBefore)
			}
		})
	}
}

// startFlashServer starts a server with cfg on a plain-TCP listener, its
// hub holding queue messages per subscriber and every new client replayed
// picture, and connects one client that reads nothing until the test does.
func startFlashServer(t *testing.T, cfg Config, queue int, picture []*hub.Message) (*hub.Hub, *Server, net.Conn) {
	t.Helper()
	h := hub.New(queue)
	srv, err := NewServer(Options{
		Config:   cfg,
		Hub:      h,
		Metrics:  metrics.New(),
		Encoders: &hub.Encoders{},
		Ingest:   func(*Conn, *cot.Event, string) error { return nil },
		Replay:   func(label.Principal) []*hub.Message { return picture },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr, err := srv.Listen(ctx, Listener{Kind: "cot-tcp", Addr: "127.0.0.1:0", Principal: label.Principal{Nation: "USA", Clearance: label.Secret}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		srv.Shutdown(sctx)
		cancel()
	})
	c, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	taktest.WaitUntil(t, "subscribed", 10*time.Second, func() bool { return len(h.Subscribers()) == 1 })
	return h, srv, c
}

// TestFlashCutsPause: a busy connection's writer pauses (here 5 s) before
// its next write, but flash traffic queued meanwhile ends the pause at
// once and goes first, the routine event queued before it right behind.
func TestFlashCutsPause(t *testing.T) {
	const pause = 5 * time.Second
	h, srv, c := startFlashServer(t, Config{Coalesce: pause}, 100, nil)
	var got []byte
	buf := make([]byte, 64<<10)
	readUntil := func(uid string, limit time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		c.SetReadDeadline(start.Add(limit))
		for !bytes.Contains(got, []byte(`uid="`+uid+`"`)) {
			k, err := c.Read(buf)
			got = append(got, buf[:k]...)
			if err != nil {
				t.Fatalf("waiting for %s after %d bytes: %v", uid, len(got), err)
			}
		}
		return time.Since(start)
	}
	// The first write (the protocol offer) starts the pause; a routine
	// event queued now waits for it to end.
	readUntil("kizuna-takp", 10*time.Second)
	h.Publish(rawMessage("r1", false, 10))
	h.Publish(rawMessage("flash", true, 10))
	if took := readUntil("flash", pause); took >= pause*3/4 {
		t.Errorf("flash took %v, about the whole %v pause", took, pause)
	}
	f, r := bytes.Index(got, []byte(`uid="flash"`)), bytes.Index(got, []byte(`uid="r1"`))
	if r >= 0 && r < f {
		t.Error("routine r1 written before the flash event")
	}
	// Once written, no connection owes a flash write: routine writers
	// stop stepping aside.
	taktest.WaitUntil(t, "no flash write owed", 5*time.Second, func() bool { return srv.flashing.Load() == 0 })
}

// TestFlashOwedClearedOnClose: a client that leaves with a warning still
// queued (it never reads, its writer is stuck behind a full socket) does
// not leave the node's routine writers stepping aside for ever.
func TestFlashOwedClearedOnClose(t *testing.T) {
	var picture []*hub.Message
	for i := range 2000 {
		picture = append(picture, rawMessage(fmt.Sprintf("r%d", i), false, 2000))
	}
	h, srv, c := startFlashServer(t, Config{Coalesce: 5 * time.Millisecond}, 100_000, picture)
	taktest.WaitUntil(t, "replay taken by the writer", 10*time.Second, func() bool { return h.Subscribers()[0].Len() == 0 })
	h.Publish(rawMessage("flash", true, 10))
	if got := srv.flashing.Load(); got != 1 {
		t.Fatalf("connections owing a flash write = %d, want 1", got)
	}
	c.Close()
	taktest.WaitUntil(t, "flash mark cleared with the connection", 10*time.Second, func() bool { return srv.flashing.Load() == 0 })
}

package federation

import (
	"context"
	"crypto/tls"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/hub"
	"kizuna/internal/label"
	"kizuna/internal/pki"
	"kizuna/internal/sockopt"
	"kizuna/internal/taktest"
)

// gateHost records the uids it is given in order. Routine events wait at
// its gate until the test opens it: a node that has fallen behind.
type gateHost struct {
	mu   sync.Mutex
	got  []string
	gate chan struct{}
}

func (h *gateHost) IngestFederated(ev *cot.Event, _ label.Label, _ *Provenance) error {
	if strings.HasPrefix(ev.UID, "r") {
		<-h.gate
	}
	h.mu.Lock()
	h.got = append(h.got, ev.UID)
	h.mu.Unlock()
	return nil
}

func (h *gateHost) uids() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.got)
}

// fedPKI is a CA per nation and a node certificate per node, on disk
// under one test directory, for starting federations that trust each other.
type fedPKI struct {
	trust map[string]string
	certs map[string]tls.Certificate
}

// newFedPKI makes the CAs and node certificates of nodes ({nation, id}).
func newFedPKI(tb testing.TB, nodes ...[2]string) *fedPKI {
	tb.Helper()
	dir := tb.TempDir()
	p := &fedPKI{trust: map[string]string{}, certs: map[string]tls.Certificate{}}
	for _, n := range nodes {
		nation, id := n[0], n[1]
		ca, err := pki.InitCA(filepath.Join(dir, nation), nation)
		if err != nil {
			tb.Fatal(err)
		}
		is, err := ca.IssueNode(id, []string{"127.0.0.1"}, pki.Validity{})
		if err != nil {
			tb.Fatal(err)
		}
		p.trust[nation] = filepath.Join(dir, nation, pki.CACertFile)
		p.certs[id] = tls.Certificate{Certificate: [][]byte{is.Cert.Raw}, PrivateKey: is.Key, Leaf: is.Cert}
	}
	return p
}

// start starts the federation of node id with cfg's settings, listening
// on loopback if listen, and closes it when the test ends.
func (p *fedPKI) start(tb testing.TB, cfg Config, id, nation string, peers []PeerConfig, h Host, listen bool) *Federation {
	tb.Helper()
	ts, err := pki.NewTrustStore(pki.TrustConfig{Trust: p.trust}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	cfg.NodeID, cfg.Nation, cfg.DataDir, cfg.Host, cfg.Peers = id, nation, tb.TempDir(), h, peers
	f, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	if listen {
		if _, err := f.Listen("127.0.0.1:0"); err != nil {
			tb.Fatal(err)
		}
	}
	cert := p.certs[id]
	if err := f.Start(context.Background(), ts, &cert); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := f.Close(ctx); err != nil {
			tb.Error(err)
		}
	})
	return f
}

// startPair starts a JPN node and the USA hub it dials, each with cfg's
// flash-path settings, and waits for the link.
func startPair(t *testing.T, cfg Config, host Host) (jpn, usa *Federation) {
	t.Helper()
	p := newFedPKI(t, [2]string{"JPN", "jpn-node"}, [2]string{"USA", "usa-hub"})
	usa = p.start(t, cfg, "usa-hub", "USA", []PeerConfig{{Name: "jpn-node", Classification: label.Secret}}, host, true)
	jpn = p.start(t, cfg, "jpn-node", "JPN", []PeerConfig{{Name: "usa-hub", Addr: usa.ln.Addr().String(), Classification: label.Secret}}, nopHost{}, false)
	taktest.WaitUntil(t, "link up", 20*time.Second, func() bool { return jpn.links[0].isUp() && usa.links[0].isUp() })
	return jpn, usa
}

// tapJPN publishes one event at the JPN node, releasable to USA.
func tapJPN(f *Federation, uid, typ string, pad int) {
	now := time.Now()
	ev := &cot.Event{Version: "2.0", UID: uid, Type: typ, How: "m-g", Time: now, Start: now, Stale: now.Add(time.Hour)}
	ev.Detail, ev.HasDetail = []byte("<remarks>"+strings.Repeat("x", pad)+"</remarks>"), true
	l := label.Label{Classification: label.Secret, ReleasableTo: []string{"USA"}, Originator: "JPN"}
	ev.SetLabel(l)
	f.Tap(hub.NewMessage(ev, l, 0, nil), nil)
}

// TestFlashPassesLinkBacklog: the hub has fallen behind (its node takes
// no routine event) with a backlog of routine events on the link, all of
// it already written by the JPN node; a missile warning published then
// reaches the hub while the backlog still waits, when the hub reads ahead
// of its handling, and only after the whole backlog otherwise.
func TestFlashPassesLinkBacklog(t *testing.T) {
	for _, tc := range []struct {
		name       string
		cfg        Config
		wantBefore bool
	}{
		{"flash path", Config{}, true},
		{"one write per batch, handled as read", Config{WriteChunk: -1, NotSentLowat: -1, RecvQueue: -1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 400 // about 0.9 MB on the wire
			h := &gateHost{gate: make(chan struct{})}
			opened := false
			open := func() {
				if !opened {
					close(h.gate)
					opened = true
				}
			}
			jpn, _ := startPair(t, tc.cfg, h)
			t.Cleanup(open) // before the federations close
			if tc.cfg.NotSentLowat == 0 {
				jpn.links[0].mu.Lock()
				c := jpn.links[0].conn
				jpn.links[0].mu.Unlock()
				if v, err := sockopt.NotSentLowat(c.tc.NetConn()); err == nil && v != DefaultNotSentLowat {
					t.Errorf("TCP_NOTSENT_LOWAT = %d, want %d", v, DefaultNotSentLowat)
				}
			}
			// One event through first: once acknowledged, the link's
			// in-flight window counts from it.
			tapJPN(jpn, "first", "b-t-f", 10)
			taktest.WaitUntil(t, "first event acknowledged", 20*time.Second, func() bool { return jpn.Status().Peers[0].Acked > 0 })
			for i := range n {
				tapJPN(jpn, fmt.Sprintf("r%d", i), "b-t-f", 1500)
			}
			// The whole backlog leaves the JPN node's queue (into the
			// kernel, or the hub's read-ahead).
			taktest.WaitUntil(t, "backlog written", 20*time.Second, func() bool { return jpn.links[0].stats.sent.Load() >= n })
			tapJPN(jpn, "flash-1", "a-h-A-W-M-S-S", 10)
			arrived := false
			deadline := time.Now().Add(3 * time.Second)
			for !arrived && time.Now().Before(deadline) {
				arrived = slices.Contains(h.uids(), "flash-1")
				time.Sleep(2 * time.Millisecond)
			}
			open()
			last := fmt.Sprintf("r%d", n-1)
			taktest.WaitUntil(t, "everything received", 20*time.Second, func() bool {
				u := h.uids()
				return slices.Contains(u, "flash-1") && slices.Contains(u, last)
			})
			u := h.uids()
			before := slices.Index(u, "flash-1") < slices.Index(u, last)
			if before != tc.wantBefore || arrived != tc.wantBefore {
				t.Errorf("flash before the end of the backlog: %v, while the hub was behind: %v; want %v (flash at %d of %d)",
					before, arrived, tc.wantBefore, slices.Index(u, "flash-1"), len(u))
			}
			// Every routine event once, in order.
			var routine []string
			for _, uid := range u {
				if strings.HasPrefix(uid, "r") {
					routine = append(routine, uid)
				}
			}
			for i, uid := range routine {
				if uid != fmt.Sprintf("r%d", i) {
					t.Fatalf("routine event %d is %s (%d in all, want %d)", i, uid, len(routine), n)
				}
			}
			if len(routine) != n {
				t.Errorf("%d routine events, want %d", len(routine), n)
			}
		})
	}
}

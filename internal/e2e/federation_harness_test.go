package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"kizuna/internal/taktest"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/federation"
	"kizuna/internal/node"
	"kizuna/internal/topology"
)

// fedLogger logs warnings to stderr with -v.
func fedLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.DiscardHandler)
}

// fedCluster starts linked nodes and stops them at cleanup.
func fedCluster(t testing.TB, specs []topology.NodeSpec) *topology.Cluster {
	t.Helper()
	dir := t.TempDir()
	p, err := topology.NewPKI(filepath.Join(dir, "pki"), "USA", "JPN", "KOR")
	if err != nil {
		t.Fatal(err)
	}
	c, err := topology.StartPKI(context.Background(), p, dir, specs, fedLogger())
	if err != nil {
		t.Fatalf("starting cluster: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := c.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return c
}

// fedStatus reads GET /api/v1/federation on the node's HTTP listener.
func fedStatus(t testing.TB, n *node.Node) federation.Status {
	t.Helper()
	var st federation.Status
	resp, err := http.Get("http://" + n.Addr(node.KindHTTP) + "/api/v1/federation")
	if err != nil {
		t.Fatalf("GET federation status: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET federation status: %d %s", resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("decoding status: %v: %s", err, b)
	}
	return st
}

func fedPeer(st federation.Status, name string) federation.PeerStatus {
	for _, p := range st.Peers {
		if p.Name == name {
			return p
		}
	}
	return federation.PeerStatus{}
}

// fedLinksUp waits until every declared link of every running node is up.
func fedLinksUp(t testing.TB, c *topology.Cluster) {
	t.Helper()
	for _, id := range c.IDs() {
		n := c.Node(id)
		if n == nil {
			continue
		}
		taktest.WaitUntil(t, id+" links up", 20*time.Second, func() bool {
			for _, p := range n.Federation().Status().Peers {
				if p.State != "up" && c.Node(p.Name) != nil {
					return false
				}
			}
			return true
		})
	}
}

// fedClient is a TAK client speaking CoT XML over plain TCP.
type fedClient struct{ *taktest.Client }

func fedDial(t testing.TB, n *node.Node) *fedClient {
	t.Helper()
	c := &fedClient{taktest.Dial(t, n.Addr(node.KindCoTTCP))}
	// The server's protocol offer shows the connection is registered.
	c.Offered()
	return c
}

func (c *fedClient) send(doc string) { c.SendString(doc) }

func (c *fedClient) expect(what string, pred func(*cot.Event) bool, timeout time.Duration) *cot.Event {
	return c.Expect(what, pred, timeout)
}

// collect gathers events for d.
func (c *fedClient) collect(d time.Duration) []*cot.Event { return c.Collect(d) }

// fedEvent renders a CoT event; attrs are extra <event> attributes (the
// label), detail is extra detail XML.
func fedEvent(uid, typ, attrs, detail string) string {
	now := time.Now().UTC()
	ts := now.Format("2006-01-02T15:04:05.000Z")
	return fmt.Sprintf(`<event version="2.0" uid="%s" type="%s" how="m-g" time="%s" start="%s" stale="%s" %s><point lat="38.5" lon="129.7" hae="10" ce="5" le="5"/><detail><contact callsign="%s"/>%s</detail></event>`,
		uid, typ, ts, ts, now.Add(10*time.Minute).Format("2006-01-02T15:04:05.000Z"), attrs, uid, detail)
}

// fedProxy relays TCP between a dialling node and its peer's federation
// listener, so that a test can cut the link and restore it.
type fedProxy struct {
	t      testing.TB
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newFedProxy(t testing.TB, target string) *fedProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &fedProxy{t: t, ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.Cut()
		p.wg.Wait()
	})
	return p
}

func (p *fedProxy) Addr() string { return p.ln.Addr().String() }

func (p *fedProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		u, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns = append(p.conns, c, u)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); io.Copy(u, c); u.Close() }()
		go func() { defer p.wg.Done(); io.Copy(c, u); c.Close() }()
	}
}

// Cut closes every relayed connection and refuses new ones.
func (p *fedProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// Restore accepts connections again.
func (p *fedProxy) Restore() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}

// viaProxy makes the node dial peer through a proxy; the proxy is stored
// in *out once the configuration is built.
func viaProxy(t testing.TB, peer string, out **fedProxy) func(*node.Config) {
	return func(cfg *node.Config) {
		for i, p := range cfg.Peers {
			if p.Name == peer && p.Addr != "" {
				px := newFedProxy(t, p.Addr)
				cfg.Peers[i].Addr = px.Addr()
				*out = px
			}
		}
	}
}

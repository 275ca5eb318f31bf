package node

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"testing"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/taktest"
)

// testLogger logs to the test output when -v is given.
func testLogger(t *testing.T) *slog.Logger {
	t.Helper()
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.DiscardHandler)
}

// startNode starts a node on loopback ports and stops it at cleanup.
func startNode(t *testing.T, cfg Config) *Node {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	n, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatalf("new node: %v", err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return n
}

// baseConfig is a node with one plain CoT listener per given principal and
// one HTTP listener per given principal.
func baseConfig(cot []string, http []string) Config {
	cfg := Default()
	cfg.DataDir = ""
	cfg.Nation = "USA"
	cfg.NodeID = "test-node"
	for _, p := range cot {
		cfg.Listeners = append(cfg.Listeners, ListenerConfig{Kind: KindCoTTCP, Addr: "127.0.0.1:0", Principal: p})
	}
	for _, p := range http {
		cfg.Listeners = append(cfg.Listeners, ListenerConfig{Kind: KindHTTP, Addr: "127.0.0.1:0", Principal: p})
	}
	return cfg
}

// addrOf returns the address of the listener of kind with principal p.
func addrOf(t *testing.T, n *Node, kind, p string) string {
	t.Helper()
	for _, l := range n.Listeners() {
		if l.Kind == kind && (p == "" || l.Principal == p) {
			return l.Addr
		}
	}
	t.Fatalf("no %s listener for %s", kind, p)
	return ""
}

// takClient is the shared test TAK client.
type takClient = taktest.Client

func dial(t *testing.T, addr string) *takClient {
	t.Helper()
	return taktest.Dial(t, addr)
}

func isUID(uid string) func(*cot.Event) bool { return taktest.IsUID(uid) }

// event builds a test event.
func event(uid, typ string, attrs string) *cot.Event {
	now := time.Now().UTC()
	doc := fmt.Sprintf(`<event version="2.0" uid="%s" type="%s" how="m-g" time="%s" start="%s" stale="%s" %s><point lat="35.5" lon="139.7" hae="10" ce="5" le="5"/><detail><contact callsign="%s"/></detail></event>`,
		uid, typ, now.Format(time.RFC3339Nano), now.Format(time.RFC3339Nano), now.Add(5*time.Minute).Format(time.RFC3339Nano), attrs, uid)
	ev, err := cot.Decode([]byte(doc))
	if err != nil {
		panic(err)
	}
	return ev
}

// getJSON fetches a JSON document.
func getJSON(t *testing.T, url string, into any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if into != nil && resp.StatusCode == 200 {
		if err := json.Unmarshal(b, into); err != nil {
			t.Fatalf("decoding %s: %v: %s", url, err, b)
		}
	}
	return resp.StatusCode
}

type objectsResp struct {
	Objects []struct {
		UID      string `json:"uid"`
		Callsign string `json:"callsign"`
		Lat      float64
		Lon      float64
		Label    struct {
			Classification string   `json:"classification"`
			ReleasableTo   []string `json:"releasableTo"`
			Originator     string   `json:"originator"`
		} `json:"label"`
	} `json:"objects"`
}

func (o objectsResp) has(uid string) bool {
	for _, x := range o.Objects {
		if x.UID == uid {
			return true
		}
	}
	return false
}

package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"kizuna/internal/node"
	"kizuna/internal/taktest"
	"kizuna/internal/topology"
)

// listenerAddr returns the address of the hub's listener of kind with
// principal p.
func listenerAddr(t *testing.T, n *node.Node, kind, p string) string {
	t.Helper()
	for _, l := range n.Listeners() {
		if l.Kind == kind && l.Principal == p {
			return l.Addr
		}
	}
	t.Fatalf("no %s listener for %s", kind, p)
	return ""
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestSecurityMetricsPartnerScrape: /metrics of the USA hub is read by
// its own nation's principals cleared for everything it names; a partner
// principal (JPN) gets 403 and a body that names nothing: no feed, no
// federation peer or link state, no rejection counter (which would tell
// it that its overwrite of a USA-only uid it cannot see was refused, that
// is, that the uid exists). A USA principal below the feed's
// classification is refused too. The JSON APIs withhold the same things
// from the partner.
func TestSecurityMetricsPartnerScrape(t *testing.T) {
	t.Parallel()
	specs := topology.Trilateral()
	specs[0].Configure = func(cfg *node.Config) {
		cfg.Listeners = append(cfg.Listeners,
			node.ListenerConfig{Kind: node.KindHTTP, Addr: "127.0.0.1:0", Principal: "JPN:SECRET"},
			node.ListenerConfig{Kind: node.KindHTTP, Addr: "127.0.0.1:0", Principal: "USA:UNCLASSIFIED"},
			node.ListenerConfig{Kind: node.KindCoTTCP, Addr: "127.0.0.1:0", Principal: "JPN:SECRET"},
		)
		cfg.Feeds = append(cfg.Feeds, node.FeedConfig{Name: "usa-secret-radar", Kind: "cot", Transport: "tcp-listen",
			Addr: "127.0.0.1:0", Classification: "SECRET", ReleasableTo: []string{"USA"}})
	}
	c := fedCluster(t, specs)
	fedLinksUp(t, c)
	hub := c.Node("usa-hub")

	// A USA-only object, and a JPN attempt to overwrite it.
	usa := fedDial(t, hub)
	usa.send(fedEvent("usa-hidden", "a-f-G-U-C", `access="SECRET" releasableTo="USA"`, ""))
	taktest.WaitUntil(t, "usa-hidden at the hub", 10*time.Second, func() bool { _, ok := hub.Picture().Get("usa-hidden"); return ok })
	jpn := &fedClient{taktest.Dial(t, listenerAddr(t, hub, node.KindCoTTCP, "JPN:SECRET"))}
	jpn.Offered()
	jpn.send(fedEvent("usa-hidden", "a-h-G", `access="SECRET" releasableTo="USA JPN"`, ""))
	own := "http://" + listenerAddr(t, hub, node.KindHTTP, "USA:SECRET")
	taktest.WaitUntil(t, "the overwrite refused", 10*time.Second, func() bool {
		return taktest.Metric(t, hub.Addr(node.KindHTTP), `kizuna_events_rejected_total{reason="not_owner"}`) >= 1
	})

	secrets := []string{"jpn-node", "kor-node", "usa-secret-radar", "not_owner", "kizuna_"}
	code, body := httpGet(t, own+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("own nation: %d", code)
	}
	for _, s := range secrets {
		if !strings.Contains(body, s) {
			t.Errorf("own nation's scrape lacks %q (the test would prove nothing)", s)
		}
	}
	for _, p := range []string{"JPN:SECRET", "USA:UNCLASSIFIED"} {
		t.Run(p, func(t *testing.T) {
			code, body := httpGet(t, "http://"+listenerAddr(t, hub, node.KindHTTP, p)+"/metrics")
			if code != http.StatusForbidden {
				t.Errorf("GET /metrics as %s: %d, want 403", p, code)
			}
			for _, s := range secrets {
				if strings.Contains(body, s) {
					t.Errorf("scrape as %s reveals %q", p, s)
				}
			}
		})
	}

	// What the JSON APIs show the partner: no peers, no feed, no object.
	partner := "http://" + listenerAddr(t, hub, node.KindHTTP, "JPN:SECRET")
	var fed struct {
		Peers []json.RawMessage `json:"peers"`
	}
	if _, b := httpGet(t, partner+"/api/v1/federation"); json.Unmarshal([]byte(b), &fed) != nil || len(fed.Peers) != 0 {
		t.Errorf("partner sees federation peers: %s", b)
	}
	for _, path := range []string{"/api/v1/feeds", "/api/v1/objects"} {
		if _, b := httpGet(t, partner+path); strings.Contains(b, "usa-secret-radar") || strings.Contains(b, "usa-hidden") {
			t.Errorf("partner's %s reveals a withheld name: %s", path, b)
		}
	}
}

package e2e

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/federation"
	"kizuna/internal/node"
	"kizuna/internal/taktest"
	"kizuna/internal/topology"
)

// TestFederationTrilateral: a missile warning published at the JPN node
// reaches a client at the KOR node through the USA hub with its label and
// originator; a USA–JPN-only object that reaches the hub never goes on to
// KOR; link state shows in the API.
func TestFederationTrilateral(t *testing.T) {
	t.Parallel()
	specs := topology.Trilateral()
	specs[0].Configure = func(cfg *node.Config) {
		// A JPN principal on the hub's web API sees no link internals.
		cfg.Listeners = append(cfg.Listeners, node.ListenerConfig{Kind: node.KindHTTP, Addr: "127.0.0.1:0", Principal: "JPN:SECRET"})
	}
	c := fedCluster(t, specs)
	fedLinksUp(t, c)
	jpn, usa, kor := fedDial(t, c.Node("jpn-node")), fedDial(t, c.Node("usa-hub")), fedDial(t, c.Node("kor-node"))

	jpn.send(fedEvent("tbm-1", "a-h-A-W-M-S-S", `access="SECRET" releasableTo="USA KOR"`, ""))
	got := kor.expect("missile track at KOR", func(e *cot.Event) bool { return e.UID == "tbm-1" }, 10*time.Second)
	if got.Access != "SECRET" || got.Origin.Nation != "JPN" || got.ReleasableTo != "KOR USA" {
		t.Errorf("at KOR: access %q releasableTo %q originator %q", got.Access, got.ReleasableTo, got.Origin.Nation)
	}
	usa.expect("missile track at USA", func(e *cot.Event) bool { return e.UID == "tbm-1" }, 10*time.Second)

	// USA–JPN only: reaches the hub, never KOR.
	jpn.send(fedEvent("bilateral-1", "a-f-G-U-C", `access="SECRET" releasableTo="USA"`, ""))
	usa.expect("bilateral at USA", func(e *cot.Event) bool { return e.UID == "bilateral-1" }, 10*time.Second)
	// A marker event sent after it shows KOR has had its chance.
	jpn.send(fedEvent("after-1", "a-f-G-U-C", `access="SECRET" releasableTo="USA KOR"`, ""))
	for _, e := range kor.collectUntil("after-1", 10*time.Second) {
		if e.UID == "bilateral-1" {
			t.Fatalf("USA–JPN-only object reached KOR")
		}
	}
	if c.Node("kor-node").Picture().Len() == 0 {
		t.Fatal("KOR picture empty")
	}
	st := fedStatus(t, c.Node("usa-hub"))
	if st.Node != "usa-hub" || st.Nation != "USA" || len(st.Peers) != 2 {
		t.Fatalf("status: %+v", st)
	}
	for _, p := range st.Peers {
		if p.State != "up" || p.Classification != "SECRET" {
			t.Errorf("peer %+v", p)
		}
	}
	if p := fedPeer(st, "kor-node"); p.Nation != "KOR" || p.Sent == 0 {
		t.Errorf("kor-node peer: %+v", p)
	}
	// A delete (t-x-d-d) crosses the federation like any event and removes
	// the object at every node.
	jpn.send(fedEvent("gone-1", "a-f-G-U-C", `access="SECRET" releasableTo="USA KOR"`, ""))
	kor.expect("object to delete", func(e *cot.Event) bool { return e.UID == "gone-1" }, 10*time.Second)
	jpn.send(fedEvent("del-gone-1", "t-x-d-d", `access="SECRET" releasableTo="USA KOR"`, `<link uid="gone-1" relation="none" type="a-f-G-U-C"/>`))
	kor.expect("delete", func(e *cot.Event) bool { return e.UID == "del-gone-1" }, 10*time.Second)
	for _, id := range []string{"usa-hub", "kor-node"} {
		if _, ok := c.Node(id).Picture().Get("gone-1"); ok {
			t.Errorf("%s still holds the deleted object", id)
		}
	}
	var foreign federation.Status
	for _, l := range c.Node("usa-hub").Listeners() {
		if l.Kind == node.KindHTTP && l.Principal == "JPN:SECRET" {
			resp, err := http.Get("http://" + l.Addr + "/api/v1/federation")
			if err != nil {
				t.Fatal(err)
			}
			json.NewDecoder(resp.Body).Decode(&foreign)
			resp.Body.Close()
		}
	}
	if foreign.Node != "usa-hub" || len(foreign.Peers) != 0 {
		t.Errorf("a JPN principal sees the hub's links: %+v", foreign)
	}
	hub := c.Node("usa-hub")
	if v := taktest.Metric(t, hub.Addr(node.KindHTTP), `kizuna_federation_link_up{peer="kor-node"}`); v != 1 {
		t.Errorf("link_up metric %v", v)
	}
	if v := taktest.Metric(t, hub.Addr(node.KindHTTP), `kizuna_federation_sent_total{peer="kor-node"}`); v < 1 {
		t.Errorf("sent metric %v", v)
	}
}

// collectUntil gathers events until one with uid arrives.
func (c *fedClient) collectUntil(uid string, d time.Duration) []*cot.Event {
	return c.CollectUntil(uid, d)
}

// TestFederationMutualDial: two nodes configured to dial each other end
// up with one link (the one dialled by the lower node id), and events
// flow both ways.
func TestFederationMutualDial(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p, err := topology.NewPKI(filepath.Join(dir, "pki"), "USA", "JPN")
	if err != nil {
		t.Fatal(err)
	}
	// Free ports for both federation listeners, so that each can be given
	// the other's address before either starts.
	addr := map[string]string{}
	for _, id := range []string{"jpn-node", "usa-hub"} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr[id] = ln.Addr().String()
		ln.Close()
	}
	specs := []topology.NodeSpec{
		{ID: "usa-hub", Nation: "USA", Peers: []topology.Peer{{Name: "jpn-node", Classification: "SECRET"}}},
		{ID: "jpn-node", Nation: "JPN", Peers: []topology.Peer{{Name: "usa-hub", Classification: "SECRET"}}},
	}
	for i := range specs {
		id, other := specs[i].ID, specs[i].Peers[0].Name
		specs[i].Configure = func(cfg *node.Config) {
			for j, l := range cfg.Listeners {
				if l.Kind == node.KindFederation {
					cfg.Listeners[j].Addr = addr[id]
				}
			}
			cfg.Peers[0].Addr = addr[other]
		}
	}
	c, err := topology.StartPKI(context.Background(), p, dir, specs, fedLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Shutdown(context.Background()) })
	fedLinksUp(t, c)
	usa, jpn := fedDial(t, c.Node("usa-hub")), fedDial(t, c.Node("jpn-node"))
	jpn.send(fedEvent("mutual-1", "b-m-p-s-m", `access="SECRET" releasableTo="USA"`, ""))
	usa.send(fedEvent("mutual-2", "b-m-p-s-m", `access="SECRET" releasableTo="JPN"`, ""))
	usa.expect("from JPN", func(e *cot.Event) bool { return e.UID == "mutual-1" }, 10*time.Second)
	jpn.expect("from USA", func(e *cot.Event) bool { return e.UID == "mutual-2" }, 10*time.Second)
	// Both sides settle on one connection: it stays up and neither side
	// keeps replacing it.
	a := fedPeer(c.Node("usa-hub").Federation().Status(), "jpn-node")
	b := fedPeer(c.Node("jpn-node").Federation().Status(), "usa-hub")
	if a.State != "up" || b.State != "up" || a.LastError != "" || b.LastError != "" {
		t.Errorf("usa-hub: %+v\njpn-node: %+v", a, b)
	}
}

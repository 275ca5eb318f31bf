package node

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"kizuna/internal/clustertest"
	"kizuna/internal/pki"
	"kizuna/internal/taktest"
)

// partnerNode starts a single-process allied node (nation, id) with a
// federation listener and a CoT listener at SECRET, declaring the
// cluster node clusterID as a peer (dialled at addr when set).
func partnerNode(t *testing.T, tp *testPKI, nation, id, clusterID, addr string) *Node {
	t.Helper()
	cfg := tp.cfg
	cfg.NodeID, cfg.Nation = id, nation
	var err error
	if cfg.TLSCert, cfg.TLSKey, err = tp.NodeCert(nation, id, pki.Validity{}); err != nil {
		t.Fatal(err)
	}
	cfg.Listeners = []ListenerConfig{
		{Kind: KindHTTP, Addr: "127.0.0.1:0", Principal: nation + ":SECRET"},
		{Kind: KindFederation, Addr: "127.0.0.1:0"},
		{Kind: KindCoTTCP, Addr: "127.0.0.1:0", Principal: nation + ":SECRET"},
	}
	cfg.Peers = []PeerConfig{{Name: clusterID, Addr: addr, Classification: "SECRET"}}
	return startNode(t, cfg)
}

// peerState returns the partner's link state and connect count.
func peerState(n *Node) (up bool, connects uint64) {
	for _, p := range n.Federation().Status().Peers {
		return p.State == "up", p.Connects
	}
	return false, 0
}

// TestClusterFederationLinks: a cluster node with two peer links, one
// lease each. The first instance (a child process) takes both; when the
// second joins, one link moves to it, so each instance holds one. A
// client streams events releasable to both allies; the child is
// SIGKILLed mid-stream: the link the survivor held is not disturbed (no
// reconnect), the killed one is taken over, and each ally receives every
// event exactly once.
func TestClusterFederationLinks(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("child process")
	}
	pgURL := clustertest.Postgres(t)
	natsURL, prefix := clustertest.NATS(t)
	tp := newTestPKI(t, "USA", "JPN", "KOR")
	allies := map[string]*Node{
		"usa-node": partnerNode(t, tp, "USA", "usa-node", prefix, ""),
		"kor-node": partnerNode(t, tp, "KOR", "kor-node", prefix, ""),
	}
	watchers := map[string]*takClient{}
	for name, a := range allies {
		watchers[name] = dial(t, addrOf(t, a, KindCoTTCP, a.cfg.Nation+":SECRET"))
	}
	cert, key, err := tp.NodeCert("JPN", prefix, pki.Validity{})
	if err != nil {
		t.Fatal(err)
	}
	cfgFor := func(instance string) Config {
		cfg := fedClusterConfig(tp, prefix, natsURL, pgURL, instance, "", cert, key)
		cfg.Peers = []PeerConfig{
			{Name: "kor-node", Addr: allies["kor-node"].Addr(KindFederation), Classification: "SECRET"},
			{Name: "usa-node", Addr: allies["usa-node"].Addr(KindFederation), Classification: "SECRET"},
		}
		return cfg
	}
	victimCfg := cfgFor("victim")
	victimCfg.DataDir = t.TempDir()
	raw, _ := json.Marshal(victimCfg)
	cmd := taktest.StartChild(t, clusterChildEnv+"="+string(raw), "-test.run=^TestClusterChild$", "-test.count=1")
	taktest.WaitUntil(t, "child listening", 30*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(victimCfg.DataDir, "listeners.json"))
		return err == nil
	})
	bothUp := func() bool {
		for _, a := range allies {
			if up, _ := peerState(a); !up {
				return false
			}
		}
		return true
	}
	taktest.WaitUntil(t, "the child holding both links", 30*time.Second, bothUp)

	survivor := startNode(t, cfgFor("survivor"))
	var kept, moved string // the survivor's link, the child's
	taktest.WaitUntil(t, "one link moving to the new instance", 60*time.Second, func() bool {
		names, _ := survivor.fedc.held()
		if len(names) != 1 || !bothUp() {
			return false
		}
		kept = names[0]
		moved = map[string]string{"usa-node": "kor-node", "kor-node": "usa-node"}[kept]
		return true
	})
	_, keptConnects := peerState(allies[kept])
	t.Logf("survivor holds %s, the child %s", kept, moved)

	sender := dial(t, addrOf(t, survivor, KindCoTTCP, "JPN:SECRET"))
	const n = 300
	got := map[string]map[string]int{"usa-node": {}, "kor-node": {}}
	collect := func(d time.Duration) {
		for name, w := range watchers {
			for _, ev := range w.Collect(d) {
				got[name][ev.UID]++
			}
		}
	}
	send := func(from, to int) {
		for i := from; i < to; i++ {
			sender.SendEvent(event(fmt.Sprintf("fl-%d", i), "a-f-G-U-C", `access="SECRET" releasableTo="USA KOR"`))
		}
	}
	send(0, n/2)
	deadline := time.Now().Add(30 * time.Second)
	for len(got[moved]) < 10 && time.Now().Before(deadline) {
		collect(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	t.Logf("child killed with %d of %d sent events received by %s", len(got[moved]), n/2, moved)
	if len(got[moved]) == 0 || len(got[moved]) >= n/2 {
		t.Fatalf("kill not mid-stream: %s had %d of %d", moved, len(got[moved]), n/2)
	}
	send(n/2, n)
	taktest.WaitUntil(t, "the survivor taking the killed instance's link over", 60*time.Second, func() bool {
		names, _ := survivor.fedc.held()
		return len(names) == 2 && bothUp()
	})
	deadline = time.Now().Add(60 * time.Second)
	for (len(got["usa-node"]) < n || len(got["kor-node"]) < n) && time.Now().Before(deadline) {
		collect(100 * time.Millisecond)
	}
	collect(2 * time.Second) // late duplicates
	for name := range allies {
		for i := range n {
			if c := got[name][fmt.Sprintf("fl-%d", i)]; c != 1 {
				t.Errorf("%s received fl-%d %d times, want exactly once", name, i, c)
			}
		}
	}
	if _, c := peerState(allies[kept]); c != keptConnects {
		t.Errorf("the survivor's link to %s reconnected (%d connects, %d before the kill)", kept, c, keptConnects)
	}
}

// TestClusterFederationInbound: an ally dials the cluster (its link has
// no address on the cluster's side). The instance whose listener it
// reaches takes the link's lease and carries it; another instance that
// the ally's node certificate reaches refuses it while the link is held;
// events cross both ways exactly once, through the stream to and from a
// client of the other instance.
func TestClusterFederationInbound(t *testing.T) {
	t.Parallel()
	pgURL := clustertest.Postgres(t)
	natsURL, prefix := clustertest.NATS(t)
	tp := newTestPKI(t, "USA", "JPN")
	cert, key, err := tp.NodeCert("JPN", prefix, pki.Validity{})
	if err != nil {
		t.Fatal(err)
	}
	cfgFor := func(instance string) Config {
		cfg := fedClusterConfig(tp, prefix, natsURL, pgURL, instance, "", cert, key)
		cfg.Listeners = append(cfg.Listeners, ListenerConfig{Kind: KindFederation, Addr: "127.0.0.1:0"})
		for i := range cfg.Listeners {
			if cfg.Listeners[i].Kind == KindHTTP {
				cfg.Listeners[i].Principal = "JPN:SECRET" // link internals for the node's own nation
			}
		}
		return cfg
	}
	a := startNode(t, cfgFor("a"))
	b := startNode(t, cfgFor("b"))
	ally := partnerNode(t, tp, "USA", "usa-node", prefix, a.Addr(KindFederation))
	taktest.WaitUntil(t, "the ally's link up through instance a", 30*time.Second, func() bool {
		up, _ := peerState(ally)
		return up && a.fedc.link("usa-node") != nil
	})
	if b.fedc.link("usa-node") != nil {
		t.Fatal("both instances hold the link")
	}

	// The ally's certificate at instance b: refused (closed after the
	// handshake) while a holds the link.
	allyCert, allyKey, err := tp.NodeCert("USA", "usa-node", pki.Validity{})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(allyCert, allyKey)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := tls.Dial("tcp", b.Addr(KindFederation), b.Trust().ClientTLS(pair, prefix))
	if err != nil {
		t.Fatalf("handshake with instance b: %v", err)
	}
	tc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := tc.Read(make([]byte, 1)); err == nil {
		t.Error("instance b answered a link that instance a holds")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Error("instance b kept the connection of a link that instance a holds")
	}
	tc.Close()
	if b.fedc.link("usa-node") != nil {
		t.Fatal("instance b took a link instance a holds")
	}

	jpn := dial(t, addrOf(t, b, KindCoTTCP, "JPN:SECRET"))
	usa := dial(t, addrOf(t, ally, KindCoTTCP, "USA:SECRET"))
	const n = 50
	for i := range n {
		jpn.SendEvent(event(fmt.Sprintf("out-%d", i), "a-f-G-U-C", `access="SECRET" releasableTo="USA"`))
		usa.SendEvent(event(fmt.Sprintf("in-%d", i), "a-f-G-U-C", `access="SECRET" releasableTo="JPN"`))
	}
	count := func(c *takClient, prefix string) map[string]int {
		got := map[string]int{}
		deadline := time.Now().Add(30 * time.Second)
		for len(got) < n && time.Now().Before(deadline) {
			for _, ev := range c.Collect(100 * time.Millisecond) {
				if len(ev.UID) > len(prefix) && ev.UID[:len(prefix)] == prefix {
					got[ev.UID]++
				}
			}
		}
		for _, ev := range c.Collect(time.Second) {
			got[ev.UID]++
		}
		return got
	}
	for _, tc := range []struct {
		name, prefix string
		c            *takClient
	}{{"cluster to ally", "out-", usa}, {"ally to cluster", "in-", jpn}} {
		t.Run(tc.name, func(t *testing.T) {
			got := count(tc.c, tc.prefix)
			for i := range n {
				if c := got[fmt.Sprintf("%s%d", tc.prefix, i)]; c != 1 {
					t.Errorf("%s%d received %d times, want exactly once", tc.prefix, i, c)
				}
			}
		})
	}
	var st struct {
		Peers []struct {
			Name   string `json:"name"`
			HeldBy string `json:"heldBy"`
			State  string `json:"state"`
		} `json:"peers"`
	}
	getJSON(t, "http://"+addrOf(t, b, KindHTTP, "")+"/api/v1/federation", &st)
	if len(st.Peers) != 1 || st.Peers[0].HeldBy != "a" || st.Peers[0].State != "elsewhere" {
		t.Errorf("instance b's federation status %+v, want usa-node held by a", st.Peers)
	}
}

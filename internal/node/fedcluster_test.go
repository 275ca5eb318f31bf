package node

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"kizuna/internal/clustertest"
	"kizuna/internal/pki"
	"kizuna/internal/taktest"
)

// fedClusterConfig is one instance of a JPN cluster node federated to the
// partner usa-node at partnerAddr.
func fedClusterConfig(tp *testPKI, nodeID, natsURL, pgURL, instance, partnerAddr, cert, key string) Config {
	cfg := clusterConfig(nodeID, natsURL, pgURL, instance, "JPN:SECRET")
	cfg.Nation = "JPN"
	cfg.TLSCert, cfg.TLSKey = cert, key
	cfg.Trust, cfg.CRL = tp.Trust(), tp.CRL()
	cfg.Peers = []PeerConfig{{Name: "usa-node", Addr: partnerAddr, Classification: "SECRET"}}
	return cfg
}

// TestClusterFederationTakeover: a cluster of two instances federated to a
// single-process partner. The link is held by one instance (a child
// process); a client of the other instance streams events; the holder is
// SIGKILLed mid-stream; the other instance takes the link over from the
// shared queue and the partner's client receives every event exactly
// once.
func TestClusterFederationTakeover(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("child process")
	}
	pgURL := clustertest.Postgres(t)
	natsURL, prefix := clustertest.NATS(t)
	tp := newTestPKI(t, "USA", "JPN")

	pcfg := tp.cfg
	pcfg.Listeners = append(append([]ListenerConfig(nil), tp.cfg.Listeners...),
		ListenerConfig{Kind: KindFederation, Addr: "127.0.0.1:0"},
		ListenerConfig{Kind: KindCoTTCP, Addr: "127.0.0.1:0", Principal: "USA:SECRET"})
	pcfg.Peers = []PeerConfig{{Name: prefix, Classification: "SECRET"}}
	partner := startNode(t, pcfg)
	watcher := dial(t, addrOf(t, partner, KindCoTTCP, "USA:SECRET"))
	partnerUp := func() bool { return linkUp(partner.Federation()) }

	cert, key, err := tp.NodeCert("JPN", prefix, pki.Validity{})
	if err != nil {
		t.Fatal(err)
	}
	fedAddr := partner.Addr(KindFederation)
	victimCfg := fedClusterConfig(tp, prefix, natsURL, pgURL, "victim", fedAddr, cert, key)
	victimCfg.DataDir = t.TempDir()
	raw, _ := json.Marshal(victimCfg)
	cmd := taktest.StartChild(t, clusterChildEnv+"="+string(raw), "-test.run=^TestClusterChild$", "-test.count=1")
	taktest.WaitUntil(t, "child listening", 30*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(victimCfg.DataDir, "listeners.json"))
		return err == nil
	})
	taktest.WaitUntil(t, "the child holding the link", 30*time.Second, partnerUp)

	survivor := startNode(t, fedClusterConfig(tp, prefix, natsURL, pgURL, "survivor", fedAddr, cert, key))
	if survivor.Federation() != nil {
		t.Fatal("both instances run federation")
	}
	sender := dial(t, addrOf(t, survivor, KindCoTTCP, "JPN:SECRET"))

	const n = 300
	got := map[string]int{}
	collect := func(d time.Duration) {
		for _, ev := range watcher.Collect(d) {
			got[ev.UID]++
		}
	}
	send := func(from, to int) {
		for i := from; i < to; i++ {
			sender.SendEvent(event(fmt.Sprintf("fk-%d", i), "a-f-G-U-C", `access="SECRET" releasableTo="USA"`))
		}
	}
	// Half the events, the kill as soon as the first have crossed (the
	// rest in flight), then the other half during the takeover.
	send(0, n/2)
	deadline := time.Now().Add(30 * time.Second)
	for len(got) < 10 && time.Now().Before(deadline) {
		collect(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	killedAt := time.Now()
	t.Logf("holder killed with %d of %d sent events received by the partner", len(got), n/2)
	if len(got) == 0 || len(got) >= n/2 {
		t.Fatalf("kill not mid-stream: the partner had %d of %d", len(got), n/2)
	}
	send(n/2, n)
	taktest.WaitUntil(t, "the survivor taking the link over", 30*time.Second, func() bool {
		return survivor.Federation() != nil && partnerUp()
	})
	t.Logf("link up again from the survivor %v after the kill", time.Since(killedAt).Round(100*time.Millisecond))
	deadline = time.Now().Add(60 * time.Second)
	for len(got) < n && time.Now().Before(deadline) {
		collect(200 * time.Millisecond)
	}
	collect(2 * time.Second) // late duplicates
	for i := range n {
		if c := got[fmt.Sprintf("fk-%d", i)]; c != 1 {
			t.Errorf("partner received fk-%d %d times, want exactly once", i, c)
		}
	}
	if t.Failed() {
		t.Logf("partner federation: %+v", partner.Federation().Status())
	}
}

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"kizuna/internal/node"
	"kizuna/internal/taktest"
	"kizuna/internal/topology"
)

const fedChildEnv = "KIZUNA_FED_CHILD_CONFIG"

// TestFedChildNode runs a node from the configuration file named by
// KIZUNA_FED_CHILD_CONFIG until it is killed. It is the child process of
// TestFederationPeerKilled and skips otherwise.
func TestFedChildNode(t *testing.T) {
	path := os.Getenv(fedChildEnv)
	if path == "" {
		t.Skip("child process only")
	}
	var cfg node.Config
	if err := node.LoadFile(path, &cfg); err != nil {
		t.Fatal(err)
	}
	n, err := node.New(cfg, fedLogger())
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {}
}

// startChild starts the hub in a child process and returns its listeners.
func startChild(t *testing.T, cfgFile, dataDir string) (*exec.Cmd, []node.ListenerInfo) {
	t.Helper()
	os.Remove(filepath.Join(dataDir, "listeners.json"))
	cmd := taktest.StartChild(t, fedChildEnv+"="+cfgFile, "-test.run=^TestFedChildNode$")
	return cmd, taktest.Listeners[node.ListenerInfo](t, dataDir, 3, 30*time.Second)
}

// TestFederationPeerKilled: the USA hub between JPN and KOR is SIGKILLed
// in the middle of a stream and restarted. Every message a JPN client
// published reaches the KOR client exactly once.
func TestFederationPeerKilled(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p, err := topology.NewPKI(filepath.Join(dir, "pki"), "USA", "JPN", "KOR")
	if err != nil {
		t.Fatal(err)
	}
	specs := topology.Trilateral()
	hubCfg, err := p.Config(dir, specs[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "hub.json")
	write := func() {
		b, err := json.Marshal(hubCfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(cfgFile, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write()
	child, ls := startChild(t, cfgFile, hubCfg.DataDir)
	hubAddr := ""
	for _, l := range ls {
		if l.Kind == node.KindFederation {
			hubAddr = l.Addr
		}
	}
	// The restarted hub listens where the spokes dial.
	for i, l := range hubCfg.Listeners {
		if l.Kind == node.KindFederation {
			hubCfg.Listeners[i].Addr = hubAddr
		}
	}
	write()

	dialHub := func(cfg *node.Config) { cfg.Peers[0].Addr = hubAddr }
	spokes := specs[1:]
	for i := range spokes {
		spokes[i].Peers[0].Dial = false // the address is set by dialHub
		spokes[i].Configure = dialHub
	}
	c, err := topology.StartPKI(context.Background(), p, dir, spokes, fedLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		c.Shutdown(ctx)
	})
	fedLinksUp(t, c)
	taktest.WaitUntil(t, "both spokes linked", 20*time.Second, func() bool {
		return fedPeer(c.Node("jpn-node").Federation().Status(), "usa-hub").State == "up" &&
			fedPeer(c.Node("kor-node").Federation().Status(), "usa-hub").State == "up"
	})
	jpn, kor := fedDial(t, c.Node("jpn-node")), fedDial(t, c.Node("kor-node"))

	rel := `access="SECRET" releasableTo="USA KOR"`
	sent := 0
	publish := func(d time.Duration) {
		for end := time.Now().Add(d); time.Now().Before(end); sent++ {
			jpn.send(fedEvent(fmt.Sprintf("k-msg-%d", sent), "b-m-p-s-m", rel, ""))
			time.Sleep(2 * time.Millisecond)
		}
	}
	publish(1500 * time.Millisecond)
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	publish(time.Second)
	startChild(t, cfgFile, hubCfg.DataDir)
	publish(time.Second)
	jpn.send(fedEvent("k-end", "b-m-p-s-m", rel, ""))

	got := kor.collectUntil("k-end", 60*time.Second)
	got = append(got, kor.collect(300*time.Millisecond)...)
	count := map[string]int{}
	for _, e := range got {
		count[e.UID]++
	}
	lost, dups := 0, 0
	for i := range sent {
		switch n := count[fmt.Sprintf("k-msg-%d", i)]; {
		case n == 0:
			lost++
		case n > 1:
			dups++
		}
	}
	if lost > 0 || dups > 0 {
		t.Fatalf("of %d messages: %d lost, %d duplicated", sent, lost, dups)
	}
	t.Logf("%d messages, none lost, none duplicated", sent)
}

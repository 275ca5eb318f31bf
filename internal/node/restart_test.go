package node

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"kizuna/internal/taktest"
)

const childEnv = "KIZUNA_NODE_CHILD_DATA"

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		runChild(dir)
		return
	}
	os.Exit(m.Run())
}

// runChild runs a node in this process until it is killed.
func runChild(dir string) {
	cfg := Default()
	cfg.DataDir = dir
	cfg.Nation = "USA"
	cfg.NodeID = "crash-node"
	cfg.HistoryInterval = 0 // keep every report, so the test can count them
	cfg.Listeners = []ListenerConfig{
		{Kind: KindCoTTCP, Addr: "127.0.0.1:0", Principal: "USA:SECRET"},
		{Kind: KindHTTP, Addr: "127.0.0.1:0", Principal: "USA:SECRET"},
	}
	n, err := New(cfg, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	if err := n.Start(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	select {}
}

// TestRestartAfterKill: a node process is SIGKILLed while clients publish.
// After a restart on the same data directory, every object received more
// than one second before the kill is back, with its history and owner.
func TestRestartAfterKill(t *testing.T) {
	dir := t.TempDir()
	cmd := taktest.StartChild(t, childEnv+"="+dir, "-test.run=^$")

	ls := taktest.Listeners[ListenerInfo](t, dir, 2, 20*time.Second)
	c := dial(t, ls[0].Addr)

	type sent struct {
		uid string
		at  time.Time
	}
	var log []sent
	start := time.Now()
	for i := 0; time.Since(start) < 2500*time.Millisecond; i++ {
		uid := fmt.Sprintf("unit-%d", i%40)
		ev := event(uid, "a-f-G-U-C", `access="S" releasableTo="JPN"`)
		ev.Point.Lat = float64(i%80) - 40
		ev.Stale = time.Now().Add(time.Hour)
		c.SendEvent(ev)
		log = append(log, sent{uid, time.Now()})
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	cmd.Wait()

	cfg := baseConfig(nil, []string{"JPN:SECRET"})
	cfg.DataDir = dir
	cfg.NodeID = "crash-node"
	n := startNode(t, cfg)
	h := addrOf(t, n, KindHTTP, "")
	var o objectsResp
	getJSON(t, "http://"+h+"/api/v1/objects", &o)
	// Every uid whose first update was received more than 1 s before the
	// kill must be back.
	first := map[string]time.Time{}
	for _, s := range log {
		if _, ok := first[s.uid]; !ok {
			first[s.uid] = s.at
		}
	}
	for uid, at := range first {
		if killed.Sub(at) > time.Second && !o.has(uid) {
			t.Errorf("%s (sent %v before the kill) lost", uid, killed.Sub(at))
		}
	}
	// History: the updates received more than a second before the kill.
	var hist struct {
		Points []struct{ Lat float64 } `json:"points"`
	}
	want := 0
	for _, s := range log {
		if s.uid == "unit-0" && killed.Sub(s.at) > time.Second {
			want++
		}
	}
	getJSON(t, "http://"+h+"/api/v1/objects/unit-0/history?limit=1000", &hist)
	if len(hist.Points) < want {
		t.Errorf("history of unit-0: %d points, want at least %d", len(hist.Points), want)
	}
	// Ownership survives: a JPN client cannot take over a USA uid.
	if owner, ok := n.Picture().Owner("unit-1"); !ok || owner != "USA" {
		t.Errorf("owner of unit-1 = %q, %v", owner, ok)
	}
}

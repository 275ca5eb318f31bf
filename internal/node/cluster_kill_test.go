package node

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"kizuna/internal/clustertest"
	"kizuna/internal/pgstore"
	"kizuna/internal/taktest"
)

const clusterChildEnv = "KIZUNA_CLUSTER_CHILD"

// TestClusterChild is the child process of TestClusterSIGKILL: an
// instance run from the configuration in the environment until killed.
func TestClusterChild(t *testing.T) {
	raw := os.Getenv(clusterChildEnv)
	if raw == "" {
		t.Skip("helper process of TestClusterSIGKILL")
	}
	var cfg Config
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		t.Fatal(err)
	}
	n, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {} // until SIGKILL
}

// TestClusterSIGKILL kills an instance (a child process) mid-stream: every
// event it had acknowledged (stored by JetStream, and so delivered to the
// other instance's clients) more than a flush interval before the kill is
// in PostgreSQL; the surviving instance keeps serving; the client
// reconnects to it and carries on; a new instance restores everything.
func TestClusterSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("child process")
	}
	pgURL := clustertest.Postgres(t)
	natsURL, prefix := clustertest.NATS(t)
	childCfg := clusterConfig(prefix, natsURL, pgURL, "victim", "JPN:UNCLASSIFIED")
	childCfg.DataDir = t.TempDir()
	raw, _ := json.Marshal(childCfg)
	cmd := taktest.StartChild(t, clusterChildEnv+"="+string(raw), "-test.run=^TestClusterChild$", "-test.count=1")
	var cotAddr string
	taktest.WaitUntil(t, "child listening", 30*time.Second, func() bool {
		b, err := os.ReadFile(filepath.Join(childCfg.DataDir, "listeners.json"))
		if err != nil {
			return false
		}
		var ls []ListenerInfo
		if json.Unmarshal(b, &ls) != nil {
			return false
		}
		for _, l := range ls {
			if l.Kind == KindCoTTCP {
				cotAddr = l.Addr
			}
		}
		return cotAddr != ""
	})
	survivor := startNode(t, clusterConfig(prefix, natsURL, pgURL, "survivor", "JPN:UNCLASSIFIED"))
	watcher := dial(t, addrOf(t, survivor, KindCoTTCP, "JPN:UNCLASSIFIED"))

	victimClient := dial(t, cotAddr)
	const n = 30
	for i := range n {
		victimClient.SendEvent(event(fmt.Sprintf("k-%d", i), "a-f-G-U-C", ""))
	}
	got := map[string]bool{}
	deadline := time.Now().Add(15 * time.Second)
	for len(got) < n && time.Now().Before(deadline) {
		for _, ev := range watcher.Collect(100 * time.Millisecond) {
			got[ev.UID] = true
		}
	}
	if len(got) < n {
		t.Fatalf("survivor's client got %d of %d events before the kill", len(got), n)
	}
	time.Sleep(time.Duration(childCfg.FlushInterval) + 300*time.Millisecond) // one flush after acknowledgement: the durability promise
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if !victimClient.Closed(5 * time.Second) {
		t.Error("the killed instance's client was not disconnected")
	}

	// The client reconnects to the survivor and carries on.
	moved := dial(t, addrOf(t, survivor, KindCoTTCP, "JPN:UNCLASSIFIED"))
	moved.SendEvent(event("k-0", "a-f-G-U-C", ""))
	watcher.Expect("update from the reconnected client", isUID("k-0"), 10*time.Second)

	pg, err := pgstore.Open(context.Background(), pgstore.Config{URL: pgURL})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	objs, err := pg.Objects(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	for _, o := range objs {
		stored[o.UID] = true
	}
	for i := range n {
		if uid := fmt.Sprintf("k-%d", i); !stored[uid] {
			t.Errorf("acknowledged event %s lost: not in PostgreSQL after SIGKILL", uid)
		}
	}
	fresh := startNode(t, clusterConfig(prefix, natsURL, pgURL, "replacement", "JPN:UNCLASSIFIED"))
	for i := range n {
		if _, ok := fresh.Picture().Get(fmt.Sprintf("k-%d", i)); !ok {
			t.Errorf("replacement instance did not restore k-%d", i)
		}
	}
}

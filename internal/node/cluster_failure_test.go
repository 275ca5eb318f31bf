package node

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"kizuna/internal/clustertest"
	"kizuna/internal/taktest"
)

// healthOf returns /healthz's status code and body.
func healthOf(t *testing.T, n *Node) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + n.Addr(KindHTTP) + "/healthz")
	if err != nil {
		t.Fatalf("healthz: %v", err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		k, err := resp.Body.Read(buf)
		b.Write(buf[:k])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, b.String()
}

func waitHealth(t *testing.T, n *Node, code int, contains string) {
	t.Helper()
	taktest.WaitUntil(t, "healthz "+http.StatusText(code)+" "+contains, 20*time.Second, func() bool {
		c, body := healthOf(t, n)
		return c == code && strings.Contains(body, contains)
	})
}

// TestClusterNATSRestart stops the (embedded) NATS server under two
// instances: both report not ready with the cause, refuse new events with
// a counted reason instead of dropping them, and recover when NATS
// returns, events crossing instances again.
func TestClusterNATSRestart(t *testing.T) {
	t.Parallel()
	pgURL := clustertest.Postgres(t)
	ns := clustertest.StartEmbedded(t)
	id := clustertest.Unique("kzt")
	a := startNode(t, clusterConfig(id, ns.URL(), pgURL, "a", "JPN:UNCLASSIFIED"))
	b := startNode(t, clusterConfig(id, ns.URL(), pgURL, "b", "JPN:UNCLASSIFIED"))
	ca := dial(t, addrOf(t, a, KindCoTTCP, "JPN:UNCLASSIFIED"))
	cb := dial(t, addrOf(t, b, KindCoTTCP, "JPN:UNCLASSIFIED"))
	waitHealth(t, a, 200, `"ready":true`)

	ca.SendEvent(event("before", "a-f-G-U-C", ""))
	cb.Expect("event from a before the outage", isUID("before"), 10*time.Second)

	ns.Stop()
	waitHealth(t, a, 503, "NATS")
	waitHealth(t, b, 503, "NATS")
	ca.SendEvent(event("during", "a-f-G-U-C", ""))
	taktest.WaitUntil(t, "refusal counted", 5*time.Second, func() bool {
		return taktest.Metric(t, a.Addr(KindHTTP), `kizuna_events_rejected_total{reason="unavailable"}`) >= 1
	})
	if _, ok := a.Picture().Get("during"); ok {
		t.Error("an event refused while NATS was down entered the picture")
	}

	ns.Start()
	waitHealth(t, a, 200, `"ready":true`)
	waitHealth(t, b, 200, `"ready":true`)
	// The ordered consumers resume after the server restart: poll with
	// fresh uids until one crosses.
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; ; i++ {
		uid := "after-" + string(rune('a'+i%26))
		ca.SendEvent(event(uid, "a-f-G-U-C", ""))
		got := false
		for _, ev := range cb.Collect(500 * time.Millisecond) {
			if strings.HasPrefix(ev.UID, "after-") {
				got = true
			}
		}
		if got {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("events did not cross instances after NATS came back")
		}
	}
}

// TestClusterPostgresRestart cuts PostgreSQL (through a proxy the test
// controls) under an instance: it reports not ready naming the store,
// refuses new events, keeps what it accepted before queued, and recovers.
func TestClusterPostgresRestart(t *testing.T) {
	t.Parallel()
	pgURL := clustertest.Postgres(t)
	natsURL, prefix := clustertest.NATS(t)
	host := strings.TrimPrefix(clustertest.PostgresURL(), "postgres://")
	host = host[strings.Index(host, "@")+1:]
	host = host[:strings.IndexAny(host, "/?")]
	px := clustertest.NewProxy(t, host)
	a := startNode(t, clusterConfig(prefix, natsURL, strings.Replace(pgURL, host, px.Addr(), 1), "a", "JPN:UNCLASSIFIED"))
	ca := dial(t, addrOf(t, a, KindCoTTCP, "JPN:UNCLASSIFIED"))
	waitHealth(t, a, 200, `"ready":true`)

	ca.SendEvent(event("kept", "a-f-G-U-C", ""))
	taktest.WaitUntil(t, "kept accepted", 5*time.Second, func() bool { _, ok := a.Picture().Get("kept"); return ok })
	px.Stop()
	waitHealth(t, a, 503, "store")
	ca.SendEvent(event("refused", "a-f-G-U-C", ""))
	taktest.WaitUntil(t, "refusal counted", 5*time.Second, func() bool {
		return taktest.Metric(t, a.Addr(KindHTTP), `kizuna_events_rejected_total{reason="unavailable"}`) >= 1
	})
	px.Start()
	waitHealth(t, a, 200, `"ready":true`)
	ca.SendEvent(event("after", "a-f-G-U-C", ""))
	taktest.WaitUntil(t, "after accepted", 5*time.Second, func() bool { _, ok := a.Picture().Get("after"); return ok })
	taktest.WaitUntil(t, "kept and after stored", 10*time.Second, func() bool {
		objs, err := a.store.Objects(t.Context())
		if err != nil {
			return false
		}
		got := map[string]bool{}
		for _, o := range objs {
			got[o.UID] = true
		}
		return got["kept"] && got["after"] && !got["refused"]
	})
}

package node

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"kizuna/internal/clustertest"
	"kizuna/internal/cot"
	"kizuna/internal/pgstore"
	"kizuna/internal/taktest"
)

// clusterConfig is one instance of a test cluster: shared node id, NATS
// and PostgreSQL; plain CoT listeners for the given principals and one
// HTTP listener (with the first principal).
func clusterConfig(nodeID, natsURL, pgURL, instance string, cots ...string) Config {
	// The HTTP listener is the node's own nation's (USA), at the first
	// CoT listener's clearance: /metrics answers only the own nation.
	_, clearance, _ := strings.Cut(cots[0], ":")
	cfg := baseConfig(cots, []string{"USA:" + clearance})
	cfg.NodeID = nodeID
	cfg.Cluster = natsURL
	cfg.Store = pgURL
	cfg.Instance = instance
	return cfg
}

// countUID counts the events of uid in evs.
func countUID(evs []*cot.Event, uid string) int {
	n := 0
	for _, ev := range evs {
		if ev.UID == uid {
			n++
		}
	}
	return n
}

// TestClusterThreeInstances runs three instances of one node against the
// real NATS and PostgreSQL, with clients spread over them: events cross
// instances exactly once per client, in order per uid, with the label
// applied at the egress of the instance serving each client; an instance
// whose clients are all UNCLASSIFIED never receives SECRET traffic.
func TestClusterThreeInstances(t *testing.T) {
	t.Parallel()
	pgURL := clustertest.Postgres(t)
	natsURL, prefix := clustertest.NATS(t)
	a := startNode(t, clusterConfig(prefix, natsURL, pgURL, "a", "USA:SECRET", "JPN:UNCLASSIFIED"))
	b := startNode(t, clusterConfig(prefix, natsURL, pgURL, "b", "JPN:SECRET"))
	c := startNode(t, clusterConfig(prefix, natsURL, pgURL, "c", "KOR:UNCLASSIFIED"))

	usa := dial(t, addrOf(t, a, KindCoTTCP, "USA:SECRET"))
	jpn := dial(t, addrOf(t, b, KindCoTTCP, "JPN:SECRET"))
	kor := dial(t, addrOf(t, c, KindCoTTCP, "KOR:UNCLASSIFIED"))

	tests := []struct {
		name      string
		from      *takClient
		uid       string
		attrs     string
		usa, jpn  bool
		kor       bool
		onC       bool // instance c receives it at all
		positions int
	}{
		{"secret to JPN from A", usa, "s-jpn", `access="SECRET" releasableTo="JPN"`, false, true, false, false, 1},
		{"unclassified to all from B", jpn, "u-all", `access="UNCLASSIFIED" releasableTo="USA KOR"`, true, false, true, true, 1},
		{"unclassified JPN only from B", jpn, "u-jpn", `access="UNCLASSIFIED"`, false, false, false, true, 1},
		{"updates in order from C", kor, "u-kor-track", `access="UNCLASSIFIED" releasableTo="USA JPN"`, true, true, false, true, 20},
	}
	for _, tc := range tests {
		for i := range tc.positions {
			ev := event(tc.uid, "a-f-G-U-C", tc.attrs)
			ev.Point.Lat = 30 + float64(i)/100
			tc.from.SendEvent(ev)
		}
	}
	// A marker every client may see, sent last from each instance, ends
	// the collection: every earlier event has been delivered by then.
	marker := func(from *takClient, uid string) {
		from.SendEvent(event(uid, "a-f-G-U-C", `access="UNCLASSIFIED" releasableTo="USA JPN KOR"`))
	}
	marker(usa, "mark-a")
	marker(jpn, "mark-b")
	marker(kor, "mark-c")
	collect := func(cl *takClient, marks ...string) []*cot.Event {
		t.Helper()
		var all []*cot.Event
		seen := map[string]bool{}
		deadline := time.Now().Add(10 * time.Second)
		for len(seen) < len(marks) && time.Now().Before(deadline) {
			for _, ev := range cl.Collect(100 * time.Millisecond) {
				all = append(all, ev)
				if strings.HasPrefix(ev.UID, "mark-") {
					seen[ev.UID] = true
				}
			}
		}
		if len(seen) < len(marks) {
			t.Fatalf("markers seen %v, want %v", seen, marks)
		}
		return append(all, cl.Collect(200*time.Millisecond)...)
	}
	got := map[string][]*cot.Event{
		"usa": collect(usa, "mark-b", "mark-c"),
		"jpn": collect(jpn, "mark-a", "mark-c"),
		"kor": collect(kor, "mark-a", "mark-b"),
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for who, want := range map[string]bool{"usa": tc.usa, "jpn": tc.jpn, "kor": tc.kor} {
				n := countUID(got[who], tc.uid)
				switch {
				case want && n != tc.positions:
					t.Errorf("%s got %d of %d events of %s, want each exactly once", who, n, tc.positions, tc.uid)
				case !want && n != 0:
					t.Errorf("%s got %d events of %s, which its label withholds from it", who, n, tc.uid)
				}
				if want && tc.positions > 1 {
					i := 0
					for _, ev := range got[who] {
						if ev.UID != tc.uid {
							continue
						}
						if want := 30 + float64(i)/100; ev.Point.Lat != want {
							t.Errorf("%s: update %d of %s has lat %v, want %v: out of order", who, i, tc.uid, ev.Point.Lat, want)
						}
						i++
					}
				}
			}
			if _, ok := c.Picture().Get(tc.uid); ok != tc.onC {
				t.Errorf("instance c has %s in its picture: %v, want %v (subject filter by classification)", tc.uid, ok, tc.onC)
			}
			for _, n := range []*Node{a, b} {
				if _, ok := n.Picture().Get(tc.uid); !ok {
					t.Errorf("instance %s lacks %s", n.cfg.Instance, tc.uid)
				}
			}
		})
	}
	for who, evs := range got {
		for _, m := range []string{"mark-a", "mark-b", "mark-c"} {
			if n := countUID(evs, m); n > 1 {
				t.Errorf("%s got marker %s %d times", who, m, n)
			}
		}
	}
	st, ok := c.Cluster()
	if !ok || len(st.Filters) != 1 || !strings.HasSuffix(st.Filters[0], ".ev.1.>") {
		t.Errorf("instance c filters = %v, want UNCLASSIFIED only", st.Filters)
	}
	taktest.WaitUntil(t, "three members", 5*time.Second, func() bool {
		st, _ := a.Cluster()
		return len(st.Members) == 3
	})
	var health struct {
		Ready   bool          `json:"ready"`
		Details ClusterStatus `json:"details"`
	}
	if code := getJSON(t, "http://"+a.Addr(KindHTTP)+"/healthz", &health); code != 200 || !health.Ready || health.Details.Instance != "a" {
		t.Errorf("healthz = %d %+v, want 200 ready for instance a", code, health)
	}
	if v := taktest.Metric(t, a.Addr(KindHTTP), "kizuna_cluster_members"); v != 3 {
		t.Errorf("kizuna_cluster_members = %v, want 3", v)
	}
}

// TestClusterUIDConflict races first claims of the same uids from two
// nations on two instances: for every uid exactly one claim wins in the
// shared store, only the winner's event is delivered anywhere, and the
// loser's is refused.
func TestClusterUIDConflict(t *testing.T) {
	t.Parallel()
	pgURL := clustertest.Postgres(t)
	natsURL, prefix := clustertest.NATS(t)
	a := startNode(t, clusterConfig(prefix, natsURL, pgURL, "a", "JPN:UNCLASSIFIED"))
	b := startNode(t, clusterConfig(prefix, natsURL, pgURL, "b", "KOR:UNCLASSIFIED"))
	c := startNode(t, clusterConfig(prefix, natsURL, pgURL, "c", "USA:UNCLASSIFIED"))
	jpn := dial(t, addrOf(t, a, KindCoTTCP, "JPN:UNCLASSIFIED"))
	kor := dial(t, addrOf(t, b, KindCoTTCP, "KOR:UNCLASSIFIED"))
	usa := dial(t, addrOf(t, c, KindCoTTCP, "USA:UNCLASSIFIED"))

	const uids = 20
	var wg sync.WaitGroup
	for _, cl := range []*takClient{jpn, kor} {
		wg.Go(func() {
			for i := range uids {
				cl.SendEvent(event(fmt.Sprintf("contested-%d", i), "a-f-G-U-C", `access="UNCLASSIFIED" releasableTo="USA JPN KOR"`))
			}
		})
	}
	wg.Wait()
	jpn.SendEvent(event("mark-a", "a-f-G-U-C", `access="UNCLASSIFIED" releasableTo="USA"`))
	kor.SendEvent(event("mark-b", "a-f-G-U-C", `access="UNCLASSIFIED" releasableTo="USA"`))
	var evs []*cot.Event
	deadline := time.Now().Add(10 * time.Second)
	for (countUID(evs, "mark-a") == 0 || countUID(evs, "mark-b") == 0) && time.Now().Before(deadline) {
		evs = append(evs, usa.Collect(100*time.Millisecond)...)
	}
	evs = append(evs, usa.Collect(300*time.Millisecond)...)

	pg, err := pgstore.Open(context.Background(), pgstore.Config{URL: pgURL})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	owners, err := pg.Owners(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i := range uids {
		uid := fmt.Sprintf("contested-%d", i)
		winner := owners[uid]
		if winner != "JPN" && winner != "KOR" {
			t.Errorf("%s: stored owner %q, want JPN or KOR", uid, winner)
			continue
		}
		var delivered []string
		for _, ev := range evs {
			if ev.UID == uid {
				delivered = append(delivered, ev.Origin.Nation)
			}
		}
		if len(delivered) != 1 || delivered[0] != winner {
			t.Errorf("%s: USA client got events from %v, want exactly one from the winner %s", uid, delivered, winner)
		}
		for _, n := range []*Node{a, b, c} {
			if o, _ := n.Picture().Owner(uid); o != winner {
				t.Errorf("%s: instance %s says owner %q, store says %s", uid, n.cfg.Instance, o, winner)
			}
		}
	}
}

// TestClusterSubjectFilter measures what the subject design saves: with
// half the traffic SECRET, an instance whose clients are all UNCLASSIFIED
// receives only the UNCLASSIFIED half from JetStream (messages and bytes),
// while a SECRET instance receives everything.
func TestClusterSubjectFilter(t *testing.T) {
	pgURL := clustertest.Postgres(t)
	natsURL, prefix := clustertest.NATS(t)
	src := startNode(t, clusterConfig(prefix, natsURL, pgURL, "src", "USA:SECRET"))
	high := startNode(t, clusterConfig(prefix, natsURL, pgURL, "high", "USA:SECRET"))
	low := startNode(t, clusterConfig(prefix, natsURL, pgURL, "low", "USA:UNCLASSIFIED"))
	cl := dial(t, addrOf(t, src, KindCoTTCP, "USA:SECRET"))
	const n = 100
	for i := range n {
		attrs := `access="UNCLASSIFIED"`
		if i%2 == 1 {
			attrs = `access="SECRET"`
		}
		cl.SendEvent(event(fmt.Sprintf("f-%d", i), "a-f-G-U-C", attrs))
	}
	taktest.WaitUntil(t, "high instance received all", 10*time.Second, func() bool {
		st, _ := high.Cluster()
		return st.Bus.Received >= n
	})
	taktest.WaitUntil(t, "low instance received the unclassified half", 10*time.Second, func() bool {
		st, _ := low.Cluster()
		return st.Bus.Received >= n/2
	})
	cl.SendEvent(event("f-last", "a-f-G-U-C", `access="UNCLASSIFIED"`))
	taktest.WaitUntil(t, "low instance received the marker", 10*time.Second, func() bool {
		_, ok := low.Picture().Get("f-last")
		return ok
	})
	hs, _ := high.Cluster()
	ls, _ := low.Cluster()
	t.Logf("SECRET instance: %d messages, %d bytes; UNCLASSIFIED instance: %d messages, %d bytes",
		hs.Bus.Received, hs.Bus.BytesReceived, ls.Bus.Received, ls.Bus.BytesReceived)
	if ls.Bus.Received != n/2+1 {
		t.Errorf("UNCLASSIFIED instance received %d messages, want %d (no SECRET ones)", ls.Bus.Received, n/2+1)
	}
	if hs.Bus.Received != n+1 {
		t.Errorf("SECRET instance received %d messages, want %d", hs.Bus.Received, n+1)
	}
}

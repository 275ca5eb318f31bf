package node

import (
	"testing"
	"time"

	"kizuna/internal/cluster"
	"kizuna/internal/clustertest"
)

// TestClusterStreamOrder: an instance reads the stream through one
// consumer per level, which are not ordered with each other; a uid whose
// label moved from UNCLASSIFIED to SECRET between two events can have its
// newer (SECRET) event arrive first. The older one is then dropped: the
// client and the picture keep the newer.
func TestClusterStreamOrder(t *testing.T) {
	pgURL := clustertest.Postgres(t)
	natsURL, prefix := clustertest.NATS(t)
	a := startNode(t, clusterConfig(prefix, natsURL, pgURL, "a", "JPN:SECRET"))
	watcher := dial(t, addrOf(t, a, KindCoTTCP, "JPN:SECRET"))
	env := func(uid, access string, lat float64, seq uint64) cluster.Envelope {
		ev := event(uid, "a-f-G-U-C", `access="`+access+`"`)
		ev.Origin.Nation = "JPN"
		ev.Point.Lat = lat
		return cluster.Envelope{Instance: "b", Owner: "JPN", Kind: "event", XML: ev.AppendXML(nil), Seq: seq}
	}
	// Instance b published uid "moved" at position 10 (UNCLASSIFIED,
	// lat 30) and 11 (SECRET, lat 31); the SECRET consumer delivers 11
	// first, the UNCLASSIFIED one 10 after it.
	a.applyRemote(env("moved", "SECRET", 31, 11))
	a.applyRemote(env("moved", "UNCLASSIFIED", 30, 10))
	a.applyRemote(env("other", "UNCLASSIFIED", 40, 9)) // another uid: not held back
	a.applyRemote(env("mark", "UNCLASSIFIED", 50, 12))
	var lats []float64
	others := 0
	deadline := time.Now().Add(10 * time.Second)
	for marked := false; !marked && time.Now().Before(deadline); {
		for _, ev := range watcher.Collect(100 * time.Millisecond) {
			switch ev.UID {
			case "moved":
				lats = append(lats, ev.Point.Lat)
			case "other":
				others++
			case "mark":
				marked = true
			}
		}
	}
	if len(lats) != 1 || lats[0] != 31 {
		t.Errorf("client got positions %v of the uid, want only the newer [31]", lats)
	}
	if others != 1 {
		t.Errorf("client got %d events of another uid, want 1", others)
	}
	if o, ok := a.Picture().Get("moved"); !ok || o.Event.Point.Lat != 31 {
		t.Errorf("picture holds %v (found %v), want the newer position", o, ok)
	}
	if d := a.cl.order.Dropped(); d != 1 {
		t.Errorf("%d events counted as reordered, want 1", d)
	}
}

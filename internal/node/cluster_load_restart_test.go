package node

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"kizuna/internal/clustertest"
	"kizuna/internal/taktest"
)

// TestClusterRestartsUnderLoad: a client streams events into instance a
// while NATS (embedded) and then PostgreSQL (through a proxy) go away and
// come back. Meanwhile /healthz says not ready and names the cause;
// afterwards every event a accepted (it is in a's picture) has reached
// the client of instance b and is stored in PostgreSQL, and no refused
// event reached anyone.
func TestClusterRestartsUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("two outages under load")
	}
	pgURL := clustertest.Postgres(t)
	host := strings.TrimPrefix(clustertest.PostgresURL(), "postgres://")
	host = host[strings.Index(host, "@")+1:]
	host = host[:strings.IndexAny(host, "/?")]
	px := clustertest.NewProxy(t, host)
	pgURL = strings.Replace(pgURL, host, px.Addr(), 1)
	ns := clustertest.StartEmbedded(t)
	id := clustertest.Unique("kzt")
	a := startNode(t, clusterConfig(id, ns.URL(), pgURL, "a", "JPN:UNCLASSIFIED"))
	b := startNode(t, clusterConfig(id, ns.URL(), pgURL, "b", "JPN:UNCLASSIFIED"))
	ca := dial(t, addrOf(t, a, KindCoTTCP, "JPN:UNCLASSIFIED"))
	cb := dial(t, addrOf(t, b, KindCoTTCP, "JPN:UNCLASSIFIED"))
	waitHealth(t, a, 200, `"ready":true`)

	sent := 0
	got := map[string]bool{}
	// pump sends an event every few milliseconds, collecting at b, until
	// until() holds (checked every 50 sends).
	pump := func(what string, until func() bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for i := 0; ; i++ {
			ca.SendEvent(event(fmt.Sprintf("L-%d", sent), "a-f-G-U-C", ""))
			sent++
			for _, ev := range cb.Collect(3 * time.Millisecond) {
				if strings.HasPrefix(ev.UID, "L-") {
					got[ev.UID] = true
				}
			}
			if i%50 == 49 && until() {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("under load: %s: timed out", what)
			}
		}
	}
	health := func(code int, contains string) func() bool {
		return func() bool {
			c, body := healthOf(t, a)
			return c == code && strings.Contains(body, contains)
		}
	}
	for _, outage := range []struct {
		name      string
		stop, run func()
		cause     string
	}{
		{"NATS", ns.Stop, ns.Start, "NATS"},
		{"PostgreSQL", px.Stop, px.Start, "store"},
	} {
		pump("before "+outage.name+" stops", func() bool { return true })
		outage.stop()
		pump("not ready while "+outage.name+" is down", health(503, outage.cause))
		pump("more load while "+outage.name+" is down", func() bool { return true })
		outage.run()
		pump("ready after "+outage.name+" returns", health(200, `"ready":true`))
		pump("load after "+outage.name+" returned", func() bool { return true })
	}
	// Wait until a has decided on every event sent: accepted (in its
	// picture) or refused (counted).
	var accepted map[string]bool
	var refused float64
	taktest.WaitUntil(t, "a decided on every event", 20*time.Second, func() bool {
		accepted = map[string]bool{}
		for i := range sent {
			if uid := fmt.Sprintf("L-%d", i); func() bool { _, ok := a.Picture().Get(uid); return ok }() {
				accepted[uid] = true
			}
		}
		refused = taktest.Metric(t, a.Addr(KindHTTP), `kizuna_events_rejected_total{reason="unavailable"}`)
		return len(accepted)+int(refused) == sent
	})
	t.Logf("sent %d, accepted %d, refused %v", sent, len(accepted), refused)
	if refused < 1 || len(accepted) == 0 {
		t.Fatalf("no refusal (%v) or nothing accepted (%d): the outages did not bite", refused, len(accepted))
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(got) < len(accepted) && time.Now().Before(deadline) {
		for _, ev := range cb.Collect(100 * time.Millisecond) {
			if strings.HasPrefix(ev.UID, "L-") {
				got[ev.UID] = true
			}
		}
	}
	for uid := range got {
		if !accepted[uid] {
			o, owned := a.Picture().Owner(uid)
			_, atB := b.Picture().Get(uid)
			t.Errorf("%s reached b but is not in a's picture (refused yet delivered); owner %q %v, in b's picture %v", uid, o, owned, atB)
		}
	}
	var missing []string
	for uid := range accepted {
		if !got[uid] {
			missing = append(missing, uid)
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d accepted events never reached instance b: %v", len(missing), missing)
	}
	taktest.WaitUntil(t, "every accepted event stored", 20*time.Second, func() bool {
		objs, err := b.store.Objects(t.Context())
		if err != nil {
			return false
		}
		n := 0
		for _, o := range objs {
			if accepted[o.UID] {
				n++
			}
		}
		return n == len(accepted)
	})
}

package node

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"kizuna/internal/clustertest"
	"kizuna/internal/cot"
	"kizuna/internal/hub"
	"kizuna/internal/mission"
	"kizuna/internal/pki"
	"kizuna/internal/taktest"
)

// missionClusterConfig is an instance of a test cluster with USA and JPN
// CoT listeners and USA, JPN and KOR HTTP listeners at SECRET.
func missionClusterConfig(prefix, natsURL, pgURL, instance string) Config {
	cfg := clusterConfig(prefix, natsURL, pgURL, instance, "USA:SECRET", "JPN:SECRET")
	for _, p := range []string{"JPN:SECRET", "KOR:SECRET"} {
		cfg.Listeners = append(cfg.Listeners, ListenerConfig{Kind: KindHTTP, Addr: "127.0.0.1:0", Principal: p})
	}
	return cfg
}

// missionView reads one mission through an HTTP listener; ok is false
// on a 404.
func missionView(t *testing.T, addr, name string) (mission.View, bool) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/Marti/api/missions/" + name + "?logs=true")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Data []mission.View `json:"data"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&body) != nil || len(body.Data) != 1 {
		return mission.View{}, false
	}
	return body.Data[0], true
}

func viewHas(v mission.View, uid string) bool {
	for _, u := range v.UIDs {
		if u.Data == uid {
			return true
		}
	}
	return false
}

// countNotices counts the mission change notices about uid in evs.
func countNotices(evs []*cot.Event, uid string) int {
	n := 0
	for _, ev := range evs {
		if isMissionChange(uid)(ev) {
			n++
		}
	}
	return n
}

// TestClusterMissionsAcrossInstances: a mission created through the
// Marti API of instance a is seen, subscribed (with its password) and
// logged in through instance b; a change made on either instance reaches
// the subscribers connected to both, once each; a role set on a holds on
// b at once; concurrent additions through both instances all land; and
// an instance restarted afterwards restores it all from PostgreSQL.
// (Before missions moved to PostgreSQL, b answered 404.)
func TestClusterMissionsAcrossInstances(t *testing.T) {
	t.Parallel()
	pgURL := clustertest.Postgres(t)
	natsURL, prefix := clustertest.NATS(t)
	a := startNode(t, missionClusterConfig(prefix, natsURL, pgURL, "a"))
	bcfg := missionClusterConfig(prefix, natsURL, pgURL, "b")
	bcfg.DataDir = t.TempDir()
	b, err := New(bcfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	bUp := true
	t.Cleanup(func() {
		if bUp {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			b.Shutdown(ctx)
		}
	})
	usaA, usaB := addrOf(t, a, KindHTTP, "USA:SECRET"), addrOf(t, b, KindHTTP, "USA:SECRET")
	jpnB := addrOf(t, b, KindHTTP, "JPN:SECRET")
	usaTAK := dial(t, addrOf(t, a, KindCoTTCP, "USA:SECRET"))
	jpnTAK := dial(t, addrOf(t, b, KindCoTTCP, "JPN:SECRET"))
	usaTAK.SendEvent(event("usa-a", "a-f-G-U-C", `access="SECRET" releasableTo="JPN"`))
	jpnTAK.SendEvent(event("jpn-b", "a-f-G-U-C", `access="SECRET" releasableTo="USA"`))
	for i := range 2 {
		usaTAK.SendEvent(event(fmt.Sprintf("obj-%d", i), "a-h-G", `access="SECRET" releasableTo="JPN"`))
	}
	taktest.WaitUntil(t, "the objects on both instances", 20*time.Second, func() bool {
		for _, n := range []*Node{a, b} {
			for _, uid := range []string{"usa-a", "jpn-b", "obj-0", "obj-1"} {
				if _, ok := n.Picture().Get(uid); !ok {
					return false
				}
			}
		}
		return true
	})

	const m = "/Marti/api/missions/op-kizuna"
	missionCall(t, usaA, "PUT", m+"?creatorUid=usa-a&access=SECRET&releasableTo=JPN%20KOR", "", http.StatusCreated)
	missionCall(t, usaA, "PUT", m+"/password?password=sakura", "", http.StatusOK)
	missionCall(t, addrOf(t, a, KindHTTP, "KOR:SECRET"), "PUT", m+"/subscription?uid=kor-1", "", http.StatusForbidden)
	// Seen through b at once: b's write lock reloads what a committed.
	missionCall(t, jpnB, "PUT", m+"/subscription?uid=jpn-b", "", http.StatusForbidden)
	missionCall(t, jpnB, "PUT", m+"/subscription?uid=jpn-b&password=sakura", "", http.StatusCreated)
	missionCall(t, jpnB, "POST", "/Marti/api/missions/logs/entries", `{"missionNames":["op-kizuna"],"content":"logged on b","creatorUid":"jpn-b","label":{"classification":"SECRET","releasableTo":["USA"]}}`, http.StatusCreated)
	taktest.WaitUntil(t, "b's subscription and log entry at a", 10*time.Second, func() bool {
		v, ok := missionView(t, usaA, "op-kizuna")
		return ok && len(v.Logs) == 1 && bytes.Contains(missionCall(t, usaA, "GET", m+"/subscriptions", "", http.StatusOK), []byte("jpn-b"))
	})

	// A change on a reaches jpn-b on b; a change on b reaches usa-a on a.
	missionCall(t, usaA, "PUT", m+"/contents?creatorUid=usa-a", `{"uids":["obj-0"]}`, http.StatusOK)
	jpnTAK.Expect("notice on b of a change on a", isMissionChange("obj-0"), 10*time.Second)
	missionCall(t, jpnB, "PUT", m+"/contents?creatorUid=jpn-b", `{"uids":["obj-1"]}`, http.StatusOK)
	usaTAK.Expect("notice on a of a change on b", isMissionChange("obj-1"), 10*time.Second)
	// No instance tells a client of a change twice: after a few polls,
	// jpn-b holds only the notice of its own change on b (it subscribes).
	for who, c := range map[string]struct {
		cl   *takClient
		want int
	}{"usa-a": {usaTAK, 0}, "jpn-b": {jpnTAK, 1}} {
		evs := c.cl.Collect(time.Second)
		if n0, n1 := countNotices(evs, "obj-0"), countNotices(evs, "obj-1"); n0 != 0 || n1 != c.want {
			t.Errorf("%s got %d more notices of obj-0 and %d of obj-1, want 0 and %d: each once", who, n0, n1, c.want)
		}
	}

	// The owner on a makes JPN read-only: b refuses JPN's next write.
	missionCall(t, usaA, "PUT", m+"/role?clientUid=jpn-b&role=MISSION_READONLY_SUBSCRIBER", "", http.StatusOK)
	missionCall(t, jpnB, "PUT", m+"/contents?creatorUid=jpn-b", `{"uids":["usa-a"]}`, http.StatusForbidden)
	missionCall(t, jpnB, "POST", "/Marti/api/missions/logs/entries", `{"missionNames":["op-kizuna"],"content":"refused"}`, http.StatusForbidden)

	// Concurrent writes through both instances: none is lost.
	var wg sync.WaitGroup
	for i, addr := range []string{usaA, usaB, usaA, usaB, usaA, usaB} {
		wg.Go(func() {
			missionCall(t, addr, "POST", "/Marti/api/missions/logs/entries", fmt.Sprintf(`{"missionNames":["op-kizuna"],"content":"entry %d"}`, i), http.StatusCreated)
			missionCall(t, addr, "PUT", "/Marti/api/missions/op-kizuna/keywords", fmt.Sprintf(`["kw-%d"]`, i), http.StatusOK)
		})
	}
	wg.Wait()
	missionCall(t, usaB, "PUT", m+"/contents?creatorUid=usa-a", `{"uids":["usa-a"]}`, http.StatusOK)
	for name, addr := range map[string]string{"a": usaA, "b": usaB} {
		taktest.WaitUntil(t, "every write at "+name, 10*time.Second, func() bool {
			v, ok := missionView(t, addr, "op-kizuna")
			return ok && len(v.Logs) == 7 && viewHas(v, "obj-0") && viewHas(v, "obj-1") && viewHas(v, "usa-a")
		})
	}

	// Restart b: everything is restored from PostgreSQL.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	if err := b.Shutdown(ctx); err != nil {
		t.Errorf("shutdown b: %v", err)
	}
	cancel()
	bUp = false
	b2 := startNode(t, missionClusterConfig(prefix, natsURL, pgURL, "b"))
	usaB2, jpnB2 := addrOf(t, b2, KindHTTP, "USA:SECRET"), addrOf(t, b2, KindHTTP, "JPN:SECRET")
	v, ok := missionView(t, usaB2, "op-kizuna")
	if !ok || len(v.Logs) != 7 || !viewHas(v, "obj-0") || !viewHas(v, "obj-1") || !viewHas(v, "usa-a") {
		t.Fatalf("restarted b shows %+v (found %v)", v, ok)
	}
	if role := missionCall(t, jpnB2, "GET", m+"/role", "", http.StatusOK); !bytes.Contains(role, []byte("MISSION_READONLY_SUBSCRIBER")) {
		t.Errorf("JPN's role after the restart: %s", role)
	}
	missionCall(t, jpnB2, "PUT", m+"/contents?creatorUid=jpn-b", `{"uids":["usa-a"]}`, http.StatusForbidden)
	// A principal that holds no role still needs the password.
	korB2 := addrOf(t, b2, KindHTTP, "KOR:SECRET")
	missionCall(t, korB2, "PUT", m+"/subscription?uid=kor-1", "", http.StatusForbidden)
	missionCall(t, korB2, "PUT", m+"/subscription?uid=kor-1&password=sakura", "", http.StatusCreated)
}

// TestClusterMissionFederation: a cluster of two instances federated to a
// single-process partner. A mission created and logged in through the
// instance that does not hold the federation lease, and filled through
// the one that does, reaches the partner, each change exactly once (only
// the holder sends to peers, and only the instance that made a change
// federates it; a reload on the others never does).
func TestClusterMissionFederation(t *testing.T) {
	t.Parallel()
	pgURL := clustertest.Postgres(t)
	natsURL, prefix := clustertest.NATS(t)
	tp := newTestPKI(t, "USA", "JPN")

	pcfg := tp.cfg
	pcfg.Listeners = append(append([]ListenerConfig(nil), tp.cfg.Listeners...), ListenerConfig{Kind: KindFederation, Addr: "127.0.0.1:0"})
	pcfg.Peers = []PeerConfig{{Name: prefix, Classification: "SECRET"}}
	pcfg.DataDir = t.TempDir()
	partner, err := New(pcfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[string]int{}
	partner.AddFederatedTap(func(m *hub.Message) {
		if m.Event == nil || m.Event.Type != mission.FedType {
			return
		}
		if fm, err := mission.ParseFederated(m.Event.Detail); err == nil && fm.Mission.Name == "op-fed" {
			mu.Lock()
			got[fm.Change.Type]++
			mu.Unlock()
		}
	})
	if err := partner.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		partner.Shutdown(ctx)
	})
	partnerUp := func() bool { return linkUp(partner.Federation()) }

	cert, key, err := tp.NodeCert("JPN", prefix, pki.Validity{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := func(inst string) Config {
		c := fedClusterConfig(tp, prefix, natsURL, pgURL, inst, partner.Addr(KindFederation), cert, key)
		c.Listeners = append(c.Listeners, ListenerConfig{Kind: KindHTTP, Addr: "127.0.0.1:0", Principal: "JPN:SECRET"})
		return c
	}
	holder := startNode(t, cfg("holder"))
	taktest.WaitUntil(t, "the first instance holding the link", 30*time.Second, func() bool {
		return holder.Federation() != nil && partnerUp()
	})
	other := startNode(t, cfg("other"))
	if other.Federation() != nil {
		t.Fatal("both instances run federation")
	}
	jpn := dial(t, addrOf(t, other, KindCoTTCP, "JPN:SECRET"))
	jpn.SendEvent(event("fed-obj", "a-f-G-U-C", `access="SECRET" releasableTo="USA"`))
	taktest.WaitUntil(t, "the object at the holder", 20*time.Second, func() bool {
		_, ok := holder.Picture().Get("fed-obj")
		return ok
	})
	jo, jh := addrOf(t, other, KindHTTP, "JPN:SECRET"), addrOf(t, holder, KindHTTP, "JPN:SECRET")
	const m = "/Marti/api/missions/op-fed"
	missionCall(t, jo, "PUT", m+"?creatorUid=jpn-o&access=SECRET&releasableTo=USA", "", http.StatusCreated)
	missionCall(t, jo, "POST", "/Marti/api/missions/logs/entries", `{"missionNames":["op-fed"],"content":"from the other instance","label":{"classification":"SECRET","releasableTo":["USA"]}}`, http.StatusCreated)
	missionCall(t, jh, "PUT", m+"/contents?creatorUid=jpn-h", `{"uids":["fed-obj"]}`, http.StatusOK)

	usa := addrOf(t, partner, KindHTTP, "USA:SECRET")
	taktest.WaitUntil(t, "the mission, its log entry and its content at the partner", 30*time.Second, func() bool {
		v, ok := missionView(t, usa, "op-fed")
		return ok && len(v.Logs) == 1 && viewHas(v, "fed-obj")
	})
	<-time.After(2 * time.Second) // late duplicates
	mu.Lock()
	defer mu.Unlock()
	for _, typ := range []string{"CREATE_MISSION", "ADD_LOG", "ADD_CONTENT"} {
		if got[typ] != 1 {
			t.Errorf("partner received %s %d times, want exactly once (all: %v)", typ, got[typ], got)
		}
	}
}

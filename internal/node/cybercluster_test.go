package node

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"kizuna/internal/clustertest"
	"kizuna/internal/label"
	"kizuna/internal/pki"
	"kizuna/internal/stix"
	"kizuna/internal/taktest"
	"kizuna/internal/taxii"
)

// plainTAXII is a TAXII client of a plain HTTP listener (its principal
// is the listener's).
func plainTAXII(t *testing.T, n *Node, principal string) *taxiiClient {
	t.Helper()
	hc := &http.Client{Timeout: 20 * time.Second}
	t.Cleanup(hc.CloseIdleConnections)
	return &taxiiClient{t: t, hc: hc, base: "http://" + addrOf(t, n, KindHTTP, principal)}
}

func objectsPath(coll string) string {
	return "/taxii2/" + CyberAPIRoot + "/collections/" + coll + "/objects/"
}

// incidentOn is an incident affecting uid, version modified.
func incidentOn(id, modified, uid string) string {
	return fmt.Sprintf(`{"type":"incident","spec_version":"2.1","id":"%s","created":"2026-01-01T00:00:00.000Z","modified":"%s","name":"intrusion","x_kizuna_affected_uids":["%s"]}`, id, modified, uid)
}

// effectUIDs lists the picture uids with a cyber effect that c's
// principal may see.
func effectUIDs(t *testing.T, c *taxiiClient) []string {
	t.Helper()
	r := c.do("GET", "/api/v1/cyber/effects", "", "", nil)
	var out struct {
		Effects []struct {
			UID string `json:"uid"`
		} `json:"effects"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatalf("effects %d %s: %v", r.status, r.body, err)
	}
	var uids []string
	for _, e := range out.Effects {
		uids = append(uids, e.UID)
	}
	slices.Sort(uids)
	return uids
}

// TestClusterCyberAcrossInstances: objects posted through instance A are
// listed through instance B, to each principal exactly what its label
// releases (a USA SECRET and a JPN UNCLASSIFIED principal); B's effects
// on the picture follow A's posts and deletions. With a TAXII store per
// instance (before), B listed nothing.
func TestClusterCyberAcrossInstances(t *testing.T) {
	pgURL := clustertest.Postgres(t)
	natsURL, prefix := clustertest.NATS(t)
	a := startNode(t, clusterConfig(prefix, natsURL, pgURL, "a", "USA:SECRET"))
	bcfg := clusterConfig(prefix, natsURL, pgURL, "b", "USA:SECRET")
	bcfg.Listeners = append(bcfg.Listeners, ListenerConfig{Kind: KindHTTP, Addr: "127.0.0.1:0", Principal: "JPN:UNCLASSIFIED"})
	b := startNode(t, bcfg)
	onA := plainTAXII(t, a, "USA:SECRET")
	usaB := plainTAXII(t, b, "USA:SECRET")
	jpnB := plainTAXII(t, b, "JPN:UNCLASSIFIED")

	coll := DefaultCollectionID(prefix)
	secret := label.Label{Classification: label.Secret, ReleasableTo: []string{"USA"}}
	toJPN := label.Label{Classification: label.Unclassified, ReleasableTo: []string{"JPN"}}
	secretJPN := label.Label{Classification: label.Secret, ReleasableTo: []string{"JPN"}}
	const (
		idSecret = "incident--a0000000-0000-4000-8000-000000000001"
		idJPN    = "incident--a0000000-0000-4000-8000-000000000002"
		idHigh   = "incident--a0000000-0000-4000-8000-000000000003"
	)
	st := onA.post(objectsPath(coll),
		kizunaMarking(secret), kizunaMarking(toJPN), kizunaMarking(secretJPN),
		strings.Replace(incidentOn(idSecret, "2026-01-01T00:00:00.000Z", "unit-secret"), `"name"`, `"object_marking_refs":["`+stix.MarkingID(secret)+`"],"name"`, 1),
		strings.Replace(incidentOn(idJPN, "2026-01-01T00:00:00.000Z", "unit-jpn"), `"name"`, `"object_marking_refs":["`+stix.MarkingID(toJPN)+`"],"name"`, 1),
		strings.Replace(incidentOn(idHigh, "2026-01-01T00:00:00.000Z", "unit-high"), `"name"`, `"object_marking_refs":["`+stix.MarkingID(secretJPN)+`"],"name"`, 1),
	)
	if st.FailureCount > 0 {
		t.Fatalf("post on A: %+v", st.Failures)
	}
	incidents := func(c *taxiiClient) []string {
		t.Helper()
		r := c.get(objectsPath(coll) + "?match[type]=incident")
		if r.status != http.StatusOK {
			t.Fatalf("list: %d %s", r.status, r.body)
		}
		got := ids(t, r)
		slices.Sort(got)
		return got
	}
	tests := []struct {
		name    string
		c       *taxiiClient
		want    []string
		effects []string
	}{
		{"USA SECRET on B", usaB, []string{idSecret, idJPN, idHigh}, []string{"unit-high", "unit-jpn", "unit-secret"}},
		{"JPN UNCLASSIFIED on B", jpnB, []string{idJPN}, []string{"unit-jpn"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := incidents(tc.c); !slices.Equal(got, tc.want) {
				t.Errorf("listed %v, want %v", got, tc.want)
			}
			taktest.WaitUntil(t, "B's effects following A", 10*time.Second, func() bool {
				return slices.Equal(effectUIDs(t, tc.c), tc.effects)
			})
		})
	}
	// A deletion on A: gone on B, its effect too.
	if r := onA.do("DELETE", objectsPath(coll)+idJPN+"/", taxii.MediaTAXII, "", nil); r.status != http.StatusOK {
		t.Fatalf("delete on A: %d %s", r.status, r.body)
	}
	if got := incidents(jpnB); len(got) != 0 {
		t.Errorf("JPN on B lists %v after the deletion", got)
	}
	taktest.WaitUntil(t, "the deleted incident's effect gone on B", 10*time.Second, func() bool {
		return len(effectUIDs(t, jpnB)) == 0
	})
}

// TestClusterCyberConcurrentPosts posts the same ids on two instances at
// once: the same version on both is stored once (one "already present"),
// and of two versions posted on both at once each id has exactly one
// last version (the later), whichever instance is asked; date_added stays
// unique, so paging through either instance yields each version once.
func TestClusterCyberConcurrentPosts(t *testing.T) {
	pgURL := clustertest.Postgres(t)
	natsURL, prefix := clustertest.NATS(t)
	a := startNode(t, clusterConfig(prefix, natsURL, pgURL, "a", "USA:SECRET"))
	b := startNode(t, clusterConfig(prefix, natsURL, pgURL, "b", "USA:SECRET"))
	clients := []*taxiiClient{plainTAXII(t, a, "USA:SECRET"), plainTAXII(t, b, "USA:SECRET")}
	coll := DefaultCollectionID(prefix)
	const n = 20
	id := func(i int) string { return fmt.Sprintf("indicator--b0000000-0000-4000-8000-%012d", i) }
	present := make([]int, len(clients))
	var wg sync.WaitGroup
	for k, c := range clients {
		wg.Go(func() {
			for i := range n {
				// The same version on both instances, and a version of
				// its own: A's is earlier, B's later.
				st := c.post(objectsPath(coll),
					indicator(id(i), "2026-01-01T00:00:00.000Z", ""),
					indicator(id(i), fmt.Sprintf("2026-01-0%dT00:00:00.000Z", 2+k), ""))
				for _, s := range st.Successes {
					if s.Message == "already present" {
						present[k]++
					}
				}
				if st.FailureCount > 0 {
					t.Errorf("instance %d: %+v", k, st.Failures)
				}
			}
		})
	}
	wg.Wait()
	if got := present[0] + present[1]; got != n {
		t.Errorf("%d versions reported already present, want %d (one per shared version)", got, n)
	}
	for k, c := range clients {
		r := c.get(objectsPath(coll) + "?match[type]=indicator&match[version]=last")
		var env struct {
			Objects []struct {
				ID       string `json:"id"`
				Modified string `json:"modified"`
			} `json:"objects"`
		}
		if err := json.Unmarshal(r.body, &env); err != nil {
			t.Fatal(err)
		}
		last := map[string][]string{}
		for _, o := range env.Objects {
			last[o.ID] = append(last[o.ID], o.Modified)
		}
		for i := range n {
			if got := last[id(i)]; !slices.Equal(got, []string{"2026-01-03T00:00:00.000Z"}) {
				t.Errorf("instance %d: last versions of %s = %v, want only B's later one", k, id(i), got)
			}
		}
		// Every version, one page at a time through this instance.
		seen := map[string]int{}
		next := ""
		for range 200 {
			q := "?match[type]=indicator&match[version]=all&limit=7"
			if next != "" {
				q += "&next=" + next
			}
			r := c.get(objectsPath(coll) + q)
			var env struct {
				More    bool   `json:"more"`
				Next    string `json:"next"`
				Objects []struct {
					ID       string `json:"id"`
					Modified string `json:"modified"`
				} `json:"objects"`
			}
			if err := json.Unmarshal(r.body, &env); err != nil {
				t.Fatalf("%d %s: %v", r.status, r.body, err)
			}
			for _, o := range env.Objects {
				seen[o.ID+"@"+o.Modified]++
			}
			if !env.More {
				break
			}
			next = env.Next
		}
		if len(seen) != 3*n {
			t.Errorf("instance %d paged %d distinct versions, want %d", k, len(seen), 3*n)
		}
		for v, c := range seen {
			if c != 1 {
				t.Errorf("instance %d paged %s %d times", k, v, c)
			}
		}
	}
}

// TestClusterCyberFederation: a JPN cluster of two instances federated to
// a single-process USA partner. An incident posted through the instance
// that does not hold the link reaches the partner once; the partner's
// object released to JPN is stored once in the cluster and listed through
// both instances; after the holder shuts down and the other instance
// takes the link over, a second version and a second partner object cross
// once each, none lost, none twice.
func TestClusterCyberFederation(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("federated cluster")
	}
	pgURL := clustertest.Postgres(t)
	natsURL, prefix := clustertest.NATS(t)
	tp := newTestPKI(t, "USA", "JPN")
	pcfg := tp.cfg
	pcfg.Listeners = append(append([]ListenerConfig(nil), tp.cfg.Listeners...), ListenerConfig{Kind: KindFederation, Addr: "127.0.0.1:0"})
	pcfg.Peers = []PeerConfig{{Name: prefix, Classification: "SECRET"}}
	partner := startNode(t, pcfg)
	partnerUp := func() bool { return linkUp(partner.Federation()) }
	cert, key, err := tp.NodeCert("JPN", prefix, pki.Validity{})
	if err != nil {
		t.Fatal(err)
	}
	instance := func(name string) Config {
		c := fedClusterConfig(tp, prefix, natsURL, pgURL, name, partner.Addr(KindFederation), cert, key)
		c.Listeners = append(c.Listeners, ListenerConfig{Kind: KindHTTP, Addr: "127.0.0.1:0", Principal: "JPN:SECRET"})
		c.DataDir = t.TempDir()
		return c
	}
	// The first instance, which will hold the link, is shut down by the
	// test (and by the cleanup only if the test failed before).
	holder, err := New(instance("first"), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	var stopOnce sync.Once
	stopHolder := func() {
		stopOnce.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			holder.Shutdown(ctx)
		})
	}
	t.Cleanup(stopHolder)
	taktest.WaitUntil(t, "the first instance holding the link", 30*time.Second, func() bool {
		return holder.Federation() != nil && partnerUp()
	})
	other := startNode(t, instance("second"))
	if other.Federation() != nil {
		t.Fatal("both instances hold the federation")
	}
	jpnOther := plainTAXII(t, other, "JPN:SECRET")
	jpnHolder := plainTAXII(t, holder, "JPN:SECRET")
	usaPartner := plainTAXII(t, partner, "USA:SECRET")

	rel := label.Label{Classification: label.Secret, ReleasableTo: []string{"USA"}}
	const incID = "incident--c0000000-0000-4000-8000-000000000001"
	postIncident := func(modified string) {
		t.Helper()
		obj := strings.Replace(incidentOn(incID, modified, "jpn-unit"), `"name"`, `"object_marking_refs":["`+stix.MarkingID(rel)+`"],"name"`, 1)
		if st := jpnOther.post(objectsPath(DefaultCollectionID(prefix)), kizunaMarking(rel), obj); st.FailureCount > 0 {
			t.Fatalf("post: %+v", st.Failures)
		}
	}
	versionsAt := func(c *taxiiClient, coll, id string) []string {
		t.Helper()
		r := c.get(objectsPath(coll) + id + "/versions/")
		if r.status == http.StatusNotFound {
			return nil
		}
		var v struct{ Versions []string }
		json.Unmarshal(r.body, &v)
		return v.Versions
	}
	partnerFed := FederatedCollectionID(partner.NodeID())
	postIncident("2026-01-01T00:00:00.000Z")
	taktest.WaitUntil(t, "the incident at the partner", 30*time.Second, func() bool {
		return len(versionsAt(usaPartner, partnerFed, incID)) == 1
	})

	toJPN := label.Label{Classification: label.Secret, ReleasableTo: []string{"JPN"}}
	partnerObject := func(id string) {
		t.Helper()
		obj := strings.Replace(indicator(id, "2026-01-01T00:00:00.000Z", ""), `"name"`, `"object_marking_refs":["`+stix.MarkingID(toJPN)+`"],"name"`, 1)
		if st := usaPartner.post(objectsPath(DefaultCollectionID(partner.NodeID())), kizunaMarking(toJPN), obj); st.FailureCount > 0 {
			t.Fatalf("partner post: %+v", st.Failures)
		}
	}
	clusterFed := FederatedCollectionID(prefix)
	const ind1, ind2 = "indicator--c0000000-0000-4000-8000-000000000002", "indicator--c0000000-0000-4000-8000-000000000003"
	partnerObject(ind1)
	taktest.WaitUntil(t, "the partner's indicator in the cluster", 30*time.Second, func() bool {
		return len(versionsAt(jpnOther, clusterFed, ind1)) == 1 && len(versionsAt(jpnHolder, clusterFed, ind1)) == 1
	})

	// Takeover: the holder stops, the other instance takes the link.
	stopHolder()
	taktest.WaitUntil(t, "the second instance holding the link", 30*time.Second, func() bool {
		return other.Federation() != nil && partnerUp()
	})
	postIncident("2026-01-02T00:00:00.000Z")
	partnerObject(ind2)
	taktest.WaitUntil(t, "the second version at the partner and the second indicator in the cluster", 30*time.Second, func() bool {
		return len(versionsAt(usaPartner, partnerFed, incID)) == 2 && len(versionsAt(jpnOther, clusterFed, ind2)) == 1
	})
	if got := versionsAt(usaPartner, partnerFed, incID); !slices.Equal(got, []string{"2026-01-01T00:00:00.000Z", "2026-01-02T00:00:00.000Z"}) {
		t.Errorf("versions at the partner: %v", got)
	}
	if got := versionsAt(jpnOther, clusterFed, ind1); len(got) != 1 {
		t.Errorf("the partner's first indicator in the cluster: versions %v, want one", got)
	}
	// The effect of the partner-bound incident is not the partner's to
	// show the cluster; the cluster shows its own.
	if got := effectUIDs(t, jpnOther); !slices.Contains(got, "jpn-unit") {
		t.Errorf("cluster effects %v, want jpn-unit", got)
	}
}

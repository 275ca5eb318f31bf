package e2e

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/label"
	"kizuna/internal/node"
	"kizuna/internal/taktest"
	"kizuna/internal/topology"
)

// triangle links three nodes pairwise.
func triangle() []topology.NodeSpec {
	return []topology.NodeSpec{
		{ID: "usa-a", Nation: "USA", Peers: []topology.Peer{{Name: "jpn-b", Dial: true, Classification: "SECRET"}, {Name: "kor-c", Dial: true, Classification: "SECRET"}}},
		{ID: "jpn-b", Nation: "JPN", Peers: []topology.Peer{{Name: "usa-a", Classification: "SECRET"}, {Name: "kor-c", Dial: true, Classification: "SECRET"}}},
		{ID: "kor-c", Nation: "KOR", Peers: []topology.Peer{{Name: "usa-a", Classification: "SECRET"}, {Name: "jpn-b", Classification: "SECRET"}}},
	}
}

// TestFederationTriangle: in a triangle every event reaches each node by
// two paths; clients still see it exactly once, it never comes back to
// its origin, and a JPN–KOR-only object goes only over the JPN–KOR link.
func TestFederationTriangle(t *testing.T) {
	t.Parallel()
	c := fedCluster(t, triangle())
	fedLinksUp(t, c)
	pub := fedDial(t, c.Node("jpn-b"))
	watch := map[string]*fedClient{}
	for _, id := range c.IDs() {
		watch[id] = fedDial(t, c.Node(id))
	}
	const n = 50
	for i := range n {
		pub.send(fedEvent(fmt.Sprintf("tri-%d", i), "b-m-p-s-m", `access="SECRET" releasableTo="USA KOR"`, ""))
	}
	pub.send(fedEvent("tri-bilateral", "b-m-p-s-m", `access="SECRET" releasableTo="KOR"`, ""))
	pub.send(fedEvent("tri-end", "b-m-p-s-m", `access="UNCLASSIFIED" releasableTo="USA KOR"`, ""))
	for id, w := range watch {
		got := w.collectUntil("tri-end", 20*time.Second)
		got = append(got, w.collect(300*time.Millisecond)...)
		count := map[string]int{}
		for _, e := range got {
			count[e.UID]++
		}
		for i := range n {
			if k := count[fmt.Sprintf("tri-%d", i)]; k != 1 {
				t.Errorf("%s: tri-%d delivered %d times", id, i, k)
			}
		}
		want := 1
		if id == "usa-a" {
			want = 0
		}
		if k := count["tri-bilateral"]; k != want {
			t.Errorf("%s: JPN–KOR-only object delivered %d times, want %d", id, k, want)
		}
	}
	dups, loops := 0.0, 0.0
	for _, id := range c.IDs() {
		dups += taktest.Metric(t, c.Node(id).Addr(node.KindHTTP), `kizuna_federation_events_total{outcome="duplicate"}`)
		loops += taktest.Metric(t, c.Node(id).Addr(node.KindHTTP), `kizuna_federation_events_total{outcome="loop"}`)
	}
	if dups == 0 {
		t.Error("no duplicate was cut: the second path did not deliver")
	}
	if loops != 0 {
		t.Errorf("%v events came back to a node on their path", loops)
	}
	// The USA node never held the JPN–KOR-only object.
	if _, ok := c.Node("usa-a").Picture().Owner("tri-bilateral"); ok {
		t.Error("JPN–KOR-only object reached the USA node")
	}
	_ = node.KindHTTP
}

// TestFederationReleasabilityProperty: random labels published at every
// node of the hub topology, with the KOR link accredited only to
// CONFIDENTIAL. On every node, a client sees exactly the events that the
// policy releases on every hop of their path: none more, none fewer.
func TestFederationReleasabilityProperty(t *testing.T) {
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	specs := topology.Trilateral()
	specs[0].Peers[1].Classification = "CONFIDENTIAL"
	specs[2].Peers[0].Classification = "CONFIDENTIAL"
	c := fedCluster(t, specs)
	fedLinksUp(t, c)

	nation := map[string]string{"usa-hub": "USA", "jpn-node": "JPN", "kor-node": "KOR"}
	linkClass := map[[2]string]label.Classification{
		{"usa-hub", "jpn-node"}: label.Secret, {"jpn-node", "usa-hub"}: label.Secret,
		{"usa-hub", "kor-node"}: label.Confidential, {"kor-node", "usa-hub"}: label.Confidential,
	}
	route := func(from, to string) []string {
		if from == to {
			return nil
		}
		if from == "usa-hub" || to == "usa-hub" {
			return []string{from, to}
		}
		return []string{from, "usa-hub", to}
	}
	ids := []string{"usa-hub", "jpn-node", "kor-node"}
	pubs, watch := map[string]*fedClient{}, map[string]*fedClient{}
	for _, id := range ids {
		pubs[id], watch[id] = fedDial(t, c.Node(id)), fedDial(t, c.Node(id))
	}
	expect := map[string]map[string]bool{}
	for _, id := range ids {
		expect[id] = map[string]bool{}
	}
	classes := []label.Classification{label.Unclassified, label.Confidential, label.Secret}
	nations := []string{"USA", "JPN", "KOR", "GBR"}
	const perNode = 60
	for i := range perNode * len(ids) {
		origin := ids[i%len(ids)]
		uid := fmt.Sprintf("prop-%s-%d", origin, i)
		l := label.Label{Classification: classes[rng.IntN(len(classes))], Originator: nation[origin]}
		for _, n := range nations {
			if rng.IntN(2) == 0 {
				l.ReleasableTo = append(l.ReleasableTo, n)
			}
		}
		attrs := fmt.Sprintf(`access="%s" releasableTo="%s"`, l.Classification, strings.Join(l.ReleasableTo, " "))
		if rng.IntN(8) == 0 {
			attrs = "" // unlabelled: the submitter's default
			l = label.Default(label.Principal{Nation: nation[origin], Clearance: label.Secret})
		}
		pubs[origin].send(fedEvent(uid, "b-m-p-s-m", attrs, ""))
		for _, to := range ids {
			path := route(origin, to)
			ok := true
			for h := 1; h < len(path); h++ {
				p := label.Principal{Nation: nation[path[h]], Clearance: linkClass[[2]string{path[h-1], path[h]}]}
				ok = ok && label.Releasable(p, l)
			}
			if to == origin || ok {
				expect[to][uid] = true
			}
		}
	}
	for _, id := range ids {
		pubs[id].send(fedEvent("prop-end-"+id, "b-m-p-s-m", `access="U" releasableTo="USA JPN KOR"`, ""))
	}
	for _, id := range ids {
		w := watch[id]
		var got []*cot.Event
		ends := 0
		deadline := time.After(20 * time.Second)
		for ends < len(ids) {
			select {
			case e := <-w.Events():
				got = append(got, e)
				if strings.HasPrefix(e.UID, "prop-end-") {
					ends++
				}
			case <-deadline:
				t.Fatalf("%s: end markers missing", id)
			}
		}
		got = append(got, w.collect(300*time.Millisecond)...)
		seen := map[string]int{}
		for _, e := range got {
			if strings.HasPrefix(e.UID, "prop-") && !strings.HasPrefix(e.UID, "prop-end-") {
				seen[e.UID]++
			}
		}
		var extra, missing []string
		for uid, k := range seen {
			if !expect[id][uid] {
				extra = append(extra, uid)
			} else if k != 1 {
				t.Errorf("%s: %s delivered %d times", id, uid, k)
			}
		}
		for uid := range expect[id] {
			if seen[uid] == 0 {
				missing = append(missing, uid)
			}
		}
		slices.Sort(extra)
		slices.Sort(missing)
		if len(extra) > 0 {
			t.Errorf("%s: VIOLATION, released against the policy: %v", id, extra)
		}
		if len(missing) > 0 {
			t.Errorf("%s: releasable events missing: %v", id, missing)
		}
		t.Logf("%s: %d events delivered as the policy says", id, len(expect[id]))
	}
}

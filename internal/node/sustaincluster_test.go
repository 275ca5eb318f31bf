package node

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"kizuna/internal/clustertest"
	"kizuna/internal/label"
	"kizuna/internal/pki"
	"kizuna/internal/sustain"
	"kizuna/internal/taktest"
)

// startStoppable starts a node and returns it with a stop function the
// test may call before its cleanup does (once).
func startStoppable(t *testing.T, cfg Config) (*Node, func()) {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	n, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatalf("new node: %v", err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatalf("start node: %v", err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := n.Shutdown(ctx); err != nil {
				t.Errorf("shutdown: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return n, stop
}

// TestClusterSustainment: two instances of one node take movements at
// once through the REST API. There is one ledger, in PostgreSQL: every
// movement acknowledged on either instance is in it once, numbered in one
// dense sequence; both instances show the same stocks and verify it; an
// instance restarted with an empty data directory has it all.
// Long on purpose: one scenario across three instances whose checks share
// the expected stocks.
func TestClusterSustainment(t *testing.T) {
	t.Parallel()
	pgURL := clustertest.Postgres(t)
	natsURL, prefix := clustertest.NATS(t)
	cfg := func(inst string) Config { return clusterConfig(prefix, natsURL, pgURL, inst, "USA:SECRET") }
	a, stopA := startStoppable(t, cfg("a"))
	b := startNode(t, cfg("b"))
	base := func(n *Node) string { return "http://" + addrOf(t, n, KindHTTP, "USA:SECRET") + "/api/v1/sustainment/" }
	post := func(n *Node, path, body string) int {
		resp, err := http.Post(base(n)+path, "application/json", bytes.NewBufferString(body))
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	const lbl = `"label":{"classification":"SECRET","releasableTo":["JPN"]}`
	taktest.WaitUntil(t, "sustainment API on a", 20*time.Second, func() bool {
		return post(a, "locations", `{"id":"depot","kind":"depot",`+lbl+`}`) == http.StatusCreated
	})
	// The battery is made on b: its movements need a's depot at once.
	taktest.WaitUntil(t, "sustainment API on b", 20*time.Second, func() bool {
		return post(b, "locations", `{"id":"btry","kind":"battery",`+lbl+`}`) == http.StatusCreated
	})
	const workers, each = 2, 10
	var wg sync.WaitGroup
	errs := make(chan string, 2*workers*each*2)
	for _, n := range []*Node{a, b} {
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range each {
					if code := post(n, "movements", `{"item":"SM-6","from":"PRODUCTION","to":"depot","quantity":5,"reason":"production-acceptance",`+lbl+`}`); code != http.StatusCreated {
						errs <- fmt.Sprintf("%s worker %d production %d: %d", n.cfg.Instance, w, k, code)
					}
					if code := post(n, "movements", `{"item":"SM-6","from":"depot","to":"btry","quantity":2,"reason":"issue",`+lbl+`}`); code != http.StatusCreated {
						errs <- fmt.Sprintf("%s worker %d issue %d: %d", n.cfg.Instance, w, k, code)
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if t.Failed() {
		t.FailNow()
	}
	const total = 2 * workers * each
	want := map[string]int64{"depot": 3 * total, "btry": 2 * total}
	check := func(n *Node, who string) {
		t.Helper()
		var st struct {
			Stocks []struct {
				Location string `json:"location"`
				Quantity int64  `json:"quantity"`
			} `json:"stocks"`
		}
		if code := getJSON(t, base(n)+"stocks", &st); code != http.StatusOK {
			t.Fatalf("%s: stocks %d", who, code)
		}
		got := map[string]int64{}
		for _, s := range st.Stocks {
			got[s.Location] += s.Quantity
		}
		if len(got) != len(want) || got["depot"] != want["depot"] || got["btry"] != want["btry"] {
			t.Errorf("%s shows %v, want %v", who, got, want)
		}
		var ms struct {
			Movements []struct {
				Seq int64 `json:"seq"`
			} `json:"movements"`
		}
		getJSON(t, base(n)+"movements?limit=10000", &ms)
		seen := map[int64]bool{}
		for _, m := range ms.Movements {
			if m.Seq < 1 || m.Seq > 2*total || seen[m.Seq] {
				t.Fatalf("%s: movement number %d out of 1..%d or twice", who, m.Seq, 2*total)
			}
			seen[m.Seq] = true
		}
		if len(seen) != 2*total {
			t.Errorf("%s: %d movements, want %d", who, len(seen), 2*total)
		}
		var v struct {
			OK    bool   `json:"ok"`
			Error string `json:"error"`
		}
		if getJSON(t, base(n)+"verify", &v); !v.OK {
			t.Errorf("%s: verify: %s", who, v.Error)
		}
	}
	check(a, "instance a")
	check(b, "instance b")

	// a stops; a new instance with an empty data directory has the ledger.
	stopA()
	c := startNode(t, cfg("c"))
	taktest.WaitUntil(t, "sustainment API on c", 20*time.Second, func() bool {
		code := 0
		resp, err := http.Get(base(c) + "items")
		if err == nil {
			code = resp.StatusCode
			resp.Body.Close()
		}
		return code == http.StatusOK
	})
	check(c, "instance c after a restart")
	if err := c.Sustainment().Verify(); err != nil {
		t.Fatal(err)
	}
}

// clusterSustainOrbat gives each nation one command whose J4 holds a
// national position: the approvers of national stock.
const clusterSustainOrbat = `{"units":[
	{"id":"usa-cmd","nation":"USA","echelon":"CCMD","name":"USA command","positions":[{"name":"usa-j4","national":true}]},
	{"id":"jpn-cmd","nation":"JPN","echelon":"CCMD","name":"JPN command","positions":[{"name":"jpn-j4","national":true}]}]}`

// TestClusterSustainmentFederatedTransfer: a JPN node of two instances
// federated to a USA node. A transfer from a US depot to a JPN battery is
// requested on the instance that does not hold the federation link,
// approved on the one that does, and received on the first: the USA node
// learns every JPN step, settles the shipment, and each ledger moved the
// stock exactly once (the JPN receipt once in the shared ledger).
// Long on purpose: one transfer's lifecycle, step by step across two nodes.
func TestClusterSustainmentFederatedTransfer(t *testing.T) {
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
	pcfg.OrbatData = []byte(clusterSustainOrbat)
	partner := startNode(t, pcfg)
	cert, key, err := tp.NodeCert("JPN", prefix, pki.Validity{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := func(inst string) Config {
		c := fedClusterConfig(tp, prefix, natsURL, pgURL, inst, partner.Addr(KindFederation), cert, key)
		c.OrbatData = []byte(clusterSustainOrbat)
		return c
	}
	a := startNode(t, cfg("a"))
	b := startNode(t, cfg("b"))
	const wait = 30 * time.Second
	taktest.WaitUntil(t, "the federation link up", wait, func() bool { return linkUp(partner.Federation()) })
	holder, other := a, b
	if a.Federation() == nil {
		holder, other = b, a
	}
	usa, jpnH, jpnO := partner.Sustainment(), holder.Sustainment(), other.Sustainment()
	usaJ4 := label.Principal{Nation: "USA", Clearance: label.Secret, Name: "usa-j4"}
	jpnJ4 := label.Principal{Nation: "JPN", Clearance: label.Secret, Name: "jpn-j4"}
	ctx := context.Background()
	usaLbl := label.Label{Classification: label.Secret, Originator: "USA", ReleasableTo: []string{"JPN"}}
	jpnLbl := label.Label{Classification: label.Secret, Originator: "JPN", ReleasableTo: []string{"USA"}}
	if _, err := usa.PutLocation(ctx, usaJ4, sustain.Location{ID: "usa-depot", Kind: sustain.Depot, Lat: 26.3, Lon: 127.7, Label: usaLbl}); err != nil {
		t.Fatal(err)
	}
	if _, err := usa.Record(ctx, usaJ4, sustain.Movement{Item: "PAC-3 MSE", From: sustain.Source, To: "usa-depot", Quantity: 10, Reason: sustain.Production, Label: usaLbl}); err != nil {
		t.Fatal(err)
	}
	if _, err := jpnH.PutLocation(ctx, jpnJ4, sustain.Location{ID: "jpn-btry", Kind: sustain.Battery, Lat: 35.7, Lon: 139.5, Label: jpnLbl}); err != nil {
		t.Fatal(err)
	}
	tr, err := jpnO.RequestTransfer(ctx, jpnJ4, sustain.TransferRequest{Item: "PAC-3 MSE", Quantity: 4, From: "usa-depot", FromNation: "USA", To: "jpn-btry", Label: jpnLbl})
	if err != nil {
		t.Fatal(err)
	}
	state := func(s *sustain.Service, p label.Principal) sustain.TransferState {
		got, err := s.Transfer(p, tr.ID)
		if err != nil {
			return ""
		}
		return got.State
	}
	taktest.WaitUntil(t, "the request on the USA node", wait, func() bool { return state(usa, usaJ4) == sustain.Requested })
	if _, err := usa.Act(ctx, usaJ4, tr.ID, sustain.ActApprove, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := jpnH.Act(ctx, jpnJ4, tr.ID, sustain.ActApprove, ""); err != nil {
		t.Fatal(err)
	}
	taktest.WaitUntil(t, "approved on the USA node", wait, func() bool { return state(usa, usaJ4) == sustain.Approved })
	if _, err := usa.Act(ctx, usaJ4, tr.ID, sustain.ActShip, ""); err != nil {
		t.Fatal(err)
	}
	taktest.WaitUntil(t, "shipped on the other JPN instance", wait, func() bool { return state(jpnO, jpnJ4) == sustain.Shipped })
	for range 2 {
		if _, err := jpnO.Act(ctx, jpnJ4, tr.ID, sustain.ActReceive, ""); err != nil {
			t.Fatal(err)
		}
	}
	taktest.WaitUntil(t, "received and settled on the USA node", wait, func() bool {
		got, err := usa.Transfer(usaJ4, tr.ID)
		return err == nil && got.State == sustain.Received && got.Settled
	})
	count := func(s *sustain.Service, p label.Principal) (n int) {
		ms, _ := s.Movements(ctx, p, "PAC-3 MSE", "", 1000)
		for _, m := range ms {
			if m.Ref == tr.ID {
				n++
			}
		}
		return n
	}
	if u, j := count(usa, usaJ4), count(jpnH, jpnJ4); u != 2 || j != 1 {
		t.Fatalf("movements of the transfer: USA %d (want ship and deliver), JPN %d (want one receipt)", u, j)
	}
	for name, s := range map[string]*sustain.Service{"holder": jpnH, "other": jpnO} {
		s.Refresh(ctx)
		if st, err := s.Balance(jpnJ4, "PAC-3 MSE", "jpn-btry", "JPN"); err != nil || st.Quantity != 4 {
			t.Errorf("%s JPN instance: battery %+v %v, want 4", name, st, err)
		}
		if err := s.Verify(); err != nil {
			t.Error(err)
		}
	}
	if err := usa.Verify(); err != nil {
		t.Fatal(err)
	}
}

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
func TestClusterSustainment(t *testing.T) {
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

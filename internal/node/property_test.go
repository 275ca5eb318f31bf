package node

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/label"
)

// TestReleasabilityProperty sends random labels from random principals
// through a live node, to XML and protobuf clients of random principals,
// and checks that no delivery ever breaks the rule, that every delivery
// the rule allows happens, and that REST agrees.
func TestReleasabilityProperty(t *testing.T) {
	nations := []string{"USA", "JPN", "KOR"}
	classes := []label.Classification{label.Unclassified, label.Confidential, label.Secret, label.TopSecret}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))

	var prins []string
	for _, n := range nations {
		for _, c := range []label.Classification{label.Unclassified, label.Secret, label.TopSecret} {
			prins = append(prins, n+":"+c.String())
		}
	}
	nd := startNode(t, baseConfig(prins, prins))

	type client struct {
		p     label.Principal
		tc    *takClient
		proto bool
	}
	var clients []*client
	for _, ps := range prins {
		p, _ := label.ParsePrincipal(ps)
		for i := 0; i < 2; i++ {
			c := &client{p: p, tc: dial(t, addrOf(t, nd, KindCoTTCP, ps)), proto: rng.IntN(2) == 0}
			if c.proto {
				c.tc.Negotiate()
			} else {
				c.tc.Expect("offer", func(e *cot.Event) bool { return e.Type == "t-x-takp-v" }, 5*time.Second)
			}
			clients = append(clients, c)
		}
	}

	// truth is the label the node must apply to each uid: a sender's
	// valid label with the sender's nation as originator, or its default.
	truth := map[string]label.Label{}
	sender := map[string]int{}
	const events = 300
	for i := 0; i < events; i++ {
		si := rng.IntN(len(clients))
		s := clients[si]
		uid := fmt.Sprintf("prop-%d", i)
		var attrs string
		var want label.Label
		accepted := true
		switch rng.IntN(5) {
		case 0: // unlabelled
			want = label.Default(s.p)
		default:
			c := classes[rng.IntN(len(classes))]
			var rel []string
			for _, n := range nations {
				if rng.IntN(2) == 0 {
					rel = append(rel, n)
				}
			}
			sep := " "
			if rng.IntN(2) == 0 {
				sep = ","
			}
			abbr := c.String()
			if rng.IntN(2) == 0 {
				abbr = c.Abbrev()
			}
			attrs = fmt.Sprintf(`access="%s" releasableTo="%s"`, abbr, strings.Join(rel, sep))
			want = label.Label{Classification: c, ReleasableTo: rel, Originator: s.p.Nation}
			if c > s.p.Clearance {
				accepted = false
			}
		}
		if accepted {
			truth[uid] = want
			sender[uid] = si
		}
		s.tc.SendEvent(event(uid, "a-f-G-U-C", attrs))
	}
	// A barrier everyone may receive, sent by each client last.
	for i, c := range clients {
		c.tc.SendEvent(event(fmt.Sprintf("barrier-%d", i), "a-f-G-U-C", `access="U" releasableTo="USA JPN KOR"`))
	}

	var wg sync.WaitGroup
	var mu sync.Mutex
	for ci, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := map[string]bool{}
			barriers := 0
			deadline := time.After(15 * time.Second)
			for barriers < len(clients)-1 {
				select {
				case ev := <-c.tc.Events():
					if strings.HasPrefix(ev.UID, "barrier-") {
						barriers++
						continue
					}
					if !strings.HasPrefix(ev.UID, "prop-") {
						continue
					}
					got[ev.UID] = true
					l, ok := truth[ev.UID]
					mu.Lock()
					if !ok {
						t.Errorf("client %d (%s) received rejected event %s", ci, c.p, ev.UID)
					} else if !allowed(c.p, l) {
						t.Errorf("client %d (%s) received %s labelled %+v", ci, c.p, ev.UID, l)
					}
					mu.Unlock()
				case <-deadline:
					mu.Lock()
					t.Errorf("client %d: barrier timeout (%d of %d)", ci, barriers, len(clients)-1)
					mu.Unlock()
					return
				}
			}
			mu.Lock()
			defer mu.Unlock()
			for uid, l := range truth {
				if sender[uid] != ci && allowed(c.p, l) && !got[uid] {
					t.Errorf("client %d (%s) missed %s labelled %+v", ci, c.p, uid, l)
				}
			}
		}()
	}
	wg.Wait()

	for _, ps := range prins {
		p, _ := label.ParsePrincipal(ps)
		var o objectsResp
		getJSON(t, "http://"+addrOf(t, nd, KindHTTP, ps)+"/api/v1/objects", &o)
		seen := map[string]bool{}
		for _, x := range o.Objects {
			seen[x.UID] = true
			if l, ok := truth[x.UID]; ok && !allowed(p, l) {
				t.Errorf("REST for %s lists %s labelled %+v", ps, x.UID, l)
			}
		}
		for uid, l := range truth {
			if allowed(p, l) && !seen[uid] {
				t.Errorf("REST for %s misses %s", ps, uid)
			}
		}
	}
}

// allowed is the SPEC's rule written out independently of the policy
// function, so that this test checks the node rather than itself: K >= C
// and (N = O or N in R).
func allowed(p label.Principal, l label.Label) bool {
	if p.Clearance < l.Classification {
		return false
	}
	if p.Nation == l.Originator {
		return true
	}
	for _, n := range l.ReleasableTo {
		if n == p.Nation {
			return true
		}
	}
	return false
}

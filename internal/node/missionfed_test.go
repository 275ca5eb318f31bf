package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/mission"
	"kizuna/internal/node"
	"kizuna/internal/taktest"
	"kizuna/internal/topology"
)

// TestMissionFederation: a JPN mission shared with USA and KOR, holding a
// JPN-only object and a shared one, crosses JPN → USA hub → KOR with the
// shared object only; with the hub down (the link cut), a further change
// waits and arrives when it is back.
func TestMissionFederation(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three federated nodes and restarts one")
	}
	c, err := topology.Start(context.Background(), t.TempDir(), topology.Trilateral(), testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		c.Shutdown(ctx)
	})
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if cond() {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("timed out waiting for %s", what)
	}
	linksUp := func(n *node.Node, want int) func() bool {
		return func() bool {
			up := 0
			for _, p := range n.Federation().Status().Peers {
				if p.State == "up" {
					up++
				}
			}
			return up == want
		}
	}
	waitFor("links", linksUp(c.Node("usa-hub"), 2))
	jpn := c.Node("jpn-node")
	call := func(n *node.Node, method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+n.Addr(node.KindHTTP)+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	jc := taktest.Dial(t, jpn.Addr(node.KindCoTTCP))
	now := time.Now().UTC()
	for _, o := range []struct{ uid, attrs string }{
		{"fed-secret", `access="SECRET" releasableTo="JPN"`},
		{"fed-shared", `access="SECRET" releasableTo="USA KOR"`},
		{"fed-shared-2", `access="SECRET" releasableTo="USA KOR"`},
	} {
		ev, err := cot.Decode([]byte(fmt.Sprintf(`<event version="2.0" uid="%s" type="a-f-G" how="m-g" time="%s" start="%s" stale="%s" %s><point lat="35" lon="139" hae="0" ce="9" le="9"/><detail><contact callsign="%s"/></detail></event>`,
			o.uid, now.Format(time.RFC3339), now.Format(time.RFC3339), now.Add(10*time.Minute).Format(time.RFC3339), o.attrs, o.uid)))
		if err != nil {
			t.Fatal(err)
		}
		jc.SendEvent(ev)
	}
	waitFor("objects at JPN", func() bool {
		_, ok1 := jpn.Picture().Get("fed-secret")
		_, ok2 := jpn.Picture().Get("fed-shared-2")
		return ok1 && ok2
	})
	if code, b := call(jpn, "PUT", "/Marti/api/missions/fed-op?creatorUid=jpn-1&access=SECRET&releasableTo=USA%20KOR", ""); code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, b)
	}
	if code, b := call(jpn, "PUT", "/Marti/api/missions/fed-op/contents", `{"uids":["fed-secret","fed-shared"]}`); code != http.StatusOK {
		t.Fatalf("contents: %d %s", code, b)
	}
	kor := c.Node("kor-node")
	uids := func(n *node.Node) []string {
		code, b := call(n, "GET", "/Marti/api/missions/fed-op", "")
		if code != http.StatusOK {
			return nil
		}
		var v struct{ Data []mission.View }
		json.Unmarshal([]byte(b), &v)
		var out []string
		for _, u := range v.Data[0].UIDs {
			out = append(out, u.Data)
		}
		return out
	}
	waitFor("the mission at KOR", func() bool { return len(uids(kor)) == 1 })
	if got := uids(kor); got[0] != "fed-shared" {
		t.Fatalf("KOR holds %v", got)
	}
	if got := uids(c.Node("usa-hub")); len(got) != 1 || got[0] != "fed-shared" {
		t.Fatalf("the USA hub holds %v", got)
	}

	// Cut the link: stop the hub, add a shared object, bring it back.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.Stop(ctx, "usa-hub"); err != nil {
		t.Fatal(err)
	}
	if code, b := call(jpn, "PUT", "/Marti/api/missions/fed-op/contents", `{"uids":["fed-shared-2"]}`); code != http.StatusOK {
		t.Fatalf("contents while cut: %d %s", code, b)
	}
	if _, err := c.Restart(context.Background(), "usa-hub"); err != nil {
		t.Fatal(err)
	}
	waitFor("the change made during the cut at KOR", func() bool { return len(uids(kor)) == 2 })
	_, b := call(kor, "GET", "/Marti/api/missions/fed-op/changes", "")
	if strings.Contains(b, "fed-secret") || strings.Count(b, `"type":"ADD_CONTENT"`) != 2 {
		t.Fatalf("KOR's change log: %s", b)
	}
}

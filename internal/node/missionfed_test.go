package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
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
	c := startTopology(t, t.TempDir(), topology.Trilateral())
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		taktest.WaitUntil(t, what, 30*time.Second, cond)
	}
	linksUp := func(n *node.Node, want int) func() bool {
		return func() bool { return n.Federation().Status().Up() == want }
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

// TestMissionFederationCatchUp: keywords and log entries of a JPN mission
// shared with USA and KOR cross the hub, also when made while the link
// is cut; a KOR node that lost its state (a node that joins late) gets
// the mission whole when its link comes up: items, change log, keywords
// and log entries, never the JPN-only ones.
func TestMissionFederationCatchUp(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts three federated nodes and restarts two")
	}
	dir := t.TempDir()
	c := startTopology(t, dir, topology.Trilateral())
	linksUp := func(id string, want int) func() bool {
		return func() bool {
			n := c.Node(id)
			if n == nil {
				return false
			}
			return n.Federation().Status().Up() == want
		}
	}
	taktest.WaitUntil(t, "links", 30*time.Second, linksUp("usa-hub", 2))
	call := func(id, method, path, body string) (int, string) {
		t.Helper()
		n := c.Node(id)
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
	must := func(id, method, path, body string, want int) {
		t.Helper()
		if code, b := call(id, method, path, body); code != want {
			t.Fatalf("%s %s at %s: %d %s", method, path, id, code, b)
		}
	}
	jc := taktest.Dial(t, c.Node("jpn-node").Addr(node.KindCoTTCP))
	now := time.Now().UTC()
	for _, o := range []struct{ uid, attrs string }{
		{"cu-secret", `access="SECRET" releasableTo="JPN"`},
		{"cu-shared", `access="SECRET" releasableTo="USA KOR"`},
	} {
		ev, err := cot.Decode([]byte(fmt.Sprintf(`<event version="2.0" uid="%s" type="a-f-G" how="m-g" time="%s" start="%s" stale="%s" %s><point lat="35" lon="139" hae="0" ce="9" le="9"/><detail><contact callsign="%s"/></detail></event>`,
			o.uid, now.Format(time.RFC3339), now.Format(time.RFC3339), now.Add(10*time.Minute).Format(time.RFC3339), o.attrs, o.uid)))
		if err != nil {
			t.Fatal(err)
		}
		jc.SendEvent(ev)
	}
	taktest.WaitUntil(t, "objects at JPN", 30*time.Second, func() bool {
		_, ok1 := c.Node("jpn-node").Picture().Get("cu-secret")
		_, ok2 := c.Node("jpn-node").Picture().Get("cu-shared")
		return ok1 && ok2
	})
	must("jpn-node", "PUT", "/Marti/api/missions/cu-op?creatorUid=jpn-1&access=SECRET&releasableTo=USA%20KOR", "", http.StatusCreated)
	must("jpn-node", "PUT", "/Marti/api/missions/cu-op/contents", `{"uids":["cu-secret","cu-shared"]}`, http.StatusOK)
	view := func(id string) (v mission.View) {
		if c.Node(id) == nil {
			return v
		}
		code, b := call(id, "GET", "/Marti/api/missions/cu-op?changes=true&logs=true", "")
		if code != http.StatusOK {
			return v
		}
		var r struct{ Data []mission.View }
		json.Unmarshal([]byte(b), &r)
		return r.Data[0]
	}
	taktest.WaitUntil(t, "the mission at KOR", 30*time.Second, func() bool { return len(view("kor-node").UIDs) == 1 })

	// Cut the link; keywords and log entries made meanwhile arrive later.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.Stop(ctx, "usa-hub"); err != nil {
		t.Fatal(err)
	}
	must("jpn-node", "PUT", "/Marti/api/missions/cu-op/keywords", `["north","night"]`, http.StatusOK)
	must("jpn-node", "POST", "/Marti/api/missions/logs/entries", `{"missionNames":["cu-op"],"content":"shared entry","label":{"classification":"SECRET","releasableTo":["USA","KOR"]}}`, http.StatusCreated)
	must("jpn-node", "POST", "/Marti/api/missions/logs/entries", `{"missionNames":["cu-op"],"content":"jpn-only entry"}`, http.StatusCreated)
	if _, err := c.Restart(ctx, "usa-hub"); err != nil {
		t.Fatal(err)
	}
	caughtUp := func() bool {
		v := view("kor-node")
		return len(v.UIDs) == 1 && len(v.Keywords) == 2 && len(v.Logs) == 1
	}
	taktest.WaitUntil(t, "keywords and the log entry at KOR after the cut", 60*time.Second, caughtUp)

	// KOR loses its state and joins again.
	if err := c.Stop(ctx, "kor-node"); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(c.Config("kor-node").DataDir); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Restart(ctx, "kor-node"); err != nil {
		t.Fatal(err)
	}
	taktest.WaitUntil(t, "the mission whole at the fresh KOR node", 60*time.Second, caughtUp)
	v := view("kor-node")
	if v.UIDs[0].Data != "cu-shared" || v.Logs[0].Content != "shared entry" || len(v.MissionChanges) != 2 || v.Origin != "jpn-node" {
		t.Fatalf("KOR's mission after joining: %+v", v)
	}
	for _, id := range []string{"kor-node", "usa-hub"} {
		_, b := call(id, "GET", "/Marti/api/missions/cu-op?changes=true&logs=true", "")
		if strings.Contains(b, "cu-secret") || strings.Contains(b, "jpn-only") {
			t.Fatalf("%s holds JPN-only data: %s", id, b)
		}
	}
}

package node_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"kizuna/internal/node"
	"kizuna/internal/taktest"
	"kizuna/internal/topology"
)

// TestSupportRequestAcrossNodes: a US commander on the US node asks for
// JSDF support; the request crosses the federation link (origin-signed,
// label-checked) to the Japanese node, where only JJOC's principal may
// decide it; the approval comes back to the US node, and Japan's order
// carrying it out comes back only when Japan released it.
func TestSupportRequestAcrossNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two federated nodes")
	}
	orbat := filepath.Join("..", "command", "testdata", "orbat.json")
	specs := []topology.NodeSpec{
		{ID: "usa-hub", Nation: "USA", Peers: []topology.Peer{{Name: "jpn-node", Classification: "SECRET"}}},
		{ID: "jpn-node", Nation: "JPN", Peers: []topology.Peer{{Name: "usa-hub", Dial: true, Classification: "SECRET"}}},
	}
	for i := range specs {
		specs[i].Configure = func(cfg *node.Config) { cfg.Orbat = orbat }
	}
	c := startTopology(t, t.TempDir(), specs)
	us, jp := c.Node("usa-hub"), c.Node("jpn-node")
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		taktest.WaitUntil(t, what, 30*time.Second, cond)
	}
	waitFor("the link", func() bool { return us.Federation().Status().Up() > 0 })
	call := func(n *node.Node, method, path string, body any) (int, map[string]any) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, "http://"+n.Addr(node.KindHTTP)+path, rd)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	issue := func(recipient, text string) string {
		t.Helper()
		code, o := call(us, "POST", "/api/v1/orders", map[string]any{"as": "usfj", "recipient": recipient, "type": "SUPPORT_REQUEST", "text": text, "deadlineIn": "2h"})
		if code != http.StatusCreated || o["recipientUnit"] != "jjoc" || o["via"] != "acm" {
			t.Fatalf("request: %d %v", code, o)
		}
		return o["id"].(string)
	}
	arrived := func(n *node.Node, id string, want func(map[string]any) bool) map[string]any {
		t.Helper()
		var last map[string]any
		waitFor(id+" on "+n.NodeID(), func() bool {
			code, o := call(n, "GET", "/api/v1/orders/"+id, nil)
			last = o
			return code == http.StatusOK && want(o)
		})
		return last
	}

	id := issue("adc", "Request Patriot coverage of Kadena for the missile defence of Japan")
	rep := arrived(jp, id, func(o map[string]any) bool { return o["state"] == "ISSUED" })
	if rep["origin"] != "usa-hub" || rep["wanted"] != "adc" {
		t.Fatalf("replica %v", rep)
	}
	// The US principal holds no position in JJOC: it cannot decide, on
	// either node.
	if code, _ := call(us, "POST", "/api/v1/orders/"+id+"/decide", map[string]any{"as": "jjoc", "outcome": "DENIED", "reason": "x"}); code != http.StatusForbidden {
		t.Fatalf("US principal deciding on the US node: %d", code)
	}
	// Only the headquarters the request was routed to decides, not the
	// unit asked.
	if code, o := call(jp, "POST", "/api/v1/orders/"+id+"/decide", map[string]any{"as": "adc", "outcome": "DENIED", "reason": "x"}); code != http.StatusUnprocessableEntity || o["rule"] != "decided-by-other-nation-hq" {
		t.Fatalf("the unit asked decided: %d %v", code, o)
	}
	code, d := call(jp, "POST", "/api/v1/orders/"+id+"/decide", map[string]any{"as": "jjoc", "outcome": "APPROVED", "reason": "Kadena covered",
		"order": map[string]any{"recipient": "adc", "text": "Deploy PAC-3 fire units to cover Kadena", "deadlineIn": "2h"}})
	if code != http.StatusOK {
		t.Fatalf("decide: %d %v", code, d)
	}
	national := d["order"].(map[string]any)["id"].(string)
	got := arrived(us, id, func(o map[string]any) bool { return o["state"] == "WILCO" })
	if got["outcome"] != "APPROVED" || got["answer"] != nil {
		t.Fatalf("requester's view: %v", got)
	}
	if code, _ := call(us, "GET", "/api/v1/orders/"+national, nil); code != http.StatusNotFound {
		t.Fatalf("JPN-only national order on the US node: %d", code)
	}

	// Released to the USA: the order comes back too.
	id2 := issue("escort-force", "Escort TF 76 through the Nansei islands")
	arrived(jp, id2, func(o map[string]any) bool { return true })
	code, d = call(jp, "POST", "/api/v1/orders/"+id2+"/decide", map[string]any{"as": "jjoc", "outcome": "PARTLY_APPROVED", "reason": "one escort division",
		"order": map[string]any{"recipient": "escort-force", "text": "Escort Division 1 escorts TF 76", "deadlineIn": "2h", "releasableTo": []string{"JPN", "USA"}}})
	if code != http.StatusOK {
		t.Fatalf("decide: %d %v", code, d)
	}
	n2 := d["order"].(map[string]any)["id"].(string)
	got = arrived(us, id2, func(o map[string]any) bool { return o["state"] == "WILCO" && o["answer"] == n2 })
	if got["outcome"] != "PARTLY_APPROVED" {
		t.Fatalf("requester's view: %v", got)
	}
	rel := arrived(us, n2, func(o map[string]any) bool { return true })
	if rel["origin"] != "jpn-node" || rel["request"] != id2 || rel["issuerUnit"] != "jjoc" {
		t.Fatalf("released national order %v", rel)
	}
}

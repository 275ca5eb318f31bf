package node

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"kizuna/internal/clustertest"
	"kizuna/internal/taktest"
)

// TestClusterOrdersAcrossInstances: an order issued through one instance
// is acknowledged through another, the state it reaches is what the first
// instance then shows, and a third instance started afterwards restores
// it from PostgreSQL.
func TestClusterOrdersAcrossInstances(t *testing.T) {
	t.Parallel()
	cfg := orderClusterConfig(t)
	a := startNode(t, cfg("a"))
	b := startNode(t, cfg("b"))
	type order struct {
		ID    string `json:"id"`
		State string `json:"state"`
	}
	call := func(n *Node, method, path string, body any) (int, order) {
		t.Helper()
		var o order
		return orderCall(t, n, method, path, body, &o), o
	}
	code, o := call(a, "POST", "/api/v1/orders", map[string]any{"as": "usfj", "recipient": "12mlr", "type": "TASK", "text": "Establish a NSM battery on Miyako", "deadlineIn": "4h"})
	if code != http.StatusCreated || o.ID == "" {
		t.Fatalf("issue on a: %d %+v", code, o)
	}
	taktest.WaitUntil(t, "the order at instance b", 20*time.Second, func() bool {
		code, got := call(b, "GET", "/api/v1/orders/"+o.ID, nil)
		return code == http.StatusOK && got.ID == o.ID
	})
	if code, got := call(b, "POST", "/api/v1/orders/"+o.ID+"/ack", map[string]any{"as": "12mlr"}); code != http.StatusOK || got.State != "ACKNOWLEDGED" {
		t.Fatalf("acknowledge on b: %d %+v", code, got)
	}
	taktest.WaitUntil(t, "the acknowledgement at instance a", 20*time.Second, func() bool {
		_, got := call(a, "GET", "/api/v1/orders/"+o.ID, nil)
		return got.State == "ACKNOWLEDGED"
	})
	// A transition that needs the acknowledgement, through a again.
	if code, got := call(a, "POST", "/api/v1/orders/"+o.ID+"/ack", map[string]any{"as": "12mlr", "state": "WILCO"}); code != http.StatusOK || got.State != "WILCO" {
		t.Fatalf("WILCO on a: %d %+v", code, got)
	}
	c := startNode(t, cfg("c"))
	if _, got := call(c, "GET", "/api/v1/orders/"+o.ID, nil); got.State != "WILCO" {
		t.Errorf("instance c restored the order as %+v, want WILCO", got)
	}
}

// orderClusterConfig returns the configuration of an instance of a test
// cluster (its own NATS prefix and PostgreSQL schema) that carries the
// chain of command of command/testdata.
func orderClusterConfig(t *testing.T) func(inst string) Config {
	t.Helper()
	pgURL := clustertest.Postgres(t)
	natsURL, prefix := clustertest.NATS(t)
	orbat, err := os.ReadFile(filepath.Join("..", "command", "testdata", "orbat.json"))
	if err != nil {
		t.Fatal(err)
	}
	return func(inst string) Config {
		c := clusterConfig(prefix, natsURL, pgURL, inst, "USA:SECRET")
		c.OrbatData = orbat
		return c
	}
}

// orderCall calls n's HTTP API as USA:SECRET with a JSON body (if any),
// decodes the answer into out and returns the status.
func orderCall(t *testing.T, n *Node, method, path string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, "http://"+addrOf(t, n, KindHTTP, "USA:SECRET")+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	json.Unmarshal(raw, out)
	if resp.StatusCode >= 300 && resp.StatusCode != http.StatusNotFound {
		t.Logf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode
}

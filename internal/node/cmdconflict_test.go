package node

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"kizuna/internal/taktest"
)

// TestClusterOrderStreamAndConflict: the order stream of one instance
// shows the changes made through another (after its reload), and two
// instances changing one order from the same revision do not both win:
// the stale instance's change is refused with 409 and the order keeps the
// other's.
func TestClusterOrderStreamAndConflict(t *testing.T) {
	cfg := orderClusterConfig(t)
	a := startNode(t, cfg("a"))
	b := startNode(t, cfg("b"))
	type order struct {
		ID      string `json:"id"`
		State   string `json:"state"`
		History []struct {
			To string `json:"to"`
		} `json:"history"`
	}
	call := func(n *Node, method, path string, body any) (int, order) {
		t.Helper()
		var o order
		return orderCall(t, n, method, path, body, &o), o
	}

	// b's order stream, read line by line.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addrOf(t, b, KindHTTP, "USA:SECRET")+"/api/v1/orders/stream", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := make(chan string, 256)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	// expect waits for a live "order" event of id in state.
	expect := func(what, id, state string) {
		t.Helper()
		deadline := time.After(20 * time.Second)
		event := ""
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("%s: order stream ended", what)
				}
				if e, found := strings.CutPrefix(l, "event: "); found {
					event = e
					continue
				}
				data, found := strings.CutPrefix(l, "data: ")
				if !found || event != "order" {
					continue
				}
				var o order
				if json.Unmarshal([]byte(data), &o) == nil && o.ID == id && o.State == state {
					return
				}
			case <-deadline:
				t.Fatalf("%s: not on instance b's order stream", what)
			}
		}
	}

	code, o := call(a, "POST", "/api/v1/orders", map[string]any{"as": "usfj", "recipient": "12mlr", "type": "TASK", "text": "Establish a NSM battery on Miyako", "deadlineIn": "4h"})
	if code != http.StatusCreated || o.ID == "" {
		t.Fatalf("issue on a: %d %+v", code, o)
	}
	expect("the order issued through a", o.ID, "ISSUED")
	if code, got := call(a, "POST", "/api/v1/orders/"+o.ID+"/ack", map[string]any{"as": "12mlr"}); code != http.StatusOK || got.State != "ACKNOWLEDGED" {
		t.Fatalf("acknowledge on a: %d %+v", code, got)
	}
	expect("the acknowledgement made through a", o.ID, "ACKNOWLEDGED")

	// b stops reloading: it keeps the order at ACKNOWLEDGED while a moves
	// it on; b's change, made from that revision, is refused.
	b.commandLoop.stop(context.Background())
	if code, got := call(a, "POST", "/api/v1/orders/"+o.ID+"/ack", map[string]any{"as": "12mlr", "state": "WILCO"}); code != http.StatusOK || got.State != "WILCO" {
		t.Fatalf("WILCO on a: %d %+v", code, got)
	}
	if code, got := call(b, "POST", "/api/v1/orders/"+o.ID+"/ack", map[string]any{"as": "12mlr", "state": "CANTCO", "reason": "no transport"}); code != http.StatusConflict {
		t.Errorf("CANTCO on the stale instance b: %d %+v, want 409", code, got)
	}
	taktest.WaitUntil(t, "a's view", 10*time.Second, func() bool {
		_, got := call(a, "GET", "/api/v1/orders/"+o.ID, nil)
		return got.State == "WILCO"
	})
	_, got := call(a, "GET", "/api/v1/orders/"+o.ID, nil)
	for _, h := range got.History {
		if h.To == "CANTCO" {
			t.Errorf("the refused change is in the order's history: %+v", got.History)
		}
	}
}

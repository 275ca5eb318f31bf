package node

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"kizuna/internal/taktest"
)

type wsMsg struct {
	Type    string `json:"type"`
	UID     string `json:"uid"`
	Objects []struct {
		UID string `json:"uid"`
	} `json:"objects"`
	Object struct {
		UID   string `json:"uid"`
		SIDC  string `json:"sidc"`
		Label struct {
			Classification string `json:"classification"`
		} `json:"label"`
	} `json:"object"`
}

// TestWebSocketStream: a snapshot, then upserts and deletes, all filtered
// by the HTTP listener's principal.
func TestWebSocketStream(t *testing.T) {
	n := startNode(t, baseConfig([]string{"USA:SECRET"}, []string{"JPN:SECRET"}))
	usa := dial(t, addrOf(t, n, KindCoTTCP, ""))
	usa.SendEvent(event("ws-before", "a-f-G-U-C", `access="S" releasableTo="JPN"`))
	taktest.WaitUntil(t, "object", 2*time.Second, func() bool { _, ok := n.Picture().Get("ws-before"); return ok })

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+addrOf(t, n, KindHTTP, "")+"/api/v1/stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	msgs := make(chan wsMsg, 100)
	go func() {
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				close(msgs)
				return
			}
			for _, line := range strings.Split(string(b), "\n") {
				var m wsMsg
				if json.Unmarshal([]byte(line), &m) == nil {
					msgs <- m
				}
			}
		}
	}()
	next := func(what string, pred func(wsMsg) bool) wsMsg {
		t.Helper()
		for {
			select {
			case m, ok := <-msgs:
				if !ok {
					t.Fatalf("stream closed waiting for %s", what)
				}
				if pred(m) {
					return m
				}
				if m.Type == "upsert" && strings.HasPrefix(m.Object.UID, "ws-usa-only") {
					t.Fatalf("USA-only object streamed to JPN")
				}
			case <-ctx.Done():
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	snap := next("snapshot", func(m wsMsg) bool { return m.Type == "snapshot" })
	if len(snap.Objects) != 1 || snap.Objects[0].UID != "ws-before" {
		t.Errorf("snapshot = %+v", snap.Objects)
	}
	usa.SendEvent(event("ws-usa-only", "a-f-G-U-C", `access="S"`))
	usa.SendEvent(event("ws-new", "a-h-G", `access="S" releasableTo="JPN"`))
	up := next("upsert", func(m wsMsg) bool { return m.Type == "upsert" && m.Object.UID == "ws-new" })
	if up.Object.SIDC != "SHGP-----------" || up.Object.Label.Classification != "SECRET" {
		t.Errorf("upsert = %+v", up.Object)
	}
	del := event("ws-del", "t-x-d-d", `access="S" releasableTo="JPN"`)
	del.Detail = []byte(`<link uid="ws-new" relation="none" type="none"/>`)
	usa.SendEvent(del)
	next("delete", func(m wsMsg) bool { return m.Type == "delete" && m.UID == "ws-new" })
}

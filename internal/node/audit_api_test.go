package node

import (
	"testing"
	"time"

	"kizuna/internal/taktest"
)

func TestAuditHead(t *testing.T) {
	n := startNode(t, baseConfig([]string{"USA:SECRET"}, []string{"USA:SECRET", "JPN:SECRET"}))
	var head struct {
		Seq  uint64 `json:"seq"`
		Hash string `json:"hash"`
	}
	if code := getJSON(t, "http://"+addrOf(t, n, KindHTTP, "USA:SECRET")+"/api/v1/audit/head", &head); code != 200 {
		t.Fatalf("status %d", code)
	}
	if head.Seq == 0 || len(head.Hash) != 64 {
		t.Errorf("head = %+v", head)
	}
	// Connecting is audited: the head moves.
	c := dial(t, addrOf(t, n, KindCoTTCP, ""))
	c.SendEvent(event("x", "a-f-G", ""))
	taktest.WaitUntil(t, "head to advance", 5*time.Second, func() bool {
		var h2 struct{ Seq uint64 }
		getJSON(t, "http://"+addrOf(t, n, KindHTTP, "USA:SECRET")+"/api/v1/audit/head", &h2)
		return h2.Seq > head.Seq
	})
	if code := getJSON(t, "http://"+addrOf(t, n, KindHTTP, "JPN:SECRET")+"/api/v1/audit/head", nil); code != 404 {
		t.Errorf("foreign principal got status %d", code)
	}
}

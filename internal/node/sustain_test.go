package node

import (
	"bytes"
	"fmt"
	"net/http"
	"syscall"
	"testing"
	"time"

	"kizuna/internal/taktest"
)

// TestSustainmentSurvivesKill: every movement the REST API acknowledged
// (201) before a SIGKILL is in the ledger after a restart, and the ledger
// still proves conservation. Balances are label-filtered per listener.
func TestSustainmentSurvivesKill(t *testing.T) {
	dir := t.TempDir()
	cmd := taktest.StartChild(t, childEnv+"="+dir, "-test.run=^$")
	ls := taktest.Listeners[ListenerInfo](t, dir, 2, 20*time.Second)
	base := "http://" + ls[1].Addr + "/api/v1/sustainment/"
	post := func(path, body string) int {
		t.Helper()
		resp, err := http.Post(base+path, "application/json", bytes.NewBufferString(body))
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	taktest.WaitUntil(t, "sustainment API", 20*time.Second, func() bool {
		return post("locations", `{"id":"depot","kind":"depot","label":{"classification":"SECRET","releasableTo":["JPN"]}}`) == http.StatusCreated
	})
	acked := 0
	for i := 0; i < 40; i++ {
		body := fmt.Sprintf(`{"item":"SM-6","from":"PRODUCTION","to":"depot","quantity":%d,"reason":"production-acceptance","label":{"classification":"SECRET","releasableTo":["JPN"]}}`, i+1)
		if post("movements", body) != http.StatusCreated {
			t.Fatalf("movement %d refused", i)
		}
		acked += i + 1
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	cfg := baseConfig(nil, []string{"JPN:SECRET", "KOR:SECRET"})
	cfg.DataDir = dir
	cfg.NodeID = "crash-node"
	n := startNode(t, cfg)
	var st struct {
		Stocks []struct {
			Item     string `json:"item"`
			Quantity int64  `json:"quantity"`
		} `json:"stocks"`
	}
	taktest.WaitUntil(t, "sustainment after restart", 20*time.Second, func() bool {
		return getJSON(t, "http://"+addrOf(t, n, KindHTTP, "JPN:SECRET")+"/api/v1/sustainment/stocks", &st) == http.StatusOK
	})
	if len(st.Stocks) != 1 || st.Stocks[0].Quantity != int64(acked) {
		t.Fatalf("after the kill JPN sees %+v, want %d acknowledged", st.Stocks, acked)
	}
	st.Stocks = nil
	getJSON(t, "http://"+addrOf(t, n, KindHTTP, "KOR:SECRET")+"/api/v1/sustainment/stocks", &st)
	if len(st.Stocks) != 0 {
		t.Fatalf("KOR sees %+v", st.Stocks)
	}
	if err := n.Sustainment().Verify(); err != nil {
		t.Fatal(err)
	}
}

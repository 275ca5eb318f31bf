package node

import (
	"context"
	"testing"
	"time"

	"kizuna/internal/taktest"
)

// TestHistoryThinning: frequent reports of one uid keep the live object
// current but add one history row per history interval; a change of type
// always adds a row.
func TestHistoryThinning(t *testing.T) {
	cfg := baseConfig([]string{"USA:SECRET"}, []string{"USA:SECRET"})
	cfg.HistoryInterval = Duration(time.Hour)
	n := startNode(t, cfg)
	c := dial(t, addrOf(t, n, KindCoTTCP, ""))
	for i := 0; i < 10; i++ {
		ev := event("thin", "a-f-G-U-C", "")
		ev.Point.Lat = float64(i)
		c.SendEvent(ev)
	}
	c.SendEvent(event("thin", "a-h-G", ""))
	taktest.WaitUntil(t, "last report", 5*time.Second, func() bool {
		m, ok := n.Picture().Get("thin")
		return ok && m.Event.Type == "a-h-G"
	})
	n.store.Flush(context.Background())
	rows, err := n.store.History(context.Background(), "thin", time.Time{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Type != "a-f-G-U-C" || rows[1].Type != "a-h-G" {
		t.Errorf("history rows = %d %v", len(rows), rows)
	}
}

package node

import (
	"fmt"
	"net"
	"testing"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/taktest"
)

// TestSlowConsumer: one client never reads. Everyone else keeps receiving
// on time; the stalled client first loses superseded position updates and
// is then disconnected and counted.
func TestSlowConsumer(t *testing.T) {
	cfg := baseConfig([]string{"USA:SECRET", "JPN:SECRET"}, []string{"USA:SECRET"})
	cfg.QueueSize = 256
	// A stalled write would hold its writer this long: if the stalled
	// client could delay anyone else, the fast client would see it.
	cfg.WriteTimeout = Duration(30 * time.Second)
	n := startNode(t, cfg)
	usaAddr, jpnAddr := addrOf(t, n, KindCoTTCP, "USA:SECRET"), addrOf(t, n, KindCoTTCP, "JPN:SECRET")
	h := addrOf(t, n, KindHTTP, "")

	// The stalled client: connects, shrinks its receive window, never reads.
	stalled, err := net.Dial("tcp", jpnAddr)
	if err != nil {
		t.Fatal(err)
	}
	stalled.(*net.TCPConn).SetReadBuffer(4096)
	t.Cleanup(func() { stalled.Close() })
	fast := dial(t, jpnAddr)
	fast.Expect("offer", func(e *cot.Event) bool { return e.Type == "t-x-takp-v" }, 5*time.Second)
	pub := dial(t, usaAddr)

	pad := make([]byte, 2000)
	for i := range pad {
		pad[i] = 'x'
	}
	send := func(uid string) time.Time {
		ev := event(uid, "a-f-G-U-C", `access="S" releasableTo="JPN"`)
		ev.Detail = append(ev.Detail, fmt.Sprintf(`<remarks>%s</remarks>`, pad)...)
		now := time.Now()
		pub.SendEvent(ev)
		return now
	}

	// Phase 1: a few uids updated over and over. The stalled queue sheds
	// superseded updates; the fast client sees every update promptly.
	var worst time.Duration
	for i := 0; i < 3000; i++ {
		uid := fmt.Sprintf("unit-%d", i%8)
		sent := send(uid)
		if i%100 == 99 {
			fast.Expect(uid, isUID(uid), 5*time.Second)
			if d := time.Since(sent); d > worst {
				worst = d
			}
		}
	}
	taktest.WaitUntil(t, "superseded updates shed", 5*time.Second, func() bool {
		return taktest.Metric(t, h, `kizuna_queue_drops_total{kind="superseded"}`) > 0
	})
	// Phase 2: every update a new uid, so nothing can be shed: the stalled
	// client is disconnected while the fast one goes on.
	for i := 0; i < 3000; i++ {
		uid := fmt.Sprintf("new-%d", i)
		sent := send(uid)
		if i%100 == 99 {
			fast.Expect(uid, isUID(uid), 5*time.Second)
			if d := time.Since(sent); d > worst {
				worst = d
			}
		}
	}
	taktest.WaitUntil(t, "slow consumer disconnected", 10*time.Second, func() bool {
		return taktest.Metric(t, h, `kizuna_queue_drops_total{kind="slow_consumer"}`) >= 1
	})
	// The disconnect is real: the node holds only the other two
	// connections and subscribers.
	taktest.WaitUntil(t, "stalled connection gone", 10*time.Second, func() bool {
		return taktest.Metric(t, h, `kizuna_connections{listener="cot-tcp"}`) == 2 &&
			taktest.Metric(t, h, "kizuna_hub_subscribers") == 2
	})
	// "On time": far below the 30 s a stalled write could hold anything
	// up. (On an idle machine the worst sample is tens of milliseconds;
	// the bound leaves room for a loaded, race-instrumented test run.)
	if worst > 10*time.Second {
		t.Errorf("fast client's worst sampled delivery took %v", worst)
	}
	t.Logf("worst sampled delivery to the fast client: %v", worst)
}

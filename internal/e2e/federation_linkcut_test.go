package e2e

import (
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/taktest"
	"kizuna/internal/topology"
)

var versionRE = regexp.MustCompile(`<remarks>v(\d+)</remarks>`)

func version(e *cot.Event) int {
	m := versionRE.FindSubmatch(e.Detail)
	if m == nil {
		return -1
	}
	v, _ := strconv.Atoi(string(m[1]))
	return v
}

// TestFederationLinkCut: the JPN–USA link is cut in the middle of a
// stream and restored. Every message published at JPN reaches the KOR
// client exactly once; position reports are never delivered twice, the
// newest of each uid arrives, and older ones were compacted while the link
// was down.
func TestFederationLinkCut(t *testing.T) {
	t.Parallel()
	var px *fedProxy
	specs := topology.Trilateral()
	specs[1].Configure = viaProxy(t, "usa-hub", &px)
	c := fedCluster(t, specs)
	fedLinksUp(t, c)
	jpnNode := c.Node("jpn-node")
	jpn, kor := fedDial(t, jpnNode), fedDial(t, c.Node("kor-node"))

	const msgs, positions = 300, 5
	rel := `access="SECRET" releasableTo="USA KOR"`
	lastVersion := map[string]int{}
	send := func(i int) {
		jpn.send(fedEvent(fmt.Sprintf("msg-%d", i), "b-m-p-s-m", rel, ""))
		uid := fmt.Sprintf("pos-%d", i%positions)
		jpn.send(fedEvent(uid, "a-f-G-U-C", rel, fmt.Sprintf("<remarks>v%d</remarks>", i)))
		lastVersion[uid] = i
	}
	for i := range 100 {
		send(i)
	}
	t.Logf("%v: cut", time.Now().Format("15:04:05.000"))
	px.Cut()
	taktest.WaitUntil(t, "JPN sees the link down", 10*time.Second, func() bool {
		return fedPeer(jpnNode.Federation().Status(), "usa-hub").State == "down"
	})
	for i := 100; i < 200; i++ {
		send(i)
	}
	// While down: all 100 messages queued, position reports compacted to
	// (at most) one per uid on top of what was queued before the cut.
	taktest.WaitUntil(t, "messages queued while down", 10*time.Second, func() bool {
		return fedPeer(jpnNode.Federation().Status(), "usa-hub").Queue >= 100
	})
	if q := fedPeer(jpnNode.Federation().Status(), "usa-hub").Queue; q > 100+2*positions+100 {
		t.Errorf("queue %d while down: superseded positions not compacted", q)
	}
	t.Logf("%v: restoring", time.Now().Format("15:04:05.000"))
	px.Restore()
	for i := 200; i < msgs; i++ {
		send(i)
	}
	jpn.send(fedEvent("end-marker", "b-m-p-s-m", rel, ""))

	got := kor.collectUntil("end-marker", 30*time.Second)
	t.Logf("%v: end marker", time.Now().Format("15:04:05.000"))
	got = append(got, kor.collect(300*time.Millisecond)...) // anything late would be a duplicate
	count := map[string]int{}
	seenVersion := map[string]map[int]int{}
	newest := map[string]int{}
	for _, e := range got {
		count[e.UID]++
		if v := version(e); v >= 0 {
			if seenVersion[e.UID] == nil {
				seenVersion[e.UID] = map[int]int{}
			}
			seenVersion[e.UID][v]++
			newest[e.UID] = max(newest[e.UID], v)
		}
	}
	for i := range msgs {
		if n := count[fmt.Sprintf("msg-%d", i)]; n != 1 {
			t.Errorf("msg-%d delivered %d times", i, n)
		}
	}
	for uid, vs := range seenVersion {
		for v, n := range vs {
			if n != 1 {
				t.Errorf("%s v%d delivered %d times", uid, v, n)
			}
		}
	}
	for uid, v := range lastVersion {
		if newest[uid] != v {
			t.Errorf("%s: newest delivered v%d, want v%d", uid, newest[uid], v)
		}
	}
	st := fedPeer(jpnNode.Federation().Status(), "usa-hub")
	if st.State != "up" || st.Connects < 2 {
		t.Errorf("after restore: %+v", st)
	}
	taktest.WaitUntil(t, "queue drained", 10*time.Second, func() bool {
		return fedPeer(jpnNode.Federation().Status(), "usa-hub").Queue == 0
	})
}

// TestFederationFlashFirst: while the JPN–USA link is down, routine
// events queue at JPN; a missile warning published after them is the
// first thing the hub's clients get when the link comes back.
func TestFederationFlashFirst(t *testing.T) {
	t.Parallel()
	var px *fedProxy
	specs := topology.Trilateral()[:2]
	specs[1].Configure = viaProxy(t, "usa-hub", &px)
	c := fedCluster(t, specs)
	fedLinksUp(t, c)
	jpnNode := c.Node("jpn-node")
	jpn, usa := fedDial(t, jpnNode), fedDial(t, c.Node("usa-hub"))
	watch := fedDial(t, jpnNode) // sees what the JPN node accepted
	px.Cut()
	taktest.WaitUntil(t, "link down", 10*time.Second, func() bool {
		return fedPeer(jpnNode.Federation().Status(), "usa-hub").State == "down"
	})
	const routine = 500
	rel := `access="SECRET" releasableTo="USA"`
	for i := range routine {
		jpn.send(fedEvent(fmt.Sprintf("queued-%d", i), "b-m-p-s-m", rel, ""))
	}
	jpn.send(fedEvent("tbm-launch", "b-d-l", rel, ""))
	// The node hands an event to federation before its own clients get
	// it, so once a local client has the warning it is queued too. The
	// queue may also hold the missions catch-up request that the node
	// sends shortly after a link comes up (a message no client sees).
	watch.expect("the warning accepted at JPN", func(e *cot.Event) bool { return e.UID == "tbm-launch" }, 10*time.Second)
	taktest.WaitUntil(t, "all queued", 10*time.Second, func() bool {
		return fedPeer(jpnNode.Federation().Status(), "usa-hub").Queue >= routine+1
	})
	px.Restore()
	got := usa.collectUntil("queued-499", 30*time.Second)
	first := -1
	for i, e := range got {
		if e.UID == "tbm-launch" {
			first = i
		}
	}
	if first != 0 {
		t.Fatalf("launch warning arrived in position %d of %d, want first", first, len(got))
	}
}

package node

import (
	"testing"
	"time"

	"kizuna/internal/taktest"
)

// TestFederationWithheldFirst: events queued while a link is down are
// checked against the peer's nation when they are sent; when every event
// sent after the connect is withheld, none is acknowledged. The link must
// still carry the next releasable event (it used to wait for an
// acknowledgement that never came).
func TestFederationWithheldFirst(t *testing.T) {
	t.Parallel()
	tp := newTestPKI(t, "USA", "JPN", "KOR")
	jpn := partnerNode(t, tp, "JPN", "jpn-node", "usa-node", "")
	sender := dial(t, addrOf(t, jpn, KindCoTTCP, "JPN:SECRET"))
	// Queued for usa-node before its nation is known; not releasable to it.
	sender.SendEvent(event("kor-only", "a-f-G-U-C", `access="SECRET" releasableTo="KOR"`))
	taktest.WaitUntil(t, "the event queued for the link", 10*time.Second, func() bool {
		return jpn.Federation().Status().Peers[0].Queue == 1
	})

	usa := partnerNode(t, tp, "USA", "usa-node", "jpn-node", jpn.Addr(KindFederation))
	watcher := dial(t, addrOf(t, usa, KindCoTTCP, "USA:SECRET"))
	taktest.WaitUntil(t, "the queued event withheld at send time", 20*time.Second, func() bool {
		p := jpn.Federation().Status().Peers[0]
		return p.State == "up" && p.Withheld == 1
	})
	sender.SendEvent(event("for-usa", "a-f-G-U-C", `access="SECRET" releasableTo="USA"`))
	watcher.Expect("the next releasable event", isUID("for-usa"), 15*time.Second)
}

package node_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"kizuna/internal/label"
	"kizuna/internal/node"
	"kizuna/internal/sustain"
	"kizuna/internal/taktest"
	"kizuna/internal/topology"
)

// sustainOrbat gives each nation one command whose J4 holds a national
// position: the approvers of national stock.
const sustainOrbat = `{"units":[
	{"id":"usa-cmd","nation":"USA","echelon":"CCMD","name":"USA command","positions":[{"name":"usa-j4","national":true}]},
	{"id":"jpn-cmd","nation":"JPN","echelon":"CCMD","name":"JPN command","positions":[{"name":"jpn-j4","national":true}]},
	{"id":"kor-cmd","nation":"KOR","echelon":"CCMD","name":"KOR command","positions":[{"name":"kor-j4","national":true}]}]}`

// TestSustainmentFederatedTransfer: a transfer from a US depot on the USA
// hub to a JPN battery on the JPN node crosses the real federation link,
// with the approvers decided by each node's chain of command. The JPN
// link is cut after the shipment; JPN receives during the cut; after the
// link is restored the USA hub settles the shipment. Each ledger moved the
// stock exactly once, both prove conservation, and the KOR node never
// learns of the transfer.
func TestSustainmentFederatedTransfer(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts three federated nodes")
	}
	orbat := func(c *node.Config) { c.OrbatData = []byte(sustainOrbat) }
	specs := []topology.NodeSpec{
		{ID: "usa-hub", Nation: "USA", Configure: orbat, Peers: []topology.Peer{{Name: "jpn-node", Classification: "SECRET"}, {Name: "kor-node", Classification: "SECRET"}}},
		{ID: "jpn-node", Nation: "JPN", Configure: orbat, Peers: []topology.Peer{{Name: "usa-hub", Dial: true, Classification: "SECRET", Cuttable: true}}},
		{ID: "kor-node", Nation: "KOR", Configure: orbat, Peers: []topology.Peer{{Name: "usa-hub", Dial: true, Classification: "SECRET"}}},
	}
	c := startTopology(t, t.TempDir(), specs)
	linksUp := func(n *node.Node, want int) bool { return n.Federation().Status().Up() == want }
	const wait = 30 * time.Second
	taktest.WaitUntil(t, "links up", wait, func() bool { return linksUp(c.Node("usa-hub"), 2) })
	usa, jpn, kor := c.Node("usa-hub").Sustainment(), c.Node("jpn-node").Sustainment(), c.Node("kor-node").Sustainment()
	usaJ4 := label.Principal{Nation: "USA", Clearance: label.Secret, Name: "usa-j4"}
	jpnJ4 := label.Principal{Nation: "JPN", Clearance: label.Secret, Name: "jpn-j4"}
	usaClerk := label.Principal{Nation: "USA", Clearance: label.Secret, Name: "clerk", Role: "commander"}
	rel := label.Label{Classification: label.Secret, Originator: "USA", ReleasableTo: []string{"JPN"}}
	ctx := context.Background()
	if _, err := usa.PutLocation(ctx, usaJ4, sustain.Location{ID: "usa-depot", Kind: sustain.Depot, Lat: 26.3, Lon: 127.7, Label: rel}); err != nil {
		t.Fatal(err)
	}
	if _, err := jpn.PutLocation(ctx, jpnJ4, sustain.Location{ID: "jpn-btry", Kind: sustain.Battery, Lat: 35.7, Lon: 139.5,
		Label: label.Label{Classification: label.Secret, Originator: "JPN", ReleasableTo: []string{"USA"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := usa.Record(ctx, usaJ4, sustain.Movement{Item: "PAC-3 MSE", From: sustain.Source, To: "usa-depot", Quantity: 10, Reason: sustain.Production, Label: rel}); err != nil {
		t.Fatal(err)
	}
	tr, err := usa.RequestTransfer(ctx, usaJ4, sustain.TransferRequest{Item: "PAC-3 MSE", Quantity: 4, From: "usa-depot", To: "jpn-btry", ToNation: "JPN", Label: rel})
	if err != nil {
		t.Fatal(err)
	}
	state := func(s *sustain.Service, p label.Principal) sustain.TransferState {
		got, err := s.Transfer(p, tr.ID)
		if err != nil {
			return ""
		}
		return got.State
	}
	taktest.WaitUntil(t, "the request on the JPN node", wait, func() bool { return state(jpn, jpnJ4) == sustain.Requested })
	// The chain of command decides who approves: a commander's role is
	// not enough, nor is the anonymous listener principal over REST.
	if _, err := usa.Act(ctx, usaClerk, tr.ID, sustain.ActApprove, ""); !errors.Is(err, sustain.ErrRefused) {
		t.Fatalf("a clerk with no position approved: %v", err)
	}
	req, _ := http.NewRequest("POST", "http://"+c.Node("usa-hub").Addr(node.KindHTTP)+"/api/v1/sustainment/transfers/"+tr.ID+"/approve", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("anonymous approval over REST: %v %v", resp, err)
	} else {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if _, err := usa.Act(ctx, usaJ4, tr.ID, sustain.ActApprove, "export licence"); err != nil {
		t.Fatal(err)
	}
	if _, err := jpn.Act(ctx, jpnJ4, tr.ID, sustain.ActApprove, "receipt"); err != nil {
		t.Fatal(err)
	}
	taktest.WaitUntil(t, "approved on the USA hub", wait, func() bool { return state(usa, usaJ4) == sustain.Approved })
	if _, err := usa.Act(ctx, usaJ4, tr.ID, sustain.ActShip, ""); err != nil {
		t.Fatal(err)
	}
	taktest.WaitUntil(t, "shipped on the JPN node", wait, func() bool { return state(jpn, jpnJ4) == sustain.Shipped })

	// Cut the JPN link and receive on the JPN node.
	link := c.Link("jpn-node", "usa-hub")
	link.Cut()
	taktest.WaitUntil(t, "the JPN link down", wait, func() bool { return linksUp(c.Node("usa-hub"), 1) })
	for i := 0; i < 2; i++ {
		if _, err := jpn.Act(ctx, jpnJ4, tr.ID, sustain.ActReceive, "at the battery"); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := usa.Transfer(usaJ4, tr.ID); got.State != sustain.Shipped {
		t.Fatalf("the USA hub learnt the receipt through a cut link: %s", got.State)
	}
	link.Restore()
	taktest.WaitUntil(t, "received and settled on the USA hub", wait, func() bool {
		got, err := usa.Transfer(usaJ4, tr.ID)
		return err == nil && got.State == sustain.Received && got.Settled
	})
	usa.ResendTransfers()
	jpn.ResendTransfers()
	balance := func(s *sustain.Service, p label.Principal, loc, owner string) int64 {
		st, err := s.Balance(p, "PAC-3 MSE", loc, owner)
		if err != nil {
			return 0
		}
		return st.Quantity
	}
	if q := balance(usa, usaJ4, "usa-depot", "USA"); q != 6 {
		t.Fatalf("USA depot %d, want 6", q)
	}
	if q := balance(usa, usaJ4, "TRANSIT-USA-JPN", "USA"); q != 0 {
		t.Fatalf("USA transit %d", q)
	}
	if q := balance(jpn, jpnJ4, "jpn-btry", "JPN"); q != 4 {
		t.Fatalf("JPN battery %d, want 4", q)
	}
	count := func(s *sustain.Service, p label.Principal) (n int) {
		ms, _ := s.Movements(ctx, p, "PAC-3 MSE", "", 1000)
		for _, m := range ms {
			if m.Ref == tr.ID {
				n++
			}
		}
		return n
	}
	if u, j := count(usa, usaJ4), count(jpn, jpnJ4); u != 2 || j != 1 {
		t.Fatalf("movements of the transfer: USA %d (want ship and deliver), JPN %d (want one receipt)", u, j)
	}
	for _, s := range []*sustain.Service{usa, jpn} {
		if err := s.Verify(); err != nil {
			t.Fatal(err)
		}
	}
	korP := label.Principal{Nation: "KOR", Clearance: label.TopSecret}
	if ts := kor.Transfers(korP); len(ts) != 0 {
		t.Fatalf("KOR knows of transfers: %+v", ts)
	}
	for _, st := range kor.Stocks(korP, "", "") {
		if st.Owner == "USA" || strings.HasPrefix(st.Location, "usa-") {
			t.Fatalf("KOR sees a US stock: %+v", st)
		}
	}
}

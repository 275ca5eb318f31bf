package sustain

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/label"
	"kizuna/internal/taktest"
)

// fakeLink carries the federated transfer events one service publishes to
// another, as federation would after authenticating them: the label is
// the event's, its originator the publishing node's nation. Cut holds
// them back; Restore delivers what was held, each twice (a duplicate, as a
// resend after a link drop makes).
type fakeLink struct {
	mu        sync.Mutex
	from      string
	peer      *Service
	cut       bool
	held      []*cot.Event
	delivered int
}

func (f *fakeLink) Inject(ctx context.Context, ev *cot.Event) error {
	if ev.Type != FedType {
		return nil
	}
	f.mu.Lock()
	if f.cut || f.peer == nil {
		f.held = append(f.held, ev)
		f.mu.Unlock()
		return nil
	}
	f.delivered++
	peer := f.peer
	f.mu.Unlock()
	peer.RemoteTransfer(ctx, ev, eventLabel(ev), f.from)
	return nil
}

func (f *fakeLink) setCut(cut bool) {
	f.mu.Lock()
	f.cut = cut
	held := f.held
	if !cut {
		f.held = nil
	}
	peer := f.peer
	f.mu.Unlock()
	if cut {
		return
	}
	for _, ev := range held {
		for range 2 {
			peer.RemoteTransfer(context.Background(), ev, eventLabel(ev), f.from)
		}
	}
}

func (f *fakeLink) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.delivered
}

func eventLabel(ev *cot.Event) label.Label {
	c, _ := label.ParseClassification(ev.Access)
	l := label.Label{Classification: c, Caveat: ev.Caveat, Originator: ev.Origin.Nation}
	if ev.ReleasableTo != "" {
		l.ReleasableTo = strings.Fields(ev.ReleasableTo)
	}
	return l
}

// pair starts a USA and a JPN node's services linked both ways.
func pair(t *testing.T) (usa, jpn *Service, toJPN, toUSA *fakeLink) {
	t.Helper()
	toJPN, toUSA = &fakeLink{from: "usa-node"}, &fakeLink{from: "jpn-node"}
	usa = newService(t, Config{Nation: "USA", NodeID: "usa-node", Publisher: toJPN})
	jpn = newService(t, Config{Nation: "JPN", NodeID: "jpn-node", Publisher: toUSA})
	toJPN.mu.Lock()
	toJPN.peer = jpn
	toJPN.mu.Unlock()
	toUSA.mu.Lock()
	toUSA.peer = usa
	toUSA.mu.Unlock()
	ctx := context.Background()
	mustLoc(t, usa, usaP, "usa-depot", Depot, relTo("USA", "JPN"))
	mustLoc(t, jpn, jpnP, "jpn-btry", Battery, relTo("JPN", "USA"))
	if _, err := usa.Record(ctx, usaP, Movement{Item: "PAC-3 MSE", From: Source, To: "usa-depot", Quantity: 10, Reason: Production, Lot: "LM-1", Label: relTo("USA", "JPN")}); err != nil {
		t.Fatal(err)
	}
	return usa, jpn, toJPN, toUSA
}

func waitState(t *testing.T, s *Service, p label.Principal, id string, want TransferState) TransferRecord {
	t.Helper()
	var tr TransferRecord
	taktest.WaitUntil(t, string(want)+" on "+s.cfg.NodeID, 10*time.Second, func() bool {
		var err error
		tr, err = s.Transfer(p, id)
		return err == nil && tr.State == want
	})
	return tr
}

func qty(s *Service, p label.Principal, item, loc, owner string) int64 {
	st, err := s.Balance(p, item, loc, owner)
	if err != nil {
		return 0
	}
	return st.Quantity
}

func refMovements(t *testing.T, s *Service, p label.Principal, ref string) []Movement {
	t.Helper()
	ms, err := s.Movements(context.Background(), p, "", "", 10000)
	if err != nil {
		t.Fatal(err)
	}
	var out []Movement
	for _, m := range ms {
		if m.Ref == ref {
			out = append(out, m)
		}
	}
	return out
}

// TestFederatedTransfer: a transfer from a US depot on the USA node to a
// JPN battery on the JPN node. Each side approves on its own node, the
// receipt is recorded while the link is cut, and after the link is back
// (with every held event delivered twice and everything resent) each
// ledger moved the stock exactly once and still proves conservation.
func TestFederatedTransfer(t *testing.T) {
	usa, jpn, toJPN, toUSA := pair(t)
	ctx := context.Background()
	tr, err := usa.RequestTransfer(ctx, usaP, TransferRequest{Item: "PAC-3 MSE", Quantity: 4, From: "usa-depot", To: "jpn-btry", ToNation: "JPN",
		Expected: time.Now().Add(24 * time.Hour), Label: relTo("USA", "JPN")})
	if err != nil {
		t.Fatal(err)
	}
	if !tr.Federated || tr.ToNation != "JPN" {
		t.Fatalf("request: %+v", tr)
	}
	waitState(t, jpn, jpnP, tr.ID, Requested)
	refusals := []struct {
		name string
		s    *Service
		p    label.Principal
		act  TransferAction
		want error
	}{
		{"USA approves on the JPN node", jpn, usaP, ActApprove, ErrRefused},
		{"JPN approves on the USA node", usa, jpnP, ActApprove, ErrRefused},
		{"JPN ships", jpn, jpnP, ActShip, ErrRefused},
		{"KOR sees nothing", jpn, korP, ActApprove, ErrNotFound},
		{"USA ships before the receipt approval", usa, usaP, ActShip, ErrState},
	}
	for _, c := range refusals {
		t.Run(c.name, func(t *testing.T) {
			if _, err := c.s.Act(ctx, c.p, tr.ID, c.act, ""); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	if _, err := usa.Act(ctx, usaP, tr.ID, ActApprove, "export licence"); err != nil {
		t.Fatal(err)
	}
	if _, err := jpn.Act(ctx, jpnP, tr.ID, ActApprove, "receipt"); err != nil {
		t.Fatal(err)
	}
	waitState(t, usa, usaP, tr.ID, Approved)
	waitState(t, jpn, jpnP, tr.ID, Approved)
	if _, err := usa.Act(ctx, usaP, tr.ID, ActShip, "shipped"); err != nil {
		t.Fatal(err)
	}
	shipped := waitState(t, jpn, jpnP, tr.ID, Shipped)
	if len(shipped.Serials) != 4 {
		t.Fatalf("the JPN node knows serials %v", shipped.Serials)
	}

	// The link is cut; JPN receives on its own node.
	toJPN.setCut(true)
	toUSA.setCut(true)
	for i := 0; i < 3; i++ {
		if got, err := jpn.Act(ctx, jpnP, tr.ID, ActReceive, "received at the battery"); err != nil || got.State != Received {
			t.Fatalf("receive %d: %+v %v", i, got, err)
		}
	}
	if q := qty(jpn, jpnP, "PAC-3 MSE", "jpn-btry", "JPN"); q != 4 {
		t.Fatalf("JPN battery holds %d during the cut", q)
	}
	if got, _ := usa.Transfer(usaP, tr.ID); got.State != Shipped || qty(usa, usaP, "PAC-3 MSE", transitID(&got), "USA") != 4 {
		t.Fatalf("USA during the cut: %s, transit %d", got.State, qty(usa, usaP, "PAC-3 MSE", transitID(&got), "USA"))
	}

	// Back up: held events delivered twice, then everything resent.
	toJPN.setCut(false)
	toUSA.setCut(false)
	done := waitState(t, usa, usaP, tr.ID, Received)
	taktest.WaitUntil(t, "the USA side settled", 10*time.Second, func() bool {
		got, _ := usa.Transfer(usaP, tr.ID)
		return got.Settled
	})
	before := toUSA.count() + toJPN.count()
	usa.ResendTransfers()
	jpn.ResendTransfers()
	taktest.WaitUntil(t, "the resend delivered", 10*time.Second, func() bool { return toUSA.count()+toJPN.count() >= before+2 })
	if q := qty(usa, usaP, "PAC-3 MSE", "usa-depot", "USA"); q != 6 {
		t.Fatalf("USA depot holds %d, want 6", q)
	}
	if q := qty(usa, usaP, "PAC-3 MSE", transitID(&done), "USA"); q != 0 {
		t.Fatalf("USA transit holds %d", q)
	}
	if q := qty(jpn, jpnP, "PAC-3 MSE", "jpn-btry", "JPN"); q != 4 {
		t.Fatalf("JPN battery holds %d, want 4", q)
	}
	um, jm := refMovements(t, usa, usaP, tr.ID), refMovements(t, jpn, jpnP, tr.ID)
	if len(um) != 2 || um[0].To != Export || um[0].ToOwner != "JPN" || um[1].From != "usa-depot" {
		t.Fatalf("USA movements of the transfer: %+v", um)
	}
	if len(jm) != 1 || jm[0].From != Import || jm[0].FromOwner != "USA" || jm[0].ToOwner != "JPN" || len(jm[0].Serials) != 4 {
		t.Fatalf("JPN movements of the transfer: %+v", jm)
	}
	for _, s := range []*Service{usa, jpn} {
		if err := s.Verify(); err != nil {
			t.Fatalf("%s: %v", s.cfg.NodeID, err)
		}
	}
	// After a restart nothing moves again.
	usa2 := reopen(t, usa)
	toUSA.mu.Lock()
	toUSA.peer = usa2
	toUSA.mu.Unlock()
	b2 := toUSA.count()
	jpn.ResendTransfers()
	taktest.WaitUntil(t, "a resend to the restarted node", 10*time.Second, func() bool { return toUSA.count() > b2 })
	if len(refMovements(t, usa2, usaP, tr.ID)) != 2 || qty(usa2, usaP, "PAC-3 MSE", "usa-depot", "USA") != 6 {
		t.Fatal("the restarted USA node moved the stock again")
	}
}

// TestFederatedLateRejection: JPN rejects while the link is cut and USA
// ships; when the link is back the USA node returns the shipment, once.
func TestFederatedLateRejection(t *testing.T) {
	usa, jpn, toJPN, toUSA := pair(t)
	ctx := context.Background()
	tr, err := usa.RequestTransfer(ctx, usaP, TransferRequest{Item: "PAC-3 MSE", Quantity: 3, From: "usa-depot", To: "jpn-btry", ToNation: "JPN", Label: relTo("USA", "JPN")})
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, jpn, jpnP, tr.ID, Requested)
	usa.Act(ctx, usaP, tr.ID, ActApprove, "")
	jpn.Act(ctx, jpnP, tr.ID, ActApprove, "")
	waitState(t, usa, usaP, tr.ID, Approved)
	waitState(t, jpn, jpnP, tr.ID, Approved)
	toJPN.setCut(true)
	toUSA.setCut(true)
	if _, err := usa.Act(ctx, usaP, tr.ID, ActShip, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := jpn.Act(ctx, jpnP, tr.ID, ActReject, "no longer needed"); err != nil {
		t.Fatal(err)
	}
	toJPN.setCut(false)
	toUSA.setCut(false)
	got := waitState(t, usa, usaP, tr.ID, Rejected)
	taktest.WaitUntil(t, "the shipment returned", 10*time.Second, func() bool {
		got, _ = usa.Transfer(usaP, tr.ID)
		return got.Returned
	})
	if q := qty(usa, usaP, "PAC-3 MSE", "usa-depot", "USA"); q != 10 {
		t.Fatalf("USA depot holds %d after the return", q)
	}
	if _, err := jpn.Act(ctx, jpnP, tr.ID, ActReceive, ""); !errors.Is(err, ErrState) {
		t.Fatalf("receiving a rejected transfer: %v", err)
	}
	if q := qty(jpn, jpnP, "PAC-3 MSE", "jpn-btry", "JPN"); q != 0 {
		t.Fatalf("JPN battery holds %d", q)
	}
	for _, s := range []*Service{usa, jpn} {
		if err := s.Verify(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFederatedTransferForgery: a peer never speaks for a nation it is
// not, nor for this node's nation, nor claims the other side's facts.
func TestFederatedTransferForgery(t *testing.T) {
	usa, jpn, _, _ := pair(t)
	ctx := context.Background()
	tr, err := usa.RequestTransfer(ctx, usaP, TransferRequest{Item: "PAC-3 MSE", Quantity: 2, From: "usa-depot", To: "jpn-btry", ToNation: "JPN", Label: relTo("USA", "JPN")})
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, jpn, jpnP, tr.ID, Requested)
	jt, _ := jpn.Transfer(jpnP, tr.ID)
	// JPN's node claims the USA's export licence and shipment.
	forged := jt
	now := time.Now().UTC()
	forged.Export = &Approval{Nation: "USA", By: "USA:SECRET", At: now, Kind: "export-licence"}
	forged.Receipt = &Approval{Nation: "JPN", By: "JPN:SECRET", At: now, Kind: "receipt"}
	forged.Ship = &Approval{Nation: "USA", By: "USA:SECRET", At: now, Kind: "ship"}
	forged.Receive = &Approval{Nation: "JPN", By: "JPN:SECRET", At: now, Kind: "receive"}
	ev, err := jpn.fedEvent(&forged)
	if err != nil {
		t.Fatal(err)
	}
	jl := eventLabel(ev)
	cases := []struct {
		name string
		l    label.Label
		node string
		want error
	}{
		{"JPN claims the USA's facts", jl, "jpn-node", ErrRefused}, // the receipt of an unshipped transfer
		{"a KOR node relays it as its own", label.Label{Classification: label.Secret, Originator: "KOR", ReleasableTo: []string{"USA"}}, "kor-node", ErrRefused},
		{"the USA's own nation from a peer", label.Label{Classification: label.Secret, Originator: "USA", ReleasableTo: []string{"JPN"}}, "jpn-node", ErrRefused},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := usa.RemoteTransfer(ctx, ev, c.l, c.node); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	got, _ := usa.Transfer(usaP, tr.ID)
	if got.Export != nil || got.Ship != nil || got.Receive != nil || got.State != Requested {
		t.Fatalf("the USA node took forged facts: %+v", got)
	}
	if q := qty(usa, usaP, "PAC-3 MSE", "usa-depot", "USA"); q != 10 {
		t.Fatalf("USA depot holds %d", q)
	}
	// Without the receive claim, only JPN's own receipt approval is taken.
	forged.Receive = nil
	ev, _ = jpn.fedEvent(&forged)
	if err := usa.RemoteTransfer(ctx, ev, jl, "jpn-node"); err != nil {
		t.Fatal(err)
	}
	got, _ = usa.Transfer(usaP, tr.ID)
	if got.Export != nil || got.Ship != nil || got.Receipt == nil || got.State != Requested {
		t.Fatalf("after JPN's receipt approval the USA node holds %+v", got)
	}
	// A transfer to a location the receiving node does not hold is
	// rejected by that node.
	bad, err := usa.RequestTransfer(ctx, usaP, TransferRequest{Item: "PAC-3 MSE", Quantity: 1, From: "usa-depot", To: "jpn-nowhere", ToNation: "JPN", Label: relTo("USA", "JPN")})
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, usa, usaP, bad.ID, Rejected)
}

func TestParseFedRefusesJunk(t *testing.T) {
	for _, d := range []string{
		``,
		`<kizunaSustain>not json</kizunaSustain>`,
		`<kizunaSustain>{"node":"n","nation":"USA","transfer":{"id":"x"}}</kizunaSustain>`,
		`<kizunaSustain>{"node":"n","nation":"USA","transfer":{},"extra":1}</kizunaSustain>`,
	} {
		if _, err := parseFed([]byte(d)); !errors.Is(err, ErrInvalid) {
			t.Fatalf("%q: %v", d, err)
		}
	}
}

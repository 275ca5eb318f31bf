package sustain

import (
	"context"
	"errors"
	"testing"
	"time"

	"kizuna/internal/label"
)

// alliance sets up a JPN factory and depot, a USA depot and battery, and
// 8 PAC-3 MSE accepted from production into JPN stock.
func alliance(t *testing.T, s *Service) {
	t.Helper()
	ctx := context.Background()
	mustLoc(t, s, jpnP, "jpn-komaki", Factory, relTo("JPN", "USA"))
	mustLoc(t, s, usaP, "usa-kadena", Depot, relTo("USA", "JPN"))
	mustLoc(t, s, usaP, "usa-btry", Battery, relTo("USA", "JPN"))
	if _, err := s.Record(ctx, jpnP, Movement{Item: "PAC-3 MSE", From: Source, To: "jpn-komaki", Quantity: 8, Reason: Production, Lot: "MHI-01", Label: relTo("JPN", "USA")}); err != nil {
		t.Fatal(err)
	}
}

// TestTransferLifecycle: both approvals, ship, receive exactly once, the
// refusals for missing authority, and a retried receipt after a lost
// answer (as across a federation link drop).
func TestTransferLifecycle(t *testing.T) {
	s := newService(t, Config{})
	ctx := context.Background()
	alliance(t, s)
	tr, err := s.RequestTransfer(ctx, usaP, TransferRequest{Item: "PAC-3 MSE", Quantity: 6, From: "jpn-komaki", To: "usa-kadena",
		Expected: time.Now().Add(48 * time.Hour), Label: relTo("USA", "JPN")})
	if err != nil {
		t.Fatal(err)
	}
	operator := label.Principal{Nation: "JPN", Clearance: label.Secret, Role: "operator"}
	low := label.Principal{Nation: "JPN", Clearance: label.Confidential, Role: "commander"}
	refusals := []struct {
		name string
		p    label.Principal
		act  TransferAction
		want error
	}{
		{"a third nation approves", korP, ActApprove, ErrNotFound}, // not releasable to KOR: it does not exist for KOR
		{"an operator approves", operator, ActApprove, ErrRefused},
		{"an approver below the label", low, ActApprove, ErrNotFound},
		{"shipping before both approvals", jpnP, ActShip, ErrState},
		{"receiving before shipping", usaP, ActReceive, ErrState},
		{"the receiver ships", usaP, ActShip, ErrRefused},
	}
	for _, c := range refusals {
		t.Run(c.name, func(t *testing.T) {
			if _, err := s.Act(ctx, c.p, tr.ID, c.act, ""); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	if tr, err = s.Act(ctx, jpnP, tr.ID, ActApprove, "export licence E-1"); err != nil || tr.State != Requested || tr.Export == nil {
		t.Fatalf("export approval: %+v %v", tr, err)
	}
	if tr, err = s.Act(ctx, usaP, tr.ID, ActApprove, "receipt"); err != nil || tr.State != Approved || tr.Receipt == nil {
		t.Fatalf("receipt approval: %+v %v", tr, err)
	}
	// The forecast at the USA depot counts the approved transfer on its day.
	f, err := s.Forecast(usaP, "PAC-3 MSE", "usa-kadena", "USA", 5, 0)
	if err != nil || f.Points[2].Quantity != 6 || f.Points[0].Quantity != 0 {
		t.Fatalf("forecast: %+v %v", f.Points, err)
	}
	if tr, err = s.Act(ctx, jpnP, tr.ID, ActShip, ""); err != nil || tr.State != Shipped || len(tr.Serials) != 6 {
		t.Fatalf("ship: %+v %v", tr, err)
	}
	if st, _ := s.Balance(jpnP, "PAC-3 MSE", "jpn-komaki", "JPN"); st.Quantity != 2 {
		t.Fatalf("factory holds %d after shipping", st.Quantity)
	}
	// The receipt's answer is lost (link drop); the receiver retries.
	for i := 0; i < 3; i++ {
		tr, err = s.Act(ctx, usaP, tr.ID, ActReceive, "")
		if err != nil || tr.State != Received {
			t.Fatalf("receive %d: %+v %v", i, tr, err)
		}
	}
	ms, _ := s.Movements(ctx, usaP, "PAC-3 MSE", "usa-kadena", 100)
	if len(ms) != 1 || ms[0].FromOwner != "JPN" || ms[0].ToOwner != "USA" || ms[0].Quantity != 6 {
		t.Fatalf("ownership changed %d times: %+v", len(ms), ms)
	}
	if st, _ := s.Balance(usaP, "PAC-3 MSE", "usa-kadena", "USA"); st.Quantity != 6 {
		t.Fatalf("USA depot holds %d", st.Quantity)
	}
	if got := s.Stocks(korP, "", ""); len(got) != 0 {
		t.Fatalf("KOR sees stocks: %+v", got)
	}
	// After a restart the received transfer stays received and a retry
	// still changes nothing.
	s2 := reopen(t, s)
	if tr, err = s2.Act(ctx, usaP, tr.ID, ActReceive, ""); err != nil || tr.State != Received {
		t.Fatalf("receive after restart: %+v %v", tr, err)
	}
	if st, _ := s2.Balance(usaP, "PAC-3 MSE", "usa-kadena", "USA"); st.Quantity != 6 {
		t.Fatalf("after restart the USA depot holds %d", st.Quantity)
	}
	if err := s2.Verify(); err != nil {
		t.Fatal(err)
	}
	if len(tr.History) != 5 {
		t.Fatalf("history: %+v", tr.History)
	}
}

func TestTransferReject(t *testing.T) {
	s := newService(t, Config{})
	ctx := context.Background()
	alliance(t, s)
	tr, err := s.RequestTransfer(ctx, jpnP, TransferRequest{Item: "PAC-3 MSE", Quantity: 2, From: "jpn-komaki", To: "usa-kadena", Label: relTo("JPN", "USA")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RequestTransfer(ctx, korP, TransferRequest{Item: "PAC-3 MSE", Quantity: 2, From: "jpn-komaki", To: "usa-kadena"}); err == nil {
		t.Fatal("a third nation requested a transfer")
	}
	if _, err := s.RequestTransfer(ctx, jpnP, TransferRequest{Item: "PAC-3 MSE", Quantity: 2, From: "jpn-komaki", To: "usa-kadena", Label: relTo("JPN")}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a transfer hidden from its receiver: %v", err)
	}
	if tr, err = s.Act(ctx, usaP, tr.ID, ActReject, "no"); err != nil || tr.State != Rejected {
		t.Fatalf("reject: %+v %v", tr, err)
	}
	if _, err := s.Act(ctx, jpnP, tr.ID, ActApprove, ""); !errors.Is(err, ErrState) {
		t.Fatalf("approving a rejected transfer: %v", err)
	}
}

// TestAuthorizer: the optional chain-of-command check can refuse.
func TestAuthorizer(t *testing.T) {
	var asked []StockAuthority
	s := newService(t, Config{Authorize: func(_ context.Context, p label.Principal, a StockAuthority) error {
		asked = append(asked, a)
		if p.Name != "approved-officer" {
			return errors.New("no logistics authority")
		}
		return nil
	}})
	ctx := context.Background()
	alliance(t, s)
	tr, err := s.RequestTransfer(ctx, jpnP, TransferRequest{Item: "PAC-3 MSE", Quantity: 2, From: "jpn-komaki", To: "usa-kadena", Label: relTo("JPN", "USA")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Act(ctx, jpnP, tr.ID, ActApprove, ""); !errors.Is(err, ErrRefused) {
		t.Fatalf("approval without authority: %v", err)
	}
	ok := jpnP
	ok.Name = "approved-officer"
	if _, err := s.Act(ctx, ok, tr.ID, ActApprove, ""); err != nil {
		t.Fatal(err)
	}
	// The authority asked about is the sender's stock at the factory.
	if len(asked) != 2 || asked[1].Nation != "JPN" || asked[1].Location != "jpn-komaki" || asked[1].Action != "export-licence" {
		t.Fatalf("authority asked: %+v", asked)
	}
	// Without an authorizer the roles decide; with one, a role is not enough.
	operator := label.Principal{Nation: "USA", Clearance: label.Secret, Name: "approved-officer", Role: "operator"}
	if _, err := s.Act(ctx, operator, tr.ID, ActApprove, ""); err != nil {
		t.Fatalf("the chain of command's approver refused for its role: %v", err)
	}
}

func reopen(t *testing.T, s *Service) *Service {
	t.Helper()
	cfg := s.cfg
	s.Stop(context.Background())
	return newService(t, cfg)
}

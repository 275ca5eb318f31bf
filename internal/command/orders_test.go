package command

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"kizuna/internal/label"
	"kizuna/internal/store"
)

func TestCanMove(t *testing.T) {
	legal := map[[2]State]bool{}
	for from, tos := range transitions {
		for _, to := range tos {
			legal[[2]State{from, to}] = true
		}
	}
	all := []State{Issued, Delivered, Acknowledged, Wilco, Cantco, Executing, Complete, Failed, Cancelled, Expired}
	// The lifecycle of the issue, spelled out.
	want := [][2]State{
		{Issued, Delivered}, {Delivered, Acknowledged}, {Acknowledged, Wilco}, {Acknowledged, Cantco},
		{Wilco, Executing}, {Executing, Complete}, {Executing, Failed},
		{Issued, Cancelled}, {Delivered, Cancelled}, {Acknowledged, Cancelled}, {Wilco, Cancelled}, {Executing, Cancelled},
		{Issued, Expired}, {Delivered, Expired}, {Acknowledged, Expired},
	}
	for _, w := range want {
		if !CanMove(w[0], w[1]) {
			t.Errorf("%s→%s should be legal", w[0], w[1])
		}
	}
	illegal := [][2]State{
		{Complete, Executing}, {Cantco, Wilco}, {Cancelled, Issued}, {Expired, Wilco}, {Wilco, Acknowledged},
		{Executing, Wilco}, {Issued, Executing}, {Issued, Complete}, {Failed, Complete}, {Delivered, Issued},
		// The deadline is the reply-by time: an order the recipient has
		// accepted (WILCO) or is carrying out never expires. The old
		// lifecycle let an executing order expire.
		{Wilco, Expired}, {Executing, Expired},
	}
	for _, w := range illegal {
		if CanMove(w[0], w[1]) {
			t.Errorf("%s→%s should be illegal", w[0], w[1])
		}
	}
	for _, s := range []State{Cantco, Complete, Failed, Cancelled, Expired} {
		if !s.Terminal() {
			t.Errorf("%s should be terminal", s)
		}
		for _, to := range all {
			if CanMove(s, to) {
				t.Errorf("terminal %s→%s", s, to)
			}
		}
	}
}

func issueTask(t *testing.T, h *harness) *Order {
	t.Helper()
	return mustIssue(t, h.s, usa, IssueRequest{As: "usfj", Recipient: "12mlr", Type: "TASK", Text: "Establish a NSM battery on Miyako", DeadlineIn: "4h",
		Location: &Location{Area: []LatLon{{Lat: 24.7, Lon: 125.2}, {Lat: 24.8, Lon: 125.3}, {Lat: 24.7, Lon: 125.4}}}})
}

func TestLifecycleAPI(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, nil)
	o := issueTask(t, h)
	steps := []struct {
		to     State
		reason string
	}{{Acknowledged, ""}, {Wilco, ""}, {Executing, ""}, {Complete, "battery in position"}}
	for i, st := range steps {
		h.clock.Advance(time.Minute)
		got, err := h.s.Respond(ctx, usa, "12mlr", o.ID, st.to, st.reason)
		if err != nil {
			t.Fatalf("%s: %v", st.to, err)
		}
		if got.State != st.to {
			t.Fatalf("state %s want %s", got.State, st.to)
		}
		last := got.History[len(got.History)-1]
		if last.To != st.to || last.Unit != "12mlr" || last.By != usa.String() || !last.At.Equal(t0.Add(time.Duration(i+1)*time.Minute)) || last.Via != "api" {
			t.Fatalf("history entry %+v", last)
		}
	}
	// Terminal: nothing moves it any more.
	if _, err := h.s.Cancel(ctx, usa, "usfj", o.ID, "late"); !errors.Is(err, ErrIllegalTransition) {
		t.Fatalf("cancel after COMPLETE: %v", err)
	}
	if _, err := h.s.Respond(ctx, usa, "12mlr", o.ID, Wilco, ""); !errors.Is(err, ErrIllegalTransition) {
		t.Fatalf("WILCO after COMPLETE: %v", err)
	}
	full, _ := h.s.Order(usa, o.ID)
	if len(full.History) != 5 {
		t.Fatalf("history %+v", full.History)
	}
	// Every transition and the refusals are audited.
	var allows, denies int
	for _, r := range h.audit.find("order.transition", o.ID) {
		if r.Decision == "allow" {
			allows++
		} else {
			denies++
		}
	}
	if allows != 5 || denies != 2 {
		t.Fatalf("transition audit: %d allow, %d deny", allows, denies)
	}
	// Recipient commitments re-check authority, and that is audited too.
	if n := len(h.audit.find("order.authority", o.ID)); n != 3 {
		t.Fatalf("%d authority rechecks audited, want 3 (ACK, WILCO, EXECUTING)", n)
	}
}

func TestLifecycleRefusals(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, nil)
	o := issueTask(t, h)
	if _, err := h.s.Respond(ctx, usa, "12mlr", o.ID, Cantco, ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("CANTCO without reason: %v", err)
	}
	if _, err := h.s.Respond(ctx, usa, "12mlr", o.ID, Executing, ""); !errors.Is(err, ErrIllegalTransition) {
		t.Errorf("ISSUED→EXECUTING: %v", err)
	}
	if _, err := h.s.Respond(ctx, usa, "usfj", o.ID, Wilco, ""); !errors.Is(err, ErrNoPosition) {
		t.Errorf("issuer answering its own order: %v", err)
	}
	if _, err := h.s.Respond(ctx, jpn, "", o.ID, Wilco, ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("JPN answering a USA-only order: %v", err)
	}
	if _, err := h.s.Respond(ctx, usa, "12mlr", o.ID, Cancelled, ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("recipient cancelling: %v", err)
	}
	if _, err := h.s.Cancel(ctx, usa, "12mlr", o.ID, ""); RuleOf(err) != RuleCancel {
		t.Errorf("recipient cancelling: %v", err)
	}
	got, err := h.s.Respond(ctx, usa, "12mlr", o.ID, Cantco, "no transport")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != Cantco || got.StateReason != "no transport" {
		t.Fatalf("%+v", got)
	}
	// The issuer's devices hear about it (USFJ has one device).
	found := false
	for _, ev := range h.pub.to("USFJ-1") {
		if strings.Contains(string(ev.Detail), "ORDER "+o.ID+" CANTCO by 12mlr no transport") {
			found = true
		}
	}
	if !found {
		t.Error("USFJ devices not told of the CANTCO")
	}
}

func TestCancel(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, nil)
	o := issueTask(t, h)
	if _, err := h.s.Respond(ctx, usa, "12mlr", o.ID, Wilco, ""); err != nil {
		t.Fatal(err)
	}
	got, err := h.s.Cancel(ctx, usa, "usfj", o.ID, "situation changed")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != Cancelled || got.StateReason != "situation changed" {
		t.Fatalf("%+v", got)
	}
	found := false
	for _, ev := range h.pub.to("12MLR-1") {
		if strings.Contains(string(ev.Detail), "ORDER "+o.ID+" CANCELLED: situation changed") {
			found = true
		}
	}
	if !found {
		t.Error("recipient devices not told of the cancellation")
	}
}

func TestExpiry(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, nil)
	open := issueTask(t, h)
	done := issueTask(t, h)
	if _, err := h.s.Respond(ctx, usa, "12mlr", done.ID, Cantco, "no"); err != nil {
		t.Fatal(err)
	}
	h.s.expireDue(ctx)
	if o, _ := h.s.Order(usa, open.ID); o.State != Issued {
		t.Fatalf("expired before the deadline: %s", o.State)
	}
	h.clock.Advance(4 * time.Hour)
	h.run(t) // Run's ticker expires it
	eventually(t, "EXPIRED", func() bool { o, _ := h.s.Order(usa, open.ID); return o.State == Expired })
	o, _ := h.s.Order(usa, open.ID)
	last := o.History[len(o.History)-1]
	if last.By != "system" || last.Via != "system" || !last.At.Equal(t0.Add(4*time.Hour)) {
		t.Fatalf("expiry entry %+v", last)
	}
	if o, _ := h.s.Order(usa, done.ID); o.State != Cantco {
		t.Fatalf("terminal order expired: %s", o.State)
	}
}

func TestIssueValidation(t *testing.T) {
	h := newHarness(t, nil)
	base := IssueRequest{As: "usfj", Recipient: "12mlr", Type: "TASK", Text: "x", DeadlineIn: "1h"}
	tests := []struct {
		name string
		mod  func(r *IssueRequest)
		want error
	}{
		{"no text", func(r *IssueRequest) { r.Text = " " }, ErrInvalid},
		{"bad type", func(r *IssueRequest) { r.Type = "NUKE" }, ErrInvalid},
		{"no deadline", func(r *IssueRequest) { r.DeadlineIn = "" }, ErrInvalid},
		{"past deadline", func(r *IssueRequest) { r.DeadlineIn = ""; r.Deadline = t0.Add(-time.Minute) }, ErrInvalid},
		{"bad location", func(r *IssueRequest) { r.Location = &Location{Point: &LatLon{Lat: 91}} }, ErrInvalid},
		{"two locations", func(r *IssueRequest) {
			r.Location = &Location{Point: &LatLon{}, Route: []LatLon{{}, {Lat: 1}}}
		}, ErrInvalid},
		{"above clearance", func(r *IssueRequest) { r.Classification = "TOP SECRET" }, ErrInvalid},
		{"label excludes recipient", func(r *IssueRequest) { r.Recipient = "12mlr"; r.As = "usfj"; r.ReleasableTo = []string{"JPN"} }, nil},
		{"unknown recipient", func(r *IssueRequest) { r.Recipient = "nosuch" }, ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := base
			tc.mod(&r)
			_, err := h.s.Issue(context.Background(), usa, r)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("got %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	// A label that leaves out a foreign recipient's nation is refused.
	_, err := h.s.Issue(context.Background(), kor, IssueRequest{As: "cfc-gcc", Recipient: "12mlr", Type: "MOVEMENT", Text: "x", DeadlineIn: "1h", ReleasableTo: []string{"KOR"}})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("label without the recipient's nation: %v", err)
	}
}

func TestLabelFiltering(t *testing.T) {
	h := newHarness(t, nil)
	usOnly := issueTask(t, h) // USA → USA: SECRET//USA ONLY
	bilateral := mustIssue(t, h.s, kor, IssueRequest{As: "cfc-gcc", Recipient: "12mlr", Type: "MOVEMENT", Text: "Move", DeadlineIn: "1h"})
	confidential := mustIssue(t, h.s, kor, IssueRequest{As: "cfc-gcc", Recipient: "12mlr", Type: "MOVEMENT", Text: "Move", DeadlineIn: "1h", Classification: "C"})
	trilateral := mustIssue(t, h.s, usa, IssueRequest{As: "usfj", Recipient: "12mlr", Type: "REPORT", Text: "Report", DeadlineIn: "1h", ReleasableTo: []string{"KOR", "JPN", "USA"}, Classification: "U"})
	ids := func(p label.Principal) []string {
		var out []string
		for _, o := range h.s.Orders(p, OrderFilter{}) {
			out = append(out, o.ID)
		}
		slices.Sort(out)
		return out
	}
	sorted := func(s ...string) []string { slices.Sort(s); return s }
	korConf := label.Principal{Nation: "KOR", Clearance: label.Confidential}
	tests := []struct {
		p    label.Principal
		want []string
	}{
		{usa, sorted(usOnly.ID, bilateral.ID, confidential.ID, trilateral.ID)},
		{kor, sorted(bilateral.ID, confidential.ID, trilateral.ID)},
		{korConf, sorted(confidential.ID, trilateral.ID)},
		{jpn, sorted(trilateral.ID)},
		{label.Principal{}, nil},
	}
	for _, tc := range tests {
		if got := ids(tc.p); !slices.Equal(got, tc.want) {
			t.Errorf("%s sees %v, want %v", tc.p, got, tc.want)
		}
	}
	if _, err := h.s.Order(jpn, bilateral.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("JPN shows a USA–KOR order: %v", err)
	}
	if o, err := h.s.Order(kor, strings.ToLower(bilateral.ID)); err != nil || o.ID != bilateral.ID {
		t.Errorf("KOR show: %v", err)
	}
	// Grants are filtered too: JPN sees none of the USA–KOR grants.
	for _, g := range h.s.Grants(jpn, "") {
		if !label.Releasable(jpn, g.Label) || g.ID == "tacon-gcc-12mlr" {
			t.Errorf("JPN sees grant %s", g.ID)
		}
	}
	if _, err := h.s.GetGrant(jpn, "tacon-gcc-12mlr"); !errors.Is(err, ErrNotFound) {
		t.Errorf("JPN gets a USA–KOR grant: %v", err)
	}
	// Filters by unit and state.
	if got := h.s.Orders(usa, OrderFilter{Unit: "cfc-gcc"}); len(got) != 2 {
		t.Errorf("orders of jjoc: %d", len(got))
	}
	if got := h.s.Orders(usa, OrderFilter{State: Wilco}); len(got) != 0 {
		t.Errorf("WILCO orders: %d", len(got))
	}
}

func TestReceiptsAndReplies(t *testing.T) {
	h := newHarness(t, nil)
	h.run(t)
	o := mustIssue(t, h.s, usa, IssueRequest{As: "indopacom", Recipient: "31meu", Type: "REPORT", Text: "Report readiness", DeadlineIn: "2h"})
	state := func() *Order { x, _ := h.s.Order(usa, o.ID); return x }
	d0, d1 := o.Deliveries[0], o.Deliveries[1]

	// A receipt from the wrong device, or from a principal the order is not
	// releasable to, changes nothing and is audited as denied.
	h.s.ObserveFrom(receipt(t, "b-t-f-d", d0.MessageID, "ANDROID-31MEU-2", "31MEU-2"), usa, Sender{UID: "ANDROID-31MEU-2", Callsign: "31MEU-2"})
	h.s.ObserveFrom(receipt(t, "b-t-f-d", d0.MessageID, "ANDROID-31MEU-1", "31MEU-1"), jpn, Sender{UID: "ANDROID-31MEU-1", Callsign: "31MEU-1"})
	eventually(t, "two denied receipts", func() bool { return len(h.audit.find("order.receipt", o.ID)) == 2 })
	if st := state(); st.State != Issued || !st.Deliveries[0].DeliveredAt.IsZero() {
		t.Fatalf("bad receipts applied: %+v", st)
	}

	h.s.ObserveFrom(receipt(t, "b-t-f-d", d0.MessageID, "ANDROID-31MEU-1", "31MEU-1"), usa, Sender{UID: "ANDROID-31MEU-1", Callsign: "31MEU-1"})
	eventually(t, "DELIVERED", func() bool { return state().State == Delivered })
	h.s.ObserveFrom(receipt(t, "b-t-f-r", d1.MessageID, "ANDROID-31MEU-2", "31MEU-2"), usa, Sender{UID: "ANDROID-31MEU-2", Callsign: "31MEU-2"})
	eventually(t, "ACKNOWLEDGED", func() bool { return state().State == Acknowledged })
	// A late delivery receipt only records the delivery.
	h.s.ObserveFrom(receipt(t, "b-t-f-d", d1.MessageID, "ANDROID-31MEU-2", "31MEU-2"), usa, Sender{UID: "ANDROID-31MEU-2", Callsign: "31MEU-2"})
	eventually(t, "late receipt recorded", func() bool { return len(h.audit.find("order.receipt", o.ID)) == 5 })
	st := state()
	if st.State != Acknowledged || st.Deliveries[1].DeliveredAt.IsZero() || st.Deliveries[1].ReadAt.IsZero() || st.Deliveries[0].ReadAt.IsZero() == false {
		t.Fatalf("after receipts: %+v", st)
	}

	// Replies: unknown ids and chatter are ignored; a stranger's WILCO is
	// refused; the device's lowercase "wilco" works.
	h.s.ObserveFrom(chatReply(t, "ANDROID-31MEU-1", "31MEU-1", "usfj", "USFJ", "WILCO OZZZZZZ"), usa, Sender{UID: "ANDROID-31MEU-1", Callsign: "31MEU-1"})
	h.s.ObserveFrom(chatReply(t, "ANDROID-31MEU-1", "31MEU-1", "usfj", "USFJ", "roger that, moving"), usa, Sender{UID: "ANDROID-31MEU-1", Callsign: "31MEU-1"})
	h.s.ObserveFrom(chatReply(t, "ANDROID-5AF-1", "5AF-1", "usfj", "USFJ", "WILCO "+o.ID), usa, Sender{UID: "ANDROID-5AF-1", Callsign: "5AF-1"})
	h.s.ObserveFrom(chatReply(t, "ANDROID-31MEU-2", "31MEU-2", "usfj", "USFJ", "wilco "+strings.ToLower(o.ID)), usa, Sender{UID: "ANDROID-31MEU-2", Callsign: "31MEU-2"})
	eventually(t, "WILCO", func() bool { return state().State == Wilco })
	st = state()
	if last := st.History[len(st.History)-1]; last.Via != "tak" || !strings.Contains(last.By, "ANDROID-31MEU-2") || last.Unit != "31meu" {
		t.Fatalf("WILCO entry %+v", last)
	}
	var denied bool
	for _, r := range h.audit.find("order.transition", o.ID) {
		if r.Decision == "deny" && strings.Contains(r.Reason, "ANDROID-5AF-1 is not a device of 31meu") {
			denied = true
		}
	}
	if !denied {
		t.Error("stranger's WILCO not audited as denied")
	}
	h.s.ObserveFrom(chatReply(t, "ANDROID-31MEU-1", "31MEU-1", "usfj", "USFJ", "EXECUTING "+o.ID), usa, Sender{UID: "ANDROID-31MEU-1", Callsign: "31MEU-1"})
	eventually(t, "EXECUTING", func() bool { return state().State == Executing })
	h.s.ObserveFrom(chatReply(t, "ANDROID-31MEU-1", "31MEU-1", "usfj", "USFJ", "FAILED "+o.ID+": comms down"), usa, Sender{UID: "ANDROID-31MEU-1", Callsign: "31MEU-1"})
	eventually(t, "FAILED", func() bool { return state().State == Failed })
	if st := state(); st.StateReason != "comms down" {
		t.Fatalf("reason %q", st.StateReason)
	}

	o2 := mustIssue(t, h.s, usa, IssueRequest{As: "indopacom", Recipient: "31meu", Type: "REPORT", Text: "Report fuel", DeadlineIn: "2h"})
	h.s.ObserveFrom(chatReply(t, "ANDROID-31MEU-1", "31MEU-1", "usfj", "USFJ", "CANTCO "+o2.ID+" no fuel state available"), usa, Sender{UID: "ANDROID-31MEU-1", Callsign: "31MEU-1"})
	eventually(t, "CANTCO", func() bool { x, _ := h.s.Order(usa, o2.ID); return x.State == Cantco })
	if x, _ := h.s.Order(usa, o2.ID); x.StateReason != "no fuel state available" {
		t.Fatalf("CANTCO reason %q", x.StateReason)
	}
}

func TestObserveIgnoresOtherTraffic(t *testing.T) {
	h := newHarness(t, nil)
	for _, ev := range h.pub.all() {
		h.s.Observe(ev, usa)
	}
	sa := chatReply(t, "ANDROID-31MEU-1", "31MEU-1", "usfj", "USFJ", "WILCO X")
	sa.Type = "a-f-G-U-C"
	h.s.Observe(sa, usa)
	h.s.Observe(nil, usa)
	if n := len(h.s.inbox); n != 0 {
		t.Fatalf("%d events queued", n)
	}
	own := chatReply(t, "KIZUNA.usfj", "USFJ", "31meu", "31MEU", "WILCO X")
	h.s.Observe(own, usa)
	if n := len(h.s.inbox); n != 0 {
		t.Fatalf("own message queued")
	}
}

func TestDurability(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, nil)
	o := issueTask(t, h)
	// Committed before Issue returned: another connection finds it now.
	db, err := store.OpenSQLite(h.path)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM command_orders WHERE id = ?`, o.ID).Scan(&n); err != nil || n != 1 {
		t.Fatalf("order row: %d, %v", n, err)
	}
	db.Close()
	g := mustGrant(t, h.s, usa, GrantRequest{Kind: OPCON, Grantor: "indopacom", Grantee: "usfj", Unit: "31meu", Duration: "1h", Reason: "r"})
	if _, err := h.s.Respond(ctx, usa, "12mlr", o.ID, Wilco, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := h.s.Revoke(ctx, usa, "indopacom", false, "tacon-gcc-12mlr", "over"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.s.PutUnit(ctx, usa, "iiimef", Unit{ID: "cls-3", Parent: "iiimef", Nation: "USA", Name: "Combat Logistics Regiment 3", Positions: []Position{{}}}); err != nil {
		t.Fatal(err)
	}
	h.s.Close()

	// Reopen with the same ORBAT: state is back, revocation included.
	s2, err := New(Config{DBPath: h.path, OrbatData: testOrbat(t), Nation: "USA", Clock: h.clock.Now, Audit: h.audit})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	got, err := s2.Order(usa, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != Wilco || len(got.History) != 2 || got.Authority.Holds != OPCON {
		t.Fatalf("reloaded %+v", got)
	}
	if gg, err := s2.GetGrant(usa, "tacon-gcc-12mlr"); err != nil || gg.RevokedAt.IsZero() {
		t.Fatalf("revocation lost: %+v %v", gg, err)
	}
	if _, err := s2.GetGrant(usa, g.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Unit(usa, "cls-3"); err != nil {
		t.Fatal(err)
	}
	// Messages are indexed again: a receipt still finds the order.
	if id := s2.messages[got.Deliveries[0].MessageID]; id != o.ID {
		t.Fatalf("message index lost")
	}
}

func TestAuditFailureRefusesIssue(t *testing.T) {
	h := newHarness(t, nil)
	h.audit.mu.Lock()
	h.audit.fail = errors.New("disk full")
	h.audit.mu.Unlock()
	_, err := h.s.Issue(context.Background(), usa, IssueRequest{As: "usfj", Recipient: "12mlr", Type: "TASK", Text: "x", DeadlineIn: "1h"})
	if err == nil {
		t.Fatal("issued without an audit record")
	}
	if n := len(h.s.Orders(usa, OrderFilter{})); n != 0 {
		t.Fatalf("%d orders stored", n)
	}
}

func TestDeliveryFailureRecorded(t *testing.T) {
	h := newHarness(t, nil)
	h.pub.mu.Lock()
	h.pub.fail = errors.New("hub down")
	h.pub.mu.Unlock()
	o := issueTask(t, h)
	got, _ := h.s.Order(usa, o.ID)
	if len(got.Deliveries) == 0 || got.Deliveries[0].Error == "" {
		t.Fatalf("delivery error not recorded: %+v", got.Deliveries)
	}
}

func TestOrbatReapplied(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	a := &fakeAudit{}
	v1 := []byte(`{"units":[{"id":"hq","nation":"USA","echelon":"CCMD","name":"HQ","positions":[{"national":true}]}],
		"grants":[{"id":"c","kind":"COCOM","grantee":"hq","unit":"hq","reason":"r"}]}`)
	s, err := New(Config{DBPath: path, OrbatData: v1, Audit: a})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutUnit(context.Background(), usa, "hq", Unit{ID: "api-unit", Parent: "hq", Nation: "USA", Name: "Added by API"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	v2 := []byte(`{"units":[{"id":"hq","nation":"USA","echelon":"CCMD","name":"HQ renamed","positions":[{"national":true}]},
		{"id":"new","parent":"hq","nation":"USA","name":"New"}],
		"grants":[{"id":"c","kind":"COCOM","grantee":"hq","unit":"hq","reason":"r"}]}`)
	s, err = New(Config{DBPath: path, OrbatData: v2, Audit: a})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	units := s.Units(usa)
	var names []string
	for _, u := range units {
		names = append(names, u.ID+"="+u.Name)
	}
	want := []string{"api-unit=Added by API", "hq=HQ renamed", "new=New"}
	if !slices.Equal(names, want) {
		t.Fatalf("units %v, want %v", names, want)
	}
	if n := len(s.Grants(usa, "")); n != 1 {
		t.Fatalf("%d grants", n)
	}
}

func TestOrbatErrors(t *testing.T) {
	tests := map[string]string{
		"cycle":          `{"units":[{"id":"a","parent":"b","nation":"USA","name":"A"},{"id":"b","parent":"a","nation":"USA","name":"B"}]}`,
		"unknown parent": `{"units":[{"id":"a","parent":"x","nation":"USA","name":"A"}]}`,
		"duplicate":      `{"units":[{"id":"a","nation":"USA","name":"A"},{"id":"a","nation":"USA","name":"A"}]}`,
		"bad nation":     `{"units":[{"id":"a","nation":"US","name":"A"}]}`,
		"no name":        `{"units":[{"id":"a","nation":"USA"}]}`,
		"bad id":         `{"units":[{"id":"a b","nation":"USA","name":"A"}]}`,
		"unknown field":  `{"units":[{"id":"a","nation":"USA","name":"A","colour":"red"}]}`,
		"trailing":       `{"units":[]} {}`,
		"bad grant kind": `{"units":[],"grants":[{"id":"g","kind":"COMMAND"}]}`,
		"bad duration":   `{"units":[],"grants":[{"id":"g","kind":"OPCON","duration":"forever"}]}`,
	}
	for name, doc := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseOrbat(strings.NewReader(doc)); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	// A standing grant that breaks a rule stops the service from starting.
	bad := []byte(`{"units":[{"id":"a","nation":"USA","name":"A"}],"grants":[{"id":"g","kind":"COCOM","grantee":"a","unit":"a","reason":"r"}]}`)
	if _, err := New(Config{DBPath: filepath.Join(t.TempDir(), "c.db"), OrbatData: bad, Audit: &fakeAudit{}}); RuleOf(errors.Unwrap(errors.Unwrap(err))) != RuleCOCOMCombatant && !strings.Contains(err.Error(), RuleCOCOMCombatant) {
		t.Fatalf("got %v", err)
	}
}

func TestFixtureOrbat(t *testing.T) {
	o, err := ParseOrbat(strings.NewReader(string(testOrbat(t))))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, u := range o.Units {
		names[u.Name] = true
	}
	for _, n := range []string{"US Indo-Pacific Command", "US Forces Japan", "US 7th Fleet", "III Marine Expeditionary Force", "5th Air Force",
		"JSDF Joint Operations Command", "Self-Defense Fleet", "Air Defense Command", "ROK Joint Chiefs of Staff", "US Forces Korea"} {
		if !names[n] {
			t.Errorf("demo ORBAT lacks %s", n)
		}
	}
	h := newHarness(t, nil)
	if n := len(h.s.Units(kor)); n != len(o.Units) {
		t.Errorf("KOR sees %d of %d units", n, len(o.Units))
	}
}

func TestUnitEditing(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, nil)
	u := Unit{ID: "clr-3", Parent: "iiimef", Nation: "USA", Name: "Combat Logistics Regiment 3", Echelon: "Regiment",
		Devices: []Device{{UID: "ANDROID-CLR3-1", Callsign: "CLR3-1"}}, Positions: []Position{{Title: "Watch officer"}}}
	if _, err := h.s.PutUnit(ctx, jpn, "jjoc", u); !errors.Is(err, ErrNoPosition) {
		t.Fatalf("JPN adding a US unit: %v", err)
	}
	if _, err := h.s.PutUnit(ctx, usa, "5af", u); !errors.Is(err, ErrNoPosition) {
		t.Fatalf("5AF adding under III MEF: %v", err)
	}
	if _, err := h.s.PutUnit(ctx, usa, "iiimef", u); err != nil {
		t.Fatal(err)
	}
	u.Parent = "jjoc"
	if _, err := h.s.PutUnit(ctx, usa, "indopacom", u); !errors.Is(err, ErrInvalid) {
		t.Fatalf("US unit under a JPN parent: %v", err)
	}
	u.Parent = "clr-3"
	if _, err := h.s.PutUnit(ctx, usa, "indopacom", u); !errors.Is(err, ErrInvalid) {
		t.Fatalf("self parent: %v", err)
	}
	if err := h.s.DeleteUnit(ctx, usa, "iiimef", "12mlr"); !errors.Is(err, ErrConflict) {
		t.Fatalf("deleting a unit with grants: %v", err)
	}
	if err := h.s.DeleteUnit(ctx, usa, "iiimef", "clr-3"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.s.Unit(usa, "clr-3"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	if n := len(h.audit.find("unit.put", "clr-3")); n != 3 {
		t.Errorf("%d unit.put audit records, want 3 (2 denied, 1 allowed)", n)
	}
}

func TestOrbatYAML(t *testing.T) {
	doc := `# A small order of battle
units:
  - id: hq
    nation: USA
    echelon: CCMD
    name: Headquarters
    positions: [{title: Commander, national: true}]
  - id: bn
    parent: hq
    nation: usa
    name: "1st Battalion"
    devices:
      - {uid: ANDROID-BN-1, callsign: BN-1}
grants:
  - id: c
    kind: COCOM
    grantee: hq
    unit: hq
    reason: assigned
  - id: o
    kind: OPCON
    grantor: hq
    grantee: bn
    unit: bn
    from: 2026-11-27T08:00:00Z
    duration: 48h
    reason: test
`
	o, err := ParseOrbat(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Units) != 2 || o.Units[1].Nation != "USA" || o.Units[1].Devices[0].Callsign != "BN-1" || !o.Units[0].Positions[0].National {
		t.Fatalf("%+v", o.Units)
	}
	if len(o.Grants) != 2 || !o.Grants[1].From.Equal(time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)) {
		t.Fatalf("%+v", o.Grants)
	}
	if _, err := ParseOrbat(strings.NewReader("units:\n  - id: a\n    nation: USA\n    name: A\n    colour: red\n")); err == nil {
		t.Fatal("unknown YAML field accepted")
	}
	if _, err := ParseOrbat(strings.NewReader("units: [\n")); err == nil {
		t.Fatal("broken YAML accepted")
	}
}

// TestAnswerAfterDeadline: an answer that arrives after the deadline, before
// the expiry ticker ran, expires the order instead.
func TestAnswerAfterDeadline(t *testing.T) {
	h := newHarness(t, nil)
	o := issueTask(t, h)
	h.clock.Advance(5 * time.Hour)
	if _, err := h.s.Respond(context.Background(), usa, "12mlr", o.ID, Wilco, ""); !errors.Is(err, ErrIllegalTransition) {
		t.Fatalf("WILCO after the deadline: %v", err)
	}
	if got, _ := h.s.Order(usa, o.ID); got.State != Expired {
		t.Fatalf("state %s", got.State)
	}
}

package command

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"kizuna/internal/label"
)

// TestOrderRuleTable gives each order rule code an accepted and a refused
// case. (revoke-authority has its own table in TestRevokeRules.)
func TestOrderRuleTable(t *testing.T) {
	ctx := context.Background()
	task := func(as, to string) IssueRequest {
		return IssueRequest{As: as, Recipient: to, Type: "TASK", Text: "Secure the beach", DeadlineIn: "2h"}
	}
	tests := []struct {
		rule string
		ok   func(t *testing.T, h *harness) error
		fail func(t *testing.T, h *harness) error
	}{
		// JP 1 IV-3: OPCON includes tasking; the standing chain gives it
		// to a superior over its subordinates (7th Fleet over CTF 70),
		// nothing gives it to a stranger.
		{RuleOrderAuthority,
			func(t *testing.T, h *harness) error { _, err := h.s.Issue(ctx, usa, task("c7f", "ctf70")); return err },
			func(t *testing.T, h *harness) error { _, err := h.s.Issue(ctx, usa, task("5af", "ctf70")); return err }},
		// A principal acts only for units where it holds a post.
		{RuleNoPosition,
			func(t *testing.T, h *harness) error { _, err := h.s.Issue(ctx, usa, task("usfj", "12mlr")); return err },
			func(t *testing.T, h *harness) error { _, err := h.s.Issue(ctx, jpn, task("usfj", "12mlr")); return err }},
		// An order is cancelled by its issuer or the issuer's superiors.
		{RuleCancel,
			func(t *testing.T, h *harness) error {
				o := mustIssue(t, h.s, usa, task("usfj", "12mlr"))
				_, err := h.s.Cancel(ctx, usa, "indopacom", o.ID, "superior cancels")
				return err
			},
			func(t *testing.T, h *harness) error {
				o := mustIssue(t, h.s, usa, task("usfj", "12mlr"))
				_, err := h.s.Cancel(ctx, usa, "5af", o.ID, "stranger cancels")
				return err
			}},
		// FM 5-0 / JP 5-0: a FRAGORD changes an existing order.
		{RuleFragord,
			func(t *testing.T, h *harness) error {
				o := mustIssue(t, h.s, usa, task("usfj", "12mlr"))
				_, err := h.s.Issue(ctx, usa, IssueRequest{As: "usfj", Recipient: "12mlr", Type: "TASK", Family: "FRAGORD", Changes: o.ID, Text: "Shift north", DeadlineIn: "1h"})
				return err
			},
			func(t *testing.T, h *harness) error {
				_, err := h.s.Issue(ctx, usa, IssueRequest{As: "usfj", Recipient: "12mlr", Type: "TASK", Family: "FRAGORD", Text: "Shift north", DeadlineIn: "1h"})
				return err
			}},
		// Guidelines for Japan–U.S. Defense Cooperation (2015): requests
		// between the allies go through the Alliance Coordination
		// Mechanism. JPN–KOR has no coordination body in the fixture.
		{RuleViaCoordination,
			func(t *testing.T, h *harness) error {
				_, err := h.s.Issue(ctx, usa, IssueRequest{As: "usfj", Recipient: "adc", Type: "SUPPORT_REQUEST", Text: "BMD coverage", DeadlineIn: "2h"})
				return err
			},
			func(t *testing.T, h *harness) error {
				_, err := h.s.Issue(ctx, kor, IssueRequest{As: "rok-jcs", Recipient: "adc", Type: "SUPPORT_REQUEST", Text: "BMD coverage", DeadlineIn: "2h"})
				return err
			}},
		// The other nation's headquarters decides.
		{RuleDecide,
			func(t *testing.T, h *harness) error {
				o := mustIssue(t, h.s, usa, IssueRequest{As: "usfj", Recipient: "adc", Type: "SUPPORT_REQUEST", Text: "BMD coverage", DeadlineIn: "2h"})
				_, _, err := h.s.Decide(ctx, jpn, o.ID, DecideRequest{As: "jjoc", Outcome: Denied, Reason: "no capacity"})
				return err
			},
			func(t *testing.T, h *harness) error {
				o := mustIssue(t, h.s, usa, IssueRequest{As: "usfj", Recipient: "adc", Type: "SUPPORT_REQUEST", Text: "BMD coverage", DeadlineIn: "2h"})
				_, err := h.s.Respond(ctx, jpn, "jjoc", o.ID, Wilco, "")
				return err
			}},
	}
	h := newHarness(t, nil)
	for _, tc := range tests {
		t.Run(tc.rule+"/accepted", func(t *testing.T) {
			if err := tc.ok(t, h); err != nil {
				t.Fatal(err)
			}
		})
		t.Run(tc.rule+"/refused", func(t *testing.T) {
			err := tc.fail(t, h)
			var ae *AuthorityError
			switch {
			case tc.rule == RuleOrderAuthority:
				if !errors.As(err, &ae) {
					t.Fatalf("want an authority refusal, got %v", err)
				}
			case tc.rule == RuleNoPosition:
				if !errors.Is(err, ErrNoPosition) {
					t.Fatalf("want no position, got %v", err)
				}
			default:
				wantRule(t, err, tc.rule)
			}
		})
	}
}

// TestOrderFamily: serial, DTG, paragraphs, info addressees for skipped
// echelons, a FRAGORD changing an executing OPORD, and an executing order
// that outlives its reply-by time.
func TestOrderFamily(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	opord := mustIssue(t, h.s, usa, IssueRequest{As: "indopacom", Recipient: "12mlr", Type: "TASK", DeadlineIn: "1h",
		NET: t0.Add(2 * time.Hour), NLT: t0.Add(6 * time.Hour),
		Paragraphs: &Paragraphs{Situation: "Threat to the strait", Mission: "12th MLR denies the Miyako Strait",
			Execution: Execution{Intent: "The strait stays closed to hostile ships", Tasks: []string{"Battery A: occupy site 1"}}}})
	if opord.Family != OPORD || opord.Text != "12th MLR denies the Miyako Strait" || opord.Serial != "INDOPACOM-0001" || opord.DTG != "270900ZNOV26" {
		t.Fatalf("OPORD %+v", opord)
	}
	// INDOPACOM skips III MEF and 3rd Marine Division: both get an info copy.
	if !slices.Equal(opord.Info, []string{"3mardiv", "iiimef"}) {
		t.Fatalf("info addressees %v", opord.Info)
	}
	var info int
	for _, ev := range h.pub.to("3MARDIV-1") {
		if strings.Contains(string(ev.Detail), "INFO OPORD "+opord.ID) {
			info++
		}
	}
	if info != 1 {
		t.Fatalf("3rd Marine Division got %d info copies", info)
	}
	if _, err := h.s.Issue(ctx, usa, IssueRequest{As: "indopacom", Recipient: "12mlr", Type: "TASK", Text: "x", DeadlineIn: "1h", NET: t0.Add(2 * time.Hour), NLT: t0.Add(time.Hour)}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("NLT before NET: %v", err)
	}
	if _, err := h.s.Respond(ctx, usa, "12mlr", opord.ID, Wilco, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := h.s.Respond(ctx, usa, "12mlr", opord.ID, Executing, ""); err != nil {
		t.Fatal(err)
	}
	// Past the reply-by time, the executing OPORD does not expire.
	h.clock.Advance(2 * time.Hour)
	h.s.expireDue(ctx)
	if o, _ := h.s.Order(usa, opord.ID); o.State != Executing {
		t.Fatalf("executing order became %s", o.State)
	}
	// USFJ, below INDOPACOM, may not change INDOPACOM's order.
	_, err := h.s.Issue(ctx, usa, IssueRequest{As: "usfj", Recipient: "12mlr", Type: "MOVEMENT", Family: "FRAGORD", Changes: opord.ID, Text: "x", DeadlineIn: "30m"})
	wantRule(t, err, RuleFragord)
	frag := mustIssue(t, h.s, usa, IssueRequest{As: "indopacom", Recipient: "12mlr", Type: "MOVEMENT", Family: "frago", Changes: strings.ToLower(opord.ID), Text: "Shift to site 2", DeadlineIn: "30m"})
	if frag.Family != FRAGORD || frag.Changes != opord.ID || frag.Serial != "INDOPACOM-0002" {
		t.Fatalf("FRAGORD %+v", frag)
	}
	if r := h.audit.find("order.transition", frag.ID); len(r) == 0 || !strings.Contains(r[0].Reason, "changes "+opord.ID) {
		t.Fatalf("FRAGORD audit %+v", r)
	}
	// A FRAGORD to another unit is refused.
	_, err = h.s.Issue(ctx, usa, IssueRequest{As: "indopacom", Recipient: "3mardiv", Type: "TASK", Family: "FRAGORD", Changes: opord.ID, Text: "x", DeadlineIn: "30m"})
	wantRule(t, err, RuleFragord)
	// A WARNORD is not a request.
	if _, err := h.s.Issue(ctx, usa, IssueRequest{As: "usfj", Recipient: "12mlr", Type: "REPORT", Family: "WARNORD", Text: "x", DeadlineIn: "30m"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("WARNORD report request: %v", err)
	}
}

// TestReportAnswersRequest: a report request is answered with a SITREP,
// over REST and from the TAK device.
func TestReportAnswersRequest(t *testing.T) {
	h := newHarness(t, nil)
	h.run(t)
	ctx := context.Background()
	o := mustIssue(t, h.s, usa, IssueRequest{As: "usfj", Recipient: "12mlr", Type: "REPORT", Text: "Report readiness", DeadlineIn: "1h"})
	got, err := h.s.Report(ctx, usa, "12mlr", o.ID, "sitrep", "Battery ready to fire; fuel 80%")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != Complete || len(got.Reports) != 1 || got.Reports[0].Kind != "SITREP" || got.Reports[0].Unit != "12mlr" {
		t.Fatalf("after report: %+v", got)
	}
	if _, err := h.s.Report(ctx, usa, "usfj", o.ID, "", "x"); err == nil {
		t.Fatal("the issuer reported on its own request")
	}
	o2 := mustIssue(t, h.s, usa, IssueRequest{As: "indopacom", Recipient: "31meu", Type: "REPORT", Text: "Report position", DeadlineIn: "1h"})
	h.s.ObserveFrom(chatReply(t, "ANDROID-31MEU-1", "31MEU-1", "indopacom", "INDOPACOM", "SITREP "+o2.ID+" At sea east of Okinawa, all ready"), usa, Sender{UID: "ANDROID-31MEU-1", Callsign: "31MEU-1"})
	eventually(t, "SITREP over TAK", func() bool { x, _ := h.s.Order(usa, o2.ID); return x.State == Complete && len(x.Reports) == 1 })
}

// TestSupportRequestThroughCoordination: a US request for JSDF support goes
// through the ACM/BOCC to JJOC, which approves it with its own order; the
// requester sees the outcome but not the national order.
func TestSupportRequestThroughCoordination(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	req := mustIssue(t, h.s, usa, IssueRequest{As: "usfj", Recipient: "adc", Type: "SUPPORT_REQUEST", DeadlineIn: "2h",
		Text: "Request Patriot coverage of Kadena for the missile defence of Japan"})
	if req.Recipient != "jjoc" || req.Via != "acm" || req.Wanted != "adc" || !slices.Equal(req.Label.ReleasableTo, []string{"JPN", "USA"}) {
		t.Fatalf("routed request %+v", req)
	}
	// Only JJOC decides; a plain WILCO does not do.
	if _, _, err := h.s.Decide(ctx, usa, req.ID, DecideRequest{As: "usfj", Outcome: Denied, Reason: "x"}); err == nil {
		t.Fatal("the requester decided its own request")
	}
	if _, _, err := h.s.Decide(ctx, jpn, req.ID, DecideRequest{As: "jjoc", Outcome: Approved}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("approval without an order: %v", err)
	}
	out, national, err := h.s.Decide(ctx, jpn, req.ID, DecideRequest{As: "jjoc", Outcome: Approved, Reason: "Kadena covered",
		Order: &IssueRequest{Recipient: "adc", Text: "Deploy PAC-3 fire units to cover Kadena", DeadlineIn: "2h"}})
	if err != nil {
		t.Fatal(err)
	}
	if out.Outcome != Approved || out.State != Wilco || national.Request != req.ID || national.IssuerUnit != "jjoc" || national.Recipient != "adc" ||
		!slices.Equal(national.Label.ReleasableTo, []string{"JPN"}) {
		t.Fatalf("request %+v national order %+v", out, national)
	}
	if _, err := h.s.Order(usa, national.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("USA sees JPN's national order: %v", err)
	}
	if r, _ := h.s.Order(usa, req.ID); r.Outcome != Approved {
		t.Fatalf("requester sees %+v", r)
	}
	if _, _, err := h.s.Decide(ctx, jpn, req.ID, DecideRequest{As: "jjoc", Outcome: Denied, Reason: "changed mind"}); !errors.Is(err, ErrConflict) {
		t.Fatalf("second decision: %v", err)
	}
	allowed := false
	for _, r := range h.audit.find("request.decide", req.ID) {
		allowed = allowed || (r.Decision == "allow" && strings.Contains(r.Reason, national.ID))
	}
	if !allowed {
		t.Fatal("the decision and its national order are not audited")
	}
	// When the national order is complete, so is the request.
	for _, st := range []State{Wilco, Complete} {
		if _, err := h.s.Respond(ctx, jpn, "adc", national.ID, st, ""); err != nil {
			t.Fatal(err)
		}
	}
	if r, _ := h.s.Order(usa, req.ID); r.State != Complete || strings.Contains(r.StateReason+r.History[len(r.History)-1].Reason, national.ID) {
		t.Fatalf("request after the national order: %+v", r)
	}
	// A denial.
	req2 := mustIssue(t, h.s, usa, IssueRequest{As: "usfj", Recipient: "escort-force", Type: "SUPPORT_REQUEST", Text: "Escort", DeadlineIn: "2h"})
	out2, n2, err := h.s.Decide(ctx, jpn, req2.ID, DecideRequest{Outcome: Denied, Reason: "escorts committed"})
	if err != nil || n2 != nil || out2.State != Cantco || out2.Outcome != Denied {
		t.Fatalf("denial: %v %+v", err, out2)
	}
}

// TestReceiptsOnlyFromTheAddressee (issue 11, class 5): a receipt or reply
// counts only from the device the order was delivered to, matched on the
// connection's authenticated identity. On the old code a receipt with an
// empty sender uid skipped the device check, and any device could
// acknowledge another's order.
func TestReceiptsOnlyFromTheAddressee(t *testing.T) {
	h := newHarness(t, nil)
	h.run(t)
	o := mustIssue(t, h.s, usa, IssueRequest{As: "indopacom", Recipient: "31meu", Type: "REPORT", Text: "Report readiness", DeadlineIn: "2h"})
	d0 := o.Deliveries[0]
	state := func() *Order { x, _ := h.s.Order(usa, o.ID); return x }
	denied := func(n int) {
		t.Helper()
		eventually(t, "denied receipts", func() bool {
			c := 0
			for _, r := range h.audit.find("order.receipt", o.ID) {
				if r.Decision == "deny" {
					c++
				}
			}
			return c >= n
		})
	}
	// A read receipt with no sender uid, from a connection with no
	// device identity.
	h.s.Observe(receipt(t, "b-t-f-r", d0.MessageID, "", "31MEU-1"), usa)
	denied(1)
	// The same from another unit's device.
	h.s.ObserveFrom(receipt(t, "b-t-f-r", d0.MessageID, "", "31MEU-1"), usa, Sender{UID: "ANDROID-5AF-1", Callsign: "5AF-1"})
	denied(2)
	// A receipt claiming the addressee's uid from another device.
	h.s.ObserveFrom(receipt(t, "b-t-f-r", d0.MessageID, d0.DeviceUID, d0.Callsign), usa, Sender{UID: "ANDROID-5AF-1", Callsign: "5AF-1"})
	denied(3)
	// A WILCO claiming the addressee's uid from another device.
	h.s.ObserveFrom(chatReply(t, d0.DeviceUID, d0.Callsign, "indopacom", "INDOPACOM", "WILCO "+o.ID), usa, Sender{UID: "ANDROID-5AF-1", Callsign: "5AF-1"})
	eventually(t, "refused WILCO", func() bool {
		for _, r := range h.audit.find("order.transition", o.ID) {
			if r.Decision == "deny" && strings.Contains(r.Reason, "is not a device of 31meu") {
				return true
			}
		}
		return false
	})
	if st := state(); st.State != Issued || !st.Deliveries[0].ReadAt.IsZero() {
		t.Fatalf("a forged receipt or reply applied: %+v", st)
	}
	// The addressee's own connection.
	h.s.ObserveFrom(receipt(t, "b-t-f-r", d0.MessageID, d0.DeviceUID, d0.Callsign), usa, Sender{UID: d0.DeviceUID, Callsign: d0.Callsign})
	eventually(t, "ACKNOWLEDGED", func() bool { return state().State == Acknowledged })
	_ = label.Secret
}

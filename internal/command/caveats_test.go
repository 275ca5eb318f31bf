package command

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// koreaBox is a caveat area around the Korean peninsula.
var koreaBox = []LatLon{{Lat: 33, Lon: 124}, {Lat: 33, Lon: 131}, {Lat: 39, Lon: 131}, {Lat: 39, Lon: 124}}

// caveated is a national decision placing US forces under the CFC for
// air defence in Korea, for at most two hours, with no retransfer.
func caveated(ref string) *NationalDecision {
	return &NationalDecision{Authority: "Secretary of Defense (exercise)", Reference: ref,
		Caveats: Caveats{Area: "Korean theatre of operations", Bounds: koreaBox, Mission: "air and missile defence of the ROK",
			Missions: []string{"air defence", "MISSILE_DEFENCE"}, Duration: "2h", NoRetransfer: true}}
}

// TestCaveatRuleTable gives each caveat rule an accepted and a refused
// case. JP 1 IV-3 (OPCON "may be limited by function, time, or location"
// as the establishing authority states); the ROK–US Combined Forces
// Command terms of reference and the national arrangements record these
// limits with each national decision to place forces under combined
// control, and the gaining commander must keep within them.
func TestCaveatRuleTable(t *testing.T) {
	ctx := context.Background()
	inKorea := &Location{Name: "Osan", Point: &LatLon{Lat: 37.09, Lon: 127.03}}
	inJapan := &Location{Name: "Okinawa", Point: &LatLon{Lat: 26.3, Lon: 127.8}}
	routeOut := &Location{Route: []LatLon{{Lat: 37, Lon: 127}, {Lat: 26.3, Lon: 127.8}}}
	type row struct {
		name string
		req  IssueRequest
	}
	tests := []struct {
		rule     string
		ok, fail row
	}{
		// Area: OPCON limited by location (JP 1 IV-3); the decision names
		// the Korean theatre, so a task in Okinawa is outside it.
		{RuleCaveatArea,
			row{"task inside the area", IssueRequest{As: "cfc", Recipient: "12mlr", Type: "TASK", Mission: "AIR_DEFENCE", Location: inKorea, Text: "Air defence of Osan", DeadlineIn: "1h"}},
			row{"task in Okinawa", IssueRequest{As: "cfc", Recipient: "12mlr", Type: "TASK", Mission: "AIR_DEFENCE", Location: inJapan, Text: "Air defence of Kadena", DeadlineIn: "1h"}}},
		// A route that leaves the area is outside it too.
		{RuleCaveatArea,
			row{"movement inside the area", IssueRequest{As: "cfc", Recipient: "12mlr", Type: "MOVEMENT", Mission: "air defence", Location: &Location{Route: []LatLon{{Lat: 37, Lon: 127}, {Lat: 35.1, Lon: 129}}}, Text: "Move to Busan", DeadlineIn: "1h"}},
			row{"movement leaving the area", IssueRequest{As: "cfc", Recipient: "12mlr", Type: "MOVEMENT", Mission: "air defence", Location: routeOut, Text: "Move to Okinawa", DeadlineIn: "1h"}}},
		// Mission: OPCON limited by function (JP 1 IV-3); the decision
		// allows air and missile defence only.
		{RuleCaveatMission,
			row{"missile defence", IssueRequest{As: "cfc", Recipient: "12mlr", Type: "TASK", Mission: "missile-defence", Location: inKorea, Text: "Defend Osan", DeadlineIn: "1h"}},
			row{"strike", IssueRequest{As: "cfc", Recipient: "12mlr", Type: "TASK", Mission: "STRIKE", Location: inKorea, Text: "Strike the landing site", DeadlineIn: "1h"}}},
	}
	h := newHarness(t, nil)
	g := mustGrant(t, h.s, usa, GrantRequest{Kind: OPCON, Grantor: "usfj", Grantee: "cfc", Unit: "12mlr", Duration: "2h", Decision: caveated("SECDEF-CAV-1"), Reason: "reinforcement of the ROK"})
	for _, tc := range tests {
		t.Run(tc.rule+"/accepted: "+tc.ok.name, func(t *testing.T) {
			o := mustIssue(t, h.s, usa, tc.ok.req)
			if o.Authority.Holds != OPCON || o.Authority.Chain[len(o.Authority.Chain)-1].ID != g.ID {
				t.Fatalf("authority %+v", o.Authority)
			}
		})
		t.Run(tc.rule+"/refused: "+tc.fail.name, func(t *testing.T) {
			_, err := h.s.Issue(ctx, usa, tc.fail.req)
			wantRule(t, err, tc.rule)
			if !errors.Is(err, ErrRule) || !strings.Contains(err.Error(), "SECDEF-CAV-1") {
				t.Errorf("refusal %v does not cite the decision", err)
			}
			deny := h.audit.find("order.authority", "")
			if last := deny[len(deny)-1]; last.Decision != "deny" || !strings.Contains(last.Reason, tc.rule) {
				t.Errorf("audit %+v does not record the refusal", last)
			}
		})
	}
	// A report request tasks nobody: no caveat applies to it.
	mustIssue(t, h.s, usa, IssueRequest{As: "cfc", Recipient: "12mlr", Type: "REPORT_REQUEST", Text: "Report readiness", DeadlineIn: "1h"})
}

// TestCaveatDuration: the decision bounds the window (rule
// caveat-duration), and the authority lapses when it ends: an order
// accepted in the window cannot be taken up after it.
func TestCaveatDuration(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, nil)
	_, err := h.s.Grant(ctx, usa, GrantRequest{Kind: OPCON, Grantor: "usfj", Grantee: "cfc", Unit: "12mlr", Duration: "3h", Decision: caveated("SECDEF-CAV-2"), Reason: "r"})
	wantRule(t, err, RuleCaveatDuration)
	g := mustGrant(t, h.s, usa, GrantRequest{Kind: OPCON, Grantor: "usfj", Grantee: "cfc", Unit: "12mlr", Duration: "2h", Decision: caveated("SECDEF-CAV-2"), Reason: "r"})
	if !g.Until.Equal(t0.Add(2 * time.Hour)) {
		t.Fatalf("until %s", g.Until)
	}
	o := mustIssue(t, h.s, usa, IssueRequest{As: "cfc", Recipient: "12mlr", Type: "TASK", Mission: "AIR_DEFENCE",
		Location: &Location{Point: &LatLon{Lat: 37, Lon: 127}}, Text: "Air defence", DeadlineIn: "4h"})
	h.clock.Advance(2*time.Hour + time.Second)
	_, err = h.s.Respond(ctx, usa, "12mlr", o.ID, Wilco, "")
	wantRefused(t, err, "ended")
	_, err = h.s.Issue(ctx, usa, IssueRequest{As: "cfc", Recipient: "12mlr", Type: "TASK", Mission: "AIR_DEFENCE",
		Location: &Location{Point: &LatLon{Lat: 37, Lon: 127}}, Text: "Air defence", DeadlineIn: "1h"})
	wantRefused(t, err)
}

// TestCaveatNoRetransfer: forces placed under the CFC with no
// retransfer stay inside the CFC.
func TestCaveatNoRetransfer(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, nil)
	mustGrant(t, h.s, usa, GrantRequest{Kind: OPCON, Grantor: "usfj", Grantee: "cfc", Unit: "3mardiv", Duration: "2h", Decision: caveated("SECDEF-CAV-3"), Reason: "r"})
	// No retransfer outside the CFC.
	_, err := h.s.Grant(ctx, usa, GrantRequest{Kind: TACON, Grantor: "cfc", Grantee: "eighth-army", Unit: "3mardiv", Duration: "1h", Reason: "r"})
	wantRule(t, err, RuleRetransfer)
	// Inside the CFC: its ground component may get TACON.
	mustGrant(t, h.s, usa, GrantRequest{Kind: TACON, Grantor: "cfc", Grantee: "cfc-gcc", Unit: "3mardiv", Duration: "1h", Decision: decision("D-4", true), Reason: "r"})
}

// TestCaveatsValidated: malformed caveats are refused with the decision.
func TestCaveatsValidated(t *testing.T) {
	h := newHarness(t, nil)
	for name, c := range map[string]Caveats{
		"two-point area":   {Mission: "m", Bounds: koreaBox[:2]},
		"bad duration":     {Mission: "m", Duration: "forever"},
		"empty mission ty": {Mission: "m", Missions: []string{"  "}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := h.s.Grant(context.Background(), usa, GrantRequest{Kind: OPCON, Grantor: "usfj", Grantee: "cfc", Unit: "12mlr", Duration: "1h",
				Decision: &NationalDecision{Authority: "a", Reference: "r", Caveats: c}, Reason: "r"})
			wantRule(t, err, RuleNationalDecision)
		})
	}
}

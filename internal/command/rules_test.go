package command

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"kizuna/internal/label"
)

// TestNoPosition: a principal acts only for units where it holds a position.
func TestNoPosition(t *testing.T) {
	h := newHarness(t, nil)
	_, err := h.s.Grant(context.Background(), jpn, GrantRequest{Kind: OPCON, Grantor: "indopacom", Grantee: "usfj", Unit: "31meu", Duration: "1h", Reason: "r"})
	if !errors.Is(err, ErrNoPosition) {
		t.Fatalf("JPN acting as INDOPACOM: %v", err)
	}
	_, err = h.s.Grant(context.Background(), jpn, GrantRequest{Kind: COCOM, National: true, Grantee: "indopacom", Unit: "31meu", Reason: "r"})
	if !errors.Is(err, ErrNoPosition) {
		t.Fatalf("JPN acting as USA national authority: %v", err)
	}
	_, err = h.s.Issue(context.Background(), kor, IssueRequest{As: "usfj", Recipient: "31meu", Type: "TASK", Text: "x", DeadlineIn: "1h"})
	if !errors.Is(err, ErrNoPosition) {
		t.Fatalf("KOR acting as USFJ: %v", err)
	}
	// Positions narrowed by name and role.
	orbat := []byte(`{"units":[
		{"id":"hq","nation":"USA","echelon":"CCMD","name":"HQ","positions":[{"title":"Commander","name":"ALPHA","role":"commander","national":true}]},
		{"id":"sub","parent":"hq","nation":"USA","name":"Sub","positions":[{"name":"BRAVO"}]}]}`)
	h2 := newHarness(t, orbat)
	alpha := label.Principal{Nation: "USA", Clearance: label.Secret, Name: "ALPHA", Role: "commander"}
	alphaOp := label.Principal{Nation: "USA", Clearance: label.Secret, Name: "ALPHA", Role: "operator"}
	if got := h2.s.Positions(alpha); len(got) != 1 || got[0].Unit != "hq" || !got[0].National {
		t.Fatalf("ALPHA positions %+v", got)
	}
	if got := h2.s.Positions(alphaOp); len(got) != 0 {
		t.Fatalf("ALPHA as operator holds %+v", got)
	}
	if got := h2.s.Positions(usa); len(got) != 0 {
		t.Fatalf("anonymous USA holds %+v", got)
	}
	mustGrant(t, h2.s, alpha, GrantRequest{Kind: COCOM, National: true, Grantee: "hq", Unit: "hq", Reason: "r"})
	_, err = h2.s.Grant(context.Background(), alphaOp, GrantRequest{Kind: COCOM, National: true, Grantee: "hq", Unit: "sub", Reason: "r"})
	if !errors.Is(err, ErrNoPosition) {
		t.Fatalf("operator acting as national authority: %v", err)
	}
}

// TestOrderAuthority checks what each relationship allows.
func TestOrderAuthority(t *testing.T) {
	h := newHarness(t, nil)
	w := h.s.world()
	tests := []struct {
		issuer, unit string
		typ          OrderType
		allowed      bool
		holds        Kind
	}{
		{"usfj", "12mlr", Movement, true, OPCON},
		{"usfj", "12mlr", Task, true, OPCON},
		{"usfj", "12mlr", ReportRequest, true, OPCON},
		{"indopacom", "31meu", Task, true, COCOM},
		{"cfc-gcc", "12mlr", Movement, true, TACON},
		{"cfc-gcc", "12mlr", Task, false, ""},
		{"cfc-gcc", "12mlr", ReportRequest, true, TACON},
		// The standing chain: 7th Fleet tasks its own task force (JP 1:
		// command flows down the assigned structure). The old demo gave
		// it only ADCON, by grant, and refused its orders.
		{"c7f", "ctf70", Movement, true, OPCON},
		{"c7f", "ctf70", Task, true, OPCON},
		{"c7f", "ctf70", ReportRequest, true, OPCON},
		// III MEF keeps ADCON of 3rd Marine Division (service chain) while
		// USFJ holds its OPCON: a report request, nothing more.
		{"iiimef", "3mardiv", Task, false, ""},
		{"iiimef", "3mardiv", ReportRequest, true, ADCON},
		// No support relationship reaches across USA–JPN any more: the
		// old demo's JMSDF direct support of USFJ is gone.
		{"usfj", "escort-force", SupportRequest, true, ""},
		{"usfj", "escort-force", Task, false, ""},
		{"usfj", "escort-force", ReportRequest, false, ""},
		{"rok-jcs", "31meu", SupportRequest, true, ""},
		{"rok-jcs", "31meu", ReportRequest, false, ""},
		{"cfc-gcc", "31meu", Movement, false, ""},
		{"usfj", "31meu", Task, false, ""},
		{"31meu", "31meu", Movement, false, ""},
	}
	for _, tc := range tests {
		t.Run(string(tc.typ)+" "+tc.issuer+"→"+tc.unit, func(t *testing.T) {
			d := w.OrderAuthority(tc.typ, tc.issuer, tc.unit, t0)
			if d.Allowed != tc.allowed || d.Holds != tc.holds {
				t.Fatalf("got allowed=%v holds=%q (%s), want %v %q", d.Allowed, d.Holds, d.Reason, tc.allowed, tc.holds)
			}
			if !d.Allowed && !strings.Contains(d.Reason, "needs "+d.Needs) {
				t.Errorf("refusal %q does not say what is missing", d.Reason)
			}
		})
	}
}

// TestDerivedAuthorityLapses: revoking the OPCON a TACON was granted from
// ends the TACON too, and the refusal says why.
func TestDerivedAuthorityLapses(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	move := IssueRequest{As: "cfc-gcc", Recipient: "12mlr", Type: "MOVEMENT", Text: "Displace to Ie Shima", DeadlineIn: "1h"}
	mustIssue(t, h.s, kor, move)
	if _, err := h.s.Revoke(ctx, usa, "indopacom", false, "opcon-usfj-3mardiv", "USFJ relieved"); err != nil {
		t.Fatal(err)
	}
	_, err := h.s.Issue(ctx, kor, move)
	wantRefused(t, err, "tacon-gcc-12mlr TACON from usfj has lapsed because usfj no longer holds COCOM or OPCON over 12mlr")
	// Authority over a unit and its subtree.
	ans, err := h.s.Authority(ctx, usa, "12mlr", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	for _, hd := range ans.Holders {
		if hd.Holder == "cfc-gcc" || hd.Holder == "usfj" {
			t.Errorf("%s still holds %s", hd.Holder, hd.Kind)
		}
	}
}

// TestRevokeRules is the rule table of revoke-authority: a grant is
// revoked by its grantor, a superior of the grantor, or the national
// authority of the forces' nation (JP 1 IV-3: what a commander delegates,
// that commander or its superiors withdraw; the nation can always withdraw
// its forces). Accepted: grantor, superior, national authority. Refused:
// the grantee, an unrelated unit of the nation (the old rules let any
// same-nation OPCON holder revoke).
func TestRevokeRules(t *testing.T) {
	ctx := context.Background()
	t.Run("grantee cannot revoke", func(t *testing.T) {
		h := newHarness(t, nil)
		_, err := h.s.Revoke(ctx, kor, "cfc-gcc", false, "tacon-gcc-12mlr", "no")
		wantRule(t, err, RuleRevoke)
		if r := h.audit.find("grant.revoke", "tacon-gcc-12mlr"); len(r) != 1 || r[0].Decision != "deny" {
			t.Errorf("audit %+v", r)
		}
	})
	t.Run("other nation cannot see", func(t *testing.T) {
		h := newHarness(t, nil)
		_, err := h.s.Revoke(ctx, jpn, "rok-jcs", false, "tacon-gcc-12mlr", "no")
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("got %v", err)
		}
	})
	for _, tc := range []struct {
		name     string
		as       string
		national bool
	}{{"grantor", "usfj", false}, {"superior holding COCOM", "indopacom", false}, {"national authority", "", true}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			g, err := h.s.Revoke(ctx, usa, tc.as, tc.national, "tacon-gcc-12mlr", "phase over")
			if err != nil {
				t.Fatal(err)
			}
			if g.RevokedAt.IsZero() || !strings.Contains(g.RevokedBy, "USA") {
				t.Fatalf("grant %+v", g)
			}
			if _, err := h.s.Revoke(ctx, usa, tc.as, tc.national, "tacon-gcc-12mlr", "again"); !errors.Is(err, ErrConflict) {
				t.Fatalf("second revoke: %v", err)
			}
			if r := h.audit.find("grant.revoke", "tacon-gcc-12mlr"); len(r) < 1 || r[0].Decision != "allow" {
				t.Errorf("audit %+v", r)
			}
		})
	}
	t.Run("unrelated unit of the nation cannot", func(t *testing.T) {
		h := newHarness(t, nil)
		_, err := h.s.Revoke(ctx, usa, "5af", false, "tacon-gcc-12mlr", "no")
		wantRule(t, err, RuleRevoke)
	})
}

// TestAuthorityWindowAndFuture: a grant takes effect at From and ends at
// Until; the chain is reported.
func TestAuthorityWindowAndFuture(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	mustGrant(t, h.s, usa, GrantRequest{Kind: OPCON, Grantor: "indopacom", Grantee: "usfj", Unit: "31meu", From: t0.Add(time.Hour), Until: t0.Add(2 * time.Hour), Reason: "later"})
	_, err := h.s.Issue(ctx, usa, IssueRequest{As: "usfj", Recipient: "31meu", Type: "TASK", Text: "x", DeadlineIn: "3h"})
	wantRefused(t, err, "starts only at")
	ans, err := h.s.Authority(ctx, usa, "31meu", t0.Add(90*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, hd := range ans.Holders {
		if hd.Holder == "usfj" && hd.Kind == OPCON && len(hd.Chain) == 2 {
			found = true
			if len(hd.MayIssue) != 4 {
				t.Errorf("OPCON may issue %v", hd.MayIssue)
			}
		}
	}
	if !found {
		t.Fatalf("holders at +90m: %+v", ans.Holders)
	}
	// JPN sees the unit (UNCLASSIFIED, releasable to the ORBAT's nations)
	// but not the USA–only COCOM chain.
	ans, err = h.s.Authority(ctx, jpn, "31meu", t0.Add(90*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	for _, hd := range ans.Holders {
		if !hd.Standing {
			t.Fatalf("JPN sees holders %+v", ans.Holders)
		}
	}
}

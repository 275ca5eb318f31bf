package command

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"kizuna/internal/label"
)

// decision is a named national decision with caveats, as a cross-nation
// grant needs.
func decision(ref string, noRetransfer bool) *NationalDecision {
	return &NationalDecision{Authority: "Secretary of Defense (exercise)", Reference: ref,
		Caveats: Caveats{Area: "exercise area", Mission: "combined manoeuvre", NoRetransfer: noRetransfer}}
}

var directive = &SupportDirective{Priorities: "1. missile defence of Japan", Degree: "supported commander sets priorities; supporting commander chooses forces and tactics"}

// TestGrantRuleTable gives every grant rule code an accepted and a refused
// case, each written from the doctrine (JP 1, Doctrine for the Armed
// Forces of the United States, chapter IV "Command relationships"; the
// national arrangements named in the test order of battle). A refusal
// carries its own code and is audited.
func TestGrantRuleTable(t *testing.T) {
	secondCCMD := func(t *testing.T, s *Service) {
		t.Helper()
		if _, err := s.PutUnit(context.Background(), usa, "", Unit{ID: "transcom", Nation: "USA", Service: "Joint", Echelon: EchelonCCMD, Name: "US Transportation Command"}); err != nil {
			t.Fatal(err)
		}
	}
	type row struct {
		name  string
		setup func(t *testing.T, s *Service)
		p     label.Principal
		req   GrantRequest
	}
	tests := []struct {
		rule     string
		ok, fail row
	}{
		// Grants name units of the order of battle.
		{RuleUnknownUnit,
			row{name: "known units", p: usa, req: GrantRequest{Kind: OPCON, Grantor: "indopacom", Grantee: "usfj", Unit: "31meu", Duration: "1h", Reason: "r"}},
			row{name: "unknown unit", p: usa, req: GrantRequest{Kind: OPCON, Grantor: "indopacom", Grantee: "usfj", Unit: "nosuch", Duration: "1h", Reason: "r"}}},
		// A relationship has a validity window that has not ended.
		{RuleWindow,
			row{name: "future window", p: usa, req: GrantRequest{Kind: OPCON, Grantor: "indopacom", Grantee: "usfj", Unit: "31meu", From: t0.Add(time.Hour), Until: t0.Add(2 * time.Hour), Reason: "r"}},
			row{name: "window ends before it starts", p: usa, req: GrantRequest{Kind: OPCON, Grantor: "indopacom", Grantee: "usfj", Unit: "31meu", From: t0.Add(2 * time.Hour), Until: t0.Add(time.Hour), Reason: "r"}}},
		// JP 1 IV-2: COCOM is vested only in the commanders of combatant
		// commands.
		{RuleCOCOMCombatant,
			row{name: "COCOM to a CCMD", p: usa, req: GrantRequest{Kind: COCOM, National: true, Grantee: "indopacom", Unit: "31meu", Reason: "r"}},
			row{name: "COCOM to a JFHQ", p: usa, req: GrantRequest{Kind: COCOM, National: true, Grantee: "usfj", Unit: "31meu", Reason: "r"}}},
		// JP 1 IV-2: COCOM cannot be delegated or transferred.
		{RuleCOCOMNotDelegable,
			row{name: "national authority assigns", p: usa, req: GrantRequest{Kind: COCOM, National: true, Grantee: "indopacom", Unit: "31meu", Reason: "r"}},
			row{name: "JFHQ passes COCOM on", p: usa, req: GrantRequest{Kind: COCOM, Grantor: "usfj", Grantee: "indopacom", Unit: "31meu", Reason: "r"}}},
		// JP 1 IV-2 and the national arrangements: forces are assigned to
		// their own nation's combatant commands.
		{RuleCOCOMNational,
			row{name: "US forces to a US CCMD", p: usa, req: GrantRequest{Kind: COCOM, National: true, Grantee: "indopacom", Unit: "31meu", Reason: "r"}},
			row{name: "US forces to JJOC", p: usa, req: GrantRequest{Kind: COCOM, National: true, Grantee: "jjoc", Unit: "31meu", Reason: "r"}}},
		// JP 1 IV-2 (Forces For Unified Commands): a force is assigned to
		// one combatant command; the national authority transfers it.
		{RuleOneCOCOM,
			row{name: "a CCMD's own COCOM", setup: secondCCMD, p: usa, req: GrantRequest{Kind: COCOM, National: true, Grantee: "transcom", Unit: "transcom", Reason: "r"}},
			row{name: "second CCMD over assigned forces", setup: secondCCMD, p: usa, req: GrantRequest{Kind: COCOM, National: true, Grantee: "transcom", Unit: "31meu", Reason: "r"}}},
		// JP 1 IV-3/IV-4: OPCON and TACON are exercised by commanders,
		// delegated from COCOM; the national authority assigns (COCOM)
		// and administers (ADCON).
		{RuleNationalGrantor,
			row{name: "national ADCON", p: usa, req: GrantRequest{Kind: ADCON, National: true, Grantee: "iiimef", Unit: "31meu", Reason: "r"}},
			row{name: "national OPCON", p: usa, req: GrantRequest{Kind: OPCON, National: true, Grantee: "usfj", Unit: "31meu", Duration: "1h", Reason: "r"}}},
		// JP 1 IV-3: OPCON is delegated by a COCOM or OPCON holder.
		{RuleOPCONGrantor,
			row{name: "CCMD delegates OPCON", p: usa, req: GrantRequest{Kind: OPCON, Grantor: "indopacom", Grantee: "usfj", Unit: "31meu", Duration: "1h", Reason: "r"}},
			row{name: "JFHQ without OPCON", p: usa, req: GrantRequest{Kind: OPCON, Grantor: "usfj", Grantee: "5af", Unit: "31meu", Duration: "1h", Reason: "r"}}},
		// JP 1 IV-4: TACON is delegated by a COCOM or OPCON holder, not by
		// a TACON holder.
		{RuleTACONGrantor,
			row{name: "CCMD delegates TACON", p: usa, req: GrantRequest{Kind: TACON, Grantor: "indopacom", Grantee: "usfj", Unit: "31meu", Duration: "1h", Reason: "r"}},
			row{name: "TACON holder passes it on", p: usa,
				setup: func(t *testing.T, s *Service) {
					mustGrant(t, s, usa, GrantRequest{Kind: TACON, Grantor: "indopacom", Grantee: "usfj", Unit: "31meu", Duration: "1h", Reason: "r"})
				},
				req: GrantRequest{Kind: TACON, Grantor: "usfj", Grantee: "5af", Unit: "31meu", Duration: "1h", Reason: "r"}}},
		// JP 1 IV-5..IV-7: general, mutual, direct and close support.
		{RuleSupportMode,
			row{name: "mutual support", p: usa, req: GrantRequest{Kind: Support, Support: "mutual", Grantor: "indopacom", Grantee: "usfj", Unit: "ctf70", Duration: "1h", Directive: directive, Reason: "r"}},
			row{name: "no category", p: usa, req: GrantRequest{Kind: Support, Grantor: "indopacom", Grantee: "usfj", Unit: "ctf70", Duration: "1h", Directive: directive, Reason: "r"}}},
		// JP 1 IV-5: support is established by a common superior between
		// subordinate commanders.
		{RuleSupportSuperior,
			row{name: "INDOPACOM establishes", p: usa, req: GrantRequest{Kind: Support, Support: "direct", Grantor: "indopacom", Grantee: "usfj", Unit: "ctf70", Duration: "1h", Directive: directive, Reason: "r"}},
			row{name: "USFJ does not command 7th Fleet's CTF 70", p: usa, req: GrantRequest{Kind: Support, Support: "direct", Grantor: "usfj", Grantee: "5af", Unit: "ctf70", Duration: "1h", Directive: directive, Reason: "r"}}},
		// JP 1 IV-5: the establishing directive states priorities and the
		// degree of authority.
		{RuleSupportDirective,
			row{name: "with directive", p: usa, req: GrantRequest{Kind: Support, Support: "close", Grantor: "indopacom", Grantee: "usfj", Unit: "ctf70", Duration: "1h", Directive: directive, Reason: "r"}},
			row{name: "without directive", p: usa, req: GrantRequest{Kind: Support, Support: "close", Grantor: "indopacom", Grantee: "usfj", Unit: "ctf70", Duration: "1h", Reason: "r"}}},
		// JP 1 IV-8: ADCON is exercised through national and service
		// channels.
		{RuleADCONCrossNation,
			row{name: "national ADCON", p: usa, req: GrantRequest{Kind: ADCON, National: true, Grantee: "iiimef", Unit: "31meu", Reason: "r"}},
			row{name: "ADCON to a ROK unit", p: usa, req: GrantRequest{Kind: ADCON, National: true, Grantee: "cfc-gcc", Unit: "31meu", Reason: "r"}}},
		// JP 1 IV-8: ADCON is delegated by who holds it; COCOM alone does
		// not give it.
		{RuleADCONGrantor,
			row{name: "III MEF (service chain)", p: usa, req: GrantRequest{Kind: ADCON, Grantor: "iiimef", Grantee: "3mardiv", Unit: "31meu", Reason: "r"}},
			row{name: "INDOPACOM (joint, COCOM only)", p: usa, req: GrantRequest{Kind: ADCON, Grantor: "indopacom", Grantee: "iiimef", Unit: "31meu", Reason: "r"}}},
		// JP 1 IV-8: ADCON runs through the service chain, not joint HQs.
		{RuleADCONService,
			row{name: "Marine Corps chain", p: usa, req: GrantRequest{Kind: ADCON, National: true, Grantee: "iiimef", Unit: "31meu", Reason: "r"}},
			row{name: "joint HQ", p: usa, req: GrantRequest{Kind: ADCON, National: true, Grantee: "usfj", Unit: "31meu", Reason: "r"}}},
		// National command: only a nation's own chain places its forces
		// under another commander.
		{RuleForeignGrant,
			row{name: "USFJ places 12th MLR under CFC", p: usa, req: GrantRequest{Kind: OPCON, Grantor: "usfj", Grantee: "cfc", Unit: "12mlr", Duration: "1h", Decision: decision("D-1", false), Reason: "r"}},
			row{name: "ROK unit passes on US forces", p: kor, req: GrantRequest{Kind: TACON, Grantor: "cfc-gcc", Grantee: "rok-goc", Unit: "12mlr", Duration: "1h", Reason: "r"}}},
		// Japan–US alliance (Guidelines for Japan–U.S. Defense Cooperation,
		// 2015): parallel national chains, no command of each other's
		// forces. ROK–US: command crosses only through the CFC.
		{RuleNationPair,
			row{name: "US forces under CFC", p: usa, req: GrantRequest{Kind: OPCON, Grantor: "usfj", Grantee: "cfc", Unit: "12mlr", Duration: "1h", Decision: decision("D-1", false), Reason: "r"}},
			row{name: "US forces under JJOC", p: usa, req: GrantRequest{Kind: OPCON, Grantor: "usfj", Grantee: "jjoc", Unit: "12mlr", Duration: "1h", Decision: decision("D-1", false), Reason: "r"}}},
		// A pair with no arrangement allows nothing.
		{RuleNoPairPolicy,
			row{name: "JSDF national TACON", p: jpn, req: GrantRequest{Kind: TACON, Grantor: "jjoc", Grantee: "adc", Unit: "escort-force", Duration: "1h", Reason: "r"}},
			row{name: "JSDF under ROK control", p: jpn, req: GrantRequest{Kind: TACON, Grantor: "jjoc", Grantee: "rok-goc", Unit: "escort-force", Duration: "1h", Decision: decision("D-1", false), Reason: "r"}}},
		// Only a national decision places forces under another nation's
		// or a combined command's control, with caveats.
		{RuleNationalDecision,
			row{name: "with decision", p: usa, req: GrantRequest{Kind: OPCON, Grantor: "usfj", Grantee: "cfc", Unit: "12mlr", Duration: "1h", Decision: decision("D-1", false), Reason: "r"}},
			row{name: "without decision", p: usa, req: GrantRequest{Kind: OPCON, Grantor: "usfj", Grantee: "cfc", Unit: "12mlr", Duration: "1h", Reason: "r"}}},
		// A "no retransfer" caveat keeps the forces in the gaining command.
		{RuleRetransfer,
			row{name: "CFC to its own component", p: usa,
				setup: func(t *testing.T, s *Service) {
					mustGrant(t, s, usa, GrantRequest{Kind: OPCON, Grantor: "usfj", Grantee: "cfc", Unit: "3mardiv", Duration: "2h", Decision: decision("D-2", true), Reason: "r"})
				},
				req: GrantRequest{Kind: TACON, Grantor: "cfc", Grantee: "cfc-gcc", Unit: "3mardiv", Duration: "1h", Decision: decision("D-3", true), Reason: "r"}},
			row{name: "CFC passes it outside", p: usa,
				setup: func(t *testing.T, s *Service) {
					mustGrant(t, s, usa, GrantRequest{Kind: OPCON, Grantor: "usfj", Grantee: "cfc", Unit: "3mardiv", Duration: "2h", Decision: decision("D-2", true), Reason: "r"})
				},
				req: GrantRequest{Kind: TACON, Grantor: "cfc", Grantee: "eighth-army", Unit: "3mardiv", Duration: "1h", Reason: "r"}}},
		// JP 1 II-1 (unity of command): one commander at a time.
		{RuleUnity,
			row{name: "USFJ delegates its OPCON", p: usa, req: GrantRequest{Kind: OPCON, Grantor: "usfj", Grantee: "iiimef", Unit: "3mardiv", Duration: "1h", Reason: "r"}},
			row{name: "a second OPCON holder", p: usa, req: GrantRequest{Kind: OPCON, Grantor: "indopacom", Grantee: "5af", Unit: "3mardiv", Duration: "1h", Reason: "r"}}},
		// A force is never placed under its own subordinate.
		{RuleSubordinate,
			row{name: "to a JFHQ", p: usa, req: GrantRequest{Kind: OPCON, Grantor: "indopacom", Grantee: "usfj", Unit: "iiimef", Duration: "1h", Reason: "r"}},
			row{name: "to its own MEU", p: usa, req: GrantRequest{Kind: OPCON, Grantor: "indopacom", Grantee: "31meu", Unit: "iiimef", Duration: "1h", Reason: "r"}}},
		// Alliance Coordination Mechanism: coordinates, commands nothing.
		{RuleCoordinationBody,
			row{name: "DIRLAUTH with the BOCC", p: usa, req: GrantRequest{Kind: DirLiaison, Grantor: "indopacom", Grantee: "usfj", Unit: "acm", Function: "bilateral operations coordination", Reason: "r"}},
			row{name: "OPCON to the BOCC", p: usa, req: GrantRequest{Kind: OPCON, Grantor: "indopacom", Grantee: "acm", Unit: "31meu", Duration: "1h", Reason: "r"}}},
		// JP 1 IV-9: coordinating authority and DIRLAUTH are given by a
		// commander to a subordinate.
		{RuleCoordGrantor,
			row{name: "INDOPACOM gives USFJ DIRLAUTH with JJOC", p: usa, req: GrantRequest{Kind: DirLiaison, Grantor: "indopacom", Grantee: "usfj", Unit: "jjoc", Function: "bilateral planning", Reason: "r"}},
			row{name: "USFJ gives 7th Fleet DIRLAUTH", p: usa, req: GrantRequest{Kind: DirLiaison, Grantor: "usfj", Grantee: "c7f", Unit: "jjoc", Function: "bilateral planning", Reason: "r"}}},
		// Attachments (JP 1 IV-3, IV-4) are for a stated period.
		{RuleTimeBounded,
			row{name: "bounded", p: usa, req: GrantRequest{Kind: OPCON, Grantor: "indopacom", Grantee: "usfj", Unit: "31meu", Duration: "1h", Reason: "r"}},
			row{name: "open-ended", p: usa, req: GrantRequest{Kind: OPCON, Grantor: "indopacom", Grantee: "usfj", Unit: "31meu", Reason: "r"}}},
		// A commander grants to others, not to itself.
		{RuleSelfGrant,
			row{name: "to another", p: usa, req: GrantRequest{Kind: OPCON, Grantor: "indopacom", Grantee: "usfj", Unit: "31meu", Duration: "1h", Reason: "r"}},
			row{name: "to itself", p: usa, req: GrantRequest{Kind: OPCON, Grantor: "usfj", Grantee: "usfj", Unit: "3mardiv", Duration: "1h", Reason: "r"}}},
	}
	h := newHarness(t, nil)
	reset := h.snapshot()
	for _, tc := range tests {
		t.Run(tc.rule+"/accepted: "+tc.ok.name, func(t *testing.T) {
			t.Cleanup(reset)
			if tc.ok.setup != nil {
				tc.ok.setup(t, h.s)
			}
			g := mustGrant(t, h.s, tc.ok.p, tc.ok.req)
			if r := h.audit.find("grant.create", g.ID); len(r) != 1 || r[0].Decision != "allow" {
				t.Errorf("grant not audited: %+v", r)
			}
		})
		t.Run(tc.rule+"/refused: "+tc.fail.name, func(t *testing.T) {
			t.Cleanup(reset)
			if tc.fail.setup != nil {
				tc.fail.setup(t, h.s)
			}
			_, err := h.s.Grant(context.Background(), tc.fail.p, tc.fail.req)
			wantRule(t, err, tc.rule)
			if !errors.Is(err, ErrRule) {
				t.Errorf("%v is not ErrRule", err)
			}
			deny := h.audit.find("grant.create", "")
			if last := deny[len(deny)-1]; last.Decision != "deny" || !strings.Contains(last.Reason, tc.rule) {
				t.Errorf("audit %+v does not record the refusal", last)
			}
		})
	}
}

// TestSubGrantClipped: a sub-grant cannot outlive the grant it derives
// from (JP 1 IV-3: delegated authority is bounded by the delegator's).
func TestSubGrantClipped(t *testing.T) {
	h := newHarness(t, nil)
	src := mustGrant(t, h.s, usa, GrantRequest{Kind: OPCON, Grantor: "indopacom", Grantee: "usfj", Unit: "31meu", Duration: "2h", Reason: "r"})
	sub := mustGrant(t, h.s, usa, GrantRequest{Kind: TACON, Grantor: "usfj", Grantee: "5af", Unit: "31meu", Duration: "10h", Reason: "r"})
	if !sub.Until.Equal(src.Until) || sub.Clipped != src.ID {
		t.Fatalf("sub-grant until %s clipped %q, source until %s", sub.Until, sub.Clipped, src.Until)
	}
}

// TestCOCOMTransfer: the national authority transfers forces between
// combatant commands by naming the grant the new one supersedes.
func TestCOCOMTransfer(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	if _, err := h.s.PutUnit(ctx, usa, "", Unit{ID: "transcom", Nation: "USA", Service: "Joint", Echelon: EchelonCCMD, Name: "US Transportation Command"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.s.PutUnit(ctx, usa, "", Unit{ID: "jtf-x", Nation: "USA", Service: "Joint", Echelon: "JTF", Name: "JTF X"}); err != nil {
		t.Fatal(err)
	}
	first := mustGrant(t, h.s, usa, GrantRequest{Kind: COCOM, National: true, Grantee: "indopacom", Unit: "jtf-x", Reason: "assigned"})
	_, err := h.s.Grant(ctx, usa, GrantRequest{Kind: COCOM, National: true, Grantee: "transcom", Unit: "jtf-x", Reason: "reassigned"})
	wantRule(t, err, RuleOneCOCOM)
	mustGrant(t, h.s, usa, GrantRequest{Kind: COCOM, National: true, Grantee: "transcom", Unit: "jtf-x", Supersedes: first.ID, Reason: "reassigned"})
	if g, _ := h.s.GetGrant(usa, first.ID); g.RevokedAt.IsZero() {
		t.Fatalf("superseded grant still open: %+v", g)
	}
	d := h.s.world().OrderAuthority(Task, "indopacom", "jtf-x", t0.Add(time.Second))
	if d.Allowed {
		t.Fatalf("the losing CCMD still commands: %s", d.Reason)
	}
}

package command

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestGrantsRecheckedOnRestart: a grant stored under one order of battle
// is checked again when the node starts with an edited one. With the
// USA–KOR policy changed to "none", the grants placing US forces under
// the ROK–US Combined Forces Command break the nation-pair policy: they
// are suspended (kept, with the rule, audited) and give no authority;
// the national grants are left alone. A restart with no change suspends
// nothing.
func TestGrantsRecheckedOnRestart(t *testing.T) {
	orbat := testOrbat(t)
	h := newHarness(t, orbat)
	g := mustGrant(t, h.s, usa, GrantRequest{Kind: OPCON, Grantor: "usfj", Grantee: "cfc", Unit: "5af", Duration: "4h", Decision: decision("D-9", false), Reason: "r"})
	national := mustGrant(t, h.s, usa, GrantRequest{Kind: TACON, Grantor: "indopacom", Grantee: "c7f", Unit: "31meu", Duration: "4h", Reason: "r"})
	if d := h.s.world().OrderAuthority(Task, "cfc", "5af", h.clock.Now()); !d.Allowed {
		t.Fatalf("CFC does not command 5th Air Force before: %s", d.Reason)
	}
	h.s.Close()

	reopen := func(t *testing.T, orbat []byte) *Service {
		t.Helper()
		s, err := New(Config{DBPath: h.path, OrbatData: orbat, Nation: "USA", Clock: h.clock.Now, Audit: h.audit})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	// The same order of battle: nothing is suspended.
	s := reopen(t, orbat)
	if r := h.audit.find("grant.suspend", ""); len(r) != 0 {
		t.Fatalf("suspended without a change: %+v", r)
	}
	s.Close()

	h.clock.Advance(time.Minute)
	edited := bytes.Replace(orbat, []byte(`"command": "combined",
   "combined": "cfc",`), []byte(`"command": "none",`), 1)
	if bytes.Equal(edited, orbat) {
		t.Fatal("the test order of battle's USA–KOR policy was not found")
	}
	s = reopen(t, edited)
	got, err := s.GetGrant(usa, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.SuspendedAt.IsZero() || got.SuspendRule != RuleNationPair {
		t.Fatalf("grant %s not suspended under %s: %+v", g.ID, RuleNationPair, got)
	}
	if r := h.audit.find("grant.suspend", g.ID); len(r) != 1 || r[0].Actor != "system" || !strings.Contains(r[0].Reason, RuleNationPair) {
		t.Fatalf("suspension audit %+v", r)
	}
	// The ORBAT's own TACON of 12th MLR to the CFC ground component is
	// suspended too; the national TACON is not.
	if tg, _ := s.GetGrant(usa, "tacon-gcc-12mlr"); tg.SuspendedAt.IsZero() {
		t.Errorf("tacon-gcc-12mlr not suspended: %+v", tg)
	}
	if ng, _ := s.GetGrant(usa, national.ID); !ng.SuspendedAt.IsZero() {
		t.Errorf("national grant suspended: %+v", ng)
	}
	s.mu.Lock()
	d := s.world().OrderAuthority(Task, "cfc", "5af", h.clock.Now())
	dn := s.world().OrderAuthority(Movement, "c7f", "31meu", h.clock.Now())
	s.mu.Unlock()
	if d.Allowed {
		t.Fatalf("CFC still commands 5th Air Force: %s", d.Reason)
	}
	if !dn.Allowed {
		t.Fatalf("7th Fleet lost its national TACON: %s", dn.Reason)
	}
	// Suspension is durable: the next start finds it stored and audits
	// nothing new.
	s.Close()
	n := len(h.audit.find("grant.suspend", ""))
	s = reopen(t, edited)
	if got, _ := s.GetGrant(usa, g.ID); got.SuspendedAt.IsZero() {
		t.Fatal("suspension not stored")
	}
	if m := len(h.audit.find("grant.suspend", "")); m != n {
		t.Fatalf("suspensions audited again: %d → %d", n, m)
	}
}

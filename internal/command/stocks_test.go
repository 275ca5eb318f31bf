package command

import (
	"context"
	"errors"
	"testing"

	"kizuna/internal/label"
)

// TestStockAuthority: the holding unit and the units with COCOM, OPCON or
// ADCON over it may act on its stocks; a sibling, another nation and a
// TACON holder may not; stocks of no unit need a national position.
func TestStockAuthority(t *testing.T) {
	orbat := []byte(`{"units":[
		{"id":"hq","nation":"USA","echelon":"CCMD","name":"HQ","positions":[{"name":"NCA","national":true},{"name":"HQ-J4"}]},
		{"id":"jtf","parent":"hq","nation":"USA","name":"JTF","positions":[{"name":"JTF-J4"}]},
		{"id":"bde","parent":"jtf","nation":"USA","name":"Brigade","positions":[{"name":"BDE-S4"}]},
		{"id":"fleet","parent":"hq","nation":"USA","name":"Fleet","positions":[{"name":"FLEET-N4"}]},
		{"id":"jp","nation":"JPN","echelon":"CCMD","name":"JP","positions":[{"name":"JP-J4","national":true}]}]}`)
	h := newHarness(t, orbat)
	ctx := context.Background()
	usa := func(name string) label.Principal {
		return label.Principal{Nation: "USA", Clearance: label.Secret, Name: name}
	}
	nca := usa("NCA")
	mustGrant(t, h.s, nca, GrantRequest{Kind: COCOM, National: true, Grantee: "hq", Unit: "hq", Reason: "assigned forces"})
	mustGrant(t, h.s, usa("HQ-J4"), GrantRequest{Grantor: "hq", Kind: TACON, Grantee: "fleet", Unit: "bde", Reason: "local direction", Duration: "24h"})
	jpn := label.Principal{Nation: "JPN", Clearance: label.Secret, Name: "JP-J4"}
	cases := []struct {
		name  string
		p     label.Principal
		units []string
		ok    bool
	}{
		{"the holding unit", usa("BDE-S4"), []string{"bde"}, true},
		{"its superior (OPCON down the chain)", usa("JTF-J4"), []string{"bde"}, true},
		{"the combatant command (COCOM)", usa("HQ-J4"), []string{"bde"}, true},
		{"a TACON holder", usa("FLEET-N4"), []string{"bde"}, false},
		{"a subordinate over its superior's stock", usa("BDE-S4"), []string{"jtf"}, false},
		{"a unit unknown to the ORBAT resolves to its nearest known superior", usa("JTF-J4"), []string{"battery-x", "bde"}, true},
		{"another nation", jpn, []string{"bde"}, false},
		{"national stock: the national authority", nca, nil, true},
		{"national stock: a staff officer", usa("JTF-J4"), nil, false},
		{"an anonymous principal of the nation", label.Principal{Nation: "USA", Clearance: label.Secret}, []string{"bde"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := h.s.StockAuthority(ctx, c.p, "USA", c.units, "approve")
			if c.ok != (err == nil) || d.Allowed != c.ok {
				t.Fatalf("allowed %v err %v (%s), want %v", d.Allowed, err, d.Reason, c.ok)
			}
			if !c.ok && !errors.Is(err, ErrRefused) {
				t.Fatalf("refusal %v is not ErrRefused", err)
			}
		})
	}
	if _, err := h.s.StockAuthority(ctx, jpn, "JPN", []string{"bde"}, "approve"); err == nil {
		t.Fatal("a US unit's stock approved as JPN's")
	}
	if n := len(h.audit.find("authority.stock", "")); n < len(cases) {
		t.Fatalf("%d stock authority decisions audited", n)
	}
}

package command

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"kizuna/internal/label"
)

// TestGrantSequencesProperty makes random sequences of grants, revocations
// and clock advances on the test order of battle and checks after each
// step that unity of command and the nation-pair policy are never
// violated, and that every derived authority lapses with its source.
func TestGrantSequencesProperty(t *testing.T) {
	seeds := 6
	if testing.Short() {
		seeds = 3
	}
	total := 0
	t.Cleanup(func() {
		// The generator must reach the rules: a run that makes almost no
		// grant proves nothing.
		if total < seeds*2 {
			t.Errorf("only %d grants made in %d sequences", total, seeds)
		}
	})
	for seed := range seeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			h := newHarness(t, nil)
			rng := rand.New(rand.NewPCG(uint64(seed), 18))
			ctx := context.Background()
			var ids []string
			for id, u := range h.s.units {
				if u.Kind != UnitCoordination {
					ids = append(ids, id)
				}
			}
			slices.Sort(ids)
			pick := func() string { return ids[rng.IntN(len(ids))] }
			kinds := []Kind{OPCON, OPCON, TACON, TACON, COCOM, Support}
			var made []string
			t.Cleanup(func() { total += len(made) })
			for step := range 40 {
				switch r := rng.IntN(10); {
				case r < 7:
					// Mostly plausible grantors: a superior of the unit, or
					// the grantee of a grant over it; sometimes anyone.
					unit := pick()
					grantor := pick()
					var cands []string
					w := h.s.world()
					cands = append(cands, w.ancestorsOrSelf(unit)[1:]...)
					for _, g := range h.s.grants {
						if w.within(unit, g.Unit) {
							cands = append(cands, g.Grantee)
						}
					}
					if len(cands) > 0 && rng.IntN(10) < 8 {
						grantor = cands[rng.IntN(len(cands))]
					}
					req := GrantRequest{Kind: kinds[rng.IntN(len(kinds))], Grantor: grantor, Grantee: pick(), Unit: unit,
						Duration: fmt.Sprintf("%dm", 10+rng.IntN(240)), Reason: "property", Support: "DIRECT", Directive: directive}
					if req.Kind == COCOM {
						req.Grantor, req.National, req.Duration = "", true, ""
					}
					if rng.IntN(2) == 0 {
						req.Decision = decision(fmt.Sprint("P-", step), rng.IntN(2) == 0)
					}
					p := principalFor(h.s, req.Grantor, req.Unit)
					if g, err := h.s.Grant(ctx, p, req); err == nil {
						made = append(made, g.ID)
					}
				case r < 9 && len(made) > 0:
					id := made[rng.IntN(len(made))]
					g, _ := h.s.GetGrant(usa, id)
					if g.ID == "" {
						g, _ = h.s.GetGrant(jpn, id)
					}
					if g.ID == "" {
						g, _ = h.s.GetGrant(kor, id)
					}
					if g.Grantor != "" {
						h.s.Revoke(ctx, principalFor(h.s, g.Grantor, g.Unit), g.Grantor, false, id, "property")
					}
				default:
					h.clock.Advance(time.Duration(rng.IntN(90)) * time.Minute)
				}
				checkInvariants(t, h.s, h.clock.Now())
				_ = made
				if t.Failed() {
					t.Fatalf("after step %d", step)
				}
			}
		})
	}
}

// principalFor is a principal able to act for unit (the grantor), or the
// national authority of forces when unit is empty.
func principalFor(s *Service, unit, forces string) label.Principal {
	id := unit
	if id == "" {
		id = forces
	}
	if u := s.units[id]; u != nil {
		return label.Principal{Nation: u.Nation, Clearance: label.Secret}
	}
	return usa
}

func checkInvariants(t *testing.T, s *Service, now time.Time) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.world()
	for _, at := range []time.Time{now, now.Add(3 * time.Hour)} {
		var live []*Grant
		for _, g := range w.grants {
			if w.grantInForce(g, at, map[string]bool{}) {
				live = append(live, g)
			}
		}
		derives := func(a, b *Grant) bool { // a derives from b
			if a.Grantor == "" {
				return false
			}
			bs, ok := w.Resolve(a.Grantor, a.Unit, grantorNeeds(a.Kind), at)
			return ok && slices.ContainsFunc(bs.Chain, func(c Grant) bool { return c.ID == b.ID })
		}
		for i, a := range live {
			// Nation-pair policy and the national decision.
			if a.Kind == OPCON || a.Kind == TACON {
				unit, grantee := w.units[a.Unit], w.units[a.Grantee]
				if foreignControl(unit, grantee) {
					if err := w.checkPair(unit, grantee); err != nil {
						t.Errorf("%s in force at %s against the pair policy: %v", a.ID, at, err)
					}
					if checkDecision(a, unit, grantee) != nil {
						t.Errorf("%s in force without a national decision", a.ID)
					}
				}
			}
			// Unity of command.
			for _, b := range live[i+1:] {
				if a.Kind != b.Kind || (a.Kind != OPCON && a.Kind != TACON && a.Kind != COCOM) || a.Grantee == b.Grantee || !w.related(a.Unit, b.Unit) {
					continue
				}
				if a.Kind != COCOM && (derives(a, b) || derives(b, a) || w.related(a.Grantee, b.Grantee)) {
					continue
				}
				t.Errorf("unity of command broken at %s: %s %s→%s over %s and %s %s→%s over %s", at,
					a.ID, a.Kind, a.Grantee, a.Unit, b.ID, b.Kind, b.Grantee, b.Unit)
			}
		}
		// Derived authority lapses with its source: every chain behind an
		// authority is whole and in force.
		for id := range w.units {
			for _, b := range w.holders(id, at) {
				// The chain starts at the national authority or at a
				// commander holding the authority by the standing chain.
				if len(b.Chain) > 0 && b.Chain[0].Grantor != "" {
					first := b.Chain[0]
					if k, ok := w.standing(first.Grantor, first.Unit, at, map[string]bool{}); !ok || !grantorNeeds(first.Kind).has(k) {
						t.Errorf("%s holds %s over %s through %s, whose grantor %s holds nothing to give: %v", b.Holder, b.Kind, id, first.ID, first.Grantor, chainString(b.Chain, w))
					}
				}
				for k, g := range b.Chain {
					if !g.activeAt(at) {
						t.Errorf("%s holds %s over %s through %s, not in force at %s", b.Holder, b.Kind, id, g.ID, at)
					}
					if k > 0 && g.Grantor != b.Chain[k-1].Grantee && !w.within(b.Chain[k-1].Grantee, g.Grantor) && !w.within(g.Grantor, b.Chain[k-1].Grantee) {
						t.Errorf("broken chain for %s over %s: %v", b.Holder, id, chainString(b.Chain, w))
					}
				}
			}
		}
	}
}

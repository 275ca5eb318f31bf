package command

import (
	"context"
	"fmt"
	"strings"

	"kizuna/internal/audit"
	"kizuna/internal/label"
)

// Authority over stocks.
//
// Munitions and spares belong to the unit that holds them; the commands
// with authority over them are that unit itself and every unit holding
// COCOM, OPCON or ADCON over it (ADCON carries logistics; TACON and
// SUPPORT do not). Stocks held by no unit (a factory, a national depot)
// are the nation's: its national command authority decides. Package
// sustain asks this before a transfer is approved, rejected, shipped or
// received.

// stockKinds are the relationships that give authority over a unit's stocks.
var stockKinds = kindSet{COCOM, OPCON, ADCON}

// StockAuthority decides whether p acts for a command with authority over
// the stocks of nation held by a unit: units names the holding unit and
// its superiors, nearest first, as the caller knows them; the first of
// them in the order of battle is the holding unit (they must all be of
// nation). Without one, the stocks are the nation's and p must hold a
// national position of it. The decision is audited; a refusal is an
// *AuthorityError.
func (s *Service) StockAuthority(ctx context.Context, p label.Principal, nation string, units []string, action string) (Decision, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at := s.clock()
	d := Decision{At: at, Needs: "a position in the holding unit or in a unit with " + stockKinds.String() + " over it"}
	holder := ""
	for _, id := range units {
		if u := s.units[id]; u != nil {
			if u.Nation != nation {
				d.Reason = fmt.Sprintf("unit %s is %s, not %s", id, u.Nation, nation)
				return s.stockDecision(ctx, p, action, d)
			}
			holder = id
			break
		}
	}
	d.Unit = holder
	if !p.Valid() || p.Nation != nation {
		d.Reason = fmt.Sprintf("%s does not act for %s", p, nation)
		return s.stockDecision(ctx, p, action, d)
	}
	if holder == "" {
		d.Needs = "a national position of " + nation
		d.Allowed = s.nationalLocked(p, nation)
		if d.Allowed {
			d.Reason = fmt.Sprintf("%s holds a national position of %s, whose stocks these are", p, nation)
		} else {
			d.Reason = fmt.Sprintf("stocks of no unit are %s's: %s holds no national position of it", nation, p)
		}
		return s.stockDecision(ctx, p, action, d)
	}
	w := s.world()
	var held []string
	for _, h := range s.positionsLocked(p) {
		held = append(held, h.Unit)
		if h.Unit == holder {
			d.Allowed, d.Issuer = true, h.Unit
			d.Reason = fmt.Sprintf("%s holds a position in %s, which holds the stock", p, holder)
			return s.stockDecision(ctx, p, action, d)
		}
		if b, ok := w.Resolve(h.Unit, holder, stockKinds, at); ok {
			d.Allowed, d.Issuer, d.Holds, d.Chain = true, h.Unit, b.Kind, b.Chain
			d.Reason = fmt.Sprintf("%s acts for %s, which holds %s over %s", p, h.Unit, b.Kind, holder)
			return s.stockDecision(ctx, p, action, d)
		}
	}
	if s.nationalLocked(p, nation) {
		d.Allowed = true
		d.Reason = fmt.Sprintf("%s holds a national position of %s", p, nation)
		return s.stockDecision(ctx, p, action, d)
	}
	d.Reason = fmt.Sprintf("%s acts for %s; none is %s nor holds %s over it", p, unitList(held), holder, stockKinds)
	return s.stockDecision(ctx, p, action, d)
}

func unitList(ids []string) string {
	if len(ids) == 0 {
		return "no unit"
	}
	return strings.Join(ids, ", ")
}

func (s *Service) stockDecision(ctx context.Context, p label.Principal, action string, d Decision) (Decision, error) {
	s.auditNoLock(ctx, audit.Record{Actor: p.String(), Action: "authority.stock", Object: action + " " + stockObject(d.Unit),
		Decision: decisionWord(d.Allowed), Reason: d.Reason})
	if !d.Allowed {
		return d, &AuthorityError{Decision: d}
	}
	return d, nil
}

func stockObject(unit string) string {
	if unit == "" {
		return "national stock"
	}
	return unit
}

package command

import (
	"context"
	"fmt"

	"kizuna/internal/audit"
)

// revalidate re-checks every stored grant still in force against the
// current order of battle and nation-pair policies, in the order the
// grants were made (each against the ones before it, as when it was
// made). A grant that now breaks a rule — its units moved or gone, the
// pair policy changed, its grantor no longer holding the authority, a
// caveat no longer met — is suspended: kept, with the rule and the
// reason, but never in force again. Each suspension is audited.
func (s *Service) revalidate(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	kept := make([]*Grant, 0, len(s.grants))
	var suspended []*Grant
	for _, g := range s.grants {
		if !g.RevokedAt.IsZero() || !g.SuspendedAt.IsZero() || (!g.Until.IsZero() && !g.Until.After(now)) {
			kept = append(kept, g)
			continue
		}
		w := &world{units: s.units, grants: kept, policies: s.policies}
		c := *g
		err := w.CheckGrant(&c, now)
		if err == nil {
			kept = append(kept, g)
			continue
		}
		ng := *g
		ng.SuspendedAt, ng.SuspendRule, ng.SuspendReason = now, RuleOf(err), err.Error()
		suspended = append(suspended, &ng)
		kept = append(kept, &ng)
	}
	if len(suspended) == 0 {
		return nil
	}
	if err := s.db.commit(ctx, write{grants: suspended}, func(*Grant) int64 { return 0 }); err != nil {
		return err
	}
	for _, ng := range suspended {
		*s.grantIdx[ng.ID] = *ng
		nation := ""
		if u := s.units[ng.Unit]; u != nil {
			nation = u.Nation
		}
		s.log.Warn("command: stored grant suspended", "grant", ng.ID, "rule", ng.SuspendRule, "reason", ng.SuspendReason)
		if err := s.auditNoLock(ctx, audit.Record{Actor: "system", Action: "grant.suspend", Object: ng.ID, Decision: "deny",
			Reason: fmt.Sprintf("%s %s→%s over %s no longer valid at start-up: %s", ng.Kind, ng.grantorName(nation), ng.Grantee, ng.Unit, ng.SuspendReason)}); err != nil {
			return err
		}
	}
	return nil
}

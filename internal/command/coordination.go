package command

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"kizuna/internal/audit"
	"kizuna/internal/label"
)

// This file routes requests for support between nations through a
// coordination body, and records the other nation's decision.
//
// A support request from a commander to another nation's forces goes to
// a coordination body both nations' headquarters belong to (the Alliance
// Coordination Mechanism and its bilateral operations coordination
// centre). The request is addressed to the other nation's member
// headquarters, which decides: APPROVED, PARTLY_APPROVED or DENIED. An
// approval comes with that nation's own order to its unit, linked to the
// request and labelled as that nation chooses: the requester sees the
// outcome, not the national order unless it is released to it.

// Outcomes of a routed request.
const (
	Approved       = "APPROVED"
	PartlyApproved = "PARTLY_APPROVED"
	Denied         = "DENIED"
)

// routeLocked decides where a support request goes. Within a nation it
// goes to the unit asked. Across nations it goes through a coordination
// body with a member headquarters on each side (viaID when given) to the
// other nation's member headquarters, which decides.
func (s *Service) routeLocked(issuer, recipient *Unit, viaID string) (*Unit, *Unit, error) {
	w := s.world()
	if recipient.Kind == UnitCoordination {
		return nil, nil, ruleErr(RuleViaCoordination, "%s is a coordination body: address the request to the forces wanted; it is routed through the body", recipient.ID)
	}
	if slices.Contains(w.nationsOfUnit(issuer), recipient.Nation) && issuer.Kind != UnitCoordination {
		if viaID != "" {
			return nil, nil, invalid("a request within one nation goes straight to the unit, not through %s", viaID)
		}
		return nil, recipient, nil
	}
	ids := make([]string, 0, len(s.units))
	for id := range s.units {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		body := s.units[id]
		if body.Kind != UnitCoordination || (viaID != "" && viaID != id) {
			continue
		}
		var own, decider *Unit
		for _, m := range body.Members {
			mu := s.units[m]
			if mu == nil {
				continue
			}
			if mu.Nation == issuer.Nation && (m == issuer.ID || w.within(issuer.ID, m)) {
				own = mu
			}
			if mu.Nation == recipient.Nation && (m == recipient.ID || w.within(recipient.ID, m)) {
				decider = mu
			}
		}
		if own != nil && decider != nil {
			return body, decider, nil
		}
	}
	if viaID != "" {
		return nil, nil, ruleErr(RuleViaCoordination, "%s does not link %s with %s's headquarters", viaID, issuer.ID, recipient.Nation)
	}
	return nil, nil, ruleErr(RuleViaCoordination, "a request for %s (%s) support from %s (%s) goes through a coordination body both nations' headquarters belong to; the order of battle has none",
		recipient.ID, recipient.Nation, issuer.ID, issuer.Nation)
}

// DecideRequest is the other nation's answer to a routed support request.
type DecideRequest struct {
	As      string `json:"as,omitempty"`
	Outcome string `json:"outcome"`
	Reason  string `json:"reason"`
	// Order is the national order that carries out an approval, from the
	// deciding headquarters (or one of its subordinates, As) to its unit.
	Order *IssueRequest `json:"order,omitempty"`
}

// Decide records the deciding headquarters' answer to a routed support
// request. An approval (full or partial) issues the national order first
// and links it to the request; the request then becomes WILCO (CANTCO for
// a denial) with the outcome. It returns the request and, for an
// approval, the national order.
func (s *Service) Decide(ctx context.Context, p label.Principal, id string, req DecideRequest) (*Order, *Order, error) {
	outcome, reason, err := req.check()
	if err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	o, ok := s.orders[strings.ToUpper(id)]
	if !ok || !label.Releasable(p, o.Label) {
		s.mu.Unlock()
		return nil, nil, fmt.Errorf("%w: order %q", ErrNotFound, id)
	}
	o = o.clone()
	as := req.As
	if as == "" {
		as = o.Recipient
	}
	au, err := s.actingLocked(p, as)
	s.mu.Unlock()
	if err != nil {
		return nil, nil, err
	}
	deny := func(err error) (*Order, *Order, error) {
		s.auditNoLock(ctx, audit.Record{Actor: p.String(), Action: "request.decide", Object: o.ID, Decision: "deny", Reason: err.Error()})
		return nil, nil, err
	}
	if o.Type != SupportRequest || o.Via == "" {
		return deny(ruleErr(RuleDecide, "order %s is not a support request routed through a coordination body", o.ID))
	}
	if au.ID != o.Recipient {
		return deny(ruleErr(RuleDecide, "only %s, the headquarters the request was routed to, decides on %s; not %s", o.Recipient, o.ID, au.ID))
	}
	if s.federates() && o.Origin == "" && au.Nation != s.cfg.Nation {
		// The request went to the deciding nation's node (federateIssued):
		// its decision is made there, where its national order is issued,
		// and comes back. A decision here would never reach that copy.
		return deny(ruleErr(RuleDecide, "request %s was sent to the %s node: %s decides it there", o.ID, au.Nation, au.ID))
	}
	if o.Outcome != "" || o.State.Terminal() {
		return deny(fmt.Errorf("%w: request %s is already %s", ErrConflict, o.ID, orState(o)))
	}
	var national *Order
	if req.Order != nil {
		nr := *req.Order
		if nr.As == "" {
			nr.As = au.ID
		}
		if nr.Type == "" {
			nr.Type = string(Task)
		}
		national, err = s.issueLinked(ctx, p, nr, o.ID)
		if err != nil {
			return deny(fmt.Errorf("the national order was not issued: %w", err))
		}
	}
	to, text := Wilco, outcome
	if outcome == Denied {
		to = Cantco
	}
	if reason != "" {
		text += ": " + reason
	}
	if national != nil {
		text += " (carried out under a " + au.Nation + " national order)"
	}
	out, err := s.move(ctx, o.ID, to, &actor{By: p.String(), Unit: au.ID, Via: "api"}, text, nil, func(n *Order) {
		n.Outcome = outcome
		// The requester learns which order carries it out only when that
		// order is released to it; the decider's own copy keeps it.
		if national != nil && (n.Origin != "" || label.Releasable(label.Principal{Nation: s.nationOfUnit(n.IssuerUnit), Clearance: label.TopSecret}, national.Label)) {
			n.Answer = national.ID
		}
	})
	if err != nil {
		return nil, national, err
	}
	s.auditNoLock(ctx, audit.Record{Actor: p.String(), Action: "request.decide", Object: o.ID, Decision: "allow",
		Reason: fmt.Sprintf("%s by %s via %s: %s%s", outcome, au.ID, o.Via, reason, linkedNote(national))})
	return out, national, nil
}

// check validates a decision on its own and returns its normalised outcome
// and reason.
func (req DecideRequest) check() (outcome, reason string, err error) {
	outcome = strings.ToUpper(strings.TrimSpace(req.Outcome))
	reason = strings.TrimSpace(req.Reason)
	switch outcome {
	case Approved, PartlyApproved:
		if req.Order == nil {
			return "", "", invalid("an approval comes with the national order that carries it out")
		}
	case Denied:
		if reason == "" {
			return "", "", invalid("a denial needs a reason")
		}
	default:
		return "", "", invalid("outcome %q (want APPROVED, PARTLY_APPROVED or DENIED)", req.Outcome)
	}
	return outcome, reason, nil
}

// nationOfUnit is a unit's nation; callers hold s.mu.
func (s *Service) nationOfUnit(id string) string {
	if u, ok := s.units[id]; ok {
		return u.Nation
	}
	return ""
}

func linkedNote(n *Order) string {
	if n == nil {
		return ""
	}
	return fmt.Sprintf("; national order %s %s→%s", n.ID, n.IssuerUnit, n.Recipient)
}

func orState(o *Order) string {
	if o.Outcome != "" {
		return o.Outcome
	}
	return string(o.State)
}

// issueLinked issues a national order that answers request reqID.
func (s *Service) issueLinked(ctx context.Context, p label.Principal, req IssueRequest, reqID string) (*Order, error) {
	return s.issue(ctx, p, req, reqID)
}

// routedAnswer refuses a plain WILCO or CANTCO to a routed request: the
// deciding headquarters answers with a decision (Decide).
func routedAnswer(o *Order, to State) error {
	if o.Via != "" && o.Outcome == "" && (to == Wilco || to == Cantco) {
		return ruleErr(RuleDecide, "request %s came through %s: %s answers it with a decision (APPROVED, PARTLY_APPROVED or DENIED), not %s", o.ID, o.Via, o.Recipient, to)
	}
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "an unidentified device"
	}
	return s
}

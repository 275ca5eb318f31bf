package command

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// This file is the one place where the doctrine rules are decided: what
// grant may be made (CheckGrant), who holds what authority over a unit at an
// instant and through which chain of grants (Resolve), who may revoke a
// grant (CheckRevoke), and what authority an order needs (OrderAuthority).

// Rule codes. Each violated rule is reported with its own code.
const (
	RuleUnknownUnit       = "unknown-unit"
	RuleWindow            = "window"
	RuleCOCOMCombatant    = "cocom-combatant-commander-only"
	RuleCOCOMNotDelegable = "cocom-not-delegable"
	RuleCOCOMNational     = "cocom-national"
	RuleNationalGrantor   = "national-authority-grants-cocom-adcon-only"
	RuleOPCONGrantor      = "opcon-needs-cocom-or-opcon"
	RuleTACONGrantor      = "tacon-needs-opcon"
	RuleSupportGrantor    = "support-needs-cocom-or-opcon"
	RuleSupportMode       = "support-mode"
	RuleADCONCrossNation  = "adcon-stays-national"
	RuleADCONGrantor      = "adcon-needs-cocom-or-adcon"
	RuleForeignGrant      = "national-chain-only"
	RuleTimeBounded       = "attachment-time-bounded"
	RuleSelfGrant         = "self-grant"
	RuleRevoke            = "revoke-authority"
	RuleOrderAuthority    = "order-authority"
	RuleNoPosition        = "no-position"
)

// ErrRule is wrapped by every *RuleError so callers can branch on any rule
// violation with errors.Is.
var ErrRule = errors.New("rule violated")

// RuleError is one violated rule.
type RuleError struct {
	Rule string `json:"rule"`
	Msg  string `json:"message"`
}

func (e *RuleError) Error() string { return e.Rule + ": " + e.Msg }

// Is makes errors.Is(err, ErrRule) true for every rule error.
func (e *RuleError) Is(target error) bool { return target == ErrRule }

func ruleErr(rule, format string, args ...any) *RuleError {
	return &RuleError{Rule: rule, Msg: fmt.Sprintf(format, args...)}
}

// RuleOf returns the rule code of err, or "".
func RuleOf(err error) string {
	var re *RuleError
	if errors.As(err, &re) {
		return re.Rule
	}
	return ""
}

// kindSet is a set of relationships.
type kindSet []Kind

func (s kindSet) has(k Kind) bool { return slices.Contains(s, k) }

func (s kindSet) String() string {
	parts := make([]string, len(s))
	for i, k := range s {
		parts[i] = string(k)
	}
	switch len(parts) {
	case 0:
		return "nothing"
	case 1:
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " or " + parts[len(parts)-1]
}

// Authority sets.
var (
	commandAtLeastTACON = kindSet{COCOM, OPCON, TACON}
	commandAtLeastOPCON = kindSet{COCOM, OPCON}
	anyRelationship     = kindSet{COCOM, OPCON, TACON, ADCON, Support}
)

// grantorNeeds is the authority a unit grantor must hold over the unit to
// grant a relationship of kind k.
func grantorNeeds(k Kind) kindSet {
	switch k {
	case OPCON, TACON, Support:
		return commandAtLeastOPCON
	case ADCON:
		return kindSet{COCOM, ADCON}
	}
	return nil // COCOM is never granted by a unit
}

// world is the read-only view the rules need.
type world struct {
	units  map[string]*Unit
	grants []*Grant // in creation order
}

// ancestorsOrSelf returns id and its ancestors, nearest first.
func (w *world) ancestorsOrSelf(id string) []string {
	var out []string
	seen := map[string]bool{}
	for id != "" && !seen[id] {
		u, ok := w.units[id]
		if !ok {
			break
		}
		seen[id] = true
		out = append(out, id)
		id = u.Parent
	}
	return out
}

// within reports whether unit lies in the subtree rooted at root.
func (w *world) within(unit, root string) bool {
	return slices.Contains(w.ancestorsOrSelf(unit), root)
}

// Basis is why a holder has authority over a unit: the chain of grants,
// from the national command authority down to the grant to the holder.
type Basis struct {
	Holder string  `json:"holder"`
	Kind   Kind    `json:"kind"`
	Chain  []Grant `json:"chain"`
}

// resolve finds a grant chain giving holder one of kinds over unit at t.
// visiting guards against cycles.
func (w *world) resolve(holder, unit string, kinds kindSet, t time.Time, visiting map[string]bool) (Basis, bool) {
	scope := w.ancestorsOrSelf(unit)
	var best Basis
	found := false
	for _, g := range w.grants {
		if g.Grantee != holder || !kinds.has(g.Kind) || !slices.Contains(scope, g.Unit) || !g.activeAt(t) || visiting[g.ID] {
			continue
		}
		var chain []Grant
		if g.Grantor != "" {
			visiting[g.ID] = true
			b, ok := w.resolve(g.Grantor, g.Unit, grantorNeeds(g.Kind), t, visiting)
			delete(visiting, g.ID)
			if !ok {
				continue
			}
			chain = append(chain, b.Chain...)
		}
		chain = append(chain, *g)
		cand := Basis{Holder: holder, Kind: g.Kind, Chain: chain}
		// Prefer the strongest relationship, then the shortest chain.
		if !found || strength(cand.Kind) > strength(best.Kind) ||
			(strength(cand.Kind) == strength(best.Kind) && len(cand.Chain) < len(best.Chain)) {
			best, found = cand, true
		}
	}
	return best, found
}

func strength(k Kind) int {
	switch k {
	case COCOM:
		return 5
	case OPCON:
		return 4
	case TACON:
		return 3
	case ADCON:
		return 2
	case Support:
		return 1
	}
	return 0
}

// Resolve reports whether holder holds one of kinds over unit at t and, if
// so, the chain of grants that gives it.
func (w *world) Resolve(holder, unit string, kinds kindSet, t time.Time) (Basis, bool) {
	return w.resolve(holder, unit, kinds, t, map[string]bool{})
}

// holders lists every unit holding any relationship over unit at t, with
// the chain for each (strongest relationship per holder).
func (w *world) holders(unit string, t time.Time) []Basis {
	seen := map[string]bool{}
	var out []Basis
	for _, g := range w.grants {
		if seen[g.Grantee] {
			continue
		}
		if b, ok := w.Resolve(g.Grantee, unit, anyRelationship, t); ok {
			seen[g.Grantee] = true
			out = append(out, b)
		}
	}
	slices.SortFunc(out, func(a, b Basis) int {
		if d := strength(b.Kind) - strength(a.Kind); d != 0 {
			return d
		}
		return strings.Compare(a.Holder, b.Holder)
	})
	return out
}

// explainMissing says why holder lacks kinds over unit at t: it lists the
// grants that would have given it and why each is not in force.
func (w *world) explainMissing(holder, unit string, kinds kindSet, t time.Time) string {
	scope := w.ancestorsOrSelf(unit)
	var notes []string
	for _, g := range w.grants {
		if g.Grantee != holder || !slices.Contains(scope, g.Unit) {
			continue
		}
		desc := fmt.Sprintf("%s %s from %s", g.ID, g.Kind, g.grantorName(w.nationOf(g.Unit)))
		switch {
		case !kinds.has(g.Kind):
			if g.activeAt(t) {
				notes = append(notes, desc+" is held but is not enough")
			} else {
				notes = append(notes, desc+" is not enough and not in force")
			}
		case !g.RevokedAt.IsZero() && !t.Before(g.RevokedAt):
			notes = append(notes, fmt.Sprintf("%s was revoked at %s by %s", desc, g.RevokedAt.UTC().Format(time.RFC3339), g.RevokedBy))
		case !g.Until.IsZero() && !t.Before(g.Until):
			notes = append(notes, fmt.Sprintf("%s ended at %s", desc, g.Until.UTC().Format(time.RFC3339)))
		case t.Before(g.From):
			notes = append(notes, fmt.Sprintf("%s starts only at %s", desc, g.From.UTC().Format(time.RFC3339)))
		default:
			notes = append(notes, fmt.Sprintf("%s has lapsed because %s no longer holds %s over %s", desc, g.Grantor, grantorNeeds(g.Kind), g.Unit))
		}
	}
	msg := fmt.Sprintf("%s holds no %s over %s", holder, kinds, unit)
	if len(notes) > 0 {
		msg += " (" + strings.Join(notes, "; ") + ")"
	}
	return msg
}

func (w *world) nationOf(id string) string {
	if u, ok := w.units[id]; ok {
		return u.Nation
	}
	return ""
}

// CheckGrant applies every grant rule to g at now. It returns nil or the
// first violated rule, as a *RuleError.
func (w *world) CheckGrant(g *Grant, now time.Time) error {
	unit, ok := w.units[g.Unit]
	if !ok {
		return ruleErr(RuleUnknownUnit, "unit %q is not in the order of battle", g.Unit)
	}
	grantee, ok := w.units[g.Grantee]
	if !ok {
		return ruleErr(RuleUnknownUnit, "grantee %q is not in the order of battle", g.Grantee)
	}
	var grantor *Unit
	if g.Grantor != "" {
		if grantor, ok = w.units[g.Grantor]; !ok {
			return ruleErr(RuleUnknownUnit, "grantor %q is not in the order of battle", g.Grantor)
		}
		if g.Grantor == g.Grantee {
			return ruleErr(RuleSelfGrant, "%s cannot grant %s to itself", g.Grantor, g.Kind)
		}
	}
	if !g.Until.IsZero() && !g.Until.After(g.From) {
		return ruleErr(RuleWindow, "the validity window ends (%s) before it starts (%s)", g.Until.UTC().Format(time.RFC3339), g.From.UTC().Format(time.RFC3339))
	}
	if !g.Until.IsZero() && !g.Until.After(now) {
		return ruleErr(RuleWindow, "the validity window has already ended (%s)", g.Until.UTC().Format(time.RFC3339))
	}

	switch g.Kind {
	case COCOM:
		if grantee.Echelon != EchelonCCMD {
			return ruleErr(RuleCOCOMCombatant, "COCOM belongs only to a combatant commander; %s is a %s, not a combatant command", grantee.ID, echelonName(grantee))
		}
		if grantor != nil {
			return ruleErr(RuleCOCOMNotDelegable, "COCOM cannot be delegated: %s cannot pass COCOM to %s; grant OPCON instead", grantor.ID, grantee.ID)
		}
		if grantee.Nation != unit.Nation {
			return ruleErr(RuleCOCOMNational, "national command is never given away: %s (%s) cannot hold COCOM of %s (%s)", grantee.ID, grantee.Nation, unit.ID, unit.Nation)
		}
		return nil
	case ADCON:
		if grantee.Nation != unit.Nation {
			return ruleErr(RuleADCONCrossNation, "ADCON stays inside national channels: %s (%s) cannot hold ADCON of %s (%s)", grantee.ID, grantee.Nation, unit.ID, unit.Nation)
		}
		if grantor == nil {
			return nil
		}
		if grantor.Nation != unit.Nation {
			return ruleErr(RuleADCONCrossNation, "ADCON stays inside national channels: %s (%s) cannot grant ADCON of %s (%s)", grantor.ID, grantor.Nation, unit.ID, unit.Nation)
		}
		if _, ok := w.Resolve(grantor.ID, unit.ID, grantorNeeds(ADCON), effectiveFrom(g, now)); !ok {
			return ruleErr(RuleADCONGrantor, "%s cannot grant ADCON: %s", grantor.ID, w.explainMissing(grantor.ID, unit.ID, grantorNeeds(ADCON), effectiveFrom(g, now)))
		}
		return nil
	case OPCON, TACON, Support:
	default:
		return ruleErr("kind", "unknown relationship %q", g.Kind)
	}

	// OPCON, TACON and SUPPORT: granted by a unit of the nation's chain or
	// by a holder of that chain's grant, bounded in time.
	if grantor == nil {
		return ruleErr(RuleNationalGrantor, "the national command authority grants only COCOM and ADCON; %s must be granted by a COCOM or OPCON holder", g.Kind)
	}
	if g.Kind == Support && g.Support != DirectSupport && g.Support != GeneralSupport {
		return ruleErr(RuleSupportMode, "a SUPPORT grant is DIRECT or GENERAL, not %q", g.Support)
	}
	if g.Until.IsZero() {
		return ruleErr(RuleTimeBounded, "attachments are time-bounded: a %s grant needs an end (until)", g.Kind)
	}
	if grantee.Nation != unit.Nation && grantor.Nation != unit.Nation {
		return ruleErr(RuleForeignGrant, "national command is never given away: %s of %s (%s) can be given to %s (%s) only by %s's own chain, not by %s (%s)",
			g.Kind, unit.ID, unit.Nation, grantee.ID, grantee.Nation, unit.Nation, grantor.ID, grantor.Nation)
	}
	at := effectiveFrom(g, now)
	need := grantorNeeds(g.Kind)
	if _, ok := w.Resolve(grantor.ID, unit.ID, need, at); !ok {
		rule := RuleOPCONGrantor
		switch g.Kind {
		case TACON:
			rule = RuleTACONGrantor
		case Support:
			rule = RuleSupportGrantor
		}
		return ruleErr(rule, "%s can be granted only by a holder of %s: %s", g.Kind, need, w.explainMissing(grantor.ID, unit.ID, need, at))
	}
	return nil
}

// effectiveFrom is the instant at which a grant's grantor must hold its
// authority: the grant's start, or now if it starts in the past.
func effectiveFrom(g *Grant, now time.Time) time.Time {
	if g.From.After(now) {
		return g.From
	}
	return now
}

func echelonName(u *Unit) string {
	if u.Echelon == "" {
		return "unit"
	}
	return u.Echelon
}

// CheckRevoke decides whether the acting unit (or, when national is true,
// the national command authority of the acting principal's nation) may
// revoke g at now. The grantor may always revoke; so may the unit's own
// nation: its national authority, or any of its units holding COCOM or
// OPCON over the unit.
func (w *world) CheckRevoke(g *Grant, acting string, actingNation string, national bool, now time.Time) error {
	unit := w.units[g.Unit]
	if unit == nil {
		return ruleErr(RuleUnknownUnit, "unit %q is not in the order of battle", g.Unit)
	}
	if national {
		if actingNation == unit.Nation {
			return nil
		}
		return ruleErr(RuleRevoke, "only %s's national authority may revoke grants over %s, not %s's", unit.Nation, unit.ID, actingNation)
	}
	if acting != "" && acting == g.Grantor {
		return nil
	}
	au := w.units[acting]
	if au != nil && au.Nation == unit.Nation {
		if _, ok := w.Resolve(acting, unit.ID, commandAtLeastOPCON, now); ok {
			return nil
		}
	}
	return ruleErr(RuleRevoke, "%s may be revoked only by its grantor (%s), by %s's national authority or by a %s unit holding COCOM or OPCON over %s; %s is none of these",
		g.ID, g.grantorName(unit.Nation), unit.Nation, unit.Nation, unit.ID, acting)
}

// Needed returns the authority an order type needs; empty for a support
// request, which needs none.
func Needed(t OrderType) kindSet {
	switch t {
	case Movement:
		return commandAtLeastTACON
	case Task:
		return commandAtLeastOPCON
	case ReportRequest:
		return anyRelationship
	}
	return nil
}

// Decision is the outcome of an authority check.
type Decision struct {
	Allowed bool      `json:"allowed"`
	At      time.Time `json:"at"`
	Issuer  string    `json:"issuer"`
	Unit    string    `json:"unit"`
	Needs   string    `json:"needs"`
	// Holds is the relationship that allowed it ("" when none).
	Holds Kind `json:"holds,omitempty"`
	// Chain is the chain of grants behind Holds.
	Chain  []Grant `json:"chain,omitempty"`
	Reason string  `json:"reason"`
}

// OrderAuthority decides whether issuer may give an order of type t to
// recipient at instant at.
func (w *world) OrderAuthority(t OrderType, issuer, recipient string, at time.Time) Decision {
	d := Decision{At: at, Issuer: issuer, Unit: recipient}
	need := Needed(t)
	if t == SupportRequest {
		d.Needs = "nothing (a support request may be refused)"
		d.Allowed = true
		if b, ok := w.Resolve(issuer, recipient, kindSet{Support}, at); ok {
			d.Holds, d.Chain = b.Kind, b.Chain
			d.Reason = fmt.Sprintf("%s is supported by %s (%s)", issuer, recipient, b.Chain[len(b.Chain)-1].Support)
		} else {
			d.Reason = fmt.Sprintf("no support relationship: %s may refuse", recipient)
		}
		return d
	}
	d.Needs = need.String()
	if _, ok := w.units[issuer]; !ok {
		d.Reason = fmt.Sprintf("issuing unit %q is not in the order of battle", issuer)
		return d
	}
	if _, ok := w.units[recipient]; !ok {
		d.Reason = fmt.Sprintf("recipient unit %q is not in the order of battle", recipient)
		return d
	}
	b, ok := w.Resolve(issuer, recipient, need, at)
	if !ok {
		d.Reason = fmt.Sprintf("a %s order needs %s: %s", strings.ToLower(strings.ReplaceAll(string(t), "_", " ")), need, w.explainMissing(issuer, recipient, need, at))
		return d
	}
	d.Allowed = true
	d.Holds, d.Chain = b.Kind, b.Chain
	d.Reason = fmt.Sprintf("%s holds %s over %s through %s", issuer, b.Kind, recipient, chainString(b.Chain, w))
	return d
}

func chainString(chain []Grant, w *world) string {
	parts := make([]string, len(chain))
	for i, g := range chain {
		parts[i] = fmt.Sprintf("%s %s %s→%s over %s", g.ID, g.Kind, g.grantorName(w.nationOf(g.Unit)), g.Grantee, g.Unit)
	}
	return strings.Join(parts, ", ")
}

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
	RuleOneCOCOM          = "one-combatant-command"
	RuleNationalGrantor   = "national-authority-grants-cocom-adcon-only"
	RuleOPCONGrantor      = "opcon-needs-cocom-or-opcon"
	RuleTACONGrantor      = "tacon-needs-opcon"
	RuleSupportMode       = "support-category"
	RuleSupportSuperior   = "support-established-by-common-superior"
	RuleSupportDirective  = "support-needs-establishing-directive"
	RuleADCONCrossNation  = "adcon-stays-national"
	RuleADCONGrantor      = "adcon-needs-adcon"
	RuleADCONService      = "adcon-service-chain"
	RuleForeignGrant      = "national-chain-only"
	RuleNationPair        = "nation-pair-policy"
	RuleNoPairPolicy      = "no-pair-policy"
	RuleNationalDecision  = "national-decision-required"
	RuleRetransfer        = "no-retransfer"
	RuleUnity             = "unity-of-command"
	RuleSubordinate       = "grant-to-own-subordinate"
	RuleCoordinationBody  = "coordination-body-holds-no-command"
	RuleCoordGrantor      = "coordination-granted-by-commander"
	RuleTimeBounded       = "attachment-time-bounded"
	RuleSelfGrant         = "self-grant"
	RuleRevoke            = "revoke-authority"
	RuleOrderAuthority    = "order-authority"
	RuleNoPosition        = "no-position"
	RuleCancel            = "cancel-by-issuer-or-superior"
	RuleFragord           = "fragord-changes-open-order"
	RuleViaCoordination   = "cross-nation-request-via-coordination"
	RuleDecide            = "decided-by-other-nation-hq"
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
	case OPCON, TACON, Support, Coordinating, DirLiaison:
		return commandAtLeastOPCON
	case ADCON:
		return kindSet{ADCON}
	}
	return nil // COCOM is never granted by a unit
}

// world is the read-only view the rules need.
type world struct {
	units    map[string]*Unit
	grants   []*Grant // in creation order
	policies []PairPolicy
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

// related reports whether one unit lies in the other's subtree.
func (w *world) related(a, b string) bool { return w.within(a, b) || w.within(b, a) }

// Basis is why a holder has authority over a unit: the chain of grants,
// from the national command authority down to the grant to the holder, or
// the standing chain of command (Standing, no grants).
type Basis struct {
	Holder   string  `json:"holder"`
	Kind     Kind    `json:"kind"`
	Chain    []Grant `json:"chain"`
	Standing bool    `json:"standing,omitempty"`
}

// grantInForce reports whether g is in force at t: its own window, and its
// grantor still holding the authority it granted from.
func (w *world) grantInForce(g *Grant, t time.Time, visiting map[string]bool) bool {
	if !g.activeAt(t) || visiting[g.ID] {
		return false
	}
	if g.Grantor == "" {
		return true
	}
	visiting[g.ID] = true
	_, ok := w.resolve(g.Grantor, g.Unit, grantorNeeds(g.Kind), t, visiting)
	delete(visiting, g.ID)
	return ok
}

// standing is the authority holder has over unit by the assigned
// structure (JP 1: command flows down the chain). A superior commands its
// subordinates (OPCON) unless a unit between them has been placed under
// the operational control of a commander outside the superior's own
// command; a superior of the same service keeps ADCON in any case (the
// service chain).
func (w *world) standing(holder, unit string, t time.Time, visiting map[string]bool) (Kind, bool) {
	hu, ok := w.units[holder]
	uu, ok2 := w.units[unit]
	if !ok || !ok2 || holder == unit || hu.Kind == UnitCoordination {
		return "", false
	}
	path := w.ancestorsOrSelf(unit)
	i := slices.Index(path, holder)
	if i <= 0 {
		return "", false
	}
	displaced := false
	for _, x := range path[:i] {
		for _, g := range w.grants {
			if g.Unit != x || (g.Kind != OPCON && g.Kind != COCOM) || w.within(g.Grantee, holder) {
				continue
			}
			if g.Grantor != "" && w.within(g.Grantor, holder) {
				continue // delegated from within the holder's own command
			}
			if w.grantInForce(g, t, visiting) {
				displaced = true
			}
		}
	}
	if !displaced {
		return OPCON, true
	}
	if hu.Service != "" && hu.Service == uu.Service && hu.Service != "Joint" {
		return ADCON, true
	}
	return "", false
}

// resolve finds the strongest basis giving holder one of kinds over unit
// at t. visiting guards against cycles.
func (w *world) resolve(holder, unit string, kinds kindSet, t time.Time, visiting map[string]bool) (Basis, bool) {
	var best Basis
	found := false
	if k, ok := w.standing(holder, unit, t, visiting); ok {
		switch {
		case kinds.has(k):
			best, found = Basis{Holder: holder, Kind: k, Chain: []Grant{}, Standing: true}, true
		case k == OPCON && kinds.has(ADCON) && w.sameService(holder, unit):
			best, found = Basis{Holder: holder, Kind: ADCON, Chain: []Grant{}, Standing: true}, true
		}
	}
	scope := w.ancestorsOrSelf(unit)
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
			(strength(cand.Kind) == strength(best.Kind) && !best.Standing && len(cand.Chain) < len(best.Chain)) {
			best, found = cand, true
		}
	}
	return best, found
}

func (w *world) sameService(a, b string) bool {
	ua, ub := w.units[a], w.units[b]
	return ua != nil && ub != nil && ua.Service != "" && ua.Service == ub.Service && ua.Service != "Joint"
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
// the chain for each (strongest relationship per holder): its superiors in
// the standing chain and the grantees of grants over it.
func (w *world) holders(unit string, t time.Time) []Basis {
	seen := map[string]bool{}
	var out []Basis
	cands := w.ancestorsOrSelf(unit)
	if len(cands) > 0 {
		cands = cands[1:]
	}
	for _, g := range w.grants {
		cands = append(cands, g.Grantee)
	}
	for _, h := range cands {
		if seen[h] {
			continue
		}
		seen[h] = true
		if b, ok := w.Resolve(h, unit, anyRelationship, t); ok {
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
	if i := slices.Index(scope, holder); i > 0 {
		if k, ok := w.standing(holder, unit, t, map[string]bool{}); !ok || k != OPCON {
			notes = append(notes, fmt.Sprintf("%s is a superior of %s but the unit has been placed under another commander's operational control", holder, unit))
		}
	}
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

// windowEnd is when a grant stops by its own terms (zero: open).
func windowEnd(g *Grant) time.Time {
	end := g.Until
	if !g.RevokedAt.IsZero() && (end.IsZero() || g.RevokedAt.Before(end)) {
		end = g.RevokedAt
	}
	if !g.SuspendedAt.IsZero() && (end.IsZero() || g.SuspendedAt.Before(end)) {
		end = g.SuspendedAt
	}
	return end
}

// overlap reports whether two grants' windows meet.
func overlap(a, b *Grant) bool {
	ea, eb := windowEnd(a), windowEnd(b)
	if !ea.IsZero() && !ea.After(b.From) {
		return false
	}
	if !eb.IsZero() && !eb.After(a.From) {
		return false
	}
	return true
}

// Clip cuts g's window to that of the grant it derives from (the last
// grant of its grantor's basis at its start), as a sub-grant cannot outlive
// its source. It reports the source's id when it clipped.
func (w *world) Clip(g *Grant, now time.Time) string {
	if g.Grantor == "" || g.Kind == COCOM {
		return ""
	}
	b, ok := w.Resolve(g.Grantor, g.Unit, grantorNeeds(g.Kind), effectiveFrom(g, now))
	if !ok || len(b.Chain) == 0 {
		return ""
	}
	end := time.Time{}
	src := ""
	for i := range b.Chain {
		if e := windowEnd(&b.Chain[i]); !e.IsZero() && (end.IsZero() || e.Before(end)) {
			end, src = e, b.Chain[i].ID
		}
	}
	if end.IsZero() || (!g.Until.IsZero() && !g.Until.After(end)) {
		return ""
	}
	g.Until = end
	return src
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
	// A coordination body neither holds nor gives command and is no force
	// (the counterpart of a DIRLAUTH may be one).
	for _, u := range []*Unit{grantor, grantee, unit} {
		if u != nil && u.Kind == UnitCoordination && !(g.Kind == DirLiaison && u == unit) {
			return ruleErr(RuleCoordinationBody, "%s is a coordination body: it routes requests between national headquarters and holds or gives no %s", u.ID, g.Kind)
		}
	}
	switch g.Kind {
	case COCOM:
		return w.checkCOCOM(g, grantor, grantee, unit)
	case ADCON:
		return w.checkADCON(g, grantor, grantee, unit, now)
	case Coordinating, DirLiaison:
		return w.checkCoordination(g, grantor, grantee, unit, now)
	case OPCON, TACON, Support:
		return w.checkAttachment(g, grantor, grantee, unit, now)
	default:
		return ruleErr("kind", "unknown relationship %q", g.Kind)
	}
}

// checkAttachment checks an OPCON, TACON or SUPPORT grant: granted by a unit
// of the nation's chain or by a holder of that chain's grant, bounded in
// time.
func (w *world) checkAttachment(g *Grant, grantor, grantee, unit *Unit, now time.Time) error {
	if grantor == nil {
		return ruleErr(RuleNationalGrantor, "the national command authority grants only COCOM and ADCON; %s must be granted by a COCOM or OPCON holder", g.Kind)
	}
	if g.Grantee == g.Unit || w.within(g.Grantee, g.Unit) {
		return ruleErr(RuleSubordinate, "%s cannot be placed under %s, its own subordinate", g.Unit, g.Grantee)
	}
	if g.Until.IsZero() {
		return ruleErr(RuleTimeBounded, "attachments are time-bounded: a %s grant needs an end (until)", g.Kind)
	}
	at := effectiveFrom(g, now)
	if g.Kind == Support {
		return w.checkSupport(g, grantor, grantee, unit, at)
	}
	if !slices.Contains(w.nationsOfUnit(grantor), unit.Nation) {
		return ruleErr(RuleForeignGrant, "national command is never given away: %s of %s (%s) can be given to %s (%s) only by %s's own chain, not by %s (%s)",
			g.Kind, unit.ID, unit.Nation, grantee.ID, grantee.Nation, unit.Nation, grantor.ID, grantor.Nation)
	}
	if foreignControl(unit, grantee) {
		if err := w.checkPair(unit, grantee); err != nil {
			return err
		}
		if err := checkDecision(g, unit, grantee); err != nil {
			return err
		}
	}
	need := grantorNeeds(g.Kind)
	b, ok := w.Resolve(grantor.ID, unit.ID, need, at)
	if !ok {
		rule := RuleOPCONGrantor
		if g.Kind == TACON {
			rule = RuleTACONGrantor
		}
		return ruleErr(rule, "%s can be granted only by a holder of %s: %s", g.Kind, need, w.explainMissing(grantor.ID, unit.ID, need, at))
	}
	for _, src := range b.Chain {
		if src.Decision != nil && src.Decision.Caveats.NoRetransfer && !w.within(grantee.ID, src.Grantee) {
			return ruleErr(RuleRetransfer, "%s placed %s under %s with no retransfer (%s %s): %s may pass it only within its own command, not to %s",
				src.ID, src.Unit, src.Grantee, src.Decision.Authority, src.Decision.Reference, src.Grantee, grantee.ID)
		}
	}
	return w.checkUnity(g, b)
}

// checkUnity enforces unity of command (JP 1: one OPCON and one TACON
// holder at a time per force). A grant conflicts with another of the same
// kind over the same force (or a force containing it, or contained in
// it) whose window meets its own, unless the two lie on one line of
// command: one derives from the other, or one grantee commands the other.
func (w *world) checkUnity(g *Grant, basis Basis) error {
	for _, e := range w.grants {
		if e.Kind != g.Kind || e.ID == g.ID || e.Grantee == g.Grantee || !w.related(e.Unit, g.Unit) || !overlap(e, g) {
			continue
		}
		if slices.ContainsFunc(basis.Chain, func(c Grant) bool { return c.ID == e.ID }) {
			continue // g derives from e
		}
		if w.related(e.Grantee, g.Grantee) {
			continue // one line of command
		}
		if e.Grantor != "" && !w.grantInForce(e, latest(e.From, g.From), map[string]bool{}) {
			continue // e has lapsed with its source
		}
		return ruleErr(RuleUnity, "unity of command: %s is already under %s of %s (%s) until %s; revoke it first",
			e.Unit, e.Kind, e.Grantee, e.ID, untilString(windowEnd(e)))
	}
	return nil
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (w *world) checkCOCOM(g *Grant, grantor, grantee, unit *Unit) error {
	if grantee.Echelon != EchelonCCMD {
		return ruleErr(RuleCOCOMCombatant, "COCOM belongs only to a combatant commander; %s is a %s, not a combatant command", grantee.ID, echelonName(grantee))
	}
	if grantor != nil {
		return ruleErr(RuleCOCOMNotDelegable, "COCOM cannot be delegated: %s cannot pass COCOM to %s; grant OPCON instead", grantor.ID, grantee.ID)
	}
	if grantee.Nation != unit.Nation || grantee.Kind != UnitForce {
		return ruleErr(RuleCOCOMNational, "national command is never given away: %s (%s) cannot hold COCOM of %s (%s)", grantee.ID, grantee.Nation, unit.ID, unit.Nation)
	}
	for _, e := range w.grants {
		if e.Kind == COCOM && e.Grantee != g.Grantee && e.ID != g.Supersedes && w.related(e.Unit, g.Unit) && overlap(e, g) {
			return ruleErr(RuleOneCOCOM, "one combatant command per force: %s is assigned to %s (%s); only the national authority transfers it, naming the grant it supersedes",
				e.Unit, e.Grantee, e.ID)
		}
	}
	return nil
}

func (w *world) checkADCON(g *Grant, grantor, grantee, unit *Unit, now time.Time) error {
	if grantee.Nation != unit.Nation {
		return ruleErr(RuleADCONCrossNation, "ADCON stays inside national channels: %s (%s) cannot hold ADCON of %s (%s)", grantee.ID, grantee.Nation, unit.ID, unit.Nation)
	}
	if grantor != nil && grantor.Nation != unit.Nation {
		return ruleErr(RuleADCONCrossNation, "ADCON stays inside national channels: %s (%s) cannot grant ADCON of %s (%s)", grantor.ID, grantor.Nation, unit.ID, unit.Nation)
	}
	if !w.sameService(grantee.ID, unit.ID) {
		return ruleErr(RuleADCONService, "ADCON runs through the service chain: %s (%s) is not of %s's service (%s)", grantee.ID, orNone(grantee.Service), unit.ID, orNone(unit.Service))
	}
	if g.Grantee == g.Unit || w.within(g.Grantee, g.Unit) {
		return ruleErr(RuleSubordinate, "%s cannot hold ADCON of %s, its own superior", g.Grantee, g.Unit)
	}
	if grantor == nil {
		return nil
	}
	at := effectiveFrom(g, now)
	if _, ok := w.Resolve(grantor.ID, unit.ID, grantorNeeds(ADCON), at); !ok {
		return ruleErr(RuleADCONGrantor, "%s cannot grant ADCON: %s", grantor.ID, w.explainMissing(grantor.ID, unit.ID, grantorNeeds(ADCON), at))
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// checkCoordination: coordinating authority and DIRLAUTH are given by a
// commander to a subordinate (JP 1); they are consultation, not command,
// and may reach across nations.
func (w *world) checkCoordination(g *Grant, grantor, grantee, unit *Unit, now time.Time) error {
	if grantor == nil {
		return ruleErr(RuleCoordGrantor, "%s is given by a commander to a subordinate, not by the national authority", g.Kind)
	}
	if strings.TrimSpace(g.Function) == "" {
		return ruleErr(RuleCoordGrantor, "%s names the function it covers", g.Kind)
	}
	at := effectiveFrom(g, now)
	if _, ok := w.Resolve(grantor.ID, grantee.ID, commandAtLeastOPCON, at); !ok {
		return ruleErr(RuleCoordGrantor, "%s is given by a commander to a subordinate: %s", g.Kind, w.explainMissing(grantor.ID, grantee.ID, commandAtLeastOPCON, at))
	}
	if g.Kind == Coordinating {
		if _, ok := w.Resolve(grantor.ID, unit.ID, commandAtLeastOPCON, at); !ok {
			return ruleErr(RuleCoordGrantor, "coordinating authority covers forces of the grantor's own command: %s", w.explainMissing(grantor.ID, unit.ID, commandAtLeastOPCON, at))
		}
	}
	return nil
}

// checkSupport: a support relationship is established by a common
// superior between its subordinates (JP 1), in one of four categories,
// with an establishing directive.
func (w *world) checkSupport(g *Grant, grantor, grantee, unit *Unit, at time.Time) error {
	if !slices.Contains(supportCategories, g.Support) {
		return ruleErr(RuleSupportMode, "a SUPPORT relationship is GENERAL, MUTUAL, DIRECT or CLOSE, not %q", g.Support)
	}
	for _, u := range []*Unit{unit, grantee} {
		if _, ok := w.Resolve(grantor.ID, u.ID, commandAtLeastOPCON, at); !ok {
			return ruleErr(RuleSupportSuperior, "support is established by a common superior of the supporting (%s) and the supported (%s) commander: %s",
				unit.ID, grantee.ID, w.explainMissing(grantor.ID, u.ID, commandAtLeastOPCON, at))
		}
	}
	if d := g.Directive; d == nil || strings.TrimSpace(d.Priorities) == "" || strings.TrimSpace(d.Degree) == "" {
		return ruleErr(RuleSupportDirective, "a support relationship needs an establishing directive: priorities and the degree of authority (the window gives its duration)")
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
// revoke g at now: only its grantor, a superior of the grantor in the
// standing chain, or the national authority of the forces' nation.
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
	if acting != "" && g.Grantor != "" && (acting == g.Grantor || w.within(g.Grantor, acting)) {
		return nil
	}
	return ruleErr(RuleRevoke, "%s may be revoked only by its grantor (%s), a superior of the grantor or %s's national authority; %s is none of these",
		g.ID, g.grantorName(unit.Nation), unit.Nation, acting)
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

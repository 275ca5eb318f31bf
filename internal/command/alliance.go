package command

import (
	"fmt"
	"slices"
	"strings"
)

// This file holds the alliance vocabulary: unit kinds (national force,
// combined command, coordination body), the policy per nation pair that
// says what command may cross between two nations, the named national
// decision recorded with a grant that places forces under another nation's
// or a combined command's control, and the directive that establishes a
// support relationship.

// Unit kinds.
const (
	// UnitForce (the empty kind) is a national force or headquarters.
	UnitForce = ""
	// UnitCombined is a combined command of several nations (the ROK–US
	// Combined Forces Command). Its Members are the national headquarters
	// that take part; principals of every member nation may hold posts.
	UnitCombined = "combined"
	// UnitCoordination is a coordination body (the Alliance Coordination
	// Mechanism and its bilateral operations coordination centre, a
	// trilateral cell, UN Command-Rear): it routes requests between
	// national headquarters and holds or gives no command.
	UnitCoordination = "coordination"
)

// Pair policy commands.
const (
	// PairNoCommand: neither nation places forces under the other's
	// command or control; they coordinate.
	PairNoCommand = "none"
	// PairCombined: forces may be placed under the named combined command
	// (and units under it), and nowhere else.
	PairCombined = "combined"
)

// PairPolicy says what command may cross between two nations.
type PairPolicy struct {
	Nations []string `json:"nations"`
	// Command is PairNoCommand or PairCombined.
	Command string `json:"command"`
	// Combined is the combined command's unit id (PairCombined).
	Combined string `json:"combined,omitempty"`
	// Arrangement names the national arrangement the policy writes down.
	Arrangement string `json:"arrangement"`
}

func (p *PairPolicy) covers(a, b string) bool {
	return len(p.Nations) == 2 && ((p.Nations[0] == a && p.Nations[1] == b) || (p.Nations[0] == b && p.Nations[1] == a))
}

func (p *PairPolicy) name() string { return strings.Join(p.Nations, "–") }

// Caveats bound a transfer of forces to another nation's control. The
// duration is the grant's window.
type Caveats struct {
	Area string `json:"area,omitempty"`
	// Bounds is the area as a polygon: every order given under the grant
	// must have a location inside it (caveats.go).
	Bounds  []LatLon `json:"bounds,omitempty"`
	Mission string   `json:"mission"`
	// Missions lists the mission types orders under the grant may carry
	// (e.g. AIR_DEFENCE); empty allows any.
	Missions []string `json:"missions,omitempty"`
	// Duration is the longest window the decision allows, e.g. "72h".
	Duration string `json:"duration,omitempty"`
	// NoRetransfer forbids the gaining commander to pass the forces on
	// to any unit outside its own command.
	NoRetransfer bool `json:"noRetransfer,omitempty"`
}

// NationalDecision is the named decision of a nation's authority that
// places its forces under another nation's or a combined command's
// operational or tactical control.
type NationalDecision struct {
	// Authority is who decided, e.g. "Secretary of Defense".
	Authority string `json:"authority"`
	// Reference is the decision's reference, e.g. a directive number.
	Reference string  `json:"reference"`
	Caveats   Caveats `json:"caveats"`
}

// SupportDirective is the establishing directive of a support
// relationship (JP 1, support): priorities, and the degree of authority
// the supported commander has. The duration is the grant's window.
type SupportDirective struct {
	Priorities string `json:"priorities"`
	Degree     string `json:"degree"`
}

// Support categories (JP 1: general, mutual, direct and close support).
const (
	GeneralSupport = "GENERAL"
	MutualSupport  = "MUTUAL"
	DirectSupport  = "DIRECT"
	CloseSupport   = "CLOSE"
)

var supportCategories = []string{GeneralSupport, MutualSupport, DirectSupport, CloseSupport}

// nationsOfUnit is the set of nations a unit stands for: its own, and for
// a combined command or coordination body its members' nations.
func (w *world) nationsOfUnit(u *Unit) []string {
	out := []string{u.Nation}
	for _, m := range u.Members {
		if mu, ok := w.units[m]; ok && !slices.Contains(out, mu.Nation) {
			out = append(out, mu.Nation)
		}
	}
	slices.Sort(out)
	return out
}

// policy returns the pair policy between two nations, or nil.
func (w *world) policy(a, b string) *PairPolicy {
	for i := range w.policies {
		if w.policies[i].covers(a, b) {
			return &w.policies[i]
		}
	}
	return nil
}

// foreignControl reports whether a command grant over unit to grantee
// places the unit under another nation's or a combined command's control.
func foreignControl(unit, grantee *Unit) bool {
	return grantee.Nation != unit.Nation || grantee.Kind == UnitCombined
}

// checkPair applies the nation-pair policy to a command grant over unit to
// grantee that crosses nations.
func (w *world) checkPair(unit, grantee *Unit) error {
	for _, n := range w.nationsOfUnit(grantee) {
		if n == unit.Nation {
			continue
		}
		p := w.policy(unit.Nation, n)
		if p == nil {
			return ruleErr(RuleNoPairPolicy, "no policy in the order of battle lets %s forces come under %s control: %s cannot be placed under %s",
				unit.Nation, n, unit.ID, grantee.ID)
		}
		switch p.Command {
		case PairCombined:
			if p.Combined == "" || !w.within(grantee.ID, p.Combined) {
				return ruleErr(RuleNationPair, "%s (%s): command crosses only through %s; %s is not part of it", p.name(), p.Arrangement, p.Combined, grantee.ID)
			}
		default:
			return ruleErr(RuleNationPair, "%s (%s): neither nation commands the other's forces; %s cannot be placed under %s — coordinate instead",
				p.name(), p.Arrangement, unit.ID, grantee.ID)
		}
	}
	if grantee.Kind == UnitCombined && len(w.nationsOfUnit(grantee)) == 1 {
		return ruleErr(RuleNationPair, "%s is a combined command with no partner nation", grantee.ID)
	}
	return nil
}

// checkDecision requires a named national decision with caveats.
func checkDecision(g *Grant, unit, grantee *Unit) error {
	d := g.Decision
	if d == nil || strings.TrimSpace(d.Authority) == "" || strings.TrimSpace(d.Reference) == "" || strings.TrimSpace(d.Caveats.Mission) == "" {
		return ruleErr(RuleNationalDecision, "placing %s (%s) under %s of %s needs a named national decision of %s (authority, reference) with caveats (at least the mission)",
			unit.ID, unit.Nation, g.Kind, grantee.ID, unit.Nation)
	}
	if err := normalizeCaveats(&d.Caveats); err != nil {
		return ruleErr(RuleNationalDecision, "%s %s: %v", d.Authority, d.Reference, err)
	}
	return checkCaveatDuration(g)
}

// validateMembers checks the kind and members of a unit against the tree.
func validateMembers(units map[string]*Unit) error {
	for _, u := range units {
		switch u.Kind {
		case UnitForce:
			if len(u.Members) > 0 {
				return fmt.Errorf("unit %s: only a combined command or a coordination body has members", u.ID)
			}
		case UnitCombined, UnitCoordination:
			if len(u.Members) < 2 {
				return fmt.Errorf("unit %s: a %s unit needs at least two member headquarters", u.ID, u.Kind)
			}
		default:
			return fmt.Errorf("unit %s: unknown kind %q (want combined or coordination)", u.ID, u.Kind)
		}
		for _, m := range u.Members {
			if _, ok := units[m]; !ok {
				return fmt.Errorf("unit %s: member %q is not in the order of battle", u.ID, m)
			}
		}
		w := &world{units: units}
		nations := w.nationsOfUnit(u)
		for _, p := range u.Positions {
			if p.Nation != "" && !slices.Contains(nations, p.Nation) {
				return fmt.Errorf("unit %s: a post for %s in a unit of %s", u.ID, p.Nation, strings.Join(nations, ", "))
			}
		}
	}
	return nil
}

// validatePolicies checks the pair policies of an order of battle.
func validatePolicies(ps []PairPolicy, units map[string]*Unit) error {
	for i, p := range ps {
		if len(p.Nations) != 2 || p.Nations[0] == p.Nations[1] {
			return fmt.Errorf("policy %d: names two different nations", i)
		}
		switch p.Command {
		case PairNoCommand:
		case PairCombined:
			u, ok := units[p.Combined]
			if !ok || u.Kind != UnitCombined {
				return fmt.Errorf("policy %s: combined command %q is not a combined unit of the order of battle", p.name(), p.Combined)
			}
		default:
			return fmt.Errorf("policy %s: command %q (want none or combined)", p.name(), p.Command)
		}
		if strings.TrimSpace(p.Arrangement) == "" {
			return fmt.Errorf("policy %s: names no arrangement", p.name())
		}
		for j := range i {
			if ps[j].covers(p.Nations[0], p.Nations[1]) {
				return fmt.Errorf("policy %s: given twice", p.name())
			}
		}
	}
	return nil
}

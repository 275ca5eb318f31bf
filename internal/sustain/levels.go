package sustain

import "math"

// Levels maps a unit's own readiness to the resource levels of a
// readiness report, 1 (best) to 4, with the thresholds of the colour rule
// (Rate): equipment condition from E (assets available / assigned), supply
// from the lower of M (on hand / required load) and D (days of supply).
//
//	level 1: at the GREEN threshold (E >= 0.9; M >= 0.9 and D >= 7)
//	level 2: at the AMBER threshold (E >= 0.7; M >= 0.6 and D >= 3)
//	level 3: E >= 0.5; M >= 0.4 and D >= 1
//	level 4: below
func (r Readiness) Levels() (equipment, supply int) {
	e := 1.0
	if r.Assigned > 0 {
		e = float64(r.Available) / float64(r.Assigned)
	}
	m, d := 1.0, math.Inf(1)
	for _, mu := range r.Munitions {
		if mu.Required > 0 {
			m = math.Min(m, float64(mu.OnHand)/float64(mu.Required))
		}
		if mu.DaysOfSupply != nil {
			d = math.Min(d, *mu.DaysOfSupply)
		}
	}
	switch {
	case e >= greenE:
		equipment = 1
	case e >= amberE:
		equipment = 2
	case e >= 0.5:
		equipment = 3
	default:
		equipment = 4
	}
	switch {
	case m >= greenM && d >= greenD:
		supply = 1
	case m >= amberM && d >= amberD:
		supply = 2
	case m >= 0.4 && d >= 1:
		supply = 3
	default:
		supply = 4
	}
	return equipment, supply
}

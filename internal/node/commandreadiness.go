package node

import (
	"kizuna/internal/command"
	"kizuna/internal/label"
)

// sustainReadiness gives the chain of command the sustainment readiness
// of a unit (its own, computed on this node) for structured readiness
// reports.
type sustainReadiness struct{ n *Node }

func (s sustainReadiness) UnitLevels(p label.Principal, unit string) (command.SustainLevels, bool) {
	svc := s.n.sustainSvc.Load()
	if svc == nil {
		return command.SustainLevels{}, false
	}
	for _, r := range svc.Readiness(p) {
		if r.Unit != unit || r.Node != "" {
			continue
		}
		e, sp := r.Levels()
		return command.SustainLevels{Equipment: e, Supply: sp, Colour: string(r.Colour), Reasons: r.Reasons, Label: r.Label}, true
	}
	return command.SustainLevels{}, false
}

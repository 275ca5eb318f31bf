package command

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"kizuna/internal/label"
)

// This file makes a readiness report structured, in the manner of the
// readiness reporting systems (SORTS, the C-rating): a level from 1
// (best) to 4 for each resource area — personnel (P), equipment
// condition (R), supplies on hand (S), training (T) — and the overall
// C-level, the worst of the four. Equipment and supply come from the
// sustainment package's readiness rule (the unit's assets in work, its
// munitions against the required load and days of supply) where the node
// has it and its label lets it go with the report; otherwise the
// reporting unit states them. Personnel and training the unit always
// states.

// ReadinessLevels is a structured readiness report.
type ReadinessLevels struct {
	// C is the overall level, C1..C4: the worst of the four areas.
	C         int `json:"c"`
	Personnel int `json:"personnel"`
	Equipment int `json:"equipment"`
	Supply    int `json:"supply"`
	Training  int `json:"training"`
	// Source says where equipment and supply came from: "sustainment"
	// (computed) or "reported" (stated by the unit).
	Source string `json:"source"`
	// Colour and Reasons are the sustainment rule's, when it was used.
	Colour  string   `json:"colour,omitempty"`
	Reasons []string `json:"reasons,omitempty"`
}

// SustainLevels is what the sustainment package computes for one unit.
type SustainLevels struct {
	Equipment, Supply int
	Colour            string
	Reasons           []string
	// Label is the label of the readiness the levels derive from.
	Label label.Label
}

// ReadinessSource gives the sustainment readiness of a unit as p may see
// it; ok is false when there is none.
type ReadinessSource interface {
	UnitLevels(p label.Principal, unit string) (SustainLevels, bool)
}

func validLevel(n int) bool { return n >= 1 && n <= 4 }

// String renders the levels as staff write them: "C2 (P1 R2 S2 T1)".
func (r *ReadinessLevels) String() string {
	return fmt.Sprintf("C%d (P%d R%d S%d T%d)", r.C, r.Personnel, r.Equipment, r.Supply, r.Training)
}

// parseLevels reads levels written in a report's text, e.g. "P1 R2 S3 T1"
// (E for equipment is accepted too). Unknown words are left alone.
func parseLevels(text string) ReadinessLevels {
	var r ReadinessLevels
	for _, w := range strings.Fields(strings.ToUpper(text)) {
		w = strings.Trim(w, ".,;:()")
		if len(w) != 2 {
			continue
		}
		n, err := strconv.Atoi(w[1:])
		if err != nil || !validLevel(n) {
			continue
		}
		switch w[0] {
		case 'P':
			r.Personnel = n
		case 'R', 'E':
			r.Equipment = n
		case 'S':
			r.Supply = n
		case 'T':
			r.Training = n
		}
	}
	return r
}

// readinessFor completes a readiness report of unit answering order o:
// equipment and supply from sustainment when the node has them and their
// label is releasable wherever the order is, the rest from what the unit
// stated (in, or levels written in the text).
func (s *Service) readinessFor(p label.Principal, o *Order, unit string, in *ReadinessLevels, text string) (*ReadinessLevels, error) {
	r := parseLevels(text)
	if in != nil {
		for _, f := range []struct {
			dst *int
			v   int
		}{{&r.Personnel, in.Personnel}, {&r.Equipment, in.Equipment}, {&r.Supply, in.Supply}, {&r.Training, in.Training}} {
			if f.v != 0 {
				if !validLevel(f.v) {
					return nil, invalid("readiness levels are 1 (best) to 4")
				}
				*f.dst = f.v
			}
		}
	}
	r.Source = "reported"
	if s.cfg.Readiness != nil {
		if sl, ok := s.cfg.Readiness.UnitLevels(p, unit); ok && validLevel(sl.Equipment) && validLevel(sl.Supply) && releasableAlong(sl.Label, o.Label) {
			r.Equipment, r.Supply, r.Colour, r.Reasons, r.Source = sl.Equipment, sl.Supply, sl.Colour, slices.Clone(sl.Reasons), "sustainment"
		}
	}
	var missing []string
	for _, f := range []struct {
		name string
		v    int
	}{{"personnel", r.Personnel}, {"equipment", r.Equipment}, {"supply", r.Supply}, {"training", r.Training}} {
		if !validLevel(f.v) {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return nil, invalid("a readiness report states the %s level (1 to 4)", strings.Join(missing, ", "))
	}
	r.C = max(r.Personnel, r.Equipment, r.Supply, r.Training)
	return &r, nil
}

// releasableAlong reports whether what carries label from may go with a
// report under label to: to every nation and at the classification the
// report is releasable to.
func releasableAlong(from, to label.Label) bool {
	if !from.Valid() {
		return false
	}
	for _, n := range to.ReleasableTo {
		if !label.Releasable(label.Principal{Nation: n, Clearance: to.Classification}, from) {
			return false
		}
	}
	return len(to.ReleasableTo) > 0
}

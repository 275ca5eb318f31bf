package command

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"kizuna/internal/label"
)

// Orbat is an order-of-battle file: units and standing grants.
type Orbat struct {
	Units  []Unit       `json:"units"`
	Grants []OrbatGrant `json:"grants,omitempty"`
	// Policies say, per nation pair, what command may cross between them.
	// A pair without a policy allows no command grant across.
	Policies []PairPolicy `json:"policies,omitempty"`
}

// OrbatGrant is a standing grant in an order-of-battle file. From defaults
// to the load time; Until, or Duration from From, bounds it.
type OrbatGrant struct {
	ID       string      `json:"id"`
	Kind     Kind        `json:"kind"`
	Support  string      `json:"support,omitempty"`
	Grantor  string      `json:"grantor,omitempty"`
	Grantee  string      `json:"grantee"`
	Unit     string      `json:"unit"`
	From     time.Time   `json:"from,omitzero"`
	Until    time.Time   `json:"until,omitzero"`
	Duration string      `json:"duration,omitempty"`
	Reason   string      `json:"reason"`
	Label    label.Label `json:"label"`

	Decision  *NationalDecision `json:"decision,omitempty"`
	Directive *SupportDirective `json:"directive,omitempty"`
	Function  string            `json:"function,omitempty"`
}

// maxOrbatSize bounds an order-of-battle file.
const maxOrbatSize = 16 << 20

// ParseOrbat decodes and checks an order-of-battle document, JSON or YAML
// (a document whose first non-space byte is '{' is JSON): unknown fields
// are refused, unit ids are unique, nations valid, parents exist and the
// tree has no cycle.
func ParseOrbat(r io.Reader) (*Orbat, error) {
	raw, err := io.ReadAll(io.LimitReader(r, maxOrbatSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading order of battle: %w", err)
	}
	if len(raw) > maxOrbatSize {
		return nil, fmt.Errorf("order of battle over %d bytes", maxOrbatSize)
	}
	if t := bytes.TrimLeft(raw, " \t\r\n\ufeff"); len(t) == 0 || t[0] != '{' {
		// YAML: decode generically, then apply the strict JSON decoding.
		var doc any
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			return nil, fmt.Errorf("decoding order of battle YAML: %w", err)
		}
		if raw, err = json.Marshal(doc); err != nil {
			return nil, fmt.Errorf("decoding order of battle YAML: %w", err)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var o Orbat
	if err := dec.Decode(&o); err != nil {
		return nil, fmt.Errorf("decoding order of battle: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("decoding order of battle: trailing data after the document")
	}
	units := make(map[string]*Unit, len(o.Units))
	for i := range o.Units {
		u := &o.Units[i]
		if err := normalizeUnit(u); err != nil {
			return nil, fmt.Errorf("order of battle unit %d: %w", i, err)
		}
		if _, dup := units[u.ID]; dup {
			return nil, fmt.Errorf("order of battle: duplicate unit id %q", u.ID)
		}
		units[u.ID] = u
	}
	if err := checkTree(units); err != nil {
		return nil, fmt.Errorf("order of battle: %w", err)
	}
	if err := validateMembers(units); err != nil {
		return nil, fmt.Errorf("order of battle: %w", err)
	}
	if err := validatePolicies(o.Policies, units); err != nil {
		return nil, fmt.Errorf("order of battle: %w", err)
	}
	seen := map[string]bool{}
	for i, g := range o.Grants {
		if g.ID == "" {
			return nil, fmt.Errorf("order of battle grant %d: missing id", i)
		}
		if seen[g.ID] {
			return nil, fmt.Errorf("order of battle: duplicate grant id %q", g.ID)
		}
		seen[g.ID] = true
		if _, err := ParseKind(string(g.Kind)); err != nil {
			return nil, fmt.Errorf("order of battle grant %s: %w", g.ID, err)
		}
		if g.Duration != "" {
			d, err := time.ParseDuration(g.Duration)
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("order of battle grant %s: bad duration %q", g.ID, g.Duration)
			}
		}
	}
	return &o, nil
}

// validID reports whether s is usable as a unit id: 1–64 characters of
// letters, digits, '-', '_' and '.'.
func validID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// normalizeUnit checks one unit's own fields.
func normalizeUnit(u *Unit) error {
	if !validID(u.ID) {
		return fmt.Errorf("bad unit id %q (1-64 letters, digits, '-', '_', '.')", u.ID)
	}
	n, err := label.ParseNation(u.Nation)
	if err != nil {
		return fmt.Errorf("unit %s: %w", u.ID, err)
	}
	u.Nation = n
	u.Name = strings.TrimSpace(u.Name)
	if u.Name == "" {
		return fmt.Errorf("unit %s: missing name", u.ID)
	}
	if u.Parent == u.ID {
		return fmt.Errorf("unit %s: is its own parent", u.ID)
	}
	u.Echelon = strings.TrimSpace(u.Echelon)
	u.Kind = strings.ToLower(strings.TrimSpace(u.Kind))
	for i, d := range u.Devices {
		if d.UID == "" && d.Callsign == "" {
			return fmt.Errorf("unit %s device %d: needs a uid or a callsign", u.ID, i)
		}
	}
	if u.Label != nil {
		if !u.Label.Classification.Valid() {
			return fmt.Errorf("unit %s: label needs a classification", u.ID)
		}
		for _, r := range u.Label.ReleasableTo {
			if !label.ValidNation(r) {
				return fmt.Errorf("unit %s: label: %w: %q", u.ID, label.ErrNation, r)
			}
		}
		u.Label.Originator = u.Nation
	}
	return nil
}

// checkTree verifies that every parent exists and that there is no cycle.
func checkTree(units map[string]*Unit) error {
	for _, u := range units {
		if u.Parent != "" {
			if _, ok := units[u.Parent]; !ok {
				return fmt.Errorf("unit %s: parent %q is not in the order of battle", u.ID, u.Parent)
			}
		}
		seen := map[string]bool{}
		for id := u.ID; id != ""; id = units[id].Parent {
			if seen[id] {
				return fmt.Errorf("unit %s: the tree has a cycle through %s", u.ID, id)
			}
			seen[id] = true
		}
	}
	return nil
}

// nationsOf lists the nations of the units, sorted.
func nationsOf(units map[string]*Unit) []string {
	var out []string
	for _, u := range units {
		if !slices.Contains(out, u.Nation) {
			out = append(out, u.Nation)
		}
	}
	slices.Sort(out)
	return out
}

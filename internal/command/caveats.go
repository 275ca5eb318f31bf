package command

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// This file enforces the caveats a nation records with its decision to
// place forces under another nation's or a combined command's control
// (JP 1 IV-3: the establishing authority states the limits of OPCON it
// delegates; the national arrangements add area, mission, duration and
// no retransfer). The caveats of every grant in the issuer's chain bind
// each order given under that chain:
//
//   - area: when the caveat has bounds (a polygon), an order must carry a
//     location lying wholly inside them (rule caveat-area);
//   - mission: when the caveat lists mission types, an order must name one
//     of them (rule caveat-mission);
//   - duration: a grant's window may not run beyond the decision's
//     duration (rule caveat-duration), so the authority lapses with it;
//   - no retransfer: the gaining command may not pass the forces outside
//     itself (rule no-retransfer, rules.go).

// Caveat rule codes.
const (
	RuleCaveatArea     = "caveat-area"
	RuleCaveatMission  = "caveat-mission"
	RuleCaveatDuration = "caveat-duration"
)

// maxCaveatPoints bounds a caveat area.
const maxCaveatPoints = 500

// normalizeCaveats checks and normalises the caveats of a decision.
func normalizeCaveats(c *Caveats) error {
	if len(c.Bounds) > 0 {
		if len(c.Bounds) < 3 || len(c.Bounds) > maxCaveatPoints {
			return fmt.Errorf("caveat bounds are a polygon of 3 to %d points", maxCaveatPoints)
		}
		for _, p := range c.Bounds {
			if !p.valid() {
				return fmt.Errorf("caveat bounds: point out of range")
			}
		}
	}
	if len(c.Missions) > 50 {
		return fmt.Errorf("at most 50 mission types in a caveat")
	}
	for i, m := range c.Missions {
		m = normMission(m)
		if m == "" || len(m) > 64 {
			return fmt.Errorf("caveat mission type %q", c.Missions[i])
		}
		c.Missions[i] = m
	}
	if c.Duration != "" {
		d, err := time.ParseDuration(c.Duration)
		if err != nil || d <= 0 {
			return fmt.Errorf("caveat duration %q", c.Duration)
		}
	}
	return nil
}

// normMission normalises a mission type: upper case, spaces and dashes as
// underscores ("air defence" → AIR_DEFENCE).
func normMission(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == ' ' || r == '-':
			return '_'
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_':
			return r
		}
		return -1
	}, strings.TrimSpace(s))
}

// checkCaveatDuration refuses a grant whose window runs beyond the
// duration its national decision allows.
func checkCaveatDuration(g *Grant) error {
	if g.Decision == nil || g.Decision.Caveats.Duration == "" {
		return nil
	}
	d, err := time.ParseDuration(g.Decision.Caveats.Duration)
	if err != nil || d <= 0 {
		return ruleErr(RuleNationalDecision, "caveat duration %q", g.Decision.Caveats.Duration)
	}
	if g.Until.IsZero() || g.Until.After(g.From.Add(d)) {
		return ruleErr(RuleCaveatDuration, "%s %s (%s) limits the transfer to %s from %s; the grant runs until %s",
			g.Decision.Authority, g.Decision.Reference, g.Kind, d, g.From.UTC().Format(time.RFC3339), untilString(g.Until))
	}
	return nil
}

// checkCaveats applies the area and mission caveats of every grant in an
// order's chain of authority to the order (its type, mission type and
// location). Report and support requests task nobody and are not bound.
func checkCaveats(chain []Grant, typ OrderType, mission string, loc *Location) error {
	if typ != Task && typ != Movement {
		return nil
	}
	for _, g := range chain {
		if g.Decision == nil {
			continue
		}
		c := g.Decision.Caveats
		if len(c.Missions) > 0 && !slices.Contains(c.Missions, normMission(mission)) {
			return ruleErr(RuleCaveatMission, "%s placed %s under %s of %s for %s only (%s %s); an order of mission type %q is outside the caveat",
				g.ID, g.Unit, g.Kind, g.Grantee, strings.Join(c.Missions, ", "), g.Decision.Authority, g.Decision.Reference, orNone(normMission(mission)))
		}
		if len(c.Bounds) > 0 && !locationInside(loc, c.Bounds) {
			area := c.Area
			if area == "" {
				area = "the caveat area"
			}
			return ruleErr(RuleCaveatArea, "%s placed %s under %s of %s within %s only (%s %s); the order's location is missing or outside it",
				g.ID, g.Unit, g.Kind, g.Grantee, area, g.Decision.Authority, g.Decision.Reference)
		}
	}
	return nil
}

// locationInside reports whether every point of loc lies inside poly.
func locationInside(loc *Location, poly []LatLon) bool {
	if loc == nil {
		return false
	}
	var pts []LatLon
	if loc.Point != nil {
		pts = append(pts, *loc.Point)
	}
	pts = append(pts, loc.Route...)
	pts = append(pts, loc.Area...)
	if len(pts) == 0 {
		return false
	}
	for _, p := range pts {
		if !inPolygon(p, poly) {
			return false
		}
	}
	return true
}

// inPolygon is the even-odd ray casting test in plain lat/lon (caveat
// areas are small against the Earth and do not cross the antimeridian).
func inPolygon(p LatLon, poly []LatLon) bool {
	in := false
	for i, j := 0, len(poly)-1; i < len(poly); j, i = i, i+1 {
		a, b := poly[i], poly[j]
		if (a.Lat > p.Lat) != (b.Lat > p.Lat) &&
			p.Lon < (b.Lon-a.Lon)*(p.Lat-a.Lat)/(b.Lat-a.Lat)+a.Lon {
			in = !in
		}
	}
	return in
}

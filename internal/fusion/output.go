package fusion

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"kizuna/internal/cot"
)

// CoT types, from the public CoT type list (MIL-STD-2525 atoms):
//
//	a-n-S      AIS vessel: neutral sea surface (civil shipping)
//	a-u-S      sea surface, affiliation unknown: an AIS vessel reporting a
//	           military ship type, or a radar track without altitude
//	           moving slower than 30 m/s
//	a-n-A-C    ADS-B / Mode S aircraft: neutral civil aircraft
//	a-u-A      air, affiliation unknown: a radar track with altitude or
//	           faster than 30 m/s, or a Mode S aircraft flagged military
//	a-u-G      ground, affiliation unknown
//	a-<x>-…    a CoT sensor's asserted affiliation <x> (f, h, n, u) wins
func (e *Engine) cotType(t *track) string {
	aff := byte(AffUnknown)
	civil := false
	if t.key.Kind != IDNone && !t.military {
		aff, civil = AffNeutral, true
	}
	if t.aff != 0 {
		aff, civil = t.aff, t.aff == AffNeutral
	}
	dom := t.domain
	if dom == DomainUnknown {
		switch t.key.Kind {
		case IDMMSI:
			dom = DomainSea
		case IDICAO:
			dom = DomainAir
		}
	}
	switch dom {
	case DomainAir:
		if civil {
			return "a-" + string(aff) + "-A-C"
		}
		return "a-" + string(aff) + "-A"
	case DomainGround:
		return "a-" + string(aff) + "-G"
	}
	return "a-" + string(aff) + "-S"
}

// event renders a track as a CoT event, predicted to now, labelled with
// the combination of its contributors' labels.
func (e *Engine) event(v *view, t *track, now time.Time) (*cot.Event, error) {
	x, p := t.predicted(now, e.q(t.domain))
	if now.Before(t.t) {
		x, p = t.x, t.p
	}
	lat, lon := t.f.fromENU(x[0], x[1])
	course, speed := courseSpeed(x[2], x[3])
	stale := t.t.Add(e.timeout(t))
	if min := now.Add(5 * time.Second); stale.Before(min) {
		stale = min
	}
	sigma := math.Sqrt(math.Max(0, (p[0][0]+p[1][1])/2))
	ev := &cot.Event{
		Version: "2.0", UID: t.uid, Type: e.cotType(t), How: "m-f",
		Time: now, Start: now, Stale: stale,
		Point: cot.Point{Lat: lat, Lon: lon, HAE: cot.Unknown, CE: math.Round(2.146*sigma*10) / 10, LE: cot.Unknown},
	}
	if t.hasAlt {
		ev.Point.HAE = math.Round(t.alt*10) / 10
	}
	ev.SetLabel(e.label(t))
	var b strings.Builder
	callsign := t.callsign
	if callsign == "" {
		callsign = t.name
	}
	if callsign == "" {
		callsign = t.key.String()
	}
	fmt.Fprintf(&b, `<contact callsign="%s"/>`, cot.Escape(callsign))
	if t.vel || t.hits >= 2 {
		fmt.Fprintf(&b, `<track course="%.1f" speed="%.2f"/>`, course, speed)
	}
	fmt.Fprintf(&b, `<__fusion id="%s" view="%s" sources="%s" quality="%s" hits="%d" updated="%s" cov="%s %s %s %s %s %s"`,
		t.key.String(), v.tag, cot.Escape(strings.Join(t.sources, " ")), strconv.FormatFloat(e.quality(t, now), 'f', 2, 64),
		t.hits, t.t.UTC().Format(cot.TimeLayout),
		g(p[0][0]), g(p[0][1]), g(p[1][1]), g(p[2][2]), g(p[2][3]), g(p[3][3]))
	if t.name != "" && t.name != callsign {
		fmt.Fprintf(&b, ` name="%s"`, cot.Escape(t.name))
	}
	b.WriteString(`/>`)
	if err := ev.SetDetail([]byte(b.String())); err != nil {
		return nil, fmt.Errorf("track %s detail: %w", t.uid, err)
	}
	return ev, nil
}

func g(f float64) string { return strconv.FormatFloat(f, 'g', 5, 64) }

// deleteEvent removes a published track from the picture (t-x-d-d for its
// uid, under the track's label).
func (e *Engine) deleteEvent(t *track, now time.Time) *cot.Event {
	lat, lon := t.f.fromENU(t.x[0], t.x[1])
	ev := &cot.Event{
		Version: "2.0", UID: t.uid, Type: "t-x-d-d", How: "m-f",
		Time: now, Start: now, Stale: now.Add(20 * time.Second),
		Point: cot.Point{Lat: lat, Lon: lon, HAE: cot.Unknown, CE: cot.Unknown, LE: cot.Unknown},
	}
	ev.SetLabel(e.label(t))
	ev.Links = []cot.Link{{UID: t.uid, Relation: "p-p", Type: e.cotType(t)}}
	_ = ev.SetDetail([]byte(fmt.Sprintf(`<link uid="%s" relation="p-p" type="%s"/>`, cot.Escape(t.uid), e.cotType(t))))
	t.published = false
	return ev
}

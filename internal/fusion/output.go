package fusion

import (
	"fmt"
	"math"
	"strconv"
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
	callsign := t.callsign
	if callsign == "" {
		callsign = t.name
	}
	if callsign == "" {
		callsign = t.key.String()
	}
	// The detail is written here from escaped values, so it is well formed
	// by construction; the facts the node reads from a detail (callsign,
	// course, speed) are set alongside, as SetDetail would extract them.
	b := make([]byte, 0, 512)
	b = append(b, `<contact callsign="`...)
	b = append(b, cot.Escape(callsign)...)
	b = append(b, `"/>`...)
	ev.Callsign = callsign
	ev.Course, ev.Speed = math.NaN(), math.NaN()
	if t.vel || t.hits >= 2 {
		course, speed = math.Round(course*10)/10, math.Round(speed*100)/100
		b = append(b, `<track course="`...)
		b = strconv.AppendFloat(b, course, 'f', 1, 64)
		b = append(b, `" speed="`...)
		b = strconv.AppendFloat(b, speed, 'f', 2, 64)
		b = append(b, `"/>`...)
		ev.Course, ev.Speed = course, speed
	}
	b = append(b, `<__fusion id="`...)
	b = append(b, t.key.String()...)
	b = append(b, `" view="`...)
	b = append(b, v.tag...)
	b = append(b, `" sources="`...)
	for i, src := range t.sources {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, cot.Escape(src)...)
	}
	b = append(b, `" quality="`...)
	b = strconv.AppendFloat(b, e.quality(t, now), 'f', 2, 64)
	b = append(b, `" hits="`...)
	b = strconv.AppendInt(b, int64(t.hits), 10)
	b = append(b, `" updated="`...)
	b = cot.AppendTime(b, t.t)
	if !t.recv.IsZero() {
		b = append(b, `" received="`...)
		b = cot.AppendTime(b, t.recv)
	}
	b = append(b, `" cov="`...)
	for i, c := range [6]float64{p[0][0], p[0][1], p[1][1], p[2][2], p[2][3], p[3][3]} {
		if i > 0 {
			b = append(b, ' ')
		}
		b = strconv.AppendFloat(b, c, 'g', 5, 64)
	}
	b = append(b, '"')
	if t.name != "" && t.name != callsign {
		b = append(b, ` name="`...)
		b = append(b, cot.Escape(t.name)...)
		b = append(b, '"')
	}
	b = append(b, `/>`...)
	ev.Detail, ev.HasDetail = b, true
	return ev, nil
}

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

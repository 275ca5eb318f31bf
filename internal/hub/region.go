package hub

import (
	"math"
)

// Regional delivery and latest-state-only queueing.
//
// A message marked Regional (a fused ISR track and its deletion) reaches
// a subscriber according to the subscriber's Scope: every one (ScopeAll,
// the zero value: web streams, federation links), only those whose point
// lies within the subscriber's area of interest (ScopeArea: a TAK
// handheld, whose area follows its own position reports), or none
// (ScopeNone). The label policy still decides every delivery; the scope
// only removes more.
//
// A message marked Latest replaces a queued, not yet written message of
// the same uid in place instead of queueing behind it: a subscriber that
// is slower than the picture changes gets each object's freshest state
// once, not a growing backlog of states that are already stale.

// Scope says which Regional messages a subscriber receives.
type Scope uint8

const (
	// ScopeAll receives every Regional message (the default).
	ScopeAll Scope = iota
	// ScopeArea receives the Regional messages whose point lies within the
	// area of interest; none while the area's centre is unknown.
	ScopeArea
	// ScopeNone receives no Regional message.
	ScopeNone
)

// String returns the scope's configuration name.
func (s Scope) String() string {
	switch s {
	case ScopeArea:
		return "area"
	case ScopeNone:
		return "none"
	}
	return "all"
}

// ParseScope reads a scope's configuration name ("all", "area", "none").
func ParseScope(name string) (Scope, bool) {
	switch name {
	case "all":
		return ScopeAll, true
	case "area":
		return ScopeArea, true
	case "none":
		return ScopeNone, true
	}
	return ScopeAll, false
}

// Region is a subscriber's scope and area of interest: a circle of Radius
// metres around (Lat, Lon). It is immutable once stored.
type Region struct {
	Scope     Scope
	Radius    float64 // metres
	HasCentre bool
	Lat, Lon  float64 // degrees

	// A box around the circle for a cheap first test, and the scale of a
	// degree of longitude at the centre.
	minLat, maxLat, dLon, cosLat float64
}

const metresPerDegree = 111_320.0

func newRegion(scope Scope, radius float64, has bool, lat, lon float64) *Region {
	r := &Region{Scope: scope, Radius: radius, HasCentre: has, Lat: lat, Lon: lon}
	if has {
		dLat := radius / metresPerDegree
		r.minLat, r.maxLat = lat-dLat, lat+dLat
		r.cosLat = math.Cos(lat * math.Pi / 180)
		r.dLon = 360
		if c := r.cosLat; c > 1e-6 {
			r.dLon = dLat / c
		}
	}
	return r
}

// contains reports whether (lat, lon) lies within the area
// (equirectangular distance at the centre: within 1 % at 100 km).
func (r *Region) contains(lat, lon float64) bool {
	if !r.HasCentre || lat < r.minLat || lat > r.maxLat {
		return false
	}
	dlon := math.Remainder(lon-r.Lon, 360)
	if math.Abs(dlon) > r.dLon {
		return false
	}
	e := dlon * metresPerDegree * r.cosLat
	n := (lat - r.Lat) * metresPerDegree
	return e*e+n*n <= r.Radius*r.Radius
}

// SetScope sets which Regional messages s receives and, for ScopeArea,
// the radius of its area of interest in metres. The centre is kept.
func (s *Subscriber) SetScope(scope Scope, radius float64) {
	cur := s.region.Load()
	if cur == nil {
		s.region.Store(newRegion(scope, radius, false, 0, 0))
		return
	}
	s.region.Store(newRegion(scope, radius, cur.HasCentre, cur.Lat, cur.Lon))
}

// SetCentre moves the centre of s's area of interest (the client's own
// position). A move shorter than a twentieth of the radius is ignored, so
// that a client reporting every second costs nothing while it stays put.
// It reports whether the centre was unknown until now, when the owner may
// want to send the area's current picture.
func (s *Subscriber) SetCentre(lat, lon float64) (first bool) {
	cur := s.region.Load()
	if cur == nil || cur.Scope != ScopeArea {
		return false
	}
	if cur.HasCentre {
		dlon := math.Remainder(lon-cur.Lon, 360)
		e := dlon * metresPerDegree * cur.cosLat
		n := (lat - cur.Lat) * metresPerDegree
		if lim := cur.Radius / 20; e*e+n*n < lim*lim {
			return false
		}
	}
	s.region.Store(newRegion(cur.Scope, cur.Radius, true, lat, lon))
	return !cur.HasCentre
}

// Region returns s's scope and area of interest.
func (s *Subscriber) Region() Region {
	if r := s.region.Load(); r != nil {
		return *r
	}
	return Region{}
}

// inScope reports whether s receives m as far as its scope is concerned
// (always for a message that is not Regional).
func (s *Subscriber) inScope(m *Message) bool {
	if !m.Regional {
		return true
	}
	r := s.region.Load()
	if r == nil {
		return true
	}
	switch r.Scope {
	case ScopeAll:
		return true
	case ScopeArea:
		return m.Event != nil && r.contains(m.Event.Point.Lat, m.Event.Point.Lon)
	}
	return false
}

// replaceLatest puts m in place of a queued message of the same uid when
// both are Latest, and reports whether it did; otherwise it records where
// m is about to be appended. Called with s.mu held, for a routine m.
func (s *Subscriber) replaceLatest(m *Message) bool {
	if i, ok := s.latest[m.UID]; ok {
		// The index is a hint: flash insertion, TakeFlash and shedding move
		// queued messages (rarely), so it is checked, and the queue searched
		// when it misses.
		if i >= len(s.queue) || !s.queue[i].sameLatest(m) {
			i = -1
			for j, q := range s.queue {
				if q.sameLatest(m) {
					i = j
					break
				}
			}
		}
		if i >= 0 {
			s.queue[i] = m
			s.latest[m.UID] = i
			if s.onReplace != nil {
				s.onReplace()
			}
			return true
		}
	}
	if s.latest == nil {
		s.latest = make(map[string]int)
	}
	s.latest[m.UID] = len(s.queue)
	return false
}

// forgetLatest empties the uid index when the queue is handed over or
// dropped. Called with s.mu held.
func (s *Subscriber) forgetLatest() {
	switch {
	case len(s.latest) > 1024:
		s.latest = nil // a large map costs its capacity on every clear
	case len(s.latest) > 0:
		clear(s.latest)
	}
}

// sameLatest reports whether q is a queued state that m replaces.
func (q *Message) sameLatest(m *Message) bool {
	return q.Latest && !q.Flash && q.UID == m.UID
}

package fusion

import (
	"math"
	"slices"
	"time"
)

// track is one system track in one view.
type track struct {
	v         *view
	key       Key
	uid       string
	confirmed bool
	born      time.Time
	hits      int

	t   time.Time // state time
	f   frame     // tangent plane at the track's position
	x   vec4      // x[0], x[1] are 0 right after an update (re-centred)
	p   mat4
	vel bool // velocity observed at least once (or estimated from two plots)

	hasAlt  bool
	alt     float64
	domain  Domain
	plotAir bool // some plot carried an altitude

	callsign, name string
	aff            byte
	military       bool

	sources []string // contributors, sorted

	lastPub                       time.Time
	pubLat                        float64 // where it was last published
	pubLon                        float64
	changed                       bool // sources changed since last published
	pubCallsign, pubName, pubType string
	dirty                         bool
	published                     bool
	// seen is when the engine last applied an observation to the track
	// (wall clock); queued that it is in Engine.touched.
	seen   time.Time
	queued bool
	// recv is when the node received the newest observation applied (zero
	// when the observations carried no receipt time); held that a change
	// waits in Engine.held for the track's publish interval to pass.
	recv    time.Time
	held    bool
	cell    cellKey
	indexed bool
	removed bool
}

func (t *track) lat() float64 { return t.f.lat }
func (t *track) lon() float64 { return t.f.lon }

func (t *track) addSource(s string) bool {
	i, found := slices.BinarySearch(t.sources, s)
	if found {
		return false
	}
	t.sources = slices.Insert(t.sources, i, s)
	t.changed = true // a new label and provenance: publish at once
	return true
}

// recentre moves the tangent plane to the track's current position.
func (t *track) recentre() {
	if t.x[0] == 0 && t.x[1] == 0 {
		return
	}
	lat, lon := t.f.fromENU(t.x[0], t.x[1])
	t.f = newFrame(lat, lon)
	t.x[0], t.x[1] = 0, 0
}

// predicted returns the state moved to time at (mean and covariance).
func (t *track) predicted(at time.Time, q float64) (vec4, mat4) {
	x, p := t.x, t.p
	predict(&x, &p, at.Sub(t.t).Seconds(), q)
	return x, p
}

func (t *track) sigma() float64 { return math.Sqrt(math.Max(0, (t.p[0][0]+t.p[1][1])/2)) }

type cellKey struct{ la, lo int32 }

const cellDeg = 0.1

func cellOf(lat, lon float64) cellKey {
	return cellKey{int32(math.Floor(lat / cellDeg)), int32(math.Floor(lon / cellDeg))}
}

// view is the picture built from one set of sources.
type view struct {
	idx     int
	tag     string
	spec    viewSpec
	sources map[string]bool
	tracks  []*track
	byKey   map[Key]*track
	grid    map[cellKey][]*track
	static  map[Key]staticInfo
	removed int // dropped tracks still in tracks
}

type staticInfo struct {
	callsign, name string
	military       bool
}

func (v *view) index(t *track) {
	c := cellOf(t.lat(), t.lon())
	if t.indexed {
		if c == t.cell {
			return
		}
		v.unindex(t)
	}
	t.cell, t.indexed = c, true
	v.grid[c] = append(v.grid[c], t)
}

func (v *view) unindex(t *track) {
	if !t.indexed {
		return
	}
	t.indexed = false
	s := v.grid[t.cell]
	for i, o := range s {
		if o == t {
			s[i] = s[len(s)-1]
			s = s[:len(s)-1]
			break
		}
	}
	if len(s) == 0 {
		delete(v.grid, t.cell)
	} else {
		v.grid[t.cell] = s
	}
}

// near calls fn for every track in the 3×3 cells around (lat, lon).
func (v *view) near(lat, lon float64, fn func(*track)) {
	c := cellOf(lat, lon)
	for dla := int32(-1); dla <= 1; dla++ {
		for dlo := int32(-1); dlo <= 1; dlo++ {
			for _, t := range v.grid[cellKey{c.la + dla, c.lo + dlo}] {
				fn(t)
			}
		}
	}
}

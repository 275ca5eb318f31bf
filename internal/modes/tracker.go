package modes

import (
	"math"
	"time"
)

// TrackerConfig configures a Tracker. Zero values pick the defaults.
type TrackerConfig struct {
	// MaxAircraft bounds the table. When it is full and nothing has
	// expired, messages from new addresses are ignored. Default 10000.
	MaxAircraft int
	// Expiry removes an aircraft not heard from for this long. Default 60 s.
	Expiry time.Duration
	// PairWindow is the longest gap between an even and an odd position
	// message that are decoded together globally. Default 10 s.
	PairWindow time.Duration
	// LocalWindow is how long an aircraft's last position serves as the
	// reference for local (single message) CPR decoding. Default 30 s.
	LocalWindow time.Duration
	// Receiver, when HasReceiver is set, is the receiver position: the
	// reference for surface positions. Decoded positions farther than
	// MaxRangeNM from it are rejected.
	HasReceiver              bool
	ReceiverLat, ReceiverLon float64
	// MaxRangeNM is the receiver range used for the check above. Default
	// 300 NM. When it is at most 180 NM (less than half an airborne CPR
	// zone), a single airborne position message from an aircraft with no
	// recent position is also decoded locally relative to the receiver;
	// with a longer range that decoding could alias, so a global even/odd
	// pair is required first.
	MaxRangeNM float64
}

// Aircraft is the combined state of one aircraft.
type Aircraft struct {
	ICAO     uint32
	Callsign string
	Category int // emitter category (with CategorySet = TC of the identification)
	// CategorySet is the identification type code (1..4); 0 when no
	// identification was received.
	CategorySet int

	HasPosition  bool
	Lat, Lon     float64
	PositionTime time.Time

	HasAltitude  bool
	Altitude     int // feet
	AltitudeGNSS bool

	HasGroundSpeed bool
	GroundSpeed    float64 // knots
	HasTrack       bool
	Track          float64 // degrees true
	HasHeading     bool
	Heading        float64
	HasAirspeed    bool
	Airspeed       float64

	HasVerticalRate bool
	VerticalRate    int // feet per minute

	HasSquawk bool
	Squawk    int
	Emergency int // last TC 28 emergency state; the SBS emergency flag sets 1

	HasOnGround bool
	OnGround    bool

	FirstSeen time.Time
	LastSeen  time.Time
	Messages  uint64
}

type cprSample struct {
	c     CPR
	t     time.Time
	valid bool
}

type entry struct {
	Aircraft
	even, odd cprSample
	// anchored: the position comes from a global decode, or from local
	// decodes chained to one. A position decoded relative to the receiver
	// is provisional and a global decode replaces it unconditionally.
	anchored bool
	// disagreements counts consecutive global decodes rejected because
	// they jumped away from an anchored track.
	disagreements int
}

// Tracker combines Mode S messages and SBS lines into per-aircraft states
// keyed by the 24-bit address. It holds at most MaxAircraft entries and
// forgets aircraft after Expiry. Not safe for concurrent use.
type Tracker struct {
	cfg        TrackerConfig
	aircraft   map[uint32]*entry
	lastExpire time.Time
	refused    uint64
}

// NewTracker returns a tracker for cfg.
func NewTracker(cfg TrackerConfig) *Tracker {
	if cfg.MaxAircraft <= 0 {
		cfg.MaxAircraft = 10000
	}
	if cfg.Expiry <= 0 {
		cfg.Expiry = 60 * time.Second
	}
	if cfg.PairWindow <= 0 {
		cfg.PairWindow = 10 * time.Second
	}
	if cfg.LocalWindow <= 0 {
		cfg.LocalWindow = 30 * time.Second
	}
	if cfg.MaxRangeNM <= 0 {
		cfg.MaxRangeNM = 300
	}
	return &Tracker{cfg: cfg, aircraft: make(map[uint32]*entry)}
}

// Len returns the number of aircraft held.
func (t *Tracker) Len() int { return len(t.aircraft) }

// Refused returns how many messages from new aircraft were ignored because
// the table was full.
func (t *Tracker) Refused() uint64 { return t.refused }

// Get returns the state of one aircraft.
func (t *Tracker) Get(icao uint32) (Aircraft, bool) {
	e, ok := t.aircraft[icao]
	if !ok {
		return Aircraft{}, false
	}
	return e.Aircraft, true
}

// Expire forgets aircraft not heard from since now - Expiry and returns
// how many were removed.
func (t *Tracker) Expire(now time.Time) int {
	t.lastExpire = now
	n := 0
	for k, e := range t.aircraft {
		if now.Sub(e.LastSeen) > t.cfg.Expiry {
			delete(t.aircraft, k)
			n++
		}
	}
	return n
}

// Aircraft returns a snapshot of every aircraft held.
func (t *Tracker) Aircraft() []Aircraft {
	out := make([]Aircraft, 0, len(t.aircraft))
	for _, e := range t.aircraft {
		out = append(out, e.Aircraft)
	}
	return out
}

// lookup finds or creates the entry for icao. create is false for
// messages whose address comes from the parity field: they only update
// known aircraft.
func (t *Tracker) lookup(icao uint32, now time.Time, create bool) *entry {
	if e, ok := t.aircraft[icao]; ok {
		if now.Sub(e.LastSeen) > t.cfg.Expiry {
			// Stale: start afresh rather than mixing old state in.
			*e = entry{Aircraft: Aircraft{ICAO: icao, FirstSeen: now}}
		}
		return e
	}
	if !create {
		return nil
	}
	if len(t.aircraft) >= t.cfg.MaxAircraft {
		if now.Sub(t.lastExpire) >= time.Second {
			t.Expire(now)
		}
		if len(t.aircraft) >= t.cfg.MaxAircraft {
			t.refused++
			return nil
		}
	}
	e := &entry{Aircraft: Aircraft{ICAO: icao, FirstSeen: now}}
	t.aircraft[icao] = e
	return e
}

// Update applies one decoded Mode S message received at now and returns
// the aircraft's new state. ok is false when the message was not applied:
// an address recovered from parity that is not known, or a full table.
func (t *Tracker) Update(m *Message, now time.Time) (Aircraft, bool) {
	e := t.lookup(m.ICAO, now, !m.AddressFromParity)
	if e == nil {
		return Aircraft{}, false
	}
	a := &e.Aircraft
	a.LastSeen = now
	a.Messages++
	if m.TypeCode >= 1 && m.TypeCode <= 4 {
		a.Callsign, a.Category, a.CategorySet = m.Callsign, m.Category, m.TypeCode
	}
	if m.HasAltitude {
		a.HasAltitude, a.Altitude, a.AltitudeGNSS = true, m.Altitude, m.AltitudeGNSS
	}
	if m.HasGroundSpeed {
		a.HasGroundSpeed, a.GroundSpeed = true, m.GroundSpeed
	}
	if m.HasTrack {
		a.HasTrack, a.Track = true, m.Track
	}
	if m.HasHeading {
		a.HasHeading, a.Heading = true, m.Heading
	}
	if m.HasAirspeed {
		a.HasAirspeed, a.Airspeed = true, m.Airspeed
	}
	if m.HasVerticalRate {
		a.HasVerticalRate, a.VerticalRate = true, m.VerticalRate
	}
	if m.HasSquawk {
		a.HasSquawk, a.Squawk = true, m.Squawk
	}
	if m.TypeCode == 28 && m.HasSquawk {
		a.Emergency = m.Emergency
	}
	if m.HasOnGround {
		a.HasOnGround, a.OnGround = true, m.OnGround
	}
	if m.HasCPR {
		t.position(e, m.CPR, now)
	}
	return e.Aircraft, true
}

// position stores a CPR sample and decodes a position: globally from a
// fresh even/odd pair, otherwise locally relative to the aircraft's recent
// position or (see MaxRangeNM) the receiver.
func (t *Tracker) position(e *entry, c CPR, now time.Time) {
	cur := cprSample{c: c, t: now, valid: true}
	other := e.even
	if c.Odd {
		e.odd = cur
	} else {
		e.even = cur
		other = e.odd
	}
	a := &e.Aircraft
	recent := a.HasPosition && now.Sub(a.PositionTime) <= t.cfg.LocalWindow
	var lat, lon float64
	ok, anchored := false, false
	if other.valid && other.c.Surface == c.Surface && absDur(now.Sub(other.t)) <= t.cfg.PairWindow {
		ev, od := e.even.c, e.odd.c
		if !c.Surface {
			lat, lon, ok = GlobalAirborne(ev.Lat, ev.Lon, od.Lat, od.Lon, c.Odd)
		} else if refLat, refLon, has := t.surfaceReference(a, recent); has {
			lat, lon, ok = GlobalSurface(refLat, refLon, ev.Lat, ev.Lon, od.Lat, od.Lon, c.Odd)
		}
		ok = ok && t.inRange(lat, lon)
		if ok && recent && e.anchored && distanceNM(a.Lat, a.Lon, lat, lon) > 90 {
			// A pair whose halves were sent from different zones can
			// land far off; trust the established track instead, unless
			// global decodes keep disagreeing with it.
			e.disagreements++
			ok = e.disagreements > maxDisagreements
		}
		if ok {
			e.disagreements = 0
		}
		anchored = ok
	}
	if !ok && recent {
		lat, lon, ok = Local(c, a.Lat, a.Lon)
		ok = ok && t.inRange(lat, lon)
		anchored = e.anchored
	}
	if !ok && t.cfg.HasReceiver && (c.Surface || t.cfg.MaxRangeNM <= 180) {
		lat, lon, ok = Local(c, t.cfg.ReceiverLat, t.cfg.ReceiverLon)
		ok = ok && t.inRange(lat, lon)
		anchored = false
	}
	if !ok {
		return
	}
	a.HasPosition, a.Lat, a.Lon, a.PositionTime = true, lat, lon, now
	e.anchored = anchored
	if c.Surface {
		a.HasOnGround, a.OnGround = true, true
	}
}

// maxDisagreements is how many consecutive global decodes may contradict
// an anchored track before they replace it.
const maxDisagreements = 2

func (t *Tracker) inRange(lat, lon float64) bool {
	return !t.cfg.HasReceiver || distanceNM(t.cfg.ReceiverLat, t.cfg.ReceiverLon, lat, lon) <= t.cfg.MaxRangeNM
}

// surfaceReference returns the position a surface pair is resolved
// against: the aircraft's recent position, else the receiver.
func (t *Tracker) surfaceReference(a *Aircraft, recent bool) (float64, float64, bool) {
	if recent {
		return a.Lat, a.Lon, true
	}
	if t.cfg.HasReceiver {
		return t.cfg.ReceiverLat, t.cfg.ReceiverLon, true
	}
	return 0, 0, false
}

// UpdateSBS applies one SBS-1 line received at now. SBS lines carry
// decoded values, positions included.
func (t *Tracker) UpdateSBS(s *SBSMessage, now time.Time) (Aircraft, bool) {
	e := t.lookup(s.ICAO, now, true)
	if e == nil {
		return Aircraft{}, false
	}
	a := &e.Aircraft
	a.LastSeen = now
	a.Messages++
	if s.Callsign != "" {
		a.Callsign = s.Callsign
	}
	if s.HasAltitude {
		a.HasAltitude, a.Altitude = true, s.Altitude
	}
	if s.HasGroundSpeed {
		a.HasGroundSpeed, a.GroundSpeed = true, s.GroundSpeed
	}
	if s.HasTrack {
		a.HasTrack, a.Track = true, s.Track
	}
	if s.HasPosition {
		a.HasPosition, a.Lat, a.Lon, a.PositionTime = true, s.Lat, s.Lon, now
		e.anchored = true
	}
	if s.HasVerticalRate {
		a.HasVerticalRate, a.VerticalRate = true, s.VerticalRate
	}
	if s.HasSquawk {
		a.HasSquawk, a.Squawk = true, s.Squawk
		a.Emergency = 0
		if s.Emergency {
			a.Emergency = 1
		}
	}
	if s.HasOnGround {
		a.HasOnGround, a.OnGround = true, s.OnGround
	}
	return e.Aircraft, true
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// distanceNM is the great-circle distance in nautical miles.
func distanceNM(lat1, lon1, lat2, lon2 float64) float64 {
	const rad = math.Pi / 180
	const earthNM = 3440.065
	dLat := (lat2 - lat1) * rad
	dLon := (lon2 - lon1) * rad
	h := math.Sin(dLat/2)*math.Sin(dLat/2) +
		math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * earthNM * math.Asin(math.Min(1, math.Sqrt(h)))
}

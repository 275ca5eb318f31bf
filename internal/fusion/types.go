package fusion

import (
	"fmt"
	"time"

	"kizuna/internal/label"
)

// Domain is where an object moves.
type Domain uint8

// Domains.
const (
	DomainUnknown Domain = iota
	DomainSea
	DomainAir
	DomainGround
)

func (d Domain) String() string {
	switch d {
	case DomainSea:
		return "sea"
	case DomainAir:
		return "air"
	case DomainGround:
		return "ground"
	}
	return "unknown"
}

// IDKind says what an observation's identity is.
type IDKind uint8

// Identity kinds.
const (
	IDNone IDKind = iota
	IDMMSI        // AIS MMSI
	IDICAO        // ICAO 24-bit aircraft address
)

// Key is a track identity.
type Key struct {
	Kind IDKind
	ID   uint64 // MMSI, ICAO address, or the birth number of a track without identity
}

// String renders the key as TAK tools do: MMSI-123456789 or ICAO-A1B2C3.
func (k Key) String() string {
	switch k.Kind {
	case IDMMSI:
		return fmt.Sprintf("MMSI-%09d", k.ID)
	case IDICAO:
		return fmt.Sprintf("ICAO-%06X", k.ID)
	}
	return fmt.Sprintf("T%d", k.ID)
}

// Affiliation letters of the CoT type (the second atom of a-x-…).
const (
	AffUnknown = 'u'
	AffNeutral = 'n'
	AffFriend  = 'f'
	AffHostile = 'h'
)

// Observation is one report of one object by one source.
type Observation struct {
	Source string // feed name
	// Label is the feed's label, for the record: the engine labels tracks
	// with the label configured for Source (Config.Sources), so a
	// mislabelled observation cannot change who sees what.
	Label    label.Label
	Time     time.Time // measurement time
	Received time.Time // when the node received it (fusion latency is measured from here)

	Domain Domain
	ID     Key // Kind IDNone for a radar plot without identity

	// Static is an identity report without a position (AIS type 5, an
	// ADS-B identification): it only updates names.
	Static bool

	Lat, Lon float64 // WGS-84 degrees
	HasAlt   bool
	Alt      float64 // metres above the ellipsoid (pressure altitude taken as such)

	HasVel bool
	Course float64 // degrees true
	Speed  float64 // m/s

	Callsign string
	Name     string
	// Affiliation is the CoT affiliation letter a source asserts (a CoT
	// sensor); zero when the source does not say.
	Affiliation byte
	// Military marks an object its source reports as military (AIS ship
	// type 35, ...): typed unknown rather than neutral.
	Military bool

	// Cov is the horizontal position covariance (east-east, east-north,
	// north-north) in m². Zero means the default of the source kind.
	Cov [3]float64
	// VelVar is the per-axis velocity variance (m²/s²) when HasVel; zero
	// means a default.
	VelVar float64
}

// Default measurement accuracies by identity kind when a feed gives none.
const (
	defaultSigmaAIS   = 15.0  // m, AIS class A with a GNSS fix
	defaultSigmaADSB  = 50.0  // m, a typical NACp of 8 or better
	defaultSigmaPlot  = 150.0 // m, a radar plot whose feed gave no covariance
	defaultVelVarAIS  = 0.5 * 0.5
	defaultVelVarADSB = 5.0 * 5.0
)

func (o *Observation) cov() [3]float64 {
	if o.Cov[0] > 0 && o.Cov[2] > 0 {
		return o.Cov
	}
	s := defaultSigmaPlot
	switch o.ID.Kind {
	case IDMMSI:
		s = defaultSigmaAIS
	case IDICAO:
		s = defaultSigmaADSB
	}
	return [3]float64{s * s, 0, s * s}
}

func (o *Observation) velVar() float64 {
	if o.VelVar > 0 {
		return o.VelVar
	}
	if o.Domain == DomainSea || o.ID.Kind == IDMMSI {
		return defaultVelVarAIS
	}
	return defaultVelVarADSB
}

// Track is a snapshot of one system track in one view.
type Track struct {
	UID       string
	View      int
	Key       Key // identity, or Kind IDNone with the birth number
	Confirmed bool
	Domain    Domain
	Time      time.Time // last update
	Lat, Lon  float64
	HasAlt    bool
	Alt       float64
	Course    float64
	Speed     float64
	Cov       [4][4]float64 // east, north, v_east, v_north
	Callsign  string
	Name      string
	Sources   []string // contributing sources, sorted
	Label     label.Label
	Quality   float64
	Hits      int
	// Published is set while the track is in the picture (an identical
	// track of an earlier view is published instead of a duplicate).
	Published bool
}

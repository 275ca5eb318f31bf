package asterix

import (
	"math"
	"time"
)

// Field is a presence flag of a Record: which decoded values it carries.
type Field uint32

// The fields of a Record. The item each one comes from is given per
// category.
const (
	FieldSource            Field = 1 << iota // SAC, SIC: I048/010, I062/010
	FieldTimeOfDay                           // TimeOfDay: I048/140, I062/070
	FieldTargetReport                        // TargetReport: I048/020
	FieldPolar                               // Rho, Theta: I048/040
	FieldMode3A                              // Mode3A: I048/070, I062/060
	FieldFlightLevel                         // FlightLevel: I048/090, I062/136
	FieldAircraftAddress                     // AircraftAddress: I048/220, I062/380 ADR
	FieldCallsign                            // Callsign: I048/240, I062/380 ID
	FieldTrackNumber                         // TrackNumber: I048/161, I062/040
	FieldPolarVelocity                       // GroundSpeed, Heading: I048/200
	FieldTrackStatus                         // TrackStatus: I048/170, I062/080
	FieldServiceID                           // ServiceID: I062/015
	FieldWGS84                               // Lat, Lon: I062/105
	FieldCartesian                           // X, Y: I062/100
	FieldCartesianVelocity                   // VX, VY: I062/185
	FieldGeoAltitude                         // GeoAltitude: I062/130
	FieldBaroAltitude                        // BaroAltitude, BaroQNH: I062/135
	FieldClimbRate                           // ClimbRate: I062/220
)

// Record is one decoded ASTERIX record (a CAT048 target report or a CAT062
// system track). Only the values whose Field flag is set in Present are
// meaningful; the others are zero.
type Record struct {
	Category uint8 // 48 or 62
	Present  Field // which of the values below were present

	SAC, SIC  uint8         // data source identifier
	ServiceID uint8         // CAT062 service identification
	TimeOfDay time.Duration // since midnight UTC, resolution 1/128 s

	TargetReport TargetReport // CAT048 target report descriptor
	TrackNumber  uint16       // 12 bits in CAT048, 16 bits in CAT062
	TrackStatus  TrackStatus

	// Measured position in slant polar coordinates from the radar (CAT048).
	Rho   float64 // slant range, NM (resolution 1/256 NM, below 256 NM)
	Theta float64 // azimuth, degrees clockwise from north (resolution 360/2^16)

	// Calculated position (CAT062).
	Lat, Lon float64 // WGS-84 degrees (resolution 180/2^25)
	X, Y     float64 // metres east and north of the system reference point (resolution 0.5 m)

	// Velocity.
	GroundSpeed float64 // knots (CAT048, resolution 2^-14 NM/s)
	Heading     float64 // degrees true (CAT048, resolution 360/2^16)
	VX, VY      float64 // metres per second east and north (CAT062, resolution 0.25 m/s)

	Mode3A Mode3A

	FlightLevel float64 // flight level (hundreds of feet), resolution 1/4: measured (I048/090, I062/136)
	// FlightLevelSuspect (CAT048) means the radar flagged the flight level
	// as not validated or garbled (I048/090 V or G bit).
	FlightLevelSuspect bool
	BaroAltitude       float64 // calculated barometric altitude, flight level (I062/135)
	BaroQNH            bool    // BaroAltitude is QNH-corrected
	GeoAltitude        float64 // calculated geometric altitude, feet (I062/130, resolution 6.25 ft)
	ClimbRate          float64 // feet per minute, positive up (I062/220, resolution 6.25 ft/min)

	AircraftAddress uint32 // ICAO 24-bit address
	Callsign        string // aircraft identification, trailing spaces removed
}

// Has reports whether every field in f is present in r.
func (r *Record) Has(f Field) bool { return r.Present&f == f }

// Set stores the presence flag f; encoders emit only present values.
func (r *Record) Set(f Field) { r.Present |= f }

// Velocity returns the ground speed (knots) and true track angle (degrees
// in [0, 360)) from whichever velocity item the record carries.
func (r *Record) Velocity() (speedKt, trackDeg float64, ok bool) {
	switch {
	case r.Has(FieldPolarVelocity):
		return r.GroundSpeed, r.Heading, true
	case r.Has(FieldCartesianVelocity):
		speed := math.Hypot(r.VX, r.VY) * 3600 / metresPerNM
		track := math.Atan2(r.VX, r.VY) * 180 / math.Pi
		if track < 0 {
			track += 360
		}
		return speed, track, true
	}
	return 0, 0, false
}

// Mode3A is a Mode-3/A transponder code with its quality bits.
type Mode3A struct {
	Code         uint16 // the 12-bit code; print it with %04o
	NotValidated bool   // V
	Garbled      bool   // G
	// Smoothed (CAT048 L bit) means the code comes from the local tracker,
	// not from the last reply. In CAT062 this is the CH bit: the code
	// changed.
	Smoothed bool
}

// TargetReport is the CAT048 target report descriptor (I048/020): the
// first octet and its first extension.
type TargetReport struct {
	Type         uint8 // TYP: 0 no detection, 1 PSR, 2 SSR, 3 SSR+PSR, 4 Mode S all-call, 5 Mode S roll-call, 6 all-call+PSR, 7 roll-call+PSR
	Simulated    bool  // SIM
	RDP2         bool  // RDP: report from RDP chain 2
	SPI          bool  // special position identification
	FieldMonitor bool  // RAB: report from a fixed field monitor
	Test         bool  // TST (extension)
	MilEmergency bool  // ME (extension)
	MilIdent     bool  // MI (extension)
	FoeFri       uint8 // FOE/FRI (extension): 0 no Mode 4, 1 friendly, 2 unknown, 3 no reply
}

// TrackStatus collects the track status bits Kizuna uses from I048/170 and
// I062/080. A bit that the record's category does not define stays false.
type TrackStatus struct {
	Tentative bool  // CNF: not yet confirmed (both)
	Ended     bool  // TRE (CAT048) / TSE (CAT062): last report of this track
	Ghost     bool  // GHO (CAT048): ghost target
	Radar     uint8 // RAD (CAT048): 0 combined, 1 PSR, 2 SSR/Mode S, 3 invalid
	Mono      bool  // MON (CAT062): monosensor track
	SPI       bool  // SPI (CAT062)
	Source    uint8 // SRC (CAT062): source of the calculated altitude
	Simulated bool  // SIM (CAT062)
	Coasted   bool  // CST (CAT062): extrapolated, no fresh update
}

// Position returns the record's WGS-84 position: I062/105 for a system
// track; for a CAT048 report, the measured polar position located from
// site, at the reported flight level's height when present and at the
// antenna's height otherwise (see Site.Locate). ok is false when the
// record carries no position, or is polar and site is nil.
func (r *Record) Position(site *Site) (lat, lon float64, ok bool) {
	switch {
	case r.Has(FieldWGS84):
		return r.Lat, r.Lon, true
	case r.Has(FieldPolar) && site != nil:
		h := site.Height
		if r.Has(FieldFlightLevel) {
			h = FlightLevelHeight(r.FlightLevel)
		}
		lat, lon = site.Locate(r.Rho, r.Theta, h)
		return lat, lon, true
	}
	return 0, 0, false
}

// Time turns the record's time of day (UTC, since midnight) into an
// absolute time: the instant with that time of day nearest to ref,
// typically the reception time. That resolves a report made just before
// midnight and received just after it (or the reverse). ok is false
// without a time of day.
func (r *Record) Time(ref time.Time) (t time.Time, ok bool) {
	if !r.Has(FieldTimeOfDay) {
		return time.Time{}, false
	}
	ref = ref.UTC()
	midnight := time.Date(ref.Year(), ref.Month(), ref.Day(), 0, 0, 0, 0, time.UTC)
	t = midnight.Add(r.TimeOfDay)
	const day = 24 * time.Hour
	switch d := t.Sub(ref); {
	case d > day/2:
		t = t.Add(-day)
	case d < -day/2:
		t = t.Add(day)
	}
	return t, true
}

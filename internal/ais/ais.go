// Package ais owns NMEA 0183 AIVDM/AIVDO parsing and AIS message decoding:
// sentence syntax and checksums, 6-bit payload armouring and fill bits,
// bounded multi-sentence reassembly, and the decoding of the AIS message
// types a recognised maritime picture needs (ITU-R M.1371 types 1, 2, 3, 4,
// 5, 18, 19, 21, 24 and 27) into one Message struct.
//
// The field layouts follow ITU-R M.1371 as documented in the public
// "AIVDM/AIVDO protocol decoding" notes of the gpsd project.
package ais

import (
	"errors"
	"time"
)

// Sentinel errors. Every error returned by the package wraps exactly one of
// them; Reason maps them to a short metric label.
var (
	// ErrChecksum: the NMEA checksum does not match the sentence.
	ErrChecksum = errors.New("nmea checksum mismatch")
	// ErrFormat: the sentence or the AIS payload is malformed (bad field,
	// bad armouring character, message too short for its type, …).
	ErrFormat = errors.New("malformed ais sentence")
	// ErrFragment: a multi-sentence message was broken (a fragment arrived
	// out of order, without its first part, or its group was evicted).
	ErrFragment = errors.New("bad ais fragment sequence")
	// ErrUnsupported: a well-formed message of a type this package does not
	// decode, or a sentence that is not AIVDM/AIVDO.
	ErrUnsupported = errors.New("unsupported ais message")
)

// Reason returns a short, stable label for an error from this package:
// "checksum", "format", "fragment", "unsupported" or "other".
func Reason(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrChecksum):
		return "checksum"
	case errors.Is(err, ErrFormat):
		return "format"
	case errors.Is(err, ErrFragment):
		return "fragment"
	case errors.Is(err, ErrUnsupported):
		return "unsupported"
	}
	return "other"
}

// Navigation status values (types 1-3 and 27). NavStatusUnknown means "not
// defined" (value 15) or not carried by the message.
const (
	NavUnderWayEngine     = 0
	NavAtAnchor           = 1
	NavNotUnderCommand    = 2
	NavRestrictedManoeuvr = 3
	NavConstrainedDraught = 4
	NavMoored             = 5
	NavAground            = 6
	NavFishing            = 7
	NavUnderWaySailing    = 8
	NavAISSART            = 14
	NavStatusUnknown      = 15
)

// ETA is an estimated time of arrival (type 5). It has no year; a zero
// field means "not available" for Month and Day, 24 for Hour and 60 for
// Minute, as sent.
type ETA struct {
	Month, Day, Hour, Minute int
}

// Valid reports whether the ETA carries at least a month and a day.
func (e ETA) Valid() bool {
	return e.Month >= 1 && e.Month <= 12 && e.Day >= 1 && e.Day <= 31
}

// Message is one decoded AIS message. Fields a message type does not carry
// keep their zero value, and the Has* flags say which kinematic fields are
// present: a "not available" value on the air (latitude 91, longitude 181,
// COG 360, SOG 102.3, heading 511) leaves its flag false.
type Message struct {
	Type    int    // AIS message type, 1..27
	Repeat  int    // repeat indicator
	MMSI    uint32 // source MMSI
	Channel byte   // radio channel from the sentence ('A', 'B', '1', '2' or 0)
	Own     bool   // from a VDO sentence (own ship)

	HasPosition bool
	Lat, Lon    float64 // WGS-84 degrees, valid when HasPosition
	Accuracy    bool    // position accuracy flag (true: < 10 m)

	HasCOG     bool
	COG        float64 // course over ground, degrees true
	HasSOG     bool
	SOG        float64 // speed over ground, knots
	HasHeading bool
	Heading    int // true heading, degrees
	NavStatus  int // navigation status; NavStatusUnknown when absent
	Second     int // UTC second of the report; 60 = not available

	Name        string // ship name (5, 19, 24A) or aid-to-navigation name (21)
	Callsign    string
	IMO         uint32
	ShipType    int // ship and cargo type (5, 19, 24B)
	AidType     int // type 21
	VendorID    string
	Destination string
	ETA         ETA
	Draught     float64 // metres
	PartNumber  int     // type 24: 0 = part A, 1 = part B

	// Dimensions from the reference point, metres.
	ToBow, ToStern, ToPort, ToStarboard int
	MothershipMMSI                      uint32 // type 24B from an auxiliary craft

	// Timestamp is the UTC time carried by a type 4 base station report,
	// zero when not available.
	Timestamp time.Time
}

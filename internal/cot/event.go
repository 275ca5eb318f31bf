// Package cot owns the Cursor-on-Target event model and its XML wire form:
// a strict, fast decoder for one event, an encoder, and a stream splitter
// that finds event boundaries in a TCP byte stream.
//
// The decoder is written for hostile input. It refuses DTDs and entity
// declarations (there is no entity expansion at all), checks that the
// document is well formed, and keeps the <detail> element verbatim so that
// children Kizuna does not know are forwarded intact.
package cot

import (
	"errors"
	"math"
	"time"

	"kizuna/internal/label"
)

// MaxEventSize is the default limit on one event or frame.
const MaxEventSize = 1 << 20

// Unknown is the TAK value for an unknown hae, ce or le.
const Unknown = 9999999.0

// Sentinel errors. Reason maps each of them to a metric label.
var (
	ErrMalformed    = errors.New("malformed xml")
	ErrDTD          = errors.New("dtd or entity declaration")
	ErrNotEvent     = errors.New("root element is not event")
	ErrMissingUID   = errors.New("missing uid")
	ErrMissingType  = errors.New("missing type")
	ErrMissingPoint = errors.New("missing point")
	ErrCoordinates  = errors.New("coordinates out of range")
	ErrTime         = errors.New("bad time")
	ErrTooLarge     = errors.New("event over size limit")
	ErrLabel        = errors.New("bad label")
)

// Reason returns a short, stable reason for a decode error, for metrics and
// logs: "malformed", "dtd", "not_event", "missing_uid", "missing_type",
// "missing_point", "coordinates", "time", "too_large", "caveat", "label" or
// "other": names of package reject's list.
func Reason(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrDTD):
		return "dtd"
	case errors.Is(err, ErrMalformed):
		return "malformed"
	case errors.Is(err, ErrNotEvent):
		return "not_event"
	case errors.Is(err, ErrMissingUID):
		return "missing_uid"
	case errors.Is(err, ErrMissingType):
		return "missing_type"
	case errors.Is(err, ErrMissingPoint):
		return "missing_point"
	case errors.Is(err, ErrCoordinates):
		return "coordinates"
	case errors.Is(err, ErrTime):
		return "time"
	case errors.Is(err, ErrTooLarge):
		return "too_large"
	case errors.Is(err, label.ErrCaveat):
		return "caveat"
	case errors.Is(err, ErrLabel), errors.Is(err, label.ErrClassification), errors.Is(err, label.ErrNation), errors.Is(err, label.ErrForeignMarking):
		return "label"
	}
	return "other"
}

// Point is the <point> element.
type Point struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
	HAE float64 `json:"hae"`
	CE  float64 `json:"ce"`
	LE  float64 `json:"le"`
}

// Dest is one <marti><dest …/></marti> recipient.
type Dest struct {
	Callsign string
	UID      string
	Mission  string
}

// Link is a <link> element of the detail.
type Link struct {
	UID      string
	Type     string
	Relation string
}

// Origin is the server-stamped <__origin nation="…" node="…"/>.
type Origin struct {
	Nation string
	Node   string
}

// Event is one CoT event. The label attributes are kept as they travel on
// the wire; ParseLabel and SetLabel convert them.
type Event struct {
	Version      string
	UID          string
	Type         string
	How          string
	Time         time.Time
	Start        time.Time
	Stale        time.Time
	QoS          string
	Opex         string
	Access       string
	Caveat       string
	ReleasableTo string
	Point        Point

	// Detail is the inner XML of <detail>, verbatim, minus any __origin
	// element (which only a server may set). Nil when there is no detail.
	Detail []byte
	// HasDetail records whether the event had a <detail> element at all.
	HasDetail bool

	// Facts extracted from the detail while decoding.
	Callsign string
	Dests    []Dest
	Links    []Link
	Course   float64 // degrees, NaN when unknown
	Speed    float64 // m/s, NaN when unknown

	// Origin is the server-stamped origin. Decode fills it from the
	// __origin element; the node overwrites it for client submissions.
	Origin Origin
}

// ParseLabel reads the label attributes. present is false when the event
// carries no access attribute and no releasableTo attribute; the caller then
// applies label.Default. The originator is e.Origin.Nation.
func (e *Event) ParseLabel() (l label.Label, present bool, err error) {
	// "Undefined" (ATAK's default) and an empty access mean no marking.
	c, marked, err := label.ParseAccess(e.Access)
	if !marked && e.ReleasableTo == "" && e.Caveat == "" {
		return label.Label{}, false, nil
	}
	if !marked {
		return label.Label{}, true, errors.Join(ErrLabel, errors.New("releasableTo without access"))
	}
	if err != nil {
		return label.Label{}, true, errors.Join(ErrLabel, err)
	}
	rel, err := label.ParseReleasableTo(e.ReleasableTo)
	if err != nil {
		return label.Label{}, true, errors.Join(ErrLabel, err)
	}
	cav, err := label.ParseCaveat(e.Caveat)
	if err != nil {
		return label.Label{}, true, errors.Join(ErrLabel, err)
	}
	return label.Label{Classification: c, ReleasableTo: rel, Caveat: cav, Originator: e.Origin.Nation}, true, nil
}

// SetLabel writes l into the wire attributes and the origin nation.
func (e *Event) SetLabel(l label.Label) {
	e.Access = l.Classification.String()
	e.ReleasableTo = l.ReleasableString()
	e.Caveat = l.Caveat
	e.Origin.Nation = l.Originator
}

// Validate checks the semantic rules every event must meet.
func (e *Event) Validate() error {
	if e.UID == "" {
		return ErrMissingUID
	}
	if e.Type == "" {
		return ErrMissingType
	}
	if math.IsNaN(e.Point.Lat) || math.IsNaN(e.Point.Lon) {
		return ErrMissingPoint
	}
	if e.Point.Lat < -90 || e.Point.Lat > 90 || e.Point.Lon < -180 || e.Point.Lon > 180 {
		return ErrCoordinates
	}
	if e.Time.IsZero() || e.Stale.IsZero() {
		return ErrTime
	}
	return nil
}

// IsPing reports a TAK client keep-alive (t-x-c-t).
func (e *Event) IsPing() bool { return e.Type == "t-x-c-t" }

// IsDelete reports a t-x-d-d delete event.
func (e *Event) IsDelete() bool { return e.Type == "t-x-d-d" }

// IsControl reports TAK protocol control types (t-x-takp-*) that are
// handled by the connection and never enter the picture.
func (e *Event) IsControl() bool {
	return len(e.Type) >= 8 && e.Type[:8] == "t-x-takp"
}

// IsPosition reports a situational-awareness position report (an atom,
// type a-…), which a newer report of the same uid supersedes.
func (e *Event) IsPosition() bool { return len(e.Type) >= 2 && e.Type[0] == 'a' && e.Type[1] == '-' }

// IsStale reports whether the event is stale at now.
func (e *Event) IsStale(now time.Time) bool { return !e.Stale.After(now) }

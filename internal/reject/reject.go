// Package reject owns the reasons an event is dropped, in one list, and the
// typed rejection that carries one.
//
// A Reason is a short, stable name: it is the "reason" label of the
// rejection counter, the action of the audit record ("event.REASON") and
// the "reason" attribute of the log line. Whether a reason is
// security-relevant (audited and written to the security log) and under
// which security-log category is decided here, once, from the list; the
// callers never match log message text. A reason that is not in the list
// is not security-relevant.
package reject

import (
	"errors"
	"log/slog"
)

// Reason is the stable name of why an event was dropped.
type Reason string

// The reasons. Decode and framing reasons first (the stream layer and
// cot.Reason produce them), then the rules of ingest.
const (
	Malformed    Reason = "malformed"
	DTD          Reason = "dtd"
	NotEvent     Reason = "not_event"
	MissingUID   Reason = "missing_uid"
	MissingType  Reason = "missing_type"
	MissingPoint Reason = "missing_point"
	Coordinates  Reason = "coordinates"
	Time         Reason = "time"
	TooLarge     Reason = "too_large"
	BadFrame     Reason = "bad_frame"
	Other        Reason = "other"
	RateLimited  Reason = "rate_limited"

	// Label is a marking that does not parse (unknown classification,
	// bad nation code, releasableTo without access).
	Label Reason = "label"
	// Caveat is a caveat that Kizuna does not know: it would be carried
	// without meaning, so it is refused.
	Caveat Reason = "caveat"
	// AboveClearance is a label above the submitter's clearance.
	AboveClearance Reason = "above_clearance"
	// NotOwner is a write or delete of a uid another nation owns.
	NotOwner Reason = "not_owner"
	// Reserved is a client event whose uid lies in a namespace only a
	// node generates (fused tracks, orders, a peer node's uids).
	Reserved Reason = "reserved_uid"
	// ReservedType is a client event of a type only nodes send to each
	// other (cot.NodeTypePrefix: chain-of-command, mission, sustainment
	// and STIX messages between nodes).
	ReservedType Reason = "reserved_type"
	// WriteDown is an update or delete of an object classified above the
	// submitter's clearance.
	WriteDown Reason = "write_down"
	// UnknownUID is a delete of a uid nobody owns: there is nothing to
	// delete, and the deleter may not speak for whoever publishes it later.
	UnknownUID Reason = "unknown_uid"
	// Unavailable is new work refused while a cluster instance cannot
	// reach NATS or PostgreSQL: refused, never silently dropped.
	Unavailable Reason = "unavailable"
	// Rejected is any other refusal of the ingest pipeline.
	Rejected Reason = "rejected"
)

// Security-log categories of security-relevant reasons.
const (
	CategoryEvent = "event_rejected"
	CategoryRate  = "rate_limited"
)

// Info describes one reason.
type Info struct {
	Reason Reason
	// Security marks hostile or abusive input and refusals of the label
	// and ownership rules: audited and written to the security log.
	Security bool
	// Category is the security-log category when Security is set.
	Category string
	// Doc says what the reason means, for the README and the operator.
	Doc string
}

// List is every reason, once.
var List = []Info{
	{Malformed, false, "", "the XML (or the protobuf detail) is not well formed, or an attribute is duplicated"},
	{DTD, true, CategoryEvent, "a DTD or entity declaration"},
	{NotEvent, false, "", "the root element is not <event>"},
	{MissingUID, false, "", "no uid"},
	{MissingType, false, "", "no type"},
	{MissingPoint, false, "", "no point"},
	{Coordinates, false, "", "coordinates out of range"},
	{Time, false, "", "a time that does not parse or is out of range"},
	{TooLarge, true, CategoryEvent, "an event or frame over the size limit (closes the connection)"},
	{BadFrame, false, "", "a protobuf frame that does not parse"},
	{Other, false, "", "any other decode failure"},
	{RateLimited, true, CategoryRate, "over the per-connection event rate"},
	{Label, true, CategoryEvent, "a marking that does not parse"},
	{Caveat, true, CategoryEvent, "a caveat Kizuna does not know"},
	{AboveClearance, true, CategoryEvent, "a label above the submitter's clearance"},
	{NotOwner, true, CategoryEvent, "a write or delete of another nation's uid"},
	{Reserved, true, CategoryEvent, "a client uid in a node's own namespace"},
	{ReservedType, true, CategoryEvent, "a client event of a type only nodes send to each other"},
	{WriteDown, true, CategoryEvent, "an update or delete of an object classified above the submitter's clearance"},
	{UnknownUID, false, "", "a delete of a uid nobody owns"},
	{Unavailable, false, "", "a cluster instance cannot reach NATS or PostgreSQL (refused until they return)"},
	{Rejected, false, "", "any other refusal of ingest"},
}

var byReason = func() map[Reason]Info {
	m := make(map[Reason]Info, len(List))
	for _, i := range List {
		if _, dup := m[i.Reason]; dup {
			panic("reject: reason listed twice: " + string(i.Reason))
		}
		m[i.Reason] = i
	}
	return m
}()

// Lookup returns what the list says of r.
func Lookup(r Reason) (Info, bool) {
	i, ok := byReason[r]
	return i, ok
}

// Security reports whether r is security-relevant.
func (r Reason) Security() bool { return byReason[r].Security }

// LogAttrs returns the structured attributes that route a log line about a
// drop for r: always "reason", plus security=true and "category" when r is
// security-relevant (the security log selects on those, never on text).
func (r Reason) LogAttrs() []any {
	i, ok := byReason[r]
	if !ok || !i.Security {
		return []any{slog.String("reason", string(r))}
	}
	return []any{slog.String("reason", string(r)), slog.Bool("security", true), slog.String("category", i.Category)}
}

// Rejection is a refused event: the reason and the cause.
type Rejection struct {
	Reason Reason
	Err    error
}

func (r *Rejection) Error() string {
	if r.Err == nil {
		return string(r.Reason)
	}
	return string(r.Reason) + ": " + r.Err.Error()
}

func (r *Rejection) Unwrap() error { return r.Err }

// New returns a Rejection for reason r caused by err.
func New(r Reason, err error) *Rejection { return &Rejection{Reason: r, Err: err} }

// ReasonOf returns the reason of a Rejection in err's chain, or Rejected.
func ReasonOf(err error) Reason {
	var r *Rejection
	if errors.As(err, &r) {
		return r.Reason
	}
	return Rejected
}

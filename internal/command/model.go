package command

import (
	"fmt"
	"strings"
	"time"

	"kizuna/internal/label"
)

// EchelonCCMD is the echelon of a combatant command, the only kind of unit
// that may hold COCOM.
const EchelonCCMD = "CCMD"

// Device is one TAK device (an ATAK, WinTAK or iTAK client) of a unit.
type Device struct {
	UID      string `json:"uid"`
	Callsign string `json:"callsign"`
}

// Position is a post in a unit that principals hold. It matches principals
// of the unit's nation; Name and Role narrow it when set.
type Position struct {
	// Title is for people, e.g. "Commander" or "Duty officer".
	Title string `json:"title,omitempty"`
	// Name matches the principal's name (certificate CN or callsign). Empty
	// matches any principal of the nation, including plain listeners.
	Name string `json:"name,omitempty"`
	// Role matches the principal's role (certificate role: OU). Empty
	// matches any role.
	Role string `json:"role,omitempty"`
	// National lets the holder act for the national command authority of
	// the unit's nation (COCOM and ADCON grants, revocation of any grant
	// over the nation's units).
	National bool `json:"national,omitempty"`
	// Nation, in a combined command or coordination body, is the member
	// nation whose principals hold the post (the unit's nation when empty).
	Nation string `json:"nation,omitempty"`
}

func (p Position) matches(nation string, pr label.Principal) bool {
	if p.Nation != "" {
		nation = p.Nation
	}
	if pr.Nation != nation || !pr.Valid() {
		return false
	}
	if p.Name != "" && p.Name != pr.Name {
		return false
	}
	if p.Role != "" && p.Role != pr.Role {
		return false
	}
	return true
}

// Unit is one node of the order of battle.
type Unit struct {
	ID       string `json:"id"`
	Parent   string `json:"parent,omitempty"`
	Nation   string `json:"nation"`
	Service  string `json:"service,omitempty"`
	Echelon  string `json:"echelon,omitempty"`
	Name     string `json:"name"`
	Callsign string `json:"callsign,omitempty"`
	// Kind is UnitForce (empty), UnitCombined or UnitCoordination.
	Kind string `json:"kind,omitempty"`
	// Members are the national headquarters taking part in a combined
	// command or coordination body.
	Members []string `json:"members,omitempty"`
	// Devices are the TAK devices orders to this unit are delivered to.
	Devices   []Device   `json:"devices,omitempty"`
	Positions []Position `json:"positions,omitempty"`
	// Label of the unit record itself. Nil means UNCLASSIFIED, releasable
	// to every nation of the order of battle.
	Label *label.Label `json:"label,omitempty"`
}

// callsign returns the unit's chat callsign.
func (u *Unit) callsign() string {
	if u.Callsign != "" {
		return u.Callsign
	}
	return strings.ToUpper(u.ID)
}

// Kind is a command or support relationship.
type Kind string

// The relationships.
const (
	COCOM   Kind = "COCOM"
	OPCON   Kind = "OPCON"
	TACON   Kind = "TACON"
	ADCON   Kind = "ADCON"
	Support Kind = "SUPPORT"
	// Coordinating authority (JP 1): a commander may require consultation
	// among the agencies involved but may not compel agreement. Not command.
	Coordinating Kind = "COORDINATING_AUTHORITY"
	// DIRLAUTH, direct liaison authorized (JP 1): a commander lets a
	// subordinate consult or coordinate directly with a command or agency
	// inside or outside its own. Not command.
	DirLiaison Kind = "DIRLAUTH"
)

// ParseKind accepts a relationship name case-insensitively.
func ParseKind(s string) (Kind, error) {
	switch k := Kind(strings.ToUpper(strings.TrimSpace(s))); k {
	case COCOM, OPCON, TACON, ADCON, Support, Coordinating, DirLiaison:
		return k, nil
	case "COORDINATING AUTHORITY", "COORDINATING":
		return Coordinating, nil
	}
	return "", fmt.Errorf("unknown relationship %q (want COCOM, OPCON, TACON, ADCON, SUPPORT, COORDINATING_AUTHORITY or DIRLAUTH)", s)
}

// Grant is one relationship: Grantor gives Grantee Kind over Unit and its
// subtree from From until Until. An empty Grantor is the national command
// authority of the unit's nation.
type Grant struct {
	ID      string `json:"id"`
	Kind    Kind   `json:"kind"`
	Support string `json:"support,omitempty"` // GENERAL, MUTUAL, DIRECT or CLOSE for SUPPORT
	Grantor string `json:"grantor,omitempty"`
	Grantee string `json:"grantee"`
	Unit    string `json:"unit"`
	// From is when the grant takes effect; Until when it ends (zero: open).
	From   time.Time   `json:"from"`
	Until  time.Time   `json:"until,omitzero"`
	Reason string      `json:"reason"`
	Label  label.Label `json:"label"`
	// Decision is the national decision behind a grant that places forces
	// under another nation's or a combined command's control.
	Decision *NationalDecision `json:"decision,omitempty"`
	// Directive establishes a SUPPORT relationship.
	Directive *SupportDirective `json:"directive,omitempty"`
	// Function is what a COORDINATING_AUTHORITY or DIRLAUTH covers.
	Function string `json:"function,omitempty"`
	// Clipped is set when the window was cut to that of the grant it
	// derives from (that grant's id).
	Clipped string `json:"clipped,omitempty"`
	// Supersedes names the COCOM grant a transfer between combatant
	// commands replaces; that grant ends when this one starts.
	Supersedes string `json:"supersedes,omitempty"`

	Created   time.Time `json:"created"`
	CreatedBy string    `json:"createdBy"`

	RevokedAt    time.Time `json:"revokedAt,omitzero"`
	RevokedBy    string    `json:"revokedBy,omitempty"`
	RevokeReason string    `json:"revokeReason,omitempty"`

	// SuspendedAt is set when the grant, re-checked at start-up against
	// the current order of battle and policies, broke a rule
	// (SuspendRule, SuspendReason); it is not in force from then on.
	SuspendedAt   time.Time `json:"suspendedAt,omitzero"`
	SuspendRule   string    `json:"suspendRule,omitempty"`
	SuspendReason string    `json:"suspendReason,omitempty"`
}

// activeAt reports whether the grant's own window and revocation allow it
// at t (it may still lapse because its grantor lost authority).
func (g *Grant) activeAt(t time.Time) bool {
	if t.Before(g.From) {
		return false
	}
	if !g.Until.IsZero() && !t.Before(g.Until) {
		return false
	}
	if !g.RevokedAt.IsZero() && !t.Before(g.RevokedAt) {
		return false
	}
	if !g.SuspendedAt.IsZero() && !t.Before(g.SuspendedAt) {
		return false
	}
	return true
}

// grantorName renders the grantor for messages.
func (g *Grant) grantorName(nation string) string {
	if g.Grantor == "" {
		return nation + " national command authority"
	}
	return g.Grantor
}

// OrderType is the kind of an order.
type OrderType string

// The order types.
const (
	Movement       OrderType = "MOVEMENT"
	Task           OrderType = "TASK"
	SupportRequest OrderType = "SUPPORT_REQUEST"
	ReportRequest  OrderType = "REPORT_REQUEST"
)

// ParseOrderType accepts an order type case-insensitively; "MISSION" and
// "MANOEUVRE"/"MANEUVER" are accepted as synonyms.
func ParseOrderType(s string) (OrderType, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "MOVEMENT", "MOVE", "MANOEUVRE", "MANEUVER":
		return Movement, nil
	case "TASK", "MISSION":
		return Task, nil
	case "SUPPORT_REQUEST", "SUPPORT":
		return SupportRequest, nil
	case "REPORT_REQUEST", "REPORT":
		return ReportRequest, nil
	}
	return "", fmt.Errorf("unknown order type %q (want MOVEMENT, TASK, SUPPORT_REQUEST or REPORT_REQUEST)", s)
}

// State is an order's lifecycle state.
type State string

// The lifecycle states.
const (
	Issued       State = "ISSUED"
	Delivered    State = "DELIVERED"
	Acknowledged State = "ACKNOWLEDGED"
	Wilco        State = "WILCO"
	Cantco       State = "CANTCO"
	Executing    State = "EXECUTING"
	Complete     State = "COMPLETE"
	Failed       State = "FAILED"
	Cancelled    State = "CANCELLED"
	Expired      State = "EXPIRED"
)

// ParseState accepts a state name case-insensitively.
func ParseState(s string) (State, error) {
	st := State(strings.ToUpper(strings.TrimSpace(s)))
	if st == "CANCELED" {
		st = Cancelled
	}
	if _, ok := transitions[st]; ok {
		return st, nil
	}
	return "", fmt.Errorf("unknown order state %q", s)
}

// transitions lists the legal next states of each state.
var transitions = map[State][]State{
	Issued:       {Delivered, Acknowledged, Wilco, Cantco, Cancelled, Expired},
	Delivered:    {Acknowledged, Wilco, Cantco, Cancelled, Expired},
	Acknowledged: {Wilco, Cantco, Cancelled, Expired},
	Wilco:        {Executing, Complete, Failed, Cancelled},
	Executing:    {Complete, Failed, Cancelled},
	Cantco:       nil,
	Complete:     nil,
	Failed:       nil,
	Cancelled:    nil,
	Expired:      nil,
}

// Terminal reports whether no transition leaves s.
func (s State) Terminal() bool { return len(transitions[s]) == 0 }

// CanMove reports whether from → to is a legal transition.
func CanMove(from, to State) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// rank orders the states along the happy path, so that a late delivery
// receipt after an acknowledgement is recognised as stale.
func (s State) rank() int {
	switch s {
	case Issued:
		return 0
	case Delivered:
		return 1
	case Acknowledged:
		return 2
	case Wilco, Cantco:
		return 3
	case Executing:
		return 4
	}
	return 5
}

// LatLon is one WGS-84 point.
type LatLon struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
	HAE float64 `json:"hae,omitempty"`
}

func (p LatLon) valid() bool {
	return p.Lat >= -90 && p.Lat <= 90 && p.Lon >= -180 && p.Lon <= 180 && p.Lat == p.Lat && p.Lon == p.Lon
}

// Location is an order's optional place: a point, a route (ordered
// waypoints) or an area (a closed polygon). At most one is set.
type Location struct {
	Name  string   `json:"name,omitempty"`
	Point *LatLon  `json:"point,omitempty"`
	Route []LatLon `json:"route,omitempty"`
	Area  []LatLon `json:"area,omitempty"`
}

func (l *Location) validate() error {
	if l == nil {
		return nil
	}
	n := 0
	if l.Point != nil {
		n++
		if !l.Point.valid() {
			return fmt.Errorf("location point out of range")
		}
	}
	if len(l.Route) > 0 {
		n++
		if len(l.Route) < 2 {
			return fmt.Errorf("a route needs at least two points")
		}
	}
	if len(l.Area) > 0 {
		n++
		if len(l.Area) < 3 {
			return fmt.Errorf("an area needs at least three points")
		}
	}
	for _, p := range append(append([]LatLon(nil), l.Route...), l.Area...) {
		if !p.valid() {
			return fmt.Errorf("location point out of range")
		}
	}
	if len(l.Route)+len(l.Area) > 500 {
		return fmt.Errorf("location has too many points (at most 500)")
	}
	if n > 1 {
		return fmt.Errorf("a location is one of point, route or area")
	}
	if n == 0 {
		return fmt.Errorf("location has no point, route or area")
	}
	return nil
}

// center returns a representative point of the location.
func (l *Location) center() (LatLon, bool) {
	switch {
	case l == nil:
		return LatLon{}, false
	case l.Point != nil:
		return *l.Point, true
	case len(l.Route) > 0:
		return l.Route[0], true
	case len(l.Area) > 0:
		var c LatLon
		for _, p := range l.Area {
			c.Lat += p.Lat
			c.Lon += p.Lon
		}
		c.Lat /= float64(len(l.Area))
		c.Lon /= float64(len(l.Area))
		return c, true
	}
	return LatLon{}, false
}

// Transition is one entry of an order's history. Refused attempts are kept
// too (Refused true, From == To).
type Transition struct {
	At      time.Time `json:"at"`
	From    State     `json:"from,omitempty"`
	To      State     `json:"to"`
	By      string    `json:"by"`             // principal, or device for TAK
	Unit    string    `json:"unit,omitempty"` // acting unit
	Via     string    `json:"via"`            // "api", "tak", "system"
	Reason  string    `json:"reason,omitempty"`
	Refused bool      `json:"refused,omitempty"`
}

// Delivery is the TAK delivery of an order to one device.
type Delivery struct {
	DeviceUID   string    `json:"deviceUid"`
	Callsign    string    `json:"callsign"`
	MessageID   string    `json:"messageId"`
	SentAt      time.Time `json:"sentAt,omitzero"`
	DeliveredAt time.Time `json:"deliveredAt,omitzero"`
	ReadAt      time.Time `json:"readAt,omitzero"`
	Error       string    `json:"error,omitempty"`
}

// Order is one order and its history.
type Order struct {
	ID         string    `json:"id"`
	Type       OrderType `json:"type"`
	IssuerUnit string    `json:"issuerUnit"`
	IssuedBy   string    `json:"issuedBy"`
	Recipient  string    `json:"recipientUnit"`
	Text       string    `json:"text"`
	// Mission is the order's mission type (e.g. AIR_DEFENCE), checked
	// against the mission caveats of the issuer's chain.
	Mission  string    `json:"mission,omitempty"`
	Location *Location `json:"location,omitempty"`
	// Deadline is the reply-by time: an order not answered (WILCO or
	// CANTCO) by then expires. An order being carried out never expires;
	// NET and NLT bound the action itself.
	Deadline time.Time `json:"deadline"`
	// Family is WARNORD, OPORD, FRAGORD or EXORD (empty for requests).
	Family Family `json:"family,omitempty"`
	// Serial is the issuer's order number; DTG the date-time group.
	Serial     string      `json:"serial,omitempty"`
	DTG        string      `json:"dtg,omitempty"`
	Paragraphs *Paragraphs `json:"paragraphs,omitempty"`
	// NET and NLT: not earlier than, not later than (the action).
	NET time.Time `json:"net,omitzero"`
	NLT time.Time `json:"nlt,omitzero"`
	// Changes is the order a FRAGORD changes (or an EXORD executes).
	Changes string `json:"changes,omitempty"`
	// Info lists the info addressees: the echelons the order skips.
	Info []string `json:"info,omitempty"`
	// Via is the coordination body a cross-nation support request went
	// through; Wanted the foreign unit whose support was asked; Outcome
	// the other nation's answer (APPROVED, PARTLY_APPROVED or DENIED).
	Via     string `json:"via,omitempty"`
	Wanted  string `json:"wanted,omitempty"`
	Outcome string `json:"outcome,omitempty"`
	// Request is the support request a national order answers.
	Request string `json:"request,omitempty"`
	// Answer is the national order carrying out an approved request (on
	// the requester's node only when that order is released to it).
	Answer string `json:"answer,omitempty"`
	// Origin is the node a federated copy came from ("" for an order made
	// on this node).
	Origin string `json:"origin,omitempty"`
	// Reports answer a report request.
	Reports     []Report    `json:"reports,omitempty"`
	Label       label.Label `json:"label"`
	State       State       `json:"state"`
	StateReason string      `json:"stateReason,omitempty"`
	Created     time.Time   `json:"created"`
	Updated     time.Time   `json:"updated"`
	// Rev counts the order's committed changes (1 when issued). In
	// cluster mode a change is committed only if the stored order is
	// still at the revision it was made from (shared.go).
	Rev int64 `json:"rev,omitempty"`
	// Authority is the decision made at issue time.
	Authority  Decision     `json:"authority"`
	History    []Transition `json:"history"`
	Deliveries []Delivery   `json:"deliveries,omitempty"`
}

func (o *Order) clone() *Order {
	c := *o
	c.History = append([]Transition(nil), o.History...)
	c.Deliveries = append([]Delivery(nil), o.Deliveries...)
	c.Info = append([]string(nil), o.Info...)
	c.Reports = append([]Report(nil), o.Reports...)
	c.Label.ReleasableTo = append([]string(nil), o.Label.ReleasableTo...)
	c.Authority.Chain = append([]Grant(nil), o.Authority.Chain...)
	return &c
}

func (u *Unit) clone() *Unit {
	c := *u
	c.Devices = append([]Device(nil), u.Devices...)
	c.Positions = append([]Position(nil), u.Positions...)
	c.Members = append([]string(nil), u.Members...)
	if u.Label != nil {
		l := *u.Label
		l.ReleasableTo = append([]string(nil), u.Label.ReleasableTo...)
		c.Label = &l
	}
	return &c
}

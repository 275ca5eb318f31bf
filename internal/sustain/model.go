package sustain

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"kizuna/internal/label"
)

// Sentinel errors callers branch on.
var (
	ErrInvalid     = errors.New("invalid request")
	ErrNotFound    = errors.New("not found")
	ErrRefused     = errors.New("refused")
	ErrInsufficent = errors.New("insufficient stock")
	ErrState       = errors.New("wrong state")
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Reason is why stock moved.
type Reason string

// The reasons of a movement.
const (
	Production  Reason = "production-acceptance"
	Issue       Reason = "issue"
	Transfer    Reason = "transfer"
	Expenditure Reason = "expenditure"
	Return      Reason = "return"
	Adjustment  Reason = "adjustment"
)

// Valid reports whether r is one of the six reasons.
func (r Reason) Valid() bool {
	switch r {
	case Production, Issue, Transfer, Expenditure, Return, Adjustment:
		return true
	}
	return false
}

// The pseudo-locations. PRODUCTION is the only source and EXPENDED the
// only sink of the alliance's stock. IMPORTED and EXPORTED bound one
// node's ledger for a transfer between two nodes: the receiving node
// records its receipt from IMPORTED, the sending node the delivery into
// EXPORTED, each exactly once per transfer, so that what one ledger
// exports another imports.
const (
	Source = "PRODUCTION"
	Sink   = "EXPENDED"
	Import = "IMPORTED"
	Export = "EXPORTED"
)

// pseudo reports whether id is one of the pseudo-locations.
func pseudo(id string) bool { return id == Source || id == Sink || id == Import || id == Export }

// LocationKind is what a location is.
type LocationKind string

// Location kinds.
const (
	Depot    LocationKind = "depot"
	Battery  LocationKind = "battery"
	Ship     LocationKind = "ship"
	Factory  LocationKind = "factory"
	Transit  LocationKind = "transit"
	Facility LocationKind = "facility"
	Airbase  LocationKind = "airbase"
)

func (k LocationKind) valid() bool {
	switch k {
	case Depot, Battery, Ship, Factory, Transit, Facility, Airbase:
		return true
	}
	return false
}

// Item is one catalogue entry.
type Item struct {
	Name       string `json:"name"`
	Serialised bool   `json:"serialised,omitempty"`
	Category   string `json:"category,omitempty"`
}

// DefaultCatalogue is the built-in item catalogue; an operator file adds to it.
func DefaultCatalogue() []Item {
	return []Item{
		{Name: "PAC-3 MSE", Serialised: true, Category: "interceptor"},
		{Name: "PAC-3 CRI", Serialised: true, Category: "interceptor"},
		{Name: "SM-3 IIA", Serialised: true, Category: "interceptor"},
		{Name: "SM-6", Serialised: true, Category: "interceptor"},
		{Name: "AIM-120D", Serialised: true, Category: "air-to-air"},
	}
}

// ParseCatalogue reads a JSON array of items (at most 10,000).
func ParseCatalogue(r io.Reader) ([]Item, error) {
	var items []Item
	dec := json.NewDecoder(io.LimitReader(r, 4<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&items); err != nil {
		return nil, invalid("catalogue: %v", err)
	}
	if len(items) > 10000 {
		return nil, invalid("catalogue: %d items, at most 10000", len(items))
	}
	for i := range items {
		if err := checkName("item", items[i].Name); err != nil {
			return nil, err
		}
	}
	return items, nil
}

// Location is a place that holds stock.
type Location struct {
	ID     string       `json:"id"`
	Name   string       `json:"name"`
	Kind   LocationKind `json:"kind"`
	Nation string       `json:"nation"`
	// Unit is the ORBAT unit (or CoT uid) the location belongs to, if any.
	Unit  string      `json:"unit,omitempty"`
	Lat   float64     `json:"lat,omitempty"`
	Lon   float64     `json:"lon,omitempty"`
	Label label.Label `json:"label"`
}

// Movement is one entry of the ledger.
type Movement struct {
	Seq       int64       `json:"seq"`
	Time      time.Time   `json:"time"`
	Item      string      `json:"item"`
	From      string      `json:"from"`
	To        string      `json:"to"`
	FromOwner string      `json:"fromOwner"`
	ToOwner   string      `json:"toOwner"`
	Quantity  int64       `json:"quantity"`
	Reason    Reason      `json:"reason"`
	Lot       string      `json:"lot,omitempty"`
	Serials   []string    `json:"serials,omitempty"`
	Ref       string      `json:"ref,omitempty"`
	Key       string      `json:"idempotencyKey,omitempty"`
	Actor     string      `json:"actor,omitempty"`
	Label     label.Label `json:"label"`
}

// Stock is one derived balance: the quantity of an item at a location
// held by an owner nation.
type Stock struct {
	Item     string      `json:"item"`
	Location string      `json:"location"`
	Owner    string      `json:"owner"`
	Quantity int64       `json:"quantity"`
	Label    label.Label `json:"label"`
	// Node is set on stock reported by an allied node over federation.
	Node string `json:"node,omitempty"`
}

// maxQuantity bounds one movement.
const maxQuantity = 1_000_000

// checkName accepts printable names of 1..80 bytes without control
// characters or CSV/formula triggers at the start.
func checkName(what, s string) error {
	if s == "" || len(s) > 80 {
		return invalid("%s name must be 1 to 80 bytes", what)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return invalid("%s name has a control character", what)
		}
	}
	if strings.ContainsAny(s[:1], "=+-@") {
		return invalid("%s name may not start with %q", what, s[:1])
	}
	return nil
}

// checkLabel validates a client-supplied label for principal p: it gets
// p's nation as originator (never the client's), the default label when
// empty, and may not exceed p's clearance.
func checkLabel(p label.Principal, l *label.Label) error {
	if !l.Classification.Valid() && len(l.ReleasableTo) == 0 {
		*l = label.Default(p)
		return nil
	}
	if !l.Classification.Valid() {
		l.Classification = p.Clearance
	}
	for _, n := range l.ReleasableTo {
		if !label.ValidNation(n) {
			return invalid("releasableTo: bad nation %q", n)
		}
	}
	if l.Caveat != "" && l.Caveat != "NOFORN" {
		return invalid("unknown caveat %q", l.Caveat)
	}
	l.Originator = p.Nation
	l.ReleasableTo = slices.Compact(slices.Sorted(slices.Values(l.ReleasableTo)))
	if l.Caveat == "NOFORN" {
		l.ReleasableTo = []string{p.Nation}
	}
	if err := label.CheckSubmit(p, *l); err != nil {
		return fmt.Errorf("%w: %v", ErrRefused, err)
	}
	return nil
}

// releasableToNation reports whether nation n, cleared to the label's own
// level, may see l.
func releasableToNation(n string, l label.Label) bool {
	return label.Releasable(label.Principal{Nation: n, Clearance: label.TopSecret}, l)
}

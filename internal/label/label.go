// Package label owns security labels and the one releasability policy of Kizuna.
//
// A Label is a classification, a releasability list of nations and the nation
// that originated the object. A Principal is whoever receives data: a user, a
// TAK client, a web session or an allied node. Releasable is the single policy
// function: every egress path (TAK streaming in XML and protobuf, directed
// delivery, replay on connect, REST, WebSocket, history, exports and
// federation) calls it before a byte leaves the node. It denies by default.
package label

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Classification is an ordered security classification level.
type Classification uint8

// The classifications, in order. Invalid is the zero value, so that a label
// that was never set cannot be mistaken for UNCLASSIFIED.
const (
	Invalid Classification = iota
	Unclassified
	Confidential
	Secret
	TopSecret
)

// Sentinel errors callers branch on.
var (
	ErrClassification = errors.New("unknown classification")
	ErrNation         = errors.New("invalid nation code")
	ErrAboveClearance = errors.New("label above submitter clearance")
	// ErrCaveatNotHeld: a label chosen with a caveat its principal does
	// not hold (CheckChoice).
	ErrCaveatNotHeld = errors.New("caveat not held")
	// ErrNotReleasable: a label chosen that its own principal could not
	// receive (CheckChoice).
	ErrNotReleasable = errors.New("label not releasable to its own principal")
)

var classNames = [...]string{"", "UNCLASSIFIED", "CONFIDENTIAL", "SECRET", "TOP SECRET"}

// String returns the full marking name, for example "TOP SECRET".
func (c Classification) String() string {
	if int(c) < len(classNames) && c != Invalid {
		return classNames[c]
	}
	return "INVALID"
}

// Abbrev returns the portion-marking abbreviation: U, C, S or TS.
func (c Classification) Abbrev() string {
	switch c {
	case Unclassified:
		return "U"
	case Confidential:
		return "C"
	case Secret:
		return "S"
	case TopSecret:
		return "TS"
	}
	return "?"
}

// Level is the classification's fixed rank outside the process (stored
// rows, cluster subjects): 1 UNCLASSIFIED, 2 CONFIDENTIAL, 3 SECRET,
// 4 TOP SECRET, 0 invalid. It does not depend on the Go constants' values.
func (c Classification) Level() int {
	switch c {
	case Unclassified:
		return 1
	case Confidential:
		return 2
	case Secret:
		return 3
	case TopSecret:
		return 4
	}
	return 0
}

// Valid reports whether c is one of the four classifications.
func (c Classification) Valid() bool { return c >= Unclassified && c <= TopSecret }

// ParseClassification accepts the full names and the abbreviations U, C, S
// and TS, case-insensitively. "TOP_SECRET" and "TOPSECRET" are accepted too.
func ParseClassification(s string) (Classification, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	switch t {
	case "U", "UNCLASSIFIED", "UNCLAS":
		return Unclassified, nil
	case "C", "CONFIDENTIAL":
		return Confidential, nil
	case "S", "SECRET":
		return Secret, nil
	case "TS", "TOP SECRET", "TOP_SECRET", "TOPSECRET", "TOP-SECRET":
		return TopSecret, nil
	}
	return Invalid, fmt.Errorf("%w: %q", ErrClassification, s)
}

// MarshalText implements encoding.TextMarshaler.
func (c Classification) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (c *Classification) UnmarshalText(b []byte) error {
	v, err := ParseClassification(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// ValidNation reports whether s is shaped like an ISO 3166 alpha-3 code:
// three upper-case ASCII letters.
func ValidNation(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// ParseNation upper-cases and checks one nation code.
func ParseNation(s string) (string, error) {
	n := strings.ToUpper(strings.TrimSpace(s))
	if !ValidNation(n) {
		return "", fmt.Errorf("%w: %q", ErrNation, s)
	}
	return n, nil
}

// ParseReleasableTo parses a releasability list. Codes are separated by
// spaces; commas are accepted too. The result is sorted and de-duplicated.
func ParseReleasableTo(s string) ([]string, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' || r == '\n' || r == '\r' })
	if len(fields) == 0 {
		return nil, nil
	}
	out := make([]string, 0, len(fields))
	for _, f := range fields {
		n, err := ParseNation(f)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Label is the security label of one object.
type Label struct {
	Classification Classification `json:"classification"`
	ReleasableTo   []string       `json:"releasableTo"`
	Caveat         string         `json:"caveat,omitempty"`
	Originator     string         `json:"originator"`
}

// ReleasableString renders the releasability list as it travels in CoT:
// codes separated by single spaces.
func (l Label) ReleasableString() string { return strings.Join(l.ReleasableTo, " ") }

// Marking renders the banner marking, for example "SECRET//REL TO USA, JPN".
func (l Label) Marking() string {
	var b strings.Builder
	b.WriteString(l.Classification.String())
	if l.Caveat != "" {
		b.WriteString("//")
		b.WriteString(l.Caveat)
	}
	rel := l.ReleasableTo
	if !slices.Contains(rel, l.Originator) && l.Originator != "" {
		rel = append(slices.Clone(rel), l.Originator)
		slices.Sort(rel)
	}
	if len(rel) == 1 && rel[0] == l.Originator {
		b.WriteString("//")
		b.WriteString(l.Originator)
		b.WriteString(" ONLY")
	} else if len(rel) > 0 {
		b.WriteString("//REL TO ")
		b.WriteString(strings.Join(rel, ", "))
	}
	return b.String()
}

// Valid reports whether the label is complete enough to be released at all.
func (l Label) Valid() bool {
	return l.Classification.Valid() && ValidNation(l.Originator)
}

// Equal reports whether two labels are identical.
func (l Label) Equal(o Label) bool {
	return l.Classification == o.Classification && l.Caveat == o.Caveat &&
		l.Originator == o.Originator && slices.Equal(l.ReleasableTo, o.ReleasableTo)
}

// Principal is whoever data may be delivered to.
type Principal struct {
	// Nation is the ISO 3166 alpha-3 code of the principal's nation. For a
	// certificate it is always the nation of the CA that verified it.
	Nation string `json:"nation"`
	// Clearance is the highest classification the principal may receive.
	Clearance Classification `json:"clearance"`
	// Name is the callsign, user or node id, for logs and audit only.
	Name string `json:"name,omitempty"`
	// Role is an optional role such as operator, commander or admin.
	Role string `json:"role,omitempty"`
	// Caveats are the caveats the principal holds (ParseCaveat's form,
	// for example "FOUO/NOFORN"): the ones it may put on data it labels
	// itself (a drawing on the map). Empty, it holds none. Holding a
	// caveat changes nothing of what the principal may receive.
	Caveats string `json:"caveats,omitempty"`
}

// String renders the principal as NATION:CLEARANCE, or NAME@NATION:CLEARANCE.
func (p Principal) String() string {
	s := p.Nation + ":" + p.Clearance.String()
	if p.Name != "" {
		return p.Name + "@" + s
	}
	return s
}

// Valid reports whether p names a nation and a clearance.
func (p Principal) Valid() bool { return ValidNation(p.Nation) && p.Clearance.Valid() }

// ParsePrincipal parses NATION:CLEARANCE[:CAVEATS], for example
// "JPN:SECRET" or "JPN:SECRET:NOFORN/FOUO" (the caveats held, separated
// by "/"; each one of KnownCaveats).
func ParsePrincipal(s string) (Principal, error) {
	nat, cl, ok := strings.Cut(s, ":")
	if !ok {
		return Principal{}, fmt.Errorf("principal %q: want NATION:CLEARANCE", s)
	}
	cl, cav, hasCav := strings.Cut(cl, ":")
	var caveats string
	if hasCav {
		c, err := ParseCaveat(cav)
		if err != nil || c == "" {
			return Principal{}, fmt.Errorf("principal %q: caveats: want one or more of NOFORN, ORCON, FOUO separated by /", s)
		}
		caveats = c
	}
	n, err := ParseNation(nat)
	if err != nil {
		return Principal{}, fmt.Errorf("principal %q: %w", s, err)
	}
	c, err := ParseClassification(cl)
	if err != nil {
		return Principal{}, fmt.Errorf("principal %q: %w", s, err)
	}
	return Principal{Nation: n, Clearance: c, Caveats: caveats}, nil
}

// HoldsCaveats reports whether p holds every caveat of c (a label's
// caveat attribute in ParseCaveat's form); "" is always held, and a
// caveat Kizuna does not know never is.
func HoldsCaveats(p Principal, c string) bool {
	if c == "" {
		return true
	}
	for c != "" {
		var f string
		f, c, _ = strings.Cut(c, "/")
		if _, known := KnownCaveats[f]; !known || !slices.Contains(splitCaveats(p.Caveats), f) {
			return false
		}
	}
	return true
}

// CheckChoice verifies that a label a principal chose for data it makes
// itself (originator its own nation) is within its clearance: the
// classification at most its clearance (ErrAboveClearance), every caveat
// one it holds (ErrCaveatNotHeld), and the label one it may itself
// receive under Releasable (ErrNotReleasable).
func CheckChoice(p Principal, l Label) error {
	if err := CheckSubmit(p, l); err != nil {
		return err
	}
	if !HoldsCaveats(p, l.Caveat) {
		return fmt.Errorf("%w: %s not among %q", ErrCaveatNotHeld, l.Caveat, p.Caveats)
	}
	if !Releasable(p, l) {
		return fmt.Errorf("%w: %s to %s", ErrNotReleasable, l.Marking(), p)
	}
	return nil
}

// Releasable is the one releasability policy of Kizuna. A principal with
// nation N and clearance K may receive an object labelled (originator O,
// classification C, releasable to R, caveats V) only if K >= C and (N = O
// or (N in R and NOFORN is not in V)). Anything incomplete, and any caveat
// not in KnownCaveats, is denied.
func Releasable(p Principal, l Label) bool {
	if !p.Clearance.Valid() || !l.Classification.Valid() || p.Nation == "" || l.Originator == "" {
		return false
	}
	if p.Clearance < l.Classification {
		return false
	}
	if l.Caveat != "" {
		known, noforn, _ := caveatRule(l.Caveat)
		if !known {
			return false
		}
		if noforn {
			return p.Nation == l.Originator
		}
	}
	if p.Nation == l.Originator {
		return true
	}
	for _, n := range l.ReleasableTo {
		if n == p.Nation {
			return true
		}
	}
	return false
}

// Default is the label of an event that arrives without one: the submitter's
// own clearance, releasable to the submitter's own nation only.
func Default(submitter Principal) Label {
	return Label{Classification: submitter.Clearance, ReleasableTo: []string{submitter.Nation}, Originator: submitter.Nation}
}

// Combine returns the label of data fused from several sources: the highest
// classification, the intersection of releasabilities (each source's own
// originator counts as releasable for that source), and the union of the
// caveats. A source with a caveat Kizuna does not know, or with NOFORN or
// ORCON from another originator than the given one, makes the result
// releasable to no one.
// The originator is the given one (the fusing node's nation); if some source
// was not released to that nation, or no labels are given, the result is
// released to no one.
func Combine(originator string, ls ...Label) Label {
	if len(ls) == 0 {
		return Label{Originator: originator}
	}
	out := Label{Originator: originator}
	var rel []string
	var caveats []string
	poisoned := false
	for i, l := range ls {
		if l.Classification > out.Classification {
			out.Classification = l.Classification
		}
		if !l.Classification.Valid() || l.Originator == "" {
			// Releasable denies such a source to everyone; so must the
			// combination, whatever the order of the sources.
			poisoned = true
		}
		eff := l.ReleasableTo
		if l.Originator != "" && !slices.Contains(eff, l.Originator) {
			eff = append(slices.Clone(eff), l.Originator)
		}
		if i == 0 {
			rel = slices.Clone(eff)
		} else {
			rel = slices.DeleteFunc(rel, func(n string) bool { return !slices.Contains(eff, n) })
		}
		known, noforn, orcon := caveatRule(l.Caveat)
		if !known || ((noforn || orcon) && l.Originator != originator) {
			// A caveat without meaning, or one whose originator alone may
			// release (NOFORN, ORCON) combined by another nation: the
			// combination is released to no one.
			poisoned = true
		}
		for _, c := range splitCaveats(l.Caveat) {
			if !slices.Contains(caveats, c) {
				caveats = append(caveats, c)
			}
		}
	}
	if poisoned {
		// One invalid contributor poisons the result: deny everywhere.
		return Label{Originator: originator}
	}
	slices.Sort(rel)
	out.ReleasableTo = slices.Compact(rel)
	slices.Sort(caveats)
	out.Caveat = strings.Join(caveats, "/")
	if !slices.Contains(out.ReleasableTo, originator) {
		// Releasable lets the originator's nation through unconditionally, so
		// an originator outside the intersection would widen the release.
		// Such a combination is released to no one.
		out.Originator = ""
	}
	return out
}

// CheckSubmit verifies that a submitter may publish data under l: the label's
// classification must not exceed the submitter's clearance.
func CheckSubmit(submitter Principal, l Label) error {
	if l.Classification > submitter.Clearance {
		return fmt.Errorf("%w: %s above %s", ErrAboveClearance, l.Classification, submitter.Clearance)
	}
	return nil
}

// releasable holds one canonical slice per releasability list.
var releasable sync.Map // string → []string

// Intern returns l with its releasability list replaced by a canonical,
// shared copy. Callers must not modify the returned slice.
func Intern(l Label) Label {
	if len(l.ReleasableTo) == 0 {
		return l
	}
	key := strings.Join(l.ReleasableTo, " ")
	if v, ok := releasable.Load(key); ok {
		l.ReleasableTo = v.([]string)
		return l
	}
	v, _ := releasable.LoadOrStore(key, slices.Clone(l.ReleasableTo))
	l.ReleasableTo = v.([]string)
	return l
}

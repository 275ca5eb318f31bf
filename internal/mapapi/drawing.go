package mapapi

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"kizuna/internal/cop"
	"kizuna/internal/cot"
	"kizuna/internal/label"
)

// Drawing is the JSON body of POST /api/v1/drawings.
type Drawing struct {
	// UID is optional: a new drawing gets one; an existing uid updates the
	// drawing if the principal's nation owns it.
	UID string `json:"uid,omitempty"`
	// Kind is point, line, area or ring.
	Kind string `json:"kind"`
	// Name is the callsign TAK clients show.
	Name string `json:"name"`
	// Points are the vertices (one for a point or a ring's centre).
	Points []LatLon `json:"points"`
	// Radius is a ring's radius in metres.
	Radius float64 `json:"radius,omitempty"`
	// Label is the marking the user chose; it must be within their
	// clearance. Omitted, the principal's default applies.
	Label *DrawingLabel `json:"label,omitempty"`
	// StaleMinutes is how long the drawing lives (default a day, at most a week).
	StaleMinutes int `json:"staleMinutes,omitempty"`
}

// LatLon is one vertex.
type LatLon struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// DrawingLabel is the label a user chose for a drawing.
type DrawingLabel struct {
	Classification string   `json:"classification"`
	ReleasableTo   []string `json:"releasableTo"`
	// Caveats are the label's caveats (label.KnownCaveats: NOFORN, ORCON,
	// FOUO); an unknown one refuses the drawing.
	Caveats []string `json:"caveats,omitempty"`
}

// Sentinel errors of drawing validation.
var (
	ErrDrawing = errors.New("invalid drawing")
)

const maxVertices = 500

var uidPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,80}$`)

// BuildEvent turns a drawing into a CoT event as a TAK client would send
// it, labelled with the chosen marking (unparsed: the ingest path checks
// it against the submitter). The event goes through the CoT decoder, so
// it meets exactly the checks of a TAK client's.
func BuildEvent(d Drawing, nation string, now time.Time) (*cot.Event, error) {
	bad := func(format string, a ...any) (*cot.Event, error) {
		return nil, fmt.Errorf("%w: %s", ErrDrawing, fmt.Sprintf(format, a...))
	}
	want := map[string][2]int{"point": {1, 1}, "ring": {1, 1}, "line": {2, maxVertices}, "area": {3, maxVertices}}
	n, ok := want[d.Kind]
	if !ok {
		return bad("kind must be point, line, area or ring")
	}
	if len(d.Points) < n[0] || len(d.Points) > n[1] {
		return bad("%s needs %d to %d points", d.Kind, n[0], n[1])
	}
	for _, p := range d.Points {
		if math.IsNaN(p.Lat) || math.IsNaN(p.Lon) || p.Lat < -90 || p.Lat > 90 || p.Lon < -180 || p.Lon > 180 {
			return bad("coordinates out of range")
		}
	}
	name := strings.TrimSpace(d.Name)
	if name == "" || len([]rune(name)) > 64 || strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return bad("name must be 1 to 64 printable characters")
	}
	if d.Kind == "ring" && (!(d.Radius > 0) || d.Radius > 5_000_000) {
		return bad("ring radius must be between 0 and 5,000 km")
	}
	uid := d.UID
	if uid == "" {
		var b [8]byte
		rand.Read(b[:])
		uid = "drawing-" + nation + "-" + hex.EncodeToString(b[:])
	} else if !uidPattern.MatchString(uid) {
		return bad("uid must be 1 to 80 of A-Z a-z 0-9 . _ : -")
	}
	stale := 24 * 60
	if d.StaleMinutes != 0 {
		if d.StaleMinutes < 1 || d.StaleMinutes > 7*24*60 {
			return bad("staleMinutes must be 1 to 10080")
		}
		stale = d.StaleMinutes
	}
	attrs, err := labelAttrs(d)
	if err != nil {
		return bad("%v", err)
	}
	typ, detail := shapeDetail(d, name)
	t := now.UTC()
	at := string(cot.AppendTime(nil, t))
	xml := `<event version="2.0" uid="` + cot.Escape(uid) + `" type="` + typ + `" how="h-e"` +
		` time="` + at + `" start="` + at + `" stale="` + string(cot.AppendTime(nil, t.Add(time.Duration(stale)*time.Minute))) + `"` + attrs + `>` +
		`<point lat="` + coord(d.Points[0].Lat) + `" lon="` + coord(d.Points[0].Lon) + `" hae="9999999.0" ce="9999999.0" le="9999999.0"/>` +
		`<detail>` + detail + `</detail></event>`
	ev, err := cot.Decode([]byte(xml))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDrawing, err)
	}
	return ev, nil
}

// checkChoice refuses a drawing whose chosen label is beyond its
// principal's clearance (label.CheckChoice: caveats held, releasable to
// the principal itself); the message says which. A classification above
// the clearance passes here: the ingest path refuses, counts and audits
// it as it does a TAK client's. Without a chosen label the principal's
// default applies, which always is within.
func checkChoice(p label.Principal, d Drawing, ev *cot.Event) error {
	if d.Label == nil {
		return nil
	}
	l, _, err := ev.ParseLabel()
	if err != nil {
		return fmt.Errorf("label: %v", err)
	}
	l.Originator = p.Nation
	switch err := label.CheckChoice(p, l); {
	case err == nil, errors.Is(err, label.ErrAboveClearance):
		return nil
	case errors.Is(err, label.ErrCaveatNotHeld):
		held := p.Caveats
		if held == "" {
			held = "none"
		}
		return fmt.Errorf("caveat %s not held (you hold %s)", l.Caveat, held)
	default:
		return errors.New("label not releasable to you")
	}
}

// coord formats a latitude or longitude for CoT.
func coord(v float64) string { return strconv.FormatFloat(v, 'f', 7, 64) }

// labelAttrs is the access, releasableTo and caveat attributes of the
// drawing's chosen marking ("" for none: the submitter's default applies).
func labelAttrs(d Drawing) (string, error) {
	if d.Label == nil {
		return "", nil
	}
	c, err := label.ParseClassification(d.Label.Classification)
	if err != nil {
		return "", fmt.Errorf("classification: %v", err)
	}
	rel := make([]string, 0, len(d.Label.ReleasableTo))
	for _, r := range d.Label.ReleasableTo {
		nat, err := label.ParseNation(r)
		if err != nil {
			return "", fmt.Errorf("releasableTo: %v", err)
		}
		rel = append(rel, nat)
	}
	if len(d.Label.Caveats) > len(label.KnownCaveats) {
		return "", errors.New("too many caveats")
	}
	cav, err := label.ParseCaveat(strings.Join(d.Label.Caveats, "/"))
	if err != nil || strings.ContainsAny(strings.Join(d.Label.Caveats, ""), "/, \t") {
		return "", errors.New("caveats: each one of NOFORN, ORCON, FOUO")
	}
	attrs := ` access="` + cot.Escape(c.String()) + `"`
	if len(rel) > 0 {
		attrs += ` releasableTo="` + cot.Escape(strings.Join(rel, " ")) + `"`
	}
	if cav != "" {
		attrs += ` caveat="` + cot.Escape(cav) + `"`
	}
	return attrs, nil
}

// shapeDetail is the CoT type and <detail> content of a checked drawing,
// drawn as TAK draws its shapes.
func shapeDetail(d Drawing, name string) (string, string) {
	var typ string
	var detail strings.Builder
	switch d.Kind {
	case "point":
		typ = "b-m-p-s-m"
		detail.WriteString(`<color argb="-65536"/>`)
	case "ring":
		typ = "u-d-c-c"
		r := strconv.FormatFloat(d.Radius, 'f', 1, 64)
		detail.WriteString(`<shape><ellipse major="` + r + `" minor="` + r + `" angle="0"/></shape>`)
		detail.WriteString(`<strokeColor value="-65536"/><strokeWeight value="3"/>`)
	case "line", "area":
		typ = "u-d-f"
		pts := d.Points
		if d.Kind == "area" {
			pts = append(pts[:len(pts):len(pts)], pts[0]) // closed ring, as TAK draws polygons
			typ = "u-d-f"
		}
		for _, p := range pts {
			detail.WriteString(`<link point="` + coord(p.Lat) + `,` + coord(p.Lon) + `"/>`)
		}
		detail.WriteString(`<strokeColor value="-65536"/><strokeWeight value="3"/>`)
		if d.Kind == "area" {
			detail.WriteString(`<fillColor value="1694433280"/>`)
		}
	}
	detail.WriteString(`<contact callsign="` + cot.Escape(name) + `"/>`)
	detail.WriteString(`<labels_on value="true"/>`)
	return typ, detail.String()
}

// drawing publishes a drawing as a CoT object of the requesting principal.
func (s *Service) drawing(w http.ResponseWriter, r *http.Request) {
	var d Drawing
	p, ok := decodeRequest(w, r, &d)
	if !ok {
		return
	}
	ev, err := BuildEvent(d, p.Nation, s.cfg.Now())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := checkChoice(p, d, ev); err != nil {
		s.log.Warn("drawing refused", "principal", p.String(), "uid", ev.UID, "err", err)
		if s.cfg.Refused != nil {
			s.cfg.Refused(r.Context(), p, ev.UID, err)
		}
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	if err := s.cfg.Ingest(r.Context(), p, ev); err != nil {
		switch {
		case errors.Is(err, label.ErrAboveClearance):
			http.Error(w, "label above your clearance", http.StatusForbidden)
		case errors.Is(err, cop.ErrNotOwner):
			http.Error(w, "the uid belongs to another nation", http.StatusForbidden)
		default:
			http.Error(w, "drawing refused", http.StatusBadRequest)
		}
		return
	}
	l, _, _ := ev.ParseLabel()
	writeJSON(w, http.StatusCreated, map[string]any{"uid": ev.UID, "type": ev.Type, "marking": l.Marking()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// decodeRequest opens a POST handler: the caller's principal (403 without
// one) and its JSON body read strictly into v (400 when it does not
// parse or names an unknown field).
func decodeRequest(w http.ResponseWriter, r *http.Request, v any) (label.Principal, bool) {
	p, ok := principal(r)
	if !ok {
		http.Error(w, "no valid principal", http.StatusForbidden)
		return p, false
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		http.Error(w, "bad JSON body", http.StatusBadRequest)
		return p, false
	}
	return p, true
}

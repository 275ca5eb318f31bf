package mapapi

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"kizuna/internal/hub"
	"kizuna/internal/label"
	"kizuna/internal/web"
)

// ExportRequest is the JSON body of POST /api/v1/export: the format and
// the uids of the objects in the user's current view (filtered on the
// page). Objects the principal may not see are left out whatever the
// list says; an empty list exports everything the principal sees.
type ExportRequest struct {
	Format string   `json:"format"`
	UIDs   []string `json:"uids"`
}

const maxExportUIDs = 50_000

// Portion renders a label's portion marking, for example "(S//REL JPN)"
// or "(S//USA ONLY)": the abbreviation, a caveat, and the nations other
// than the originator it is released to.
func Portion(l label.Label) string {
	var b strings.Builder
	b.WriteString("(")
	b.WriteString(l.Classification.Abbrev())
	if l.Caveat != "" {
		b.WriteString("//" + l.Caveat)
	}
	var rel []string
	for _, n := range l.ReleasableTo {
		if n != l.Originator {
			rel = append(rel, n)
		}
	}
	if len(rel) == 0 {
		b.WriteString("//" + l.Originator + " ONLY")
	} else {
		b.WriteString("//REL " + strings.Join(rel, " "))
	}
	b.WriteString(")")
	return b.String()
}

// fileMarking makes a marking safe for a file name: "SECRET//REL TO USA,
// JPN" becomes "SECRET-REL-TO-USA-JPN".
func fileMarking(m string) string {
	var b strings.Builder
	dash := false
	for _, r := range m {
		if (r >= 'A' && r <= 'Z') || (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimRight(b.String(), "-")
}

// Marking returns the marking of a file holding objects under labels: the
// highest classification and the nations every label releases to, as the
// page's banner shows it. With no objects, UNCLASSIFIED.
func Marking(nation string, ls []label.Label) string {
	if len(ls) == 0 {
		return label.Unclassified.String()
	}
	c := label.Combine(nation, ls...)
	if c.Originator == "" {
		// No nation common to all: the reader's own nation still may hold it.
		c.Originator = nation
		c.ReleasableTo = []string{nation}
	}
	return c.Marking()
}

func (s *Service) export(w http.ResponseWriter, r *http.Request) {
	var req ExportRequest
	p, ok := decodeRequest(w, r, &req)
	if !ok {
		return
	}
	if req.Format != "geojson" && req.Format != "kml" {
		http.Error(w, "format must be geojson or kml", http.StatusBadRequest)
		return
	}
	if len(req.UIDs) > maxExportUIDs {
		http.Error(w, "too many uids", http.StatusBadRequest)
		return
	}
	now := s.cfg.Now()
	want := make(map[string]bool, len(req.UIDs))
	for _, u := range req.UIDs {
		want[u] = true
	}
	var msgs []*hub.Message
	for _, m := range s.cfg.Picture.Visible(p, now) {
		// Visible applied the policy; the export path decides again
		// with the one policy function, default deny.
		if !label.Releasable(p, m.Label) || (len(want) > 0 && !want[m.UID]) {
			continue
		}
		msgs = append(msgs, m)
	}
	sort.Slice(msgs, func(i, j int) bool { return msgs[i].UID < msgs[j].UID })
	labels := make([]label.Label, len(msgs))
	for i, m := range msgs {
		labels[i] = m.Label
	}
	marking := Marking(p.Nation, labels)
	name := fmt.Sprintf("kizuna-view_%s_%s.%s", fileMarking(marking), now.UTC().Format("20060102T150405Z"), req.Format)
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("X-Kizuna-Marking", marking)
	if req.Format == "geojson" {
		s.writeGeoJSON(w, msgs, marking, now)
	} else {
		s.writeKML(w, msgs, marking, now)
	}
}

type feature struct {
	Type       string         `json:"type"`
	ID         string         `json:"id"`
	Geometry   map[string]any `json:"geometry"`
	Properties map[string]any `json:"properties"`
}

func (s *Service) writeGeoJSON(w http.ResponseWriter, msgs []*hub.Message, marking string, now time.Time) {
	fs := make([]feature, 0, len(msgs))
	for _, m := range msgs {
		o := web.ObjectOf(m)
		fs = append(fs, feature{
			Type: "Feature", ID: o.UID,
			Geometry: map[string]any{"type": "Point", "coordinates": []float64{o.Lon, o.Lat, o.HAE}},
			Properties: map[string]any{
				"uid": o.UID, "type": o.Type, "callsign": o.Callsign, "sidc": o.SIDC,
				"time": o.Time, "stale": o.Stale, "marking": o.Marking, "portion": Portion(m.Label), "label": o.Label,
			},
		})
	}
	w.Header().Set("Content-Type", "application/geo+json")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(map[string]any{
		"type": "FeatureCollection", "marking": marking, "exported": now.UTC(), "features": fs,
	})
}

func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

func (s *Service) writeKML(w http.ResponseWriter, msgs []*hub.Message, marking string, now time.Time) {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<kml xmlns="http://www.opengis.net/kml/2.2"><Document>`)
	b.WriteString(`<name>` + esc(marking) + ` — Kizuna view ` + now.UTC().Format(time.RFC3339) + `</name>`)
	b.WriteString(`<description>` + esc(marking) + `</description>`)
	b.WriteString(`<ExtendedData><Data name="marking"><value>` + esc(marking) + `</value></Data></ExtendedData>`)
	for _, m := range msgs {
		o := web.ObjectOf(m)
		name := o.Callsign
		if name == "" {
			name = o.UID
		}
		b.WriteString(`<Placemark id="` + esc(o.UID) + `">`)
		b.WriteString(`<name>` + esc(Portion(m.Label)+" "+name) + `</name>`)
		b.WriteString(`<description>` + esc(o.Marking) + `</description>`)
		b.WriteString(`<ExtendedData>`)
		for _, kv := range [][2]string{
			{"marking", o.Marking}, {"uid", o.UID}, {"type", o.Type}, {"sidc", o.SIDC},
			{"classification", o.Label.Classification}, {"releasableTo", strings.Join(o.Label.ReleasableTo, " ")},
			{"originator", o.Label.Originator},
		} {
			b.WriteString(`<Data name="` + kv[0] + `"><value>` + esc(kv[1]) + `</value></Data>`)
		}
		b.WriteString(`</ExtendedData>`)
		fmt.Fprintf(&b, `<Point><coordinates>%.7f,%.7f,%.1f</coordinates></Point>`, o.Lon, o.Lat, o.HAE)
		b.WriteString(`</Placemark>`)
	}
	b.WriteString(`</Document></kml>` + "\n")
	w.Header().Set("Content-Type", "application/vnd.google-earth.kml+xml")
	w.Write([]byte(b.String()))
}

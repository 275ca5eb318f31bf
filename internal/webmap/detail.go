package webmap

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Missile is the missile-warning data of a track, the "missile" field of an
// object's JSON that the map draws: launch point, predicted impact area and
// time of impact. The map draws the track itself from the object's history.
type Missile struct {
	Launch *Place `json:"launch,omitempty"`
	Impact *Place `json:"impact,omitempty"`
	// TimeToGo is the time to impact as the sensor reported it, e.g. "3m20s".
	TimeToGo string `json:"timeToGo,omitempty"`
}

// Place is a point with an optional radius in metres and time.
type Place struct {
	Lat    float64   `json:"lat"`
	Lon    float64   `json:"lon"`
	Radius float64   `json:"radius,omitempty"`
	Time   time.Time `json:"time,omitzero"`
}

// maxRemarks bounds the remarks text handed to the page.
const maxRemarks = 2000

// MissileOf reads the missile-warning element of a CoT detail (the inner
// XML of <detail>):
//
//	<__missile launchLat="39.0" launchLon="124.6" impactLat="38.9"
//	    impactLon="134.5" impactRadius="25000" timeToGo="3m20s"/>
//
// The impact time is eventTime plus timeToGo. It returns nil when the detail
// has no such element or its coordinates are unusable; a bad launch or
// impact pair drops that pair only.
func MissileOf(detail []byte, eventTime time.Time) *Missile {
	if !bytes.Contains(detail, []byte("__missile")) {
		return nil
	}
	var m *Missile
	_ = walk(detail, func(se xml.StartElement, _ *xml.Decoder) (bool, error) {
		if se.Name.Local != "__missile" {
			return false, nil
		}
		a := attrs(se)
		m = &Missile{Launch: place(a["launchLat"], a["launchLon"]), Impact: place(a["impactLat"], a["impactLon"])}
		if ttg := strings.TrimSpace(a["timeToGo"]); ttg != "" && utf8.ValidString(ttg) && len(ttg) <= 32 {
			m.TimeToGo = ttg
			if d, err := time.ParseDuration(ttg); err == nil && d >= 0 && m.Impact != nil && !eventTime.IsZero() {
				m.Impact.Time = eventTime.Add(d).UTC()
			}
		}
		if m.Impact != nil {
			if r, err := strconv.ParseFloat(strings.TrimSpace(a["impactRadius"]), 64); err == nil && r > 0 && r < 2e7 {
				m.Impact.Radius = r
			}
		}
		if m.Launch == nil && m.Impact == nil {
			m = nil
		}
		return true, errStop
	})
	return m
}

// RemarksOf returns the text of the first <remarks> element of a CoT detail,
// trimmed and bounded, or "".
func RemarksOf(detail []byte) string {
	if !bytes.Contains(detail, []byte("remarks")) {
		return ""
	}
	var out string
	_ = walk(detail, func(se xml.StartElement, d *xml.Decoder) (bool, error) {
		if se.Name.Local != "remarks" {
			return false, nil
		}
		var s string
		if err := d.DecodeElement(&s, &se); err != nil {
			return true, err
		}
		s = strings.TrimSpace(s)
		if len(s) > maxRemarks {
			s = s[:maxRemarks]
			for !utf8.ValidString(s) {
				s = s[:len(s)-1]
			}
		}
		out = s
		return true, errStop
	})
	return out
}

var errStop = errors.New("stop")

// walk calls fn for every start element of the detail until fn reports
// done or the XML ends or breaks.
func walk(detail []byte, fn func(xml.StartElement, *xml.Decoder) (bool, error)) error {
	d := xml.NewDecoder(bytes.NewReader(detail))
	d.Strict = true
	for {
		tok, err := d.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		done, err := fn(se, d)
		if done || err != nil {
			return err
		}
	}
}

func attrs(se xml.StartElement) map[string]string {
	m := make(map[string]string, len(se.Attr))
	for _, a := range se.Attr {
		m[a.Name.Local] = a.Value
	}
	return m
}

func place(lat, lon string) *Place {
	la, err1 := strconv.ParseFloat(strings.TrimSpace(lat), 64)
	lo, err2 := strconv.ParseFloat(strings.TrimSpace(lon), 64)
	if err1 != nil || err2 != nil || math.IsNaN(la) || math.IsNaN(lo) || la < -90 || la > 90 || lo < -180 || lo > 180 {
		return nil
	}
	return &Place{Lat: la, Lon: lo}
}

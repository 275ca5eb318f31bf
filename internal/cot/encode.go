package cot

import (
	"math"
	"strconv"
	"time"

	"kizuna/internal/xmltext"
)

// TimeLayout is the CoT timestamp layout Kizuna writes.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// AppendTime appends t in CoT layout (UTC, milliseconds).
func AppendTime(dst []byte, t time.Time) []byte {
	return t.UTC().AppendFormat(dst, TimeLayout)
}

// AppendXML appends the event as one XML document without a declaration.
// The detail is written verbatim, followed by the __origin element when
// e.Origin is set.
func (e *Event) AppendXML(dst []byte) []byte {
	dst = append(dst, `<event version="`...)
	if e.Version == "" {
		dst = append(dst, "2.0"...)
	} else {
		dst = appendEscaped(dst, e.Version)
	}
	dst = append(dst, '"')
	dst = appendAttr(dst, "uid", e.UID)
	dst = appendAttr(dst, "type", e.Type)
	if e.How != "" {
		dst = appendAttr(dst, "how", e.How)
	}
	dst = append(dst, ` time="`...)
	dst = AppendTime(dst, e.Time)
	dst = append(dst, `" start="`...)
	start := e.Start
	if start.IsZero() {
		start = e.Time
	}
	dst = AppendTime(dst, start)
	dst = append(dst, `" stale="`...)
	dst = AppendTime(dst, e.Stale)
	dst = append(dst, '"')
	if e.QoS != "" {
		dst = appendAttr(dst, "qos", e.QoS)
	}
	if e.Opex != "" {
		dst = appendAttr(dst, "opex", e.Opex)
	}
	if e.Access != "" {
		dst = appendAttr(dst, "access", e.Access)
	}
	if e.Caveat != "" {
		dst = appendAttr(dst, "caveat", e.Caveat)
	}
	if e.ReleasableTo != "" {
		dst = appendAttr(dst, "releasableTo", e.ReleasableTo)
	}
	dst = append(dst, `><point lat="`...)
	dst = appendFloat(dst, e.Point.Lat)
	dst = append(dst, `" lon="`...)
	dst = appendFloat(dst, e.Point.Lon)
	dst = append(dst, `" hae="`...)
	dst = appendFloat(dst, e.Point.HAE)
	dst = append(dst, `" ce="`...)
	dst = appendFloat(dst, e.Point.CE)
	dst = append(dst, `" le="`...)
	dst = appendFloat(dst, e.Point.LE)
	dst = append(dst, `"/>`...)
	if e.HasDetail || len(e.Detail) > 0 || e.Origin != (Origin{}) {
		dst = append(dst, "<detail>"...)
		dst = append(dst, e.Detail...)
		if e.Origin != (Origin{}) {
			dst = append(dst, `<__origin nation="`...)
			dst = appendEscaped(dst, e.Origin.Nation)
			if e.Origin.Node != "" {
				dst = append(dst, `" node="`...)
				dst = appendEscaped(dst, e.Origin.Node)
			}
			dst = append(dst, `"/>`...)
		}
		dst = append(dst, "</detail>"...)
	}
	return append(dst, "</event>"...)
}

// XML returns the event as one XML document.
func (e *Event) XML() []byte { return e.AppendXML(make([]byte, 0, 256+len(e.Detail))) }

func appendFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "9999999.0"...)
	}
	return strconv.AppendFloat(dst, f, 'f', -1, 64)
}

func appendAttr(dst []byte, name, val string) []byte {
	dst = append(dst, ' ')
	dst = append(dst, name...)
	dst = append(dst, `="`...)
	dst = appendEscaped(dst, val)
	return append(dst, '"')
}

// appendEscaped appends s escaped for an attribute value or text.
func appendEscaped(dst []byte, s string) []byte { return xmltext.AppendEscaped(dst, s) }

// Escape returns s escaped for use in XML text or attribute values.
func Escape(s string) string { return string(appendEscaped(nil, s)) }

package webmap

import (
	"bytes"
	"encoding/xml"
	"math"
	"strconv"
	"strings"
)

// Shape is the geometry of a drawing (a CoT u-d-… event) that the map draws
// as a line, an area or a circle rather than as a point: the "shape" field
// of an object's JSON.
type Shape struct {
	// Kind is "line", "area" or "circle".
	Kind string `json:"kind"`
	// Points are the vertices as [lat, lon] (an area's ring is closed by
	// the map, not repeated); a circle has none (its centre is the
	// object's point).
	Points [][2]float64 `json:"points,omitempty"`
	// Radius is a circle's radius in metres.
	Radius float64 `json:"radius,omitempty"`
}

// MaxShapePoints bounds the vertices handed to the page.
const MaxShapePoints = 2000

// ShapeOf reads the geometry of a drawing from its type and detail (the
// inner XML of <detail>), as TAK clients send them:
//
//   - u-d-f (polyline, closed when the last vertex repeats the first),
//     u-d-r (rectangle) and other u-d-… types: <link point="lat,lon"/>
//     children, one per vertex, in order;
//   - u-d-c-c (circle) and u-d-c-e (ellipse): <shape><ellipse major="m"
//     minor="m"/></shape> around the event's point (the larger semi-axis
//     is drawn).
//
// It returns nil for any other event, or when the detail gives fewer than
// two usable vertices (or no usable radius). Vertices beyond MaxShapePoints
// and unusable ones are dropped.
func ShapeOf(typ string, detail []byte) *Shape {
	if !strings.HasPrefix(typ, "u-d-") || len(detail) == 0 {
		return nil
	}
	if typ == "u-d-c-c" || typ == "u-d-c-e" || strings.HasPrefix(typ, "u-d-c-") {
		if !bytes.Contains(detail, []byte("ellipse")) {
			return nil
		}
		var r float64
		_ = walk(detail, func(se xml.StartElement, _ *xml.Decoder) (bool, error) {
			if se.Name.Local != "ellipse" {
				return false, nil
			}
			a := attrs(se)
			for _, k := range []string{"major", "minor"} {
				v, err := strconv.ParseFloat(strings.TrimSpace(a[k]), 64)
				if err == nil && v > r && v <= 2e7 {
					r = v
				}
			}
			return true, errStop
		})
		if !(r > 0) {
			return nil
		}
		return &Shape{Kind: "circle", Radius: r}
	}
	if !bytes.Contains(detail, []byte("point")) {
		return nil
	}
	var pts [][2]float64
	_ = walk(detail, func(se xml.StartElement, _ *xml.Decoder) (bool, error) {
		if se.Name.Local != "link" {
			return false, nil
		}
		v, ok := attrs(se)["point"]
		if !ok {
			return false, nil
		}
		if p, ok := linkPoint(v); ok {
			pts = append(pts, p)
		}
		return len(pts) >= MaxShapePoints, nil
	})
	if len(pts) < 2 {
		return nil
	}
	closed := len(pts) >= 4 && pts[0] == pts[len(pts)-1]
	if closed {
		return &Shape{Kind: "area", Points: pts[:len(pts)-1]}
	}
	if typ == "u-d-r" && len(pts) >= 3 {
		return &Shape{Kind: "area", Points: pts}
	}
	return &Shape{Kind: "line", Points: pts}
}

// linkPoint parses a link's point attribute, "lat,lon" or "lat,lon,hae".
func linkPoint(s string) ([2]float64, bool) {
	f := strings.Split(s, ",")
	if len(f) < 2 || len(f) > 3 {
		return [2]float64{}, false
	}
	la, err1 := strconv.ParseFloat(strings.TrimSpace(f[0]), 64)
	lo, err2 := strconv.ParseFloat(strings.TrimSpace(f[1]), 64)
	if err1 != nil || err2 != nil || math.IsNaN(la) || math.IsNaN(lo) || la < -90 || la > 90 || lo < -180 || lo > 180 {
		return [2]float64{}, false
	}
	return [2]float64{la, lo}, true
}

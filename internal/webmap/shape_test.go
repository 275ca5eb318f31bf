package webmap

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestShapeOf(t *testing.T) {
	tri := `<link point="34.0,129.0"/><link point="34.1,129.2"/><link point="34.2,129.0"/>`
	tests := []struct {
		name   string
		typ    string
		detail string
		want   *Shape
	}{
		{"polyline", "u-d-f", tri + `<strokeColor value="-1"/>`, &Shape{Kind: "line", Points: [][2]float64{{34, 129}, {34.1, 129.2}, {34.2, 129}}}},
		{"closed polyline is an area", "u-d-f", tri + `<link point="34.0,129.0"/>`, &Shape{Kind: "area", Points: [][2]float64{{34, 129}, {34.1, 129.2}, {34.2, 129}}}},
		{"rectangle", "u-d-r", `<link point="1,2"/><link point="1,3"/><link point="0,3"/><link point="0,2"/>`, &Shape{Kind: "area", Points: [][2]float64{{1, 2}, {1, 3}, {0, 3}, {0, 2}}}},
		{"hae and spaces", "u-d-f", `<link point=" 1 , 2 , 30"/><link point="3,4"/>`, &Shape{Kind: "line", Points: [][2]float64{{1, 2}, {3, 4}}}},
		{"circle", "u-d-c-c", `<shape><ellipse major="5000.0" minor="5000.0" angle="0"/></shape>`, &Shape{Kind: "circle", Radius: 5000}},
		{"ellipse: larger axis", "u-d-c-e", `<shape><ellipse major="300" minor="700"/></shape>`, &Shape{Kind: "circle", Radius: 700}},
		{"bad vertices dropped", "u-d-f", `<link point="91,0"/><link point="a,b"/><link point="1,2"/><link point="NaN,1"/><link point="3,4"/>`, &Shape{Kind: "line", Points: [][2]float64{{1, 2}, {3, 4}}}},
		{"one vertex", "u-d-f", `<link point="1,2"/>`, nil},
		{"links without points", "u-d-f", `<link uid="x" relation="p-p"/><link uid="y"/>`, nil},
		{"not a drawing", "a-f-G", tri, nil},
		{"circle without radius", "u-d-c-c", `<shape><ellipse major="0" minor="-1"/></shape>`, nil},
		{"broken XML: one vertex read", "u-d-f", `<link point="1,2"/><link point="3,4"`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ShapeOf(tc.typ, []byte(tc.detail))
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ShapeOf = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestShapeOfBoundsVertices(t *testing.T) {
	d := strings.Repeat(`<link point="1,2"/><link point="3,4"/>`, MaxShapePoints)
	s := ShapeOf("u-d-f", []byte(d))
	if s == nil || len(s.Points) != MaxShapePoints {
		t.Fatalf("got %v vertices, want %d", s, MaxShapePoints)
	}
}

func FuzzShapeOf(f *testing.F) {
	for _, s := range []string{
		`<link point="34.0,129.0"/><link point="34.1,129.2"/><link point="34.0,129.0"/>`,
		`<shape><ellipse major="5000" minor="5000"/></shape>`,
		`<link point="1e400,0"/><link point=","/>`,
		"",
	} {
		f.Add("u-d-f", []byte(s))
		f.Add("u-d-c-c", []byte(s))
	}
	f.Fuzz(func(t *testing.T, typ string, detail []byte) {
		s := ShapeOf(typ, detail)
		if s == nil {
			return
		}
		switch s.Kind {
		case "circle":
			if !(s.Radius > 0) || s.Radius > 2e7 || len(s.Points) != 0 {
				t.Fatalf("bad circle %+v", s)
			}
		case "line", "area":
			if len(s.Points) < 2 || len(s.Points) > MaxShapePoints {
				t.Fatalf("%d vertices", len(s.Points))
			}
			for _, p := range s.Points {
				if p[0] < -90 || p[0] > 90 || p[1] < -180 || p[1] > 180 {
					t.Fatalf("bad vertex %v", p)
				}
			}
		default:
			t.Fatalf("kind %q", s.Kind)
		}
		if _, err := json.Marshal(s); err != nil {
			t.Fatal(err)
		}
	})
}

package mapapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"kizuna/internal/cop"
	"kizuna/internal/cot"
	"kizuna/internal/label"
	"kizuna/internal/store"
	"kizuna/internal/web"
)

func TestPortion(t *testing.T) {
	tests := []struct {
		l    label.Label
		want string
	}{
		{label.Label{Classification: label.Secret, Originator: "USA", ReleasableTo: []string{"JPN", "USA"}}, "(S//REL JPN)"},
		{label.Label{Classification: label.Secret, Originator: "USA"}, "(S//USA ONLY)"},
		{label.Label{Classification: label.TopSecret, Originator: "JPN", ReleasableTo: []string{"JPN"}, Caveat: "NOFORN"}, "(TS//NOFORN//JPN ONLY)"},
		{label.Label{Classification: label.Unclassified, Originator: "KOR", ReleasableTo: []string{"JPN", "USA"}}, "(U//REL JPN USA)"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := Portion(tc.l); got != tc.want {
				t.Errorf("Portion = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestMarkingAndFileName(t *testing.T) {
	s := label.Label{Classification: label.Secret, Originator: "USA", ReleasableTo: []string{"JPN", "USA"}}
	c := label.Label{Classification: label.Confidential, Originator: "JPN", ReleasableTo: []string{"JPN", "USA", "KOR"}}
	tests := []struct {
		name string
		ls   []label.Label
		want string
		file string
	}{
		{"empty", nil, "UNCLASSIFIED", "UNCLASSIFIED"},
		{"highest and common nations", []label.Label{s, c}, "SECRET//REL TO JPN, USA", "SECRET-REL-TO-JPN-USA"},
		{"one", []label.Label{c}, "CONFIDENTIAL//REL TO JPN, KOR, USA", "CONFIDENTIAL-REL-TO-JPN-KOR-USA"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Marking("JPN", tc.ls)
			if got != tc.want {
				t.Fatalf("Marking = %q, want %q", got, tc.want)
			}
			if f := fileMarking(got); f != tc.file {
				t.Errorf("fileMarking = %q, want %q", f, tc.file)
			}
		})
	}
}

func TestBuildEvent(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	pts := func(n int) []LatLon {
		out := make([]LatLon, n)
		for i := range out {
			out[i] = LatLon{Lat: 34 + float64(i)*0.01, Lon: 129}
		}
		return out
	}
	sec := &DrawingLabel{Classification: "SECRET", ReleasableTo: []string{"JPN"}}
	tests := []struct {
		name    string
		d       Drawing
		typ     string
		links   int
		wantErr bool
	}{
		{"point", Drawing{Kind: "point", Name: "OBJ ALPHA", Points: pts(1), Label: sec}, "b-m-p-s-m", 0, false},
		{"line", Drawing{Kind: "line", Name: "PL RED", Points: pts(3)}, "u-d-f", 3, false},
		{"area closes its ring", Drawing{Kind: "area", Name: "NAI 1", Points: pts(3)}, "u-d-f", 4, false},
		{"ring", Drawing{Kind: "ring", Name: "R1", Points: pts(1), Radius: 5000}, "u-d-c-c", 0, false},
		{"unknown kind", Drawing{Kind: "circle", Name: "x", Points: pts(1)}, "", 0, true},
		{"line of one point", Drawing{Kind: "line", Name: "x", Points: pts(1)}, "", 0, true},
		{"no name", Drawing{Kind: "point", Name: "  ", Points: pts(1)}, "", 0, true},
		{"control character in name", Drawing{Kind: "point", Name: "a\x01b", Points: pts(1)}, "", 0, true},
		{"markup in name is escaped", Drawing{Kind: "point", Name: `"/><evil x="`, Points: pts(1)}, "b-m-p-s-m", 0, false},
		{"bad latitude", Drawing{Kind: "point", Name: "x", Points: []LatLon{{Lat: 91, Lon: 0}}}, "", 0, true},
		{"bad uid", Drawing{UID: "a b", Kind: "point", Name: "x", Points: pts(1)}, "", 0, true},
		{"bad classification", Drawing{Kind: "point", Name: "x", Points: pts(1), Label: &DrawingLabel{Classification: "COSMIC"}}, "", 0, true},
		{"bad nation", Drawing{Kind: "point", Name: "x", Points: pts(1), Label: &DrawingLabel{Classification: "SECRET", ReleasableTo: []string{"J\"PN"}}}, "", 0, true},
		{"caveats", Drawing{Kind: "line", Name: "PL NOFORN", Points: pts(2), Label: &DrawingLabel{Classification: "SECRET", ReleasableTo: []string{"JPN"}, Caveats: []string{"noforn", "FOUO"}}}, "u-d-f", 2, false},
		{"unknown caveat", Drawing{Kind: "point", Name: "x", Points: pts(1), Label: &DrawingLabel{Classification: "SECRET", Caveats: []string{"EYES"}}}, "", 0, true},
		{"caveat smuggling a separator", Drawing{Kind: "point", Name: "x", Points: pts(1), Label: &DrawingLabel{Classification: "SECRET", Caveats: []string{"FOUO/NOFORN"}}}, "", 0, true},
		{"ring without radius", Drawing{Kind: "ring", Name: "x", Points: pts(1)}, "", 0, true},
		{"too many vertices", Drawing{Kind: "line", Name: "x", Points: pts(maxVertices + 1)}, "", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := BuildEvent(tc.d, "JPN", now)
			if tc.wantErr {
				if !errors.Is(err, ErrDrawing) {
					t.Fatalf("err = %v, want ErrDrawing", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ev.Type != tc.typ || len(ev.Links) != tc.links {
				t.Errorf("type %s with %d links, want %s with %d", ev.Type, len(ev.Links), tc.typ, tc.links)
			}
			if ev.Callsign != strings.TrimSpace(tc.d.Name) {
				t.Errorf("callsign %q, want %q", ev.Callsign, tc.d.Name)
			}
			if !strings.HasPrefix(ev.UID, "drawing-JPN-") {
				t.Errorf("uid %q", ev.UID)
			}
			if tc.d.Label != nil && (ev.Access != "SECRET" || ev.ReleasableTo != "JPN") {
				t.Errorf("label attributes %q %q", ev.Access, ev.ReleasableTo)
			}
			if want := map[bool]string{true: "FOUO/NOFORN"}[tc.d.Label != nil && len(tc.d.Label.Caveats) > 0]; ev.Caveat != want {
				t.Errorf("caveat %q, want %q", ev.Caveat, want)
			}
		})
	}
}

// FuzzBuildEvent: any JSON body either is refused with ErrDrawing or makes
// an event that the CoT decoder accepts and whose callsign is the name.
func FuzzBuildEvent(f *testing.F) {
	f.Add(`{"kind":"point","name":"A","points":[{"lat":1,"lon":2}]}`)
	f.Add(`{"kind":"area","name":"B<>&\"","points":[{"lat":1,"lon":2},{"lat":1,"lon":3},{"lat":2,"lon":2}],"label":{"classification":"SECRET","releasableTo":["JPN","KOR"]}}`)
	f.Add(`{"kind":"line","name":"L","points":[{"lat":1,"lon":2},{"lat":1,"lon":3}],"label":{"classification":"CONFIDENTIAL","caveats":["ORCON","FOUO"]}}`)
	f.Add(`{"kind":"ring","name":"R","radius":100,"points":[{"lat":1,"lon":2}],"uid":"x.y:z-1"}`)
	f.Fuzz(func(t *testing.T, body string) {
		var d Drawing
		if json.Unmarshal([]byte(body), &d) != nil {
			return
		}
		ev, err := BuildEvent(d, "USA", time.Unix(1e9, 0))
		if err != nil {
			if !errors.Is(err, ErrDrawing) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if ev.Callsign != strings.TrimSpace(d.Name) {
			t.Fatalf("callsign %q, name %q", ev.Callsign, d.Name)
		}
		if err := ev.Validate(); err != nil {
			t.Fatalf("built event invalid: %v", err)
		}
	})
}

// TestDrawingWithinClearance: the label a user chooses for a drawing must be
// within their clearance: classification, caveats held (none unless the
// principal names them), and releasable to themselves. Refusals are 403 and
// never reach ingest.
func TestDrawingWithinClearance(t *testing.T) {
	var ingested []string
	var refused []string
	svc, err := New(Config{
		Picture: cop.New(),
		History: func(context.Context, label.Principal, time.Time, time.Time, func(store.Object) error) error {
			return nil
		},
		// As the node's ingest path: a classification above the
		// submitter's clearance is refused there (and counted, audited).
		Ingest: func(_ context.Context, p label.Principal, ev *cot.Event) error {
			l, _, err := ev.ParseLabel()
			if err != nil {
				return err
			}
			if err := label.CheckSubmit(p, l); err != nil {
				return err
			}
			ingested = append(ingested, ev.Caveat)
			return nil
		},
		Refused: func(_ context.Context, _ label.Principal, uid string, _ error) { refused = append(refused, uid) },
	})
	if err != nil {
		t.Fatal(err)
	}
	plain := label.Principal{Nation: "JPN", Clearance: label.Secret}
	holder := label.Principal{Nation: "JPN", Clearance: label.Secret, Caveats: "FOUO/NOFORN"}
	line := func(l *DrawingLabel) Drawing {
		return Drawing{Kind: "line", Name: "PL", Points: []LatLon{{Lat: 34, Lon: 129}, {Lat: 34.1, Lon: 129.1}}, Label: l}
	}
	tests := []struct {
		name   string
		p      label.Principal
		d      Drawing
		status int
		msg    string
	}{
		{"no label: the default", plain, line(nil), http.StatusCreated, ""},
		{"no caveat", plain, line(&DrawingLabel{Classification: "SECRET", ReleasableTo: []string{"KOR"}}), http.StatusCreated, ""},
		{"caveat not held by a principal holding none", plain, line(&DrawingLabel{Classification: "SECRET", Caveats: []string{"FOUO"}}), http.StatusForbidden, "caveat FOUO not held (you hold none)"},
		{"caveats held", holder, line(&DrawingLabel{Classification: "SECRET", ReleasableTo: []string{"KOR"}, Caveats: []string{"NOFORN", "fouo"}}), http.StatusCreated, ""},
		{"one caveat of two not held", holder, line(&DrawingLabel{Classification: "CONFIDENTIAL", Caveats: []string{"NOFORN", "ORCON"}}), http.StatusForbidden, "caveat NOFORN/ORCON not held (you hold FOUO/NOFORN)"},
		{"above clearance", holder, line(&DrawingLabel{Classification: "TOP SECRET", Caveats: []string{"FOUO"}}), http.StatusForbidden, "label above your clearance"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ingested = nil
			refused = nil
			body, _ := json.Marshal(tc.d)
			r := httptest.NewRequest("POST", "/api/v1/drawings", bytes.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			r = r.WithContext(web.WithPrincipal(r.Context(), tc.p))
			w := httptest.NewRecorder()
			svc.Routes()["POST /api/v1/drawings"].ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Fatalf("status %d (%s), want %d", w.Code, strings.TrimSpace(w.Body.String()), tc.status)
			}
			if tc.status != http.StatusCreated {
				if got := strings.TrimSpace(w.Body.String()); got != tc.msg {
					t.Errorf("message %q, want %q", got, tc.msg)
				}
				if len(ingested) != 0 {
					t.Errorf("a refused drawing was ingested: %q", ingested)
				}
				// Refusals are reported once: by the hook, or (above the
				// clearance) by ingest.
				if above := strings.Contains(tc.msg, "above"); len(refused) != map[bool]int{true: 0, false: 1}[above] {
					t.Errorf("refusal hook called %d times", len(refused))
				}
			} else if len(ingested) != 1 {
				t.Errorf("ingested %d events, want 1", len(ingested))
			}
		})
	}
}

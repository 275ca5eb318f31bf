package node

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"kizuna/internal/taktest"
)

func postJSON(t *testing.T, url, body string, hdr map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// A drawing posted over HTTP is ingested as the listener's principal: it
// reaches TAK clients of the nations its label releases to, with that
// label, and no other; a label above the clearance, another nation's uid,
// a form body and a cross-origin request are refused.
func TestMapDrawings(t *testing.T) {
	n := startNode(t, baseConfig(
		[]string{"USA:SECRET", "JPN:SECRET", "KOR:SECRET"},
		[]string{"JPN:SECRET", "USA:CONFIDENTIAL"}))
	jpnHTTP := "http://" + addrOf(t, n, KindHTTP, "JPN:SECRET")
	usaHTTP := "http://" + addrOf(t, n, KindHTTP, "USA:CONFIDENTIAL")
	usaTAK := dial(t, addrOf(t, n, KindCoTTCP, "USA:SECRET"))
	jpnTAK := dial(t, addrOf(t, n, KindCoTTCP, "JPN:SECRET"))
	korTAK := dial(t, addrOf(t, n, KindCoTTCP, "KOR:SECRET"))

	code, _, body := postJSON(t, jpnHTTP+"/api/v1/drawings",
		`{"kind":"area","name":"NAI KESTREL","points":[{"lat":34,"lon":129},{"lat":34.1,"lon":129},{"lat":34,"lon":129.1}],"label":{"classification":"SECRET","releasableTo":["USA"]}}`, nil)
	if code != http.StatusCreated {
		t.Fatalf("drawing: %d %s", code, body)
	}
	var res struct{ UID, Marking string }
	json.Unmarshal(body, &res)
	if res.Marking != "SECRET//REL TO JPN, USA" {
		t.Errorf("marking %q", res.Marking)
	}
	for name, c := range map[string]*takClient{"USA": usaTAK, "JPN": jpnTAK} {
		ev := c.Expect(name+" gets the drawing", isUID(res.UID), 5*time.Second)
		if ev.Access != "SECRET" || ev.Callsign != "NAI KESTREL" || ev.Type != "u-d-f" || len(ev.Links) != 4 || ev.Origin.Nation != "JPN" {
			t.Errorf("%s got %s %s %q %d links origin %s", name, ev.Type, ev.Access, ev.Callsign, len(ev.Links), ev.Origin.Nation)
		}
	}
	// KOR: a later event released to KOR arrives, the drawing never did.
	marker := event("marker-kor", "a-f-G", `access="UNCLASSIFIED" releasableTo="KOR USA"`)
	usaTAK.SendEvent(marker)
	for _, ev := range korTAK.CollectUntil("marker-kor", 5*time.Second) {
		if ev.UID == res.UID {
			t.Fatal("KOR received a drawing not released to it")
		}
	}

	tests := []struct {
		name string
		url  string
		body string
		hdr  map[string]string
		want int
	}{
		{"above clearance", usaHTTP, `{"kind":"point","name":"P","points":[{"lat":1,"lon":1}],"label":{"classification":"SECRET"}}`, nil, http.StatusForbidden},
		{"caveat not held", jpnHTTP, `{"kind":"point","name":"P","points":[{"lat":1,"lon":1}],"label":{"classification":"SECRET","caveats":["FOUO"]}}`, nil, http.StatusForbidden},
		{"another nation's uid", usaHTTP, `{"uid":"` + res.UID + `","kind":"point","name":"P","points":[{"lat":1,"lon":1}]}`, nil, http.StatusForbidden},
		{"form body", jpnHTTP, `kind=point`, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, http.StatusUnsupportedMediaType},
		{"cross origin", jpnHTTP, `{"kind":"point","name":"P","points":[{"lat":1,"lon":1}]}`, map[string]string{"Origin": "http://evil.example"}, http.StatusForbidden},
		{"unknown field", jpnHTTP, `{"kind":"point","name":"P","points":[{"lat":1,"lon":1}],"originator":"USA"}`, nil, http.StatusBadRequest},
		{"bad drawing", jpnHTTP, `{"kind":"line","name":"P","points":[{"lat":1,"lon":1}]}`, nil, http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if code, _, b := postJSON(t, tc.url+"/api/v1/drawings", tc.body, tc.hdr); code != tc.want {
				t.Errorf("got %d (%s), want %d", code, b, tc.want)
			}
		})
	}
	// Metrics are the node's own nation's (a partner's scrape is refused).
	if v := taktest.Metric(t, addrOf(t, n, KindHTTP, "USA:CONFIDENTIAL"), `kizuna_events_rejected_total{reason="above_clearance"}`); v < 1 {
		t.Errorf("above-clearance refusal not counted: %v", v)
	}
	if v := taktest.Metric(t, addrOf(t, n, KindHTTP, "USA:CONFIDENTIAL"), `kizuna_events_rejected_total{reason="label_choice"}`); v < 1 {
		t.Errorf("caveat refusal not counted: %v", v)
	}
}

// Exports hold only what the principal may see, in the requested view, with
// the marking in the file and its name; the replay gives the history rows
// the principal may see and no other.
func TestMapExportAndReplay(t *testing.T) {
	cfg := baseConfig([]string{"USA:SECRET"}, []string{"JPN:SECRET", "KOR:SECRET"})
	cfg.HistoryInterval = 0
	n := startNode(t, cfg)
	jpn := "http://" + addrOf(t, n, KindHTTP, "JPN:SECRET")
	kor := "http://" + addrOf(t, n, KindHTTP, "KOR:SECRET")
	usa := dial(t, addrOf(t, n, KindCoTTCP, "USA:SECRET"))
	usa.SendEvent(event("rel-jpn", "a-f-G-U-C", `access="SECRET" releasableTo="JPN"`))
	usa.SendEvent(event("rel-jpn-2", "a-h-S", `access="CONFIDENTIAL" releasableTo="JPN KOR"`))
	usa.SendEvent(event("usa-only", "a-f-G", `access="SECRET"`))
	taktest.WaitUntil(t, "objects", 5*time.Second, func() bool {
		var o objectsResp
		getJSON(t, jpn+"/api/v1/objects", &o)
		return o.has("rel-jpn") && o.has("rel-jpn-2")
	})

	t.Run("geojson", func(t *testing.T) {
		code, hdr, b := postJSON(t, jpn+"/api/v1/export", `{"format":"geojson","uids":["rel-jpn","usa-only"]}`, nil)
		if code != 200 {
			t.Fatalf("%d %s", code, b)
		}
		var fc struct {
			Type     string
			Marking  string
			Features []struct {
				ID         string
				Properties struct{ Marking, Portion string }
			}
		}
		if err := json.Unmarshal(b, &fc); err != nil {
			t.Fatal(err)
		}
		if fc.Type != "FeatureCollection" || len(fc.Features) != 1 || fc.Features[0].ID != "rel-jpn" {
			t.Fatalf("export %s", b)
		}
		if fc.Marking != "SECRET//REL TO JPN, USA" || fc.Features[0].Properties.Portion != "(S//REL JPN)" {
			t.Errorf("markings %q %q", fc.Marking, fc.Features[0].Properties.Portion)
		}
		if cd := hdr.Get("Content-Disposition"); !strings.Contains(cd, "kizuna-view_SECRET-REL-TO-JPN-USA_") || !strings.HasSuffix(cd, `.geojson"`) {
			t.Errorf("file name %q", cd)
		}
	})
	t.Run("kml", func(t *testing.T) {
		code, hdr, b := postJSON(t, kor+"/api/v1/export", `{"format":"kml","uids":[]}`, nil)
		if code != 200 {
			t.Fatalf("%d %s", code, b)
		}
		var k struct {
			Doc struct {
				Name       string `xml:"name"`
				Placemarks []struct {
					ID   string `xml:"id,attr"`
					Name string `xml:"name"`
				} `xml:"Placemark"`
			} `xml:"Document"`
		}
		if err := xml.Unmarshal(b, &k); err != nil {
			t.Fatalf("KML does not parse: %v", err)
		}
		if len(k.Doc.Placemarks) != 1 || k.Doc.Placemarks[0].ID != "rel-jpn-2" || k.Doc.Placemarks[0].Name != "(C//REL JPN KOR) rel-jpn-2" {
			t.Fatalf("KOR export %+v", k.Doc)
		}
		if !strings.HasPrefix(k.Doc.Name, "CONFIDENTIAL//REL TO JPN, KOR, USA") || !strings.Contains(hdr.Get("Content-Disposition"), "CONFIDENTIAL-REL-TO-JPN-KOR-USA") {
			t.Errorf("marking %q / %q", k.Doc.Name, hdr.Get("Content-Disposition"))
		}
	})
	t.Run("replay", func(t *testing.T) {
		moved := event("rel-jpn", "a-f-G-U-C", `access="SECRET" releasableTo="JPN"`)
		moved.Point.Lat = 36
		usa.SendEvent(moved)
		again := event("rel-jpn", "a-f-G-U-C", `access="SECRET" releasableTo="JPN"`)
		again.Point.Lat = 37
		usa.SendEvent(again)
		var rows struct{ Rows []replayRow }
		taktest.WaitUntil(t, "three history rows", 5*time.Second, func() bool {
			rows.Rows = nil
			rows.Rows = getReplay(t, jpn+"/api/v1/replay")
			k := 0
			for _, r := range rows.Rows {
				if r.UID == "rel-jpn" {
					k++
				}
			}
			return k == 3
		})
		for _, r := range rows.Rows {
			if r.UID == "usa-only" {
				t.Fatal("JPN replay holds a USA-only object")
			}
		}
		// A step keeps the first row per step and the last: start and end.
		rows.Rows = nil
		rows.Rows = getReplay(t, jpn+"/api/v1/replay?step=1h")
		var lats []float64
		for _, r := range rows.Rows {
			if r.UID == "rel-jpn" {
				lats = append(lats, r.Lat)
			}
		}
		if len(lats) != 2 || lats[0] != 35.5 || lats[1] != 37 {
			t.Errorf("thinned rows of rel-jpn: %v, want [35.5 37]", lats)
		}
		rows.Rows = nil
		rows.Rows = getReplay(t, kor+"/api/v1/replay")
		for _, r := range rows.Rows {
			if r.UID != "rel-jpn-2" {
				t.Fatalf("KOR replay holds %s", r.UID)
			}
		}
		if code := getJSON(t, jpn+"/api/v1/replay?since=2020-01-01T00:00:00Z&until=2020-01-03T00:00:00Z", nil); code != http.StatusBadRequest {
			t.Errorf("window over 24h: %d", code)
		}
	})
}

type replayRow struct {
	UID string
	Lat float64
}

// getReplay reads a replay answer: rows [track, t, stale, lat, lon,
// label] naming tracks [uid, type, sidc, callsign].
func getReplay(t *testing.T, url string) []replayRow {
	t.Helper()
	var a struct {
		Rows   [][6]float64
		Tracks [][4]string
	}
	if code := getJSON(t, url, &a); code != http.StatusOK {
		t.Fatalf("GET %s: %d", url, code)
	}
	out := make([]replayRow, len(a.Rows))
	for i, r := range a.Rows {
		out[i] = replayRow{UID: a.Tracks[int(r[0])][0], Lat: r[3]}
	}
	return out
}

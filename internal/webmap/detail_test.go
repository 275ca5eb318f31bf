package webmap

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestMissileOf(t *testing.T) {
	at := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name, detail string
		want         *Missile
	}{
		{
			name:   "demo sensor report",
			detail: `<contact callsign="BM 1"/><track course="95.0" speed="1800"/><link uid="m1-launch" relation="p-p" type="b-d-l"/><__missile launchLat="39.0000" launchLon="124.6000" impactLat="38.9000" impactLon="134.5000" impactRadius="25000" timeToGo="3m20s"/><remarks>Missile warning</remarks>`,
			want: &Missile{
				Launch:   &Place{Lat: 39, Lon: 124.6},
				Impact:   &Place{Lat: 38.9, Lon: 134.5, Radius: 25000, Time: at.Add(200 * time.Second)},
				TimeToGo: "3m20s",
			},
		},
		{
			name:   "launch only",
			detail: `<__missile launchLat="39" launchLon="125"/>`,
			want:   &Missile{Launch: &Place{Lat: 39, Lon: 125}},
		},
		{
			name:   "impact without usable time to go",
			detail: `<__missile impactLat="38" impactLon="135" impactRadius="-5" timeToGo="soon"/>`,
			want:   &Missile{Impact: &Place{Lat: 38, Lon: 135}, TimeToGo: "soon"},
		},
		{name: "out of range coordinates", detail: `<__missile launchLat="91" launchLon="125" impactLat="38" impactLon="181"/>`},
		{name: "not numbers", detail: `<__missile launchLat="x" launchLon="NaN"/>`},
		{name: "no missile element", detail: `<contact callsign="A"/><remarks>__missile mentioned in text</remarks>`},
		{name: "broken XML", detail: `<__missile launchLat="39" launchLon=`},
		{name: "empty", detail: ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := MissileOf([]byte(tt.detail), at)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("MissileOf mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// The JSON is what the page reads: missile.launch, missile.impact.radius and
// missile.impact.time.
func TestMissileJSON(t *testing.T) {
	m := MissileOf([]byte(`<__missile launchLat="39" launchLon="125" impactLat="38" impactLon="135" impactRadius="30000" timeToGo="1m"/>`), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"launch":{"lat":39,"lon":125},"impact":{"lat":38,"lon":135,"radius":30000,"time":"2026-01-01T00:01:00Z"},"timeToGo":"1m"}`
	if string(b) != want {
		t.Errorf("JSON = %s, want %s", b, want)
	}
}

func TestRemarksOf(t *testing.T) {
	tests := []struct{ name, detail, want string }{
		{"plain", `<contact callsign="A"/><remarks>  Holding at checkpoint 3  </remarks>`, "Holding at checkpoint 3"},
		{"with attributes and entities", `<remarks source="x" time="t">fuel &lt; 20%</remarks>`, "fuel < 20%"},
		{"first only", `<remarks>one</remarks><remarks>two</remarks>`, "one"},
		{"none", `<contact callsign="remarks"/>`, ""},
		{"broken", `<remarks>open`, ""},
		{"long", `<remarks>` + strings.Repeat("é", maxRemarks) + `</remarks>`, strings.Repeat("é", maxRemarks/2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RemarksOf([]byte(tt.detail)); got != tt.want {
				t.Errorf("RemarksOf = %q, want %q", got, tt.want)
			}
		})
	}
}

func FuzzDetail(f *testing.F) {
	for _, s := range []string{
		`<__missile launchLat="39" launchLon="124.6" impactLat="38.9" impactLon="134.5" impactRadius="25000" timeToGo="3m20s"/>`,
		`<remarks>hello</remarks>`,
		`<remarks>` + strings.Repeat("x", 3000) + `</remarks>`,
		`<__missile launchLat="1e400" launchLon="-0"/>`,
		`<a><b><__missile impactLat="1" impactLon="2" timeToGo="-5s"/></b></a>`,
		"",
	} {
		f.Add([]byte(s))
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, detail []byte) {
		if m := MissileOf(detail, at); m != nil {
			if m.Launch == nil && m.Impact == nil {
				t.Fatal("missile with neither launch nor impact")
			}
			for _, p := range []*Place{m.Launch, m.Impact} {
				if p != nil && (p.Lat < -90 || p.Lat > 90 || p.Lon < -180 || p.Lon > 180 || p.Radius < 0) {
					t.Fatalf("bad place %+v", p)
				}
			}
			if _, err := json.Marshal(m); err != nil {
				t.Fatalf("missile does not marshal: %v", err)
			}
		}
		r := RemarksOf(detail)
		if len(r) > maxRemarks || !utf8Valid(r) {
			t.Fatalf("remarks too long or invalid: %d bytes", len(r))
		}
	})
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

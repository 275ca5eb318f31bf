// Package demo owns `kizuna demo`: an allied exercise on loopback with
// simulated units around Japan and Korea (public names only), labelled so
// that each nation's view differs, the demonstration chain of command with
// orders flowing, and the simulated sensors.
package demo

import (
	"context"
	"fmt"
	"math"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/label"
)

// Unit is one simulated unit: it moves around a loop of waypoints and
// reports its position as a TAK client would.
type Unit struct {
	UID      string
	Callsign string
	Type     string // CoT type
	Nation   string // owner and originator
	Label    label.Label
	Speed    float64 // m/s
	Route    [][2]float64
	Remarks  string
}

func rel(c label.Classification, orig string, to ...string) label.Label {
	return label.Label{Classification: c, Originator: orig, ReleasableTo: to}
}

// Units returns the exercise's units. Some are releasable to all three
// allies, some to two, some national only, so the views differ.
func Units() []Unit {
	s := label.Secret
	all := []string{"USA", "JPN", "KOR"}
	return []Unit{
		// United States.
		{UID: "demo-usa-c7f-bluridge", Callsign: "BLUE RIDGE (7th Fleet)", Type: "a-f-S-C-L-C-C", Nation: "USA", Label: rel(s, "USA", all...), Speed: 8,
			Route: [][2]float64{{35.28, 139.67}, {34.9, 139.9}, {34.4, 139.5}, {34.8, 139.2}}, Remarks: "US 7th Fleet flagship out of Yokosuka"},
		{UID: "demo-usa-ddg-desron15", Callsign: "DESRON 15", Type: "a-f-S-C-L-D-D", Nation: "USA", Label: rel(s, "USA", all...), Speed: 12,
			Route: [][2]float64{{33.2, 129.5}, {34.2, 130.2}, {35.6, 130.9}, {36.9, 131.4}, {35.0, 131.0}}, Remarks: "Destroyer Squadron 15, Sea of Japan picket"},
		{UID: "demo-usa-iiimef", Callsign: "III MEF", Type: "a-f-G-U-C-I", Nation: "USA", Label: rel(s, "USA", "JPN"), Speed: 3,
			Route: [][2]float64{{26.40, 127.84}, {26.32, 127.78}, {26.25, 127.73}, {26.33, 127.80}}, Remarks: "III Marine Expeditionary Force, Okinawa"},
		{UID: "demo-usa-5af-cap", Callsign: "5AF CAP", Type: "a-f-A-M-F-F", Nation: "USA", Label: rel(s, "USA", "JPN"), Speed: 220,
			Route: [][2]float64{{35.75, 139.35}, {37.5, 138.0}, {38.5, 136.0}, {36.5, 135.5}}, Remarks: "5th Air Force combat air patrol out of Yokota"},
		{UID: "demo-usa-usfk-2id", Callsign: "USFK 2ID", Type: "a-f-G-U-C-A", Nation: "USA", Label: rel(s, "USA", "KOR"), Speed: 4,
			Route: [][2]float64{{36.96, 127.03}, {37.05, 127.10}, {37.10, 127.00}}, Remarks: "US Forces Korea, Camp Humphreys"},
		{UID: "demo-usa-sof", Callsign: "USA ONLY SOF", Type: "a-f-G-U-C-R", Nation: "USA", Label: rel(s, "USA"), Speed: 2,
			Route: [][2]float64{{24.35, 124.18}, {24.40, 124.22}, {24.37, 124.26}}, Remarks: "National-only special reconnaissance team"},
		// Japan.
		{UID: "demo-jpn-escflot1", Callsign: "ESCORT FLOTILLA 1", Type: "a-f-S-C-L-D-D", Nation: "JPN", Label: rel(s, "JPN", all...), Speed: 10,
			Route: [][2]float64{{35.2, 139.8}, {34.0, 140.5}, {33.0, 139.8}, {34.2, 139.0}}, Remarks: "JMSDF Escort Flotilla 1, Yokosuka"},
		{UID: "demo-jpn-escflot2", Callsign: "ESCORT FLOTILLA 2", Type: "a-f-S-C-L-D-D", Nation: "JPN", Label: rel(s, "JPN", "USA"), Speed: 10,
			Route: [][2]float64{{33.16, 129.72}, {33.8, 128.9}, {34.6, 129.4}, {33.9, 130.3}}, Remarks: "JMSDF Escort Flotilla 2, Sasebo"},
		{UID: "demo-jpn-ardb", Callsign: "ARDB", Type: "a-f-G-U-C-I-A", Nation: "JPN", Label: rel(s, "JPN", "USA"), Speed: 2,
			Route: [][2]float64{{33.18, 129.66}, {33.22, 129.70}, {33.15, 129.74}}, Remarks: "JGSDF Amphibious Rapid Deployment Brigade, Ainoura"},
		{UID: "demo-jpn-adc-awacs", Callsign: "JASDF AEW", Type: "a-f-A-M-F-W", Nation: "JPN", Label: rel(s, "JPN", all...), Speed: 200,
			Route: [][2]float64{{36.0, 133.0}, {37.2, 134.6}, {36.4, 136.0}, {35.6, 134.0}}, Remarks: "Air Defense Command airborne early warning"},
		{UID: "demo-jpn-national", Callsign: "JGSDF WESTERN ARMY HQ", Type: "a-f-G-U-C", Nation: "JPN", Label: rel(s, "JPN"), Speed: 0.5,
			Route: [][2]float64{{32.80, 130.74}, {32.81, 130.75}}, Remarks: "National-only"},
		// Republic of Korea.
		{UID: "demo-kor-sejong", Callsign: "SEJONG THE GREAT", Type: "a-f-S-C-L-D-D", Nation: "KOR", Label: rel(s, "KOR", all...), Speed: 11,
			Route: [][2]float64{{37.5, 129.2}, {38.2, 129.6}, {37.8, 130.4}, {37.0, 130.0}}, Remarks: "ROK Navy Aegis destroyer, East Sea missile-warning picket"},
		{UID: "demo-kor-1fleet", Callsign: "ROKN 1ST FLEET", Type: "a-f-S-C-L-F-F", Nation: "KOR", Label: rel(s, "KOR", "USA"), Speed: 9,
			Route: [][2]float64{{37.49, 129.13}, {37.9, 129.3}, {37.3, 129.6}}, Remarks: "ROK Navy 1st Fleet, Donghae"},
		{UID: "demo-kor-3fleet", Callsign: "ROKN 3RD FLEET", Type: "a-f-S-C-L-F-F", Nation: "KOR", Label: rel(s, "KOR", all...), Speed: 9,
			Route: [][2]float64{{35.0, 129.05}, {34.6, 128.6}, {34.3, 129.3}, {34.8, 129.6}}, Remarks: "ROK Navy 3rd Fleet, Busan"},
		{UID: "demo-kor-acc", Callsign: "ROKAF KF-21 FLIGHT", Type: "a-f-A-M-F-F", Nation: "KOR", Label: rel(s, "KOR", "USA"), Speed: 230,
			Route: [][2]float64{{37.09, 127.03}, {37.9, 128.5}, {36.5, 129.4}, {35.9, 127.9}}, Remarks: "ROK Air Force Air Combat Command"},
		{UID: "demo-kor-national", Callsign: "ROK CAPITAL DEFENSE", Type: "a-f-G-U-C", Nation: "KOR", Label: rel(s, "KOR"), Speed: 0.5,
			Route: [][2]float64{{37.55, 126.98}, {37.56, 126.99}}, Remarks: "National-only"},
	}
}

// position returns where u is at elapsed time t along its looped route,
// and its course in degrees.
func (u Unit) position(t time.Duration) (lat, lon, course float64) {
	if len(u.Route) == 1 || u.Speed == 0 {
		return u.Route[0][0], u.Route[0][1], 0
	}
	legs := make([]float64, len(u.Route))
	total := 0.0
	for i := range u.Route {
		a, b := u.Route[i], u.Route[(i+1)%len(u.Route)]
		legs[i] = distance(a[0], a[1], b[0], b[1])
		total += legs[i]
	}
	d := math.Mod(u.Speed*t.Seconds(), total)
	for i, l := range legs {
		if d <= l {
			a, b := u.Route[i], u.Route[(i+1)%len(u.Route)]
			f := d / l
			lat = a[0] + (b[0]-a[0])*f
			lon = a[1] + (b[1]-a[1])*f
			course = bearing(a[0], a[1], b[0], b[1])
			return
		}
		d -= l
	}
	return u.Route[0][0], u.Route[0][1], 0
}

const earthRadius = 6371000.0

func distance(lat1, lon1, lat2, lon2 float64) float64 {
	p1, p2 := lat1*math.Pi/180, lat2*math.Pi/180
	dp, dl := p2-p1, (lon2-lon1)*math.Pi/180
	a := math.Sin(dp/2)*math.Sin(dp/2) + math.Cos(p1)*math.Cos(p2)*math.Sin(dl/2)*math.Sin(dl/2)
	return 2 * earthRadius * math.Asin(math.Min(1, math.Sqrt(a)))
}

func bearing(lat1, lon1, lat2, lon2 float64) float64 {
	p1, p2 := lat1*math.Pi/180, lat2*math.Pi/180
	dl := (lon2 - lon1) * math.Pi / 180
	y := math.Sin(dl) * math.Cos(p2)
	x := math.Cos(p1)*math.Sin(p2) - math.Sin(p1)*math.Cos(p2)*math.Cos(dl)
	return math.Mod(math.Atan2(y, x)*180/math.Pi+360, 360)
}

// Event builds u's position report at now, elapsed since the start.
func (u Unit) Event(now time.Time, elapsed time.Duration) *cot.Event {
	lat, lon, course := u.position(elapsed)
	ev := &cot.Event{
		Version: "2.0", UID: u.UID, Type: u.Type, How: "m-g",
		Time: now, Start: now, Stale: now.Add(30 * time.Second),
		Point:     cot.Point{Lat: lat, Lon: lon, HAE: cot.Unknown, CE: 10, LE: cot.Unknown},
		HasDetail: true,
		Detail: fmt.Appendf(nil, `<contact callsign="%s"/><track course="%.1f" speed="%.1f"/><remarks>%s</remarks>`,
			cot.Escape(u.Callsign), course, u.Speed, cot.Escape(u.Remarks)),
		Course: course, Speed: u.Speed,
	}
	ev.Callsign = u.Callsign
	ev.SetLabel(u.Label)
	return ev
}

// Injector publishes node-made events (node.Node implements it).
type Injector interface {
	Inject(ctx context.Context, ev *cot.Event) error
}

// Move publishes every unit's position through its owner's node every
// period until ctx is done. nodeOf picks the injector of a nation.
func Move(ctx context.Context, units []Unit, nodeOf func(nation string) Injector, period time.Duration) error {
	start := time.Now()
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		now := time.Now().UTC()
		for _, u := range units {
			if inj := nodeOf(u.Nation); inj != nil {
				if err := inj.Inject(ctx, u.Event(now, now.Sub(start))); err != nil && ctx.Err() == nil {
					return fmt.Errorf("moving %s: %w", u.UID, err)
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

package demo

import (
	"context"
	"fmt"
	"math"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/label"
)

// Launch is one simulated ballistic missile launch as a sensor of the
// detecting nation reports it: the launch point, the missile track along
// its flight path and the predicted impact area. The exercise scenario is
// notional: a launch from the sea west of the Korean peninsula towards
// the Sea of Japan.
type Launch struct {
	ID            string
	From, To      [2]float64 // launch point and predicted impact, degrees
	Flight        time.Duration
	ImpactRadiusM float64
}

// warningLabel: shared in real time between Japan, the ROK and the US.
var warningLabel = label.Label{Classification: label.Secret, Originator: "JPN", ReleasableTo: []string{"JPN", "KOR", "USA"}}

// Events returns what the detecting sensor publishes t after launch: the
// launch point (b-d-l), the missile track (a-h-A-W-M-S-S, a hostile
// surface-to-surface missile; flash traffic on every federation link) and
// the predicted impact point (b-d-i) with its area.
func (l Launch) Events(launched, now time.Time) []*cot.Event {
	f := math.Min(1, now.Sub(launched).Seconds()/l.Flight.Seconds())
	lat := l.From[0] + (l.To[0]-l.From[0])*f
	lon := l.From[1] + (l.To[1]-l.From[1])*f
	apogee := 550000.0
	alt := 4 * apogee * f * (1 - f)
	course := bearing(l.From[0], l.From[1], l.To[0], l.To[1])
	speed := distance(l.From[0], l.From[1], l.To[0], l.To[1]) / l.Flight.Seconds()
	ttg := time.Duration((1 - f) * float64(l.Flight)).Round(time.Second)
	stale := now.Add(l.Flight + 2*time.Minute)
	mk := func(uid, typ string, la, lo, hae float64, detail string) *cot.Event {
		ev := &cot.Event{Version: "2.0", UID: uid, Type: typ, How: "m-r", Time: now, Start: now, Stale: stale,
			QoS:       "9-i-c",
			Point:     cot.Point{Lat: la, Lon: lo, HAE: hae, CE: 500, LE: 1000},
			HasDetail: true, Detail: []byte(detail)}
		ev.SetLabel(warningLabel)
		return ev
	}
	return []*cot.Event{
		mk(l.ID+"-launch", "b-d-l", l.From[0], l.From[1], 0, fmt.Sprintf(
			`<contact callsign="LAUNCH %s"/><remarks>Ballistic missile launch detected by JPN sensor at %s</remarks>`,
			l.ID, launched.UTC().Format("15:04:05Z"))),
		mk(l.ID, "a-h-A-W-M-S-S", lat, lon, alt, fmt.Sprintf(
			`<contact callsign="BM %s"/><track course="%.1f" speed="%.0f"/><link uid="%s-launch" relation="p-p" type="b-d-l"/><link uid="%s-impact" relation="p-p" type="b-d-i"/><__missile launchLat="%.4f" launchLon="%.4f" impactLat="%.4f" impactLon="%.4f" impactRadius="%.0f" timeToGo="%s"/><remarks>Missile warning: time to impact %s</remarks>`,
			l.ID, course, speed, l.ID, l.ID, l.From[0], l.From[1], l.To[0], l.To[1], l.ImpactRadiusM, ttg, ttg)),
		mk(l.ID+"-impact", "b-d-i", l.To[0], l.To[1], 0, fmt.Sprintf(
			`<contact callsign="IMPACT %s"/><shape><ellipse major="%.0f" minor="%.0f" angle="0"/></shape><remarks>Predicted impact area, radius %.0f m</remarks>`,
			l.ID, l.ImpactRadiusM, l.ImpactRadiusM, l.ImpactRadiusM)),
	}
}

// Warnings simulates a launch every period: the JPN node's sensor reports
// it every 2 s until impact.
func Warnings(ctx context.Context, inj Injector, period time.Duration) error {
	for n := 1; ; n++ {
		l := Launch{
			ID:            fmt.Sprintf("MW-%03d", n),
			From:          [2]float64{38.9 + 0.3*math.Sin(float64(n)), 124.4 + 0.2*math.Cos(float64(n))},
			To:            [2]float64{40.2 + 0.4*math.Cos(float64(n)), 134.5 + 0.8*math.Sin(float64(n))},
			Flight:        90 * time.Second,
			ImpactRadiusM: 25000,
		}
		launched := time.Now()
		t := time.NewTicker(2 * time.Second)
		for {
			now := time.Now()
			for _, ev := range l.Events(launched, now) {
				if err := inj.Inject(ctx, ev); err != nil && ctx.Err() == nil {
					t.Stop()
					return fmt.Errorf("missile warning %s: %w", l.ID, err)
				}
			}
			if now.Sub(launched) >= l.Flight {
				break
			}
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
		}
		t.Stop()
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(period):
		}
	}
}

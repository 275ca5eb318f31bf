package modes

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)

func feed(t *testing.T, tr *Tracker, hexFrame string, at time.Time) (Aircraft, bool) {
	t.Helper()
	m, err := Decode(mustHex(t, hexFrame))
	if err != nil {
		t.Fatalf("%s: %v", hexFrame, err)
	}
	return tr.Update(m, at)
}

// "The 1090MHz Riddle" pair for 40621D.
const (
	riddleEven = "8D40621D58C382D690C8AC2863A7"
	riddleOdd  = "8D40621D58C386435CC412692AD6"
)

func TestTrackerGlobalPair(t *testing.T) {
	t.Run("even newer", func(t *testing.T) {
		tr := NewTracker(TrackerConfig{})
		if a, _ := feed(t, tr, riddleOdd, t0); a.HasPosition {
			t.Fatal("position from a single message without a reference")
		}
		a, ok := feed(t, tr, riddleEven, t0.Add(2*time.Second))
		if !ok || !a.HasPosition || !near(a.Lat, 52.2572021484375, 1e-12) || !near(a.Lon, 3.91937255859375, 1e-12) {
			t.Fatalf("got %+v", a)
		}
		if !a.HasAltitude || a.Altitude != 38000 || a.ICAO != 0x40621D {
			t.Fatalf("altitude/icao: %+v", a)
		}
	})
	t.Run("odd newer", func(t *testing.T) {
		tr := NewTracker(TrackerConfig{})
		feed(t, tr, riddleEven, t0)
		a, _ := feed(t, tr, riddleOdd, t0.Add(2*time.Second))
		if !a.HasPosition || !near(a.Lat, 52.2658, 5e-5) || !near(a.Lon, 3.9389, 5e-5) {
			t.Fatalf("got %+v", a)
		}
	})
	t.Run("pair too far apart in time", func(t *testing.T) {
		tr := NewTracker(TrackerConfig{})
		feed(t, tr, riddleEven, t0)
		if a, _ := feed(t, tr, riddleOdd, t0.Add(11*time.Second)); a.HasPosition {
			t.Fatalf("decoded a stale pair: %+v", a)
		}
	})
}

func TestTrackerLocalDecoding(t *testing.T) {
	t.Run("relative to the receiver", func(t *testing.T) {
		tr := NewTracker(TrackerConfig{HasReceiver: true, ReceiverLat: 52, ReceiverLon: 4, MaxRangeNM: 150})
		a, _ := feed(t, tr, riddleEven, t0)
		if !a.HasPosition || !near(a.Lat, 52.2572021484375, 1e-9) || !near(a.Lon, 3.91937255859375, 1e-9) {
			t.Fatalf("got %+v", a)
		}
	})
	t.Run("relative to the last position", func(t *testing.T) {
		// pyModeS test_cpr.py: 8D40058B58C901375147EFD09357 relative to
		// (49.0, 6.0) is 49.82410, 6.06785; the odd message relative to
		// that is 49.81755, 6.08442.
		tr := NewTracker(TrackerConfig{HasReceiver: true, ReceiverLat: 49, ReceiverLon: 6, MaxRangeNM: 150})
		a, _ := feed(t, tr, "8D40058B58C901375147EFD09357", t0)
		if !near(a.Lat, 49.82410, 0.001) || !near(a.Lon, 6.06785, 0.001) {
			t.Fatalf("first: %+v", a)
		}
		// Past the pair window the odd message is decoded locally.
		a, _ = feed(t, tr, "8D40058B58C904A87F402D3B8C59", t0.Add(15*time.Second))
		if !near(a.Lat, 49.81755, 0.001) || !near(a.Lon, 6.08442, 0.001) {
			t.Fatalf("second: %+v", a)
		}
		if a.PositionTime != t0.Add(15*time.Second) {
			t.Fatalf("position time %v", a.PositionTime)
		}
	})
	t.Run("no receiver-relative decoding with a long range", func(t *testing.T) {
		// With a 300 NM range a single message could alias; only the
		// pair gives a position.
		tr := NewTracker(TrackerConfig{HasReceiver: true, ReceiverLat: 50, ReceiverLon: 2})
		if a, _ := feed(t, tr, riddleEven, t0); a.HasPosition {
			t.Fatalf("single message decoded: %+v", a)
		}
		a, _ := feed(t, tr, riddleOdd, t0.Add(time.Second))
		if !a.HasPosition || !near(a.Lat, 52.2658, 5e-5) {
			t.Fatalf("pair: %+v", a)
		}
	})
	t.Run("global pair against the established track", func(t *testing.T) {
		for _, anchored := range []bool{false, true} {
			tr := NewTracker(TrackerConfig{})
			tr.Update(&Message{DF: 11, ICAO: 0x40621D}, t0)
			// A recent position 285 NM south of the true one, beyond half a
			// zone, so local decoding relative to it aliases.
			e := tr.aircraft[0x40621D]
			e.HasPosition, e.Lat, e.Lon, e.PositionTime, e.anchored = true, 47.5, 3.9, t0, anchored
			feed(t, tr, riddleEven, t0.Add(time.Second))
			a, _ := feed(t, tr, riddleOdd, t0.Add(2*time.Second))
			jumped := near(a.Lat, 52.2658, 5e-5)
			// A provisional (receiver-relative) position yields to the
			// pair; an anchored track does not jump hundreds of miles.
			if jumped == anchored {
				t.Errorf("anchored %v: position %v %v", anchored, a.Lat, a.Lon)
			}
			if anchored {
				// Global decodes that keep disagreeing win in the end.
				feed(t, tr, riddleEven, t0.Add(3*time.Second))
				a, _ = feed(t, tr, riddleOdd, t0.Add(4*time.Second))
				if !near(a.Lat, 52.2658, 5e-5) {
					t.Errorf("track never corrected: %v %v", a.Lat, a.Lon)
				}
			}
		}
	})
	t.Run("outside receiver range", func(t *testing.T) {
		tr := NewTracker(TrackerConfig{HasReceiver: true, ReceiverLat: 40, ReceiverLon: -100})
		feed(t, tr, riddleEven, t0)
		if a, _ := feed(t, tr, riddleOdd, t0.Add(time.Second)); a.HasPosition {
			t.Fatalf("position 4000 NM from the receiver accepted: %+v", a)
		}
	})
	t.Run("surface pair", func(t *testing.T) {
		// pyModeS test_cpr.py TestSurfacePositionPair: LFBO, odd newer →
		// 43.62646, 1.37476 (±0.001) with the reference 43.63, 1.37.
		tr := NewTracker(TrackerConfig{HasReceiver: true, ReceiverLat: 43.63, ReceiverLon: 1.37})
		feed(t, tr, "903a23ff426a38565950432ebf95", t0)
		a, _ := feed(t, tr, "903a23ff426a4e65f7487a775d17", t0.Add(time.Second))
		if !a.HasPosition || !near(a.Lat, 43.62646, 0.001) || !near(a.Lon, 1.37476, 0.001) || !a.OnGround {
			t.Fatalf("got %+v", a)
		}
	})
}

func TestTrackerCombinesMessages(t *testing.T) {
	tr := NewTracker(TrackerConfig{})
	// Identification, then velocity for another aircraft, then position.
	feed(t, tr, "8D406B902015A678D4D220AA4BDA", t0)
	feed(t, tr, "8D485020994409940838175B284F", t0)
	a, ok := tr.Get(0x406B90)
	if !ok || a.Callsign != "EZY85MH" || a.CategorySet != 4 || a.Messages != 1 {
		t.Fatalf("406B90: %+v", a)
	}
	v, ok := tr.Get(0x485020)
	if !ok || !v.HasGroundSpeed || int(v.GroundSpeed) != 159 || !near(v.Track, 182.88, 0.01) ||
		!v.HasVerticalRate || v.VerticalRate != -832 {
		t.Fatalf("485020: %+v", v)
	}
	if tr.Len() != 2 || len(tr.Aircraft()) != 2 {
		t.Fatalf("len %d", tr.Len())
	}

	// A DF5 reply's address comes from its parity: it only updates an
	// aircraft already known.
	df5, err := Decode(mustHex(t, "2A00516D492B80"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tr.Update(df5, t0); ok || tr.Len() != 2 {
		t.Fatal("unknown parity address created an aircraft")
	}
	tr.Update(&Message{DF: 11, ICAO: df5.ICAO}, t0)
	a, ok = tr.Update(df5, t0.Add(time.Second))
	if !ok || !a.HasSquawk || a.Squawk != 356 {
		t.Fatalf("DF5 on a known aircraft: %+v %v", a, ok)
	}
}

func TestTrackerSBS(t *testing.T) {
	tr := NewTracker(TrackerConfig{})
	for _, line := range []string{
		"MSG,1,1,1,4CA2D6,1,2026/11/27,08:00:00.000,2026/11/27,08:00:00.000,RYR1,,,,,,,,,,,\r\n",
		"MSG,3,496,211,4CA2D6,10057,2008/11/28,14:53:50.594,2008/11/28,14:58:51.153,,37000,,,51.45735,-1.02826,,,0,0,0,0",
		"MSG,4,1,1,4CA2D6,1,2026/11/27,08:00:00.000,2026/11/27,08:00:00.000,,,420,87,,,-64,,,,,0\r\n",
	} {
		s, err := ParseSBS([]byte(line))
		if err != nil {
			t.Fatal(err)
		}
		tr.UpdateSBS(&s, t0)
	}
	a, ok := tr.Get(0x4CA2D6)
	if !ok || a.Callsign != "RYR1" || a.Altitude != 37000 || !a.HasPosition || a.Lat != 51.45735 ||
		a.Lon != -1.02826 || a.GroundSpeed != 420 || a.Track != 87 || a.VerticalRate != -64 || a.Messages != 3 {
		t.Fatalf("got %+v", a)
	}
	if a.Emergency != 0 || a.HasSquawk {
		t.Fatalf("squawk before any was sent: %+v", a)
	}
	s, err := ParseSBS([]byte("MSG,6,1,1,4CA2D6,1,2026/11/27,08:00:00.000,2026/11/27,08:00:00.000,,,,,,,,7700,0,-1,0,0\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	a, _ = tr.UpdateSBS(&s, t0)
	if !a.HasSquawk || a.Squawk != 7700 || a.Emergency != 1 {
		t.Fatalf("emergency squawk: %+v", a)
	}
}

func TestTrackerBoundedAndExpiry(t *testing.T) {
	tr := NewTracker(TrackerConfig{MaxAircraft: 10, Expiry: 30 * time.Second})
	for i := 0; i < 100; i++ {
		tr.Update(&Message{DF: 17, ICAO: uint32(i), TypeCode: 4, Callsign: "X"}, t0)
		if tr.Len() > 10 {
			t.Fatalf("%d aircraft, limit 10", tr.Len())
		}
	}
	if tr.Refused() != 90 {
		t.Fatalf("refused %d, want 90", tr.Refused())
	}
	// A known aircraft still updates when the table is full.
	if _, ok := tr.Update(&Message{DF: 17, ICAO: 3, TypeCode: 4, Callsign: "Y"}, t0.Add(20*time.Second)); !ok {
		t.Fatal("known aircraft refused")
	}
	// Once the others expire, new aircraft are accepted again.
	if _, ok := tr.Update(&Message{DF: 17, ICAO: 500}, t0.Add(40*time.Second)); !ok {
		t.Fatal("new aircraft refused after expiry")
	}
	if tr.Len() != 2 {
		t.Fatalf("len %d after expiry, want 2 (3 and 500)", tr.Len())
	}
	if n := tr.Expire(t0.Add(61 * time.Second)); n != 1 {
		t.Fatalf("expired %d, want 1", n)
	}
	if _, ok := tr.Get(3); ok {
		t.Fatal("aircraft 3 not expired")
	}
}

package fusion

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/label"
)

// t0 is the tests' base time: now, so that ages relative to the wall clock behave
// the same whenever the tests run.
var t0 = time.Now().UTC().Truncate(time.Minute)

func lbl(c label.Classification, rel ...string) label.Label {
	return label.Label{Classification: c, ReleasableTo: rel, Originator: "JPN"}
}

func newEngine(t *testing.T, sources map[string]label.Label) *Engine {
	t.Helper()
	e, err := New(Config{Nation: "JPN", NodeID: "n1", Sources: sources})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// mover is a target in a straight line from (lat0, lon0).
type mover struct {
	lat0, lon0, course, speed float64
}

func (m mover) at(s float64) (lat, lon float64) {
	f := newFrame(m.lat0, m.lon0)
	ve, vn := velocityENU(m.course, m.speed)
	return f.fromENU(ve*s, vn*s)
}

func plot(src string, l label.Label, at time.Time, lat, lon float64) Observation {
	return Observation{Source: src, Label: l, Time: at, Lat: lat, Lon: lon, Cov: [3]float64{60 * 60, 0, 60 * 60}}
}

func aisObs(l label.Label, mmsi uint64, at time.Time, lat, lon, course, speed float64) Observation {
	return Observation{Source: "ais", Label: l, Time: at, ID: Key{IDMMSI, mmsi}, Domain: DomainSea,
		Lat: lat, Lon: lon, HasVel: true, Course: course, Speed: speed}
}

// eventsByUID keeps the last event of each uid.
func eventsByUID(evs []*cot.Event) map[string]*cot.Event {
	m := map[string]*cot.Event{}
	for _, ev := range evs {
		m[ev.UID] = ev
	}
	return m
}

func TestFrameRoundTrip(t *testing.T) {
	// A track's plane is re-centred at every update, so it serves within a
	// few kilometres of its origin; there the round trip is exact to
	// centimetres (the plane drops the height, which grows as d²/2R).
	f := newFrame(34.5, 129.5)
	for _, p := range [][2]float64{{34.5, 129.5}, {34.53, 129.54}, {34.47, 129.45}, {34.55, 129.42}} {
		e, n := f.toENU(p[0], p[1])
		lat, lon := f.fromENU(e, n)
		if d := Distance(lat, lon, p[0], p[1]); d > 0.02 {
			t.Errorf("%v → (%.1f, %.1f) → %.8f, %.8f", p, e, n, lat, lon)
		}
		if d := math.Hypot(e, n); math.Abs(d-Distance(34.5, 129.5, p[0], p[1])) > 0.006*d+1 {
			t.Errorf("%v: plane distance %.1f, great circle %.1f", p, d, Distance(34.5, 129.5, p[0], p[1]))
		}
	}
}

func TestAssignMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for range 200 {
		n, m := 1+r.IntN(5), 1+r.IntN(5)
		c := make([][]float64, n)
		for i := range c {
			c[i] = make([]float64, m)
			for j := range c[i] {
				c[i][j] = math.Round(r.Float64() * 100)
			}
		}
		got := Assign(c)
		cost := func(a []int) float64 {
			s := 0.0
			for i, j := range a {
				if j >= 0 {
					s += c[i][j]
				}
			}
			return s
		}
		best := math.Inf(1)
		var rec func(i int, used []bool, a []int)
		rec = func(i int, used []bool, a []int) {
			if i == n {
				k := 0
				for _, j := range a {
					if j >= 0 {
						k++
					}
				}
				if k == min(n, m) {
					best = math.Min(best, cost(a))
				}
				return
			}
			a[i] = -1
			rec(i+1, used, a)
			for j := range m {
				if !used[j] {
					used[j] = true
					a[i] = j
					rec(i+1, used, a)
					used[j] = false
				}
			}
		}
		rec(0, make([]bool, m), make([]int, n))
		seen := map[int]bool{}
		for _, j := range got {
			if j >= 0 && seen[j] {
				t.Fatalf("column %d assigned twice: %v", j, got)
			}
			seen[j] = true
		}
		if cost(got) != best || len(seen) < min(n, m) && !seen[-1] {
			t.Fatalf("cost %v: got %v (%.0f), best %.0f", c, got, cost(got), best)
		}
	}
}

// TestRadarAndAISMerge: radar plots of an AIS ship join the ship's track,
// which then carries both sources and their combined label.
func TestRadarAndAISMerge(t *testing.T) {
	aisL := lbl(label.Unclassified, "JPN", "KOR", "USA")
	radL := lbl(label.Secret, "JPN", "USA")
	e := newEngine(t, map[string]label.Label{"ais": aisL, "radar": radL})
	ship := mover{34.5, 129.5, 60, 7}
	for k := range 24 {
		s := float64(k) * 5
		at := t0.Add(time.Duration(s) * time.Second)
		lat, lon := ship.at(s)
		if k%2 == 0 {
			e.Process([]Observation{aisObs(aisL, 440123456, at, lat, lon, 60, 7)})
		}
		plat, plon := ship.at(s + 2)
		e.Process([]Observation{plot("radar", radL, at.Add(2*time.Second), plat, plon)})
		e.Tick(at.Add(2 * time.Second))
	}
	var full *Track
	for _, tr := range e.Tracks() {
		if tr.Key.Kind == IDNone {
			t.Errorf("a radar-only track exists for the AIS ship: %+v", tr)
		}
		if slices.Equal(tr.Sources, []string{"ais", "radar"}) {
			full = &tr
		}
	}
	if full == nil {
		t.Fatalf("no track with both sources: %+v", e.Tracks())
	}
	want := label.Label{Classification: label.Secret, ReleasableTo: []string{"JPN", "USA"}, Originator: "JPN"}
	if !full.Label.Equal(want) {
		t.Errorf("label %+v, want %+v", full.Label, want)
	}
	lat, lon := ship.at(full.Time.Sub(t0).Seconds())
	if d := Distance(lat, lon, full.Lat, full.Lon); d > 60 {
		t.Errorf("fused position %.0f m off", d)
	}
	if math.Abs(full.Course-60) > 5 || math.Abs(full.Speed-7) > 1 {
		t.Errorf("velocity %.1f° %.1f m/s", full.Course, full.Speed)
	}
}

// TestViews: a partner sees the track built only from the sources released
// to it; the node's own nation at SECRET sees the one with its radar.
func TestViews(t *testing.T) {
	aisL := lbl(label.Unclassified, "JPN", "KOR", "USA")
	radL := lbl(label.Secret, "JPN")
	e := newEngine(t, map[string]label.Label{"ais": aisL, "radar-j": radL})
	ship := mover{34.5, 129.5, 100, 6}
	var evs []*cot.Event
	for k := range 20 {
		s := float64(k) * 5
		at := t0.Add(time.Duration(s) * time.Second)
		lat, lon := ship.at(s)
		e.Process([]Observation{aisObs(aisL, 431000001, at, lat, lon, 100, 6)})
		e.Process([]Observation{plot("radar-j", radL, at.Add(time.Second), lat, lon)})
		evs = append(evs, e.Tick(at.Add(time.Second))...)
	}
	last := eventsByUID(evs)
	for _, tc := range []struct {
		p       label.Principal
		sources []string // of each visible track
	}{
		{label.Principal{Nation: "USA", Clearance: label.TopSecret}, []string{"ais"}},
		{label.Principal{Nation: "KOR", Clearance: label.Secret}, []string{"ais"}},
		{label.Principal{Nation: "JPN", Clearance: label.Unclassified}, []string{"ais"}},
		{label.Principal{Nation: "JPN", Clearance: label.Secret}, []string{"ais", "ais radar-j"}},
		{label.Principal{Nation: "GBR", Clearance: label.TopSecret}, nil},
	} {
		var got []string
		for _, ev := range last {
			l, _, err := ev.ParseLabel()
			if err != nil {
				t.Fatal(err)
			}
			if ev.IsDelete() || !label.Releasable(tc.p, l) {
				continue
			}
			got = append(got, fusionAttr(t, ev, "sources"))
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.sources) {
			t.Errorf("%s sees tracks from %q, want %q", tc.p, got, tc.sources)
		}
	}
}

// fusionAttr returns an attribute of the event's __fusion element.
func fusionAttr(t *testing.T, ev *cot.Event, name string) string {
	t.Helper()
	d := string(ev.Detail)
	i := strings.Index(d, "<__fusion ")
	if i < 0 {
		t.Fatalf("event %s has no __fusion: %s", ev.UID, d)
	}
	d = d[i:]
	j := strings.Index(d, " "+name+`="`)
	if j < 0 {
		t.Fatalf("__fusion of %s has no %s: %s", ev.UID, name, d)
	}
	v := d[j+len(name)+3:]
	return v[:strings.IndexByte(v, '"')]
}

// TestDuplicateViewSuppressed: when the radar does not see the ship, the
// views hold identical tracks and only one is published.
func TestDuplicateViewSuppressed(t *testing.T) {
	aisL := lbl(label.Unclassified, "JPN", "USA")
	radL := lbl(label.Secret, "JPN")
	e := newEngine(t, map[string]label.Label{"ais": aisL, "radar-j": radL})
	var evs []*cot.Event
	for k := range 10 {
		at := t0.Add(time.Duration(k) * 3 * time.Second)
		lat, lon := mover{34, 130, 0, 5}.at(float64(k) * 3)
		e.Process([]Observation{aisObs(aisL, 431000002, at, lat, lon, 0, 5)})
		evs = append(evs, e.Tick(at)...)
	}
	uids := map[string]bool{}
	for _, ev := range evs {
		uids[ev.UID] = true
	}
	if len(uids) != 1 || !uids["n1.MMSI-431000002"] {
		t.Errorf("published uids %v, want only n1.MMSI-431000002", uids)
	}
}

// TestMofNAndClutter: a target confirms after M hits; scattered clutter
// never does; a confirmed track without updates is deleted with a
// t-x-d-d.
func TestMofNAndClutter(t *testing.T) {
	radL := lbl(label.Secret, "JPN")
	e := newEngine(t, map[string]label.Label{"radar": radL})
	r := rand.New(rand.NewPCG(7, 7))
	tgt := mover{34.5, 129.5, 45, 8}
	area := newFrame(34.5, 129.5)
	var evs []*cot.Event
	confirmedAt := -1
	for k := range 30 {
		s := float64(k) * 5
		at := t0.Add(time.Duration(s) * time.Second)
		var batch []Observation
		if k < 20 {
			lat, lon := tgt.at(s)
			batch = append(batch, plot("radar", radL, at, lat, lon))
		}
		for range 5 { // clutter within 50 km
			lat, lon := area.fromENU((r.Float64()-0.5)*1e5, (r.Float64()-0.5)*1e5)
			batch = append(batch, plot("radar", radL, at, lat, lon))
		}
		e.Process(batch)
		evs = append(evs, e.Tick(at)...)
		if confirmedAt < 0 && len(e.Tracks()) > 0 {
			confirmedAt = k
		}
		if k == 19 {
			if n := len(e.Tracks()); n != 1 {
				t.Fatalf("%d confirmed tracks, want 1 (clutter confirmed?): %+v", n, e.Tracks())
			}
		}
	}
	if confirmedAt != 2 {
		t.Errorf("confirmed at scan %d, want 2 (third hit)", confirmedAt)
	}
	if n := len(e.Tracks()); n != 0 {
		t.Errorf("%d tracks left after the target vanished", n)
	}
	var deleted bool
	for _, ev := range evs {
		if ev.IsDelete() {
			deleted = true
			if len(ev.Links) != 1 || !strings.HasPrefix(ev.Links[0].UID, "n1.T") {
				t.Errorf("delete event links %+v", ev.Links)
			}
		}
	}
	if !deleted {
		t.Error("no t-x-d-d for the deleted track")
	}
}

// TestPublishRateLimit: a track updated at 20 Hz is published at most
// once per PublishInterval (100 ms), and its events are well-formed CoT.
// (PublishDistance is 1 m here, so that every update would be due: at the
// default 50 m this aircraft is due every fifth update.)
func TestPublishRateLimit(t *testing.T) {
	l := lbl(label.Unclassified, "JPN")
	e := newEngine(t, map[string]label.Label{"adsb": l})
	e.cfg.PublishDistance = 1
	var evs []*cot.Event
	for k := range 100 { // 5 s
		at := t0.Add(time.Duration(k) * 50 * time.Millisecond)
		lat, lon := mover{35, 130, 270, 230}.at(float64(k) / 20)
		e.Process([]Observation{{Source: "adsb", Label: l, Time: at, ID: Key{IDICAO, 0x840123}, Domain: DomainAir,
			Lat: lat, Lon: lon, HasAlt: true, Alt: 10000, Callsign: "JAL5", HasVel: true, Course: 270, Speed: 230}})
		evs = append(evs, e.Tick(at)...)
	}
	if len(evs) < 49 || len(evs) > 51 {
		t.Fatalf("%d events in 5 s, want 50", len(evs))
	}
	for _, ev := range evs {
		b := ev.XML()
		back, err := cot.Decode(b)
		if err != nil {
			t.Fatalf("published event does not decode: %v\n%s", err, b)
		}
		if back.UID != "n1.ICAO-840123" || back.Type != "a-n-A-C" || back.Callsign != "JAL5" || back.How != "m-f" {
			t.Errorf("event %s %s %q %s", back.UID, back.Type, back.Callsign, back.How)
		}
		if math.IsNaN(back.Speed) || math.Abs(back.Speed-230) > 5 || math.Abs(back.Course-270) > 2 {
			t.Errorf("track course %.1f speed %.1f", back.Course, back.Speed)
		}
		if back.Point.HAE != 10000 {
			t.Errorf("hae %v", back.Point.HAE)
		}
	}
}

func TestCoTTypes(t *testing.T) {
	e := newEngine(t, map[string]label.Label{})
	for _, tc := range []struct {
		tr   track
		want string
	}{
		{track{key: Key{IDMMSI, 1}, domain: DomainSea}, "a-n-S"},
		{track{key: Key{IDMMSI, 1}, domain: DomainSea, military: true}, "a-u-S"},
		{track{key: Key{IDICAO, 1}, domain: DomainAir}, "a-n-A-C"},
		{track{key: Key{IDICAO, 1}, domain: DomainAir, aff: 'h'}, "a-h-A"},
		{track{key: Key{IDNone, 1}, domain: DomainAir}, "a-u-A"},
		{track{key: Key{IDNone, 1}, domain: DomainSea}, "a-u-S"},
		{track{key: Key{IDICAO, 1}, domain: DomainGround}, "a-n-G"},
	} {
		if got := e.cotType(&tc.tr); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.tr.key, got, tc.want)
		}
	}
}

func TestUnknownSourceAndQueue(t *testing.T) {
	l := lbl(label.Unclassified, "JPN")
	e, err := New(Config{Nation: "JPN", NodeID: "n", Sources: map[string]label.Label{"a": l}, Queue: 1})
	if err != nil {
		t.Fatal(err)
	}
	e.Process([]Observation{{Source: "nobody", Time: t0, ID: Key{IDMMSI, 5}, Lat: 34, Lon: 130}})
	if s := e.Stats(); s.UnknownSrc != 1 || len(e.Tracks()) != 0 {
		t.Errorf("stats %+v tracks %d", s, len(e.Tracks()))
	}
	if !e.Submit([]Observation{{Source: "a"}}) || e.Submit([]Observation{{Source: "a"}, {Source: "a"}}) {
		t.Error("Submit should accept one batch and refuse the next on a queue of one")
	}
	if s := e.Stats(); s.Dropped != 2 {
		t.Errorf("dropped %d, want 2", s.Dropped)
	}
	if _, err := New(Config{Nation: "JPN", NodeID: "n", Sources: map[string]label.Label{"bad": {}}}); err == nil {
		t.Error("a source with an invalid label was accepted")
	}
}

// TestPublishWhenPictureWouldBeOff: a slow ship is republished when it has
// moved 50 m, a moored one at the heartbeat, and a new contributor (a new
// label) is published at once.
func TestPublishWhenPictureWouldBeOff(t *testing.T) {
	aisL := lbl(label.Unclassified, "JPN", "USA")
	radL := lbl(label.Secret, "JPN")
	e := newEngine(t, map[string]label.Label{"ais": aisL, "radar": radL})
	slow := mover{34, 130, 90, 3}    // 3 m/s: 50 m in about 17 s
	moored := mover{34.2, 130, 0, 0} // never moves
	pubs := map[string][]float64{}
	for k := range 46 { // 90 s, a report every 2 s
		s := float64(k) * 2
		at := t0.Add(time.Duration(s) * time.Second)
		lat, lon := slow.at(s)
		e.Process([]Observation{aisObs(aisL, 431000020, at, lat, lon, 90, 3)})
		mlat, mlon := moored.at(s)
		e.Process([]Observation{aisObs(aisL, 431000021, at, mlat, mlon, 0, 0)})
		if k == 30 { // the radar sees the moored ship at 60 s
			e.Process([]Observation{plot("radar", radL, at, mlat, mlon)})
		}
		for _, ev := range e.Tick(at) {
			pubs[ev.UID] = append(pubs[ev.UID], s)
		}
	}
	gaps := func(ts []float64) []float64 {
		var g []float64
		for i := 1; i < len(ts); i++ {
			g = append(g, ts[i]-ts[i-1])
		}
		return g
	}
	for _, g := range gaps(pubs["n1.MMSI-431000020"]) {
		if g < 16 || g > 20 {
			t.Errorf("slow ship published at %v: gaps should be 16–20 s", pubs["n1.MMSI-431000020"])
			break
		}
	}
	if got := pubs["n1.MMSI-431000021"]; !slices.Equal(got, []float64{0, 30, 60, 90}) {
		t.Errorf("moored ship published at %v, want every 30 s", got)
	}
	if got := pubs["n1.MMSI-431000021.v1"]; len(got) == 0 || got[0] != 60 {
		t.Errorf("the radar's view of the moored ship published at %v, want from 60 s", got)
	}
}

// TestInsaneObservations: values no sensor can report are refused and
// counted; a clock ahead of the receiver is clamped.
func TestInsaneObservations(t *testing.T) {
	l := lbl(label.Unclassified, "JPN")
	e := newEngine(t, map[string]label.Label{"s": l})
	now := t0
	good := func() Observation {
		return Observation{Source: "s", Label: l, Time: now, Received: now, ID: Key{IDICAO, 1}, Lat: 35, Lon: 135}
	}
	var bad []Observation
	for _, f := range []func(*Observation){
		func(o *Observation) { o.Lat = 999 },
		func(o *Observation) { o.Lon = math.NaN() },
		func(o *Observation) { o.HasAlt, o.Alt = true, math.Inf(1) },
		func(o *Observation) { o.HasVel, o.Speed = true, 5000 },
		func(o *Observation) { o.Cov = [3]float64{math.NaN(), 0, 1} },
		func(o *Observation) { o.Time = now.Add(-time.Hour) },
	} {
		o := good()
		f(&o)
		bad = append(bad, o)
	}
	e.Process(bad)
	if s := e.Stats(); s.Invalid != uint64(len(bad)) || len(e.Tracks()) != 0 {
		t.Fatalf("invalid %d of %d, tracks %d", s.Invalid, len(bad), len(e.Tracks()))
	}
	ahead := good()
	ahead.Time = now.Add(time.Hour)
	e.Process([]Observation{ahead})
	if tr := e.Tracks(); len(tr) != 1 || !tr[0].Time.Equal(now) {
		t.Errorf("a clock ahead: tracks %+v", tr)
	}
}

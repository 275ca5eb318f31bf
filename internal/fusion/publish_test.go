package fusion

import (
	"context"
	"strings"
	"testing"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/label"
)

// airObs is a Mode S position of aircraft 0x840123 flying west at 230 m/s,
// s seconds after t0.
func airObs(l label.Label, s float64) Observation {
	lat, lon := mover{35, 130, 270, 230}.at(s)
	return Observation{Source: "adsb", Label: l, Time: t0.Add(time.Duration(s * float64(time.Second))), ID: Key{IDICAO, 0x840123},
		Domain: DomainAir, Lat: lat, Lon: lon, HasAlt: true, Alt: 10000, HasVel: true, Course: 270, Speed: 230}
}

// updated returns the <__fusion updated> time of a track event.
func updated(t *testing.T, ev *cot.Event) time.Time {
	t.Helper()
	d := string(ev.Detail)
	i := strings.Index(d, ` updated="`)
	if i < 0 {
		t.Fatalf("no updated attribute in %s", d)
	}
	d = d[i+len(` updated="`):]
	at, err := time.Parse(time.RFC3339Nano, d[:strings.IndexByte(d, '"')])
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// TestRunPublishesOnChange: with a tick that never fires, Run publishes a
// track as soon as its observation is applied.
func TestRunPublishesOnChange(t *testing.T) {
	l := lbl(label.Unclassified, "JPN")
	got := make(chan *cot.Event, 16)
	e, err := New(Config{Nation: "JPN", NodeID: "n1", Sources: map[string]label.Label{"adsb": l}, TickInterval: time.Hour,
		Publish: func(_ context.Context, ev *cot.Event) error { got <- ev; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	o := airObs(l, 0)
	o.Time, o.Received = time.Now(), time.Now()
	if !e.Submit([]Observation{o}) {
		t.Fatal("submit refused")
	}
	select {
	case ev := <-got:
		if ev.UID != "n1.ICAO-840123" {
			t.Errorf("published %s", ev.UID)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the track was not published on its observation (only a tick would have)")
	}
}

// TestPublishChangedInterval: PublishChanged publishes a track on its
// first observation, holds changes within the publish interval (100 ms),
// publishes a held change as soon as the interval has passed, with or
// without a new observation, and then with the newest state; an
// observation after the interval is published at once. (PublishDistance
// is 1 m here: at 230 m/s the aircraft would otherwise not be due within
// 100 ms of its last publication.)
func TestPublishChangedInterval(t *testing.T) {
	l := lbl(label.Unclassified, "JPN")
	e := newEngine(t, map[string]label.Label{"adsb": l})
	e.cfg.PublishDistance = 1
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	var clock time.Time
	e.clock = func() time.Time { return clock }
	steps := []struct {
		name string
		obs  float64 // observation at, seconds; < 0: none
		now  float64
		tick bool // Run's tick instead of PublishChanged
		want float64
	}{
		{"first observation at once", 0, 0, false, 0},
		{"held within the interval", 0.04, 0.04, false, -1},
		{"still held", -1, 0.09, false, -1},
		{"held change published when the interval has passed", -1, 0.10, false, 0.04},
		{"observation after the interval at once", 0.25, 0.25, false, 0.25},
		{"held again", 0.30, 0.30, false, -1},
		{"tick leaves a track that is still reporting", -1, 0.32, true, -1},
		{"superseded while held", 0.33, 0.33, false, -1},
		{"newest state when the interval has passed", -1, 0.35, false, 0.33},
		{"nothing more to publish", -1, 0.60, false, -1},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.obs >= 0 {
				clock = at(st.obs)
				e.Process([]Observation{airObs(l, st.obs)})
			}
			var evs []*cot.Event
			if st.tick {
				evs = e.tick(at(st.now), true, 0, 1, e.cfg.PublishInterval)
			} else {
				evs = e.PublishChanged(at(st.now))
			}
			if st.want < 0 {
				if len(evs) != 0 {
					t.Fatalf("%d events, want none", len(evs))
				}
				return
			}
			if len(evs) != 1 {
				t.Fatalf("%d events, want 1", len(evs))
			}
			if u := updated(t, evs[0]); !u.Equal(at(st.want)) {
				t.Errorf("published the state of %v, want %v", u.Sub(t0), at(st.want).Sub(t0))
			}
		})
	}
}

// TestPublishChangedConfirms: a radar-only track is confirmed and
// published by the observation that gives it M of N hits, not by a tick.
func TestPublishChangedConfirms(t *testing.T) {
	l := lbl(label.Unclassified, "JPN")
	e := newEngine(t, map[string]label.Label{"radar": l})
	m := mover{34, 131, 45, 10}
	for k := range 3 {
		s := float64(k) * 5
		lat, lon := m.at(s)
		at := t0.Add(time.Duration(s) * time.Second)
		e.Process([]Observation{plot("radar", l, at, lat, lon)})
		evs := e.PublishChanged(at)
		if k < 2 && len(evs) != 0 {
			t.Fatalf("scan %d: %d events for a tentative track", k, len(evs))
		}
		if k == 2 && len(evs) != 1 {
			t.Fatalf("scan %d: %d events, want the confirmed track", k, len(evs))
		}
	}
}

// TestPublishChangedMerges: a radar-only track confirmed before the
// ship's AIS reports begin is merged into the AIS track without a full
// Tick: by PublishChanged while its plots keep coming, or by Run's tick
// once they join the AIS track instead and it goes quiet.
func TestPublishChangedMerges(t *testing.T) {
	aisL := lbl(label.Unclassified, "JPN")
	radL := lbl(label.Unclassified, "JPN")
	e := newEngine(t, map[string]label.Label{"ais": aisL, "radar": radL})
	var clock time.Time
	e.clock = func() time.Time { return clock }
	ship := mover{34.5, 129.5, 60, 7}
	anon := ""
	deleted := false
	for k := range 12 {
		s := float64(k) * 5
		at := t0.Add(time.Duration(s) * time.Second)
		clock = at
		lat, lon := ship.at(s)
		if k >= 3 {
			e.Process([]Observation{aisObs(aisL, 440123457, at, lat, lon, 60, 7)})
		}
		e.Process([]Observation{plot("radar", radL, at, lat, lon)})
		evs := e.PublishChanged(at)
		// Run's tick, a whole pass, 2 s later.
		evs = append(evs, e.tick(at.Add(2*time.Second), true, 0, 1, e.cfg.PublishInterval)...)
		for _, ev := range evs {
			if strings.HasPrefix(ev.UID, "n1.T") && ev.Type != "t-x-d-d" && anon == "" {
				anon = ev.UID
			}
			if ev.UID == anon && ev.Type == "t-x-d-d" {
				deleted = true
			}
		}
	}
	if anon == "" {
		t.Fatal("the radar-only track was never published")
	}
	if !deleted {
		t.Errorf("the radar-only track %s was not deleted by a merge", anon)
	}
	for _, tr := range e.Tracks() {
		if tr.Key.Kind == IDNone {
			t.Errorf("a radar-only track remains: %s", tr.UID)
		}
	}
	if s := e.Stats(); s.Merged == 0 {
		t.Errorf("no merge counted: %+v", s)
	}
}

// TestReceivedAttribute: a track event carries, beside the measurement
// time of its newest observation (updated), when the node received its
// newest observation (received), so that a client can tell a sensor's own
// delay from the node's; an observation received later but measured
// earlier (a radar plot behind a Mode S position) moves received, not
// updated.
func TestReceivedAttribute(t *testing.T) {
	l := lbl(label.Unclassified, "JPN")
	e := newEngine(t, map[string]label.Label{"adsb": l})
	e.cfg.PublishDistance = 1
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	attr := func(t *testing.T, ev *cot.Event, name string) string {
		t.Helper()
		d := string(ev.Detail)
		i := strings.Index(d, " "+name+`="`)
		if i < 0 {
			t.Fatalf("no %s attribute in %s", name, d)
		}
		d = d[i+len(name)+3:]
		return d[:strings.IndexByte(d, '"')]
	}
	steps := []struct {
		name                  string
		measured, received    float64
		now                   float64
		wantUpdated, wantRecv float64
	}{
		{"in order", 0, 0.2, 0.2, 0, 0.2},
		{"newer", 1, 1.1, 1.1, 1, 1.1},
		{"measured earlier, received later", 0.9, 1.5, 1.5, 1, 1.5},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			o := airObs(l, st.measured)
			o.Received = at(st.received)
			e.clock = func() time.Time { return at(st.now) }
			e.Process([]Observation{o})
			evs := e.PublishChanged(at(st.now))
			if len(evs) != 1 {
				t.Fatalf("%d events, want 1", len(evs))
			}
			if u := updated(t, evs[0]); !u.Equal(at(st.wantUpdated)) {
				t.Errorf("updated %v, want %v", u.Sub(t0), at(st.wantUpdated).Sub(t0))
			}
			if got, want := attr(t, evs[0], "received"), at(st.wantRecv).UTC().Format("2006-01-02T15:04:05.000Z"); got != want {
				t.Errorf("received %s, want %s", got, want)
			}
		})
	}
}

package hub

import (
	"context"
	"fmt"
	"testing"
	"time"

	"kizuna/internal/label"
)

// track builds a fused-track message at (lat, lon): Regional and Latest.
func track(uid string, l label.Label, lat, lon float64) *Message {
	m := msg(uid, l, 0)
	m.Event.Point.Lat, m.Event.Point.Lon = lat, lon
	m.Regional, m.Latest = true, true
	return m
}

func TestRegionalScope(t *testing.T) {
	secret := label.Label{Classification: label.Secret, Originator: "JPN", ReleasableTo: []string{"JPN"}}
	h := New(16)
	type sub struct {
		name   string
		p      string
		scope  Scope
		centre bool
		want   []string
	}
	// Tracks: "near" 50 km north of (38.5, 129.7), "far" 300 km east,
	// "antimeridian" near a centre at 179.9°E; "plain" is not Regional.
	subs := []sub{
		{"default scope gets every track", "JPN:SECRET", ScopeAll, false, []string{"near", "far", "plain"}},
		{"area without a centre gets no track", "JPN:SECRET", ScopeArea, false, []string{"plain"}},
		{"area gets the tracks inside it", "JPN:SECRET", ScopeArea, true, []string{"near", "plain"}},
		{"none gets no track", "JPN:SECRET", ScopeNone, false, []string{"plain"}},
		{"the label policy still decides", "USA:SECRET", ScopeAll, false, nil},
	}
	ss := make([]*Subscriber, len(subs))
	for i, c := range subs {
		ss[i] = h.Subscribe(principal(c.p), FormatXML, Options{})
		if c.scope != ScopeAll {
			ss[i].SetScope(c.scope, 100_000)
		}
		if c.centre {
			if !ss[i].SetCentre(38.5, 129.7) {
				t.Fatal("first centre not reported as first")
			}
			if ss[i].SetCentre(38.5, 129.71) {
				t.Fatal("a second centre reported as first")
			}
		}
	}
	h.Publish(track("near", secret, 38.5+50_000/metresPerDegree, 129.7))
	h.Publish(track("far", secret, 38.5, 129.7+300_000/(metresPerDegree*0.7826)))
	h.Publish(msg("plain", secret, 0))
	for i, c := range subs {
		t.Run(c.name, func(t *testing.T) {
			if got := drain(t, ss[i]); fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
	if h.Stats.OutOfScope.Load() == 0 {
		t.Error("out-of-scope deliveries not counted")
	}
}

func TestRegionContains(t *testing.T) {
	cases := []struct {
		name     string
		lat, lon float64
		plat     float64
		plon     float64
		want     bool
	}{
		{"centre", 38.5, 129.7, 38.5, 129.7, true},
		{"99 km north", 38.5, 129.7, 38.5 + 99_000/metresPerDegree, 129.7, true},
		{"101 km north", 38.5, 129.7, 38.5 + 101_000/metresPerDegree, 129.7, false},
		{"across the antimeridian", 10, 179.9, 10, -179.9, true},
		{"near the pole", 89.9, 0, 89.95, 180, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRegion(ScopeArea, 100_000, true, c.lat, c.lon)
			if got := r.contains(c.plat, c.plon); got != c.want {
				t.Errorf("contains = %v, want %v", got, c.want)
			}
		})
	}
}

// TestLatestReplacesQueued: a queued state of a uid is replaced by a newer
// one in place; once written, the next state queues again.
func TestLatestReplacesQueued(t *testing.T) {
	l := label.Label{Classification: label.Unclassified, Originator: "JPN"}
	h := New(16)
	s := h.Subscribe(principal("JPN:U"), FormatXML, Options{})
	a1, b, a2, a3 := track("a", l, 1, 2), track("b", l, 1, 2), track("a", l, 1, 2), track("a", l, 1, 2)
	plain1, plain2 := msg("p", l, 0), msg("p", l, 0)
	for _, m := range []*Message{a1, b, plain1, a2, plain2, a3} {
		h.Publish(m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	got, err := s.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []*Message{a3, b, plain1, plain2}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("queue %v, want %v (a replaced in place, other messages kept)", got, want)
	}
	if r := h.Stats.Replaced.Load(); r != 2 {
		t.Errorf("replaced %d, want 2", r)
	}
	a4 := track("a", l, 1, 2)
	h.Publish(a4)
	got, err = s.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != a4 {
		t.Errorf("after the write, queue %v, want the new state alone", got)
	}
}

// TestLatestAfterFlash: flash traffic inserted ahead of a queued state
// moves it; a newer state still replaces it and the flash stays first.
func TestLatestAfterFlash(t *testing.T) {
	l := label.Label{Classification: label.Unclassified, Originator: "JPN"}
	h := New(16)
	s := h.Subscribe(principal("JPN:U"), FormatXML, Options{})
	a1, a2 := track("a", l, 1, 2), track("a", l, 1, 2)
	f := msg("f", l, 0)
	f.Flash = true
	h.Publish(a1)
	h.Publish(f)
	h.Publish(a2)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	got, err := s.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []*Message{f, a2}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("queue %v, want %v", got, want)
	}
}

func TestReplayInScope(t *testing.T) {
	l := label.Label{Classification: label.Unclassified, Originator: "JPN"}
	h := New(16)
	s := h.Subscribe(principal("JPN:U"), FormatXML, Options{})
	s.SetScope(ScopeArea, 10_000)
	s.SetCentre(1, 2)
	s.EnqueueReplay([]*Message{track("in", l, 1, 2), track("out", l, 5, 5), msg("plain", l, 0)})
	if got, want := drain(t, s), []string{"in", "plain"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("replay %v, want %v", got, want)
	}
}

package cyber

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"kizuna/internal/label"
	"kizuna/internal/stix"
)

func TestSightingsBatchPerCategoryAndSource(t *testing.T) {
	var got [][]json.RawMessage
	s, err := NewSightings(SightingsConfig{NodeID: "jpn-node", Nation: "JPN", Store: func(_ context.Context, objs []json.RawMessage) error {
		got = append(got, objs)
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i := 0; i < 100; i++ { // a flood from one source
		s.Observe(SecurityEvent{Category: "rate_limited", Message: "event dropped", Remote: "192.0.2.7:4000", Time: now})
	}
	s.Observe(SecurityEvent{Category: "tls_refused", Message: "TLS handshake refused", Remote: "[2001:db8::1]:443", Time: now})
	s.Observe(SecurityEvent{Category: "tls_refused", Message: "TLS handshake refused", Remote: "not an address", Time: now})
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("%d batches", len(got))
	}
	counts := map[string]int{}
	var flood map[string]any
	for _, raw := range got[0] {
		o, err := stix.Validate(raw)
		if err != nil {
			t.Fatalf("invalid object %s: %v", raw, err)
		}
		counts[o.Type]++
		if o.Type == "sighting" {
			var m map[string]any
			json.Unmarshal(raw, &m)
			if strings.Contains(m["description"].(string), "192.0.2.7") {
				flood = m
			}
		}
	}
	// One identity, two attack patterns, three sightings, two sources
	// (IPv4 and IPv6) with their observed data.
	want := map[string]int{"identity": 1, "attack-pattern": 2, "sighting": 3, "ipv4-addr": 1, "ipv6-addr": 1, "observed-data": 2}
	for k, v := range want {
		if counts[k] != v {
			t.Errorf("%s: %d, want %d (all: %v)", k, counts[k], v, counts)
		}
	}
	if flood == nil || flood["count"].(float64) != 100 {
		t.Fatalf("the flood is not one sighting with count 100: %v", flood)
	}
	if err := s.Flush(context.Background()); err != nil || len(got) != 1 {
		t.Fatal("an empty flush stored something")
	}
}

func TestEffectsFollowLabels(t *testing.T) {
	e := NewEffects()
	obj := func(modified, uid string) *stix.Object {
		raw := `{"type":"incident","spec_version":"2.1","id":"incident--dddddddd-dddd-4ddd-8ddd-dddddddddddd","created":"2026-01-01T00:00:00Z","modified":"` + modified + `","name":"x","x_kizuna_affected_uids":["` + uid + `"]}`
		o, err := stix.Validate([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	rel := label.Label{Classification: label.Secret, ReleasableTo: []string{"JPN", "USA"}, Originator: "JPN"}
	e.Observe(obj("2026-01-02T00:00:00Z", "unit-b"), rel)
	e.Observe(obj("2026-01-01T00:00:00Z", "unit-a"), rel) // older, arrives late: ignored
	if got := e.For(label.Principal{Nation: "USA", Clearance: label.Secret}); len(got) != 1 || got[0].UID != "unit-b" {
		t.Fatalf("USA: %+v", got)
	}
	for _, p := range []label.Principal{{Nation: "KOR", Clearance: label.TopSecret}, {Nation: "USA", Clearance: label.Confidential}} {
		if got := e.For(p); len(got) != 0 {
			t.Fatalf("%s sees %+v", p, got)
		}
	}
}

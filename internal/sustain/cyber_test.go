package sustain

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"kizuna/internal/label"
)

// cyberStatus is a CyberStatus set by the test.
type cyberStatus struct {
	mu sync.Mutex
	m  map[string][]label.Label
}

func (c *cyberStatus) Labels(uid string) []label.Label {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.m[uid])
}

// TestCyberLowersReadiness: a unit with an active cyber effect is rated
// at best AMBER with the reason given, its readiness carries the effect's
// label (so a nation the effect is not released to no longer sees the
// rating), and the rating recovers when the effect goes.
func TestCyberLowersReadiness(t *testing.T) {
	now := time.Now()
	cs := &cyberStatus{m: map[string][]label.Label{}}
	s := newService(t, Config{Now: func() time.Time { return now }, Cyber: cs})
	battery(t, s)
	kor := label.Principal{Nation: "KOR", Clearance: label.Secret}
	if b := find(s.Readiness(usaP), "ddg"); b == nil || b.Colour != Green {
		t.Fatalf("ship before: %+v", b)
	}
	if find(s.Readiness(kor), "ddg") == nil {
		t.Fatal("KOR does not see the ship's readiness before")
	}
	cs.mu.Lock()
	cs.m["ddg"] = []label.Label{{Classification: label.Secret, ReleasableTo: []string{"JPN", "USA"}, Originator: "USA"}}
	cs.mu.Unlock()
	b := find(s.Readiness(usaP), "ddg")
	if b == nil || b.Colour != Amber || !slices.ContainsFunc(b.Reasons, func(r string) bool { return strings.Contains(r, "cyber") }) {
		t.Fatalf("ship with a cyber effect: %+v", b)
	}
	if b.Label.Classification != label.Secret || slices.Contains(b.Label.ReleasableTo, "KOR") {
		t.Fatalf("the rating does not carry the effect's label: %+v", b.Label)
	}
	if bde := find(s.Readiness(usaP), "bde"); bde == nil || bde.Rollup != Amber {
		t.Fatalf("brigade roll-up: %+v", bde)
	}
	if find(s.Readiness(kor), "ddg") != nil {
		t.Fatal("KOR sees a rating that reveals an effect not released to it")
	}
	cs.mu.Lock()
	delete(cs.m, "ddg")
	cs.mu.Unlock()
	if b := find(s.Readiness(usaP), "ddg"); b == nil || b.Colour != Green {
		t.Fatalf("ship after the effect: %+v", b)
	}
}

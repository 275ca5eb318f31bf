package fusion

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/label"
)

var nations = []string{"USA", "JPN", "KOR", "GBR", "AUS"}

// mayReceive is the test's own statement of the rule for fused data, kept
// apart from package label: a principal may receive a track only if it may
// receive every contributor, that is its clearance is at least the
// contributor's classification and its nation is the originator (the
// fusing node's nation, JPN) or among the contributor's releasability.
func mayReceive(p label.Principal, contributor label.Label) bool {
	if p.Clearance < contributor.Classification {
		return false
	}
	if p.Nation == contributor.Originator {
		return true
	}
	for _, n := range contributor.ReleasableTo {
		if n == p.Nation {
			return true
		}
	}
	return false
}

// TestLabelCombinationProperty: with random contributor labels, no
// published track is released more widely than its most restrictive
// contributor, and every principal that may see some source reporting an
// object sees a track of that object.
func TestLabelCombinationProperty(t *testing.T) {
	for seed := range uint64(60) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { labelProperty(t, seed) })
	}
}

func labelProperty(t *testing.T, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 99))
	nsrc := 2 + r.IntN(4)
	sources := map[string]label.Label{}
	names := make([]string, nsrc)
	for i := range nsrc {
		var rel []string
		for _, n := range nations {
			if r.IntN(2) == 0 {
				rel = append(rel, n)
			}
		}
		names[i] = fmt.Sprintf("s%d", i)
		sources[names[i]] = label.Label{Classification: label.Classification(1 + r.IntN(4)), ReleasableTo: rel, Originator: "JPN"}
	}
	e := newEngine(t, sources)
	// Three ships with AIS identities and one dark ship; each source sees
	// a random subset. Identity sources report MMSIs; the others are radars
	// that report plots.
	type obj struct {
		m    mover
		mmsi uint64
	}
	objs := []obj{{mover{34.1, 129.1, 90, 6}, 431000010}, {mover{34.3, 129.4, 180, 5}, 431000011},
		{mover{34.6, 129.8, 300, 7}, 431000012}, {mover{34.9, 129.2, 45, 6}, 0}}
	isRadar := map[string]bool{}
	sees := map[string][]bool{}
	for _, n := range names {
		isRadar[n] = r.IntN(2) == 0
		for range objs {
			sees[n] = append(sees[n], r.IntN(3) > 0)
		}
	}
	var evs []*cot.Event
	for k := range 16 {
		s := float64(k) * 5
		for si, n := range names {
			at := t0.Add(time.Duration(s*1000+float64(si)*300) * time.Millisecond)
			var batch []Observation
			for oi, o := range objs {
				if !sees[n][oi] {
					continue
				}
				lat, lon := o.m.at(at.Sub(t0).Seconds())
				if isRadar[n] || o.mmsi == 0 {
					batch = append(batch, plot(n, sources[n], at, lat, lon))
				} else {
					ob := aisObs(sources[n], o.mmsi, at, lat, lon, o.m.course, o.m.speed)
					ob.Source = n
					batch = append(batch, ob)
				}
			}
			e.Process(batch)
		}
		evs = append(evs, e.Tick(t0.Add(time.Duration(s+2)*time.Second))...)
	}
	published := eventsByUID(evs)
	if len(published) == 0 {
		t.Fatal("nothing published")
	}
	for _, ev := range published {
		l, ok, err := ev.ParseLabel()
		if err != nil || !ok {
			t.Fatalf("event %s label: %v", ev.UID, err)
		}
		srcs := strings.Fields(fusionAttrOrDelete(t, ev))
		for _, nat := range nations {
			for c := label.Unclassified; c <= label.TopSecret; c++ {
				p := label.Principal{Nation: nat, Clearance: c}
				if !label.Releasable(p, l) {
					continue
				}
				for _, s := range srcs {
					if !mayReceive(p, sources[s]) {
						t.Errorf("%s may receive %s (label %s, sources %v) but not its contributor %s (%s)",
							p, ev.UID, l.Marking(), srcs, s, sources[s].Marking())
					}
				}
			}
		}
	}
	// Every principal sees a track of each identified object that some
	// source visible to it reports.
	for oi, o := range objs {
		if o.mmsi == 0 {
			continue
		}
		id := Key{IDMMSI, o.mmsi}.String()
		for _, nat := range nations {
			for c := label.Unclassified; c <= label.TopSecret; c++ {
				p := label.Principal{Nation: nat, Clearance: c}
				entitled := false
				for _, n := range names {
					if !isRadar[n] && sees[n][oi] && mayReceive(p, sources[n]) {
						entitled = true
					}
				}
				got := slices.ContainsFunc(slices.Collect(mapValues(published)), func(ev *cot.Event) bool {
					l, _, _ := ev.ParseLabel()
					return !ev.IsDelete() && strings.Contains(ev.UID, id) && label.Releasable(p, l)
				})
				if entitled && !got {
					t.Errorf("%s may see a source reporting %s but receives no track of it", p, id)
				}
			}
		}
	}
}

func fusionAttrOrDelete(t *testing.T, ev *cot.Event) string {
	if ev.IsDelete() {
		return ""
	}
	return fusionAttr(t, ev, "sources")
}

func mapValues[K comparable, V any](m map[K]V) func(func(V) bool) {
	return func(yield func(V) bool) {
		for _, v := range m {
			if !yield(v) {
				return
			}
		}
	}
}

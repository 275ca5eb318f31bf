package cluster

import (
	"fmt"
	"strings"
	"testing"

	"kizuna/internal/label"
)

// match reports whether a NATS subject matches a filter (* one token, >
// the rest).
func match(filter, subject string) bool {
	f, s := strings.Split(filter, "."), strings.Split(subject, ".")
	for i, t := range f {
		if t == ">" {
			return len(s) > i
		}
		if i >= len(s) || (t != "*" && t != s[i]) {
			return false
		}
	}
	return len(f) == len(s)
}

// TestNationFilters: for every label over a node's nations and one
// outside them, and every set of nations an instance may serve, the
// event's subject matches at most one of the instance's filters, and one
// exactly when the policy releases it to a nation the instance serves at
// a level it is cleared for.
func TestNationFilters(t *testing.T) {
	nations := []string{"JPN", "KOR", "USA"}
	all := []string{"JPN", "KOR", "USA", "AUS"}
	var labels []label.Label
	for _, orig := range all {
		for mask := range 1 << len(all) {
			for _, cl := range []label.Classification{label.Unclassified, label.Secret, label.TopSecret} {
				l := label.Label{Classification: cl, Originator: orig}
				for i, n := range all {
					if mask&(1<<i) != 0 {
						l.ReleasableTo = append(l.ReleasableTo, n)
					}
				}
				labels = append(labels, l)
			}
			labels = append(labels, label.Label{Classification: label.Secret, Originator: orig, Caveat: "NOFORN", ReleasableTo: all})
		}
	}
	serves := [][]string{{"KOR"}, {"JPN", "USA"}, {"USA", "KOR", "JPN"}, {"AUS"}, {"AUS", "KOR"}, nil}
	for _, serve := range serves {
		for _, top := range []label.Classification{label.Unclassified, label.Secret, label.TopSecret} {
			t.Run(fmt.Sprintf("%v-%v", serve, top), func(t *testing.T) {
				b := newBus(t, Config{MaxClearance: top, Nations: nations, Serve: serve})
				filters := b.Filters()
				for _, l := range labels {
					subj := b.Subject(l)
					if _, err := levelFromSubject(subj); err != nil {
						t.Fatalf("levelFromSubject(%q): %v", subj, err)
					}
					n := 0
					for _, f := range filters {
						if match(f, subj) {
							n++
						}
					}
					want := false
					for _, nat := range serve {
						want = want || label.Releasable(label.Principal{Nation: nat, Clearance: top}, l)
					}
					if serve == nil {
						want = l.Classification <= top
					}
					if n > 1 {
						t.Errorf("%+v: subject %s matches %d filters %v", l, subj, n, filters)
					}
					if want && n == 0 {
						t.Errorf("%+v: releasable to %v but subject %s matches none of %v", l, serve, subj, filters)
					}
					listed := serve != nil
					for _, nat := range serve {
						listed = listed && nat != "AUS"
					}
					if listed && n == 1 && !want {
						t.Errorf("%+v: not releasable to %v, yet consumed by %v", l, serve, filters)
					}
					if n == 1 && l.Classification > top {
						t.Errorf("%+v: above the instance's clearance %v, consumed", l, top)
					}
				}
			})
		}
	}
}

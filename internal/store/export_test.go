package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"kizuna/internal/label"
)

// TestExportHistoryMatchesPolicy checks that the SQL pre-filter never hides
// a row the policy releases, and that nothing the policy denies comes out.
func TestExportHistoryMatchesPolicy(t *testing.T) {
	s := openStore(t, Config{})
	classes := []label.Classification{label.Invalid, label.Unclassified, label.Confidential, label.Secret, label.TopSecret}
	rels := [][]string{nil, {"JPN"}, {"JPN", "KOR"}, {"KOR", "USA"}, {"AUS", "JPN", "KOR", "USA"}, {"JPNX"}}
	origins := []string{"", "USA", "JPN", "KOR"}
	var all []Object
	for _, c := range classes {
		for _, r := range rels {
			for _, o := range origins {
				obj := obj(fmt.Sprintf("u%d", len(all)), o, len(all))
				obj.Label = label.Label{Classification: c, ReleasableTo: r, Originator: o}
				all = append(all, obj)
				s.Put(obj)
			}
		}
	}
	mustFlush(t, s)

	principals := []label.Principal{{}, {Nation: "JPN"}}
	for _, n := range []string{"USA", "JPN", "KOR", "AUS", "GBR"} {
		for _, c := range classes[1:] {
			principals = append(principals, label.Principal{Nation: n, Clearance: c})
		}
	}
	for _, p := range principals {
		t.Run(p.String(), func(t *testing.T) {
			var want, got []string
			for _, o := range all {
				if label.Releasable(p, o.Label) {
					want = append(want, o.UID)
				}
			}
			err := s.ExportHistory(context.Background(), p, time.Time{}, time.Time{}, func(o Object) error {
				got = append(got, o.UID)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("exported %v, policy releases %v", got, want)
			}
		})
	}
}

func TestExportHistoryWindowAndStop(t *testing.T) {
	s := openStore(t, Config{})
	p := label.Principal{Nation: "JPN", Clearance: label.Secret}
	s.Put(obj("a", "JPN", 1))
	mustFlush(t, s)
	mid := time.Now()
	for mid.Equal(time.Now()) {
	}
	s.Put(obj("b", "JPN", 2))
	s.Put(obj("c", "JPN", 3))
	mustFlush(t, s)

	export := func(since, until time.Time) []string {
		t.Helper()
		var got []string
		if err := s.ExportHistory(context.Background(), p, since, until, func(o Object) error {
			got = append(got, o.UID)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	tests := []struct {
		name         string
		since, until time.Time
		want         []string
	}{
		{"everything", time.Time{}, time.Time{}, []string{"a", "b", "c"}},
		{"before mid", time.Time{}, mid, []string{"a"}},
		{"from mid", mid, time.Time{}, []string{"b", "c"}},
		{"empty window", mid, mid, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := export(tc.since, tc.until); !slices.Equal(got, tc.want) {
				t.Errorf("exported %v, want %v", got, tc.want)
			}
		})
	}

	stop := errors.New("enough")
	n := 0
	err := s.ExportHistory(context.Background(), p, time.Time{}, time.Time{}, func(Object) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("ExportHistory with a failing callback = %v after %d rows; want the callback's error after 1", err, n)
	}
}

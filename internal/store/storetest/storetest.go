// Package storetest is the one test suite every storage backend
// (store.Backend) must pass: the embedded SQLite store and the PostgreSQL
// store run the same cases, so the node behaves the same on either.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"kizuna/internal/label"
	"kizuna/internal/store"
)

// Opener opens (or reopens) one backend at one fixed place: calling it
// twice in a test opens the same database. The suite closes what it opens.
type Opener func() (store.Backend, error)

// Run runs the suite. newPlace is called once per subtest and returns an
// opener for a fresh, empty database.
func Run(t *testing.T, newPlace func(t *testing.T) Opener) {
	t.Helper()
	cases := []struct {
		name string
		fn   func(t *testing.T, open Opener)
	}{
		{"PutFlushReopen", testPutFlushReopen},
		{"DeleteKeepsOwnerAndHistory", testDelete},
		{"FirstOwnerStays", testFirstOwner},
		{"HistorySinceLimit", testHistory},
		{"ClaimExactlyOneWinner", testClaim},
		{"ExportHistoryPolicy", testExport},
		{"CloseFlushesPending", testCloseFlushes},
		{"EmptyUIDIgnored", testEmptyUID},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, newPlace(t)) })
	}
}

func open(t *testing.T, o Opener) store.Backend {
	t.Helper()
	b, err := o()
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

var t0 = time.Now().UTC().Truncate(time.Second).Add(123456789)

// Obj builds a test object of uid owned by nation at t0+sec.
func Obj(uid, nation string, sec int) store.Object {
	tm := t0.Add(time.Duration(sec) * time.Second)
	return store.Object{
		UID: uid, Type: "a-f-G-U-C", Owner: nation,
		Label: label.Label{Classification: label.Secret, ReleasableTo: []string{"JPN", "KOR"}, Caveat: "TEST", Originator: nation},
		Time:  tm, Stale: tm.Add(5 * time.Minute),
		Lat: 35.6 + float64(sec)/1000, Lon: 139.7, HAE: 12.5, Callsign: uid + "-cs",
		XML: fmt.Appendf(nil, `<event version="2.0" uid=%q type="a-f-G-U-C"/>`, uid),
	}
}

var equate = cmpopts.EquateEmpty()

func flush(t *testing.T, b store.Backend) {
	t.Helper()
	if err := b.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

func objects(t *testing.T, b store.Backend) []store.Object {
	t.Helper()
	got, err := b.Objects(context.Background())
	if err != nil {
		t.Fatalf("Objects: %v", err)
	}
	return got
}

func owners(t *testing.T, b store.Backend) map[string]string {
	t.Helper()
	got, err := b.Owners(context.Background())
	if err != nil {
		t.Fatalf("Owners: %v", err)
	}
	return got
}

func history(t *testing.T, b store.Backend, uid string, since time.Time, limit int) []store.Object {
	t.Helper()
	got, err := b.History(context.Background(), uid, since, limit)
	if err != nil {
		t.Fatalf("History: %v", err)
	}
	return got
}

func testPutFlushReopen(t *testing.T, o Opener) {
	b := open(t, o)
	a1, a2, c := Obj("a", "JPN", 1), Obj("a", "JPN", 2), Obj("c", "KOR", 3)
	c.Label = label.Label{Classification: label.Unclassified, Originator: "KOR"}
	b.Put(a1)
	b.Put(a2)
	b.Put(c)
	if err := b.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	flush(t, b)
	want := []store.Object{a2, c}
	if d := cmp.Diff(want, objects(t, b), equate); d != "" {
		t.Errorf("Objects (-want +got):\n%s", d)
	}
	if st := b.Stats(); st.Flushes == 0 || st.FlushedHistory != 3 {
		t.Errorf("Stats = %+v, want >=1 flush and 3 history rows", st)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	b2 := open(t, o)
	if d := cmp.Diff(want, objects(t, b2), equate); d != "" {
		t.Errorf("after reopen, Objects (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]store.Object{a1, a2}, history(t, b2, "a", time.Time{}, 0), equate); d != "" {
		t.Errorf("after reopen, History (-want +got):\n%s", d)
	}
}

func testDelete(t *testing.T, o Opener) {
	b := open(t, o)
	b.Put(Obj("a", "JPN", 1))
	flush(t, b)
	b.Delete("a")
	flush(t, b)
	if got := objects(t, b); len(got) != 0 {
		t.Errorf("Objects after delete = %v, want none", got)
	}
	if got := owners(t, b); got["a"] != "JPN" {
		t.Errorf("owner after delete = %q, want JPN", got["a"])
	}
	if got := history(t, b, "a", time.Time{}, 0); len(got) != 1 {
		t.Errorf("history after delete has %d rows, want 1", len(got))
	}
}

func testFirstOwner(t *testing.T, o Opener) {
	b := open(t, o)
	b.Put(Obj("x", "JPN", 1))
	b.Put(Obj("x", "USA", 2)) // same batch
	flush(t, b)
	b.Put(Obj("x", "KOR", 3)) // later batch
	flush(t, b)
	if got := owners(t, b)["x"]; got != "JPN" {
		t.Errorf("owner = %q, want the first, JPN", got)
	}
	got, err := b.Claim(context.Background(), "x", "USA")
	if err != nil || got != "JPN" {
		t.Errorf("Claim of owned uid = %q, %v; want JPN", got, err)
	}
}

func testHistory(t *testing.T, o Opener) {
	b := open(t, o)
	var all []store.Object
	for i := range 5 {
		x := Obj("h", "JPN", i)
		all = append(all, x)
		b.Put(x)
	}
	nh := Obj("h", "JPN", 9)
	nh.NoHistory = true
	b.Put(nh)
	flush(t, b)
	tests := []struct {
		name  string
		since time.Time
		limit int
		want  []store.Object
	}{
		{"all", time.Time{}, 0, all},
		{"since", all[2].Time, 0, all[2:]},
		{"limit", time.Time{}, 2, all[:2]},
		{"since and limit", all[1].Time, 3, all[1:4]},
		{"after the last", all[4].Time.Add(time.Second), 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if d := cmp.Diff(tc.want, history(t, b, "h", tc.since, tc.limit), equate); d != "" {
				t.Errorf("History (-want +got):\n%s", d)
			}
		})
	}
	if got := objects(t, b); len(got) != 1 || !got[0].Time.Equal(nh.Time) {
		t.Errorf("live object = %v, want the NoHistory put", got)
	}
}

// testClaim races claims of fresh uids from two handles on the same
// database (two instances) and several goroutines each: exactly one owner
// wins, and every claimant is told the same winner.
func testClaim(t *testing.T, o Opener) {
	b1, b2 := open(t, o), open(t, o)
	nations := []string{"JPN", "USA", "KOR", "AUS"}
	for u := range 10 {
		uid := fmt.Sprintf("claim-%d", u)
		var mu sync.Mutex
		seen := map[string]int{}
		var wg sync.WaitGroup
		for i, n := range nations {
			b := b1
			if i%2 == 1 {
				b = b2
			}
			wg.Go(func() {
				got, err := b.Claim(context.Background(), uid, n)
				if err != nil {
					t.Errorf("Claim(%s, %s): %v", uid, n, err)
					return
				}
				mu.Lock()
				seen[got]++
				mu.Unlock()
			})
		}
		wg.Wait()
		if len(seen) != 1 {
			t.Fatalf("%s: claimants saw owners %v, want one", uid, seen)
		}
		for winner := range seen {
			if owners(t, b1)[uid] != winner || owners(t, b2)[uid] != winner {
				t.Errorf("%s: stored owner differs from the winner %s", uid, winner)
			}
		}
	}
	if _, err := b1.Claim(context.Background(), "", "JPN"); err == nil {
		t.Error("Claim of empty uid succeeded")
	}
}

func testExport(t *testing.T, o Opener) {
	b := open(t, o)
	labels := []label.Label{
		{Classification: label.Unclassified, Originator: "JPN"},
		{Classification: label.Secret, Originator: "JPN", ReleasableTo: []string{"KOR"}},
		{Classification: label.Confidential, Originator: "USA", ReleasableTo: []string{"JPN", "KOR"}},
		{Classification: label.TopSecret, Originator: "KOR"},
		{Classification: label.Confidential, Originator: "USA"},
	}
	for i, l := range labels {
		x := Obj(fmt.Sprintf("e%d", i), l.Originator, i)
		x.Label = l
		b.Put(x)
	}
	flush(t, b)
	principals := []label.Principal{
		{Nation: "JPN", Clearance: label.Secret},
		{Nation: "KOR", Clearance: label.Confidential},
		{Nation: "KOR", Clearance: label.TopSecret},
		{Nation: "USA", Clearance: label.Unclassified},
		{},
	}
	for _, p := range principals {
		t.Run(p.String(), func(t *testing.T) {
			var want, got []string
			for i, l := range labels {
				if label.Releasable(p, l) {
					want = append(want, fmt.Sprintf("e%d", i))
				}
			}
			err := b.ExportHistory(context.Background(), p, time.Time{}, time.Time{}, func(x store.Object) error {
				got = append(got, x.UID)
				return nil
			})
			if err != nil {
				t.Fatalf("ExportHistory: %v", err)
			}
			sort.Strings(got)
			if d := cmp.Diff(want, got, equate); d != "" {
				t.Errorf("exported uids (-policy +got):\n%s", d)
			}
			// ExportPositions: the same rows, positions and labels, no XML.
			var pos []string
			err = b.ExportPositions(context.Background(), p, time.Time{}, time.Time{}, func(x store.Object) error {
				if len(x.XML) != 0 {
					t.Errorf("%s: positions carry XML", x.UID)
				}
				if !label.Releasable(p, x.Label) || x.Lat == 0 && x.Lon == 0 {
					t.Errorf("%s: label %v, position %v,%v", x.UID, x.Label, x.Lat, x.Lon)
				}
				pos = append(pos, x.UID)
				return nil
			})
			if err != nil {
				t.Fatalf("ExportPositions: %v", err)
			}
			sort.Strings(pos)
			if d := cmp.Diff(want, pos, equate); d != "" {
				t.Errorf("exported positions (-policy +got):\n%s", d)
			}
		})
	}
}

func testCloseFlushes(t *testing.T, o Opener) {
	b, err := o()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	b.Put(Obj("p", "JPN", 1))
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, store.ErrClosed) {
		t.Errorf("Run: %v", err)
	}
	b2 := open(t, o)
	if got := objects(t, b2); len(got) != 1 || got[0].UID != "p" {
		t.Errorf("after Close and reopen, Objects = %v, want p", got)
	}
}

func testEmptyUID(t *testing.T, o Opener) {
	b := open(t, o)
	b.Put(store.Object{})
	b.Delete("")
	flush(t, b)
	if got := objects(t, b); len(got) != 0 {
		t.Errorf("Objects = %v, want none", got)
	}
}

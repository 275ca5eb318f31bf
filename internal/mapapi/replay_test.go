package mapapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"kizuna/internal/cop"
	"kizuna/internal/cot"
	"kizuna/internal/label"
	"kizuna/internal/store"
)

type replayAnswer struct {
	Rows   [][6]float64 `json:"rows"`
	Tracks [][4]string  `json:"tracks"`
	Labels []struct {
		Classification string   `json:"classification"`
		ReleasableTo   []string `json:"releasableTo"`
		Originator     string   `json:"originator"`
		Caveat         string   `json:"caveat"`
	} `json:"labels"`
	Truncated bool `json:"truncated"`
}

func replayService(t *testing.T, rows []store.Object, max int) *Service {
	t.Helper()
	svc, err := New(Config{
		Picture: cop.New(), Ingest: func(context.Context, label.Principal, *cot.Event) error { return nil },
		History: func(ctx context.Context, p label.Principal, since, until time.Time, fn func(store.Object) error) error {
			// Like a store that narrows nothing: every row, the policy
			// left to the service.
			for _, o := range rows {
				if err := fn(o); err != nil {
					return err
				}
			}
			return nil
		},
		MaxReplayRows: max,
	})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func TestReplayAnswer(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	rel := label.Label{Classification: label.Secret, Originator: "USA", ReleasableTo: []string{"JPN"}}
	usaOnly := label.Label{Classification: label.Secret, Originator: "USA"}
	noforn := label.Label{Classification: label.Secret, Originator: "USA", ReleasableTo: []string{"JPN"}, Caveat: label.NoForn}
	ts := label.Label{Classification: label.TopSecret, Originator: "USA", ReleasableTo: []string{"JPN"}}
	row := func(uid string, sec int, l label.Label, lat float64) store.Object {
		at := t0.Add(time.Duration(sec) * time.Second)
		return store.Object{UID: uid, Type: "a-f-G-U-C-I", Callsign: "CS " + uid, Label: l, Time: at, Stale: at.Add(time.Minute), Lat: lat, Lon: 129}
	}
	rows := []store.Object{
		row("a", 0, rel, 34.0), row("a", 10, rel, 34.1), row("a", 20, rel, 34.2), // one minute bucket: first and last kept
		row("a", 70, rel, 34.3), row("a", 80, rel, 34.4), // next bucket: its first, and the window's last
		row("usa", 0, usaOnly, 35), row("nf", 0, noforn, 36), row("ts", 0, ts, 37),
		row("b", 5, rel, 33.5),
	}
	p := label.Principal{Nation: "JPN", Clearance: label.Secret}
	tests := []struct {
		name  string
		step  int64
		max   int
		lats  map[string][]float64
		trunc bool
	}{
		{"every row", 0, 0, map[string][]float64{"a": {34, 34.1, 34.2, 34.3, 34.4}, "b": {33.5}}, false},
		{"thinned to a minute, last row kept", 60_000, 0, map[string][]float64{"a": {34, 34.3, 34.4}, "b": {33.5}}, false},
		{"truncated", 0, 2, map[string][]float64{"a": {34, 34.1}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc := replayService(t, rows, tc.max)
			w := httptest.NewRecorder()
			svc.writeReplay(w, httptest.NewRequest("GET", "/api/v1/replay", nil), p, t0, t0.Add(time.Hour), tc.step)
			var a replayAnswer
			if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
				t.Fatalf("answer does not parse: %v\n%s", err, w.Body)
			}
			got := map[string][]float64{}
			for _, r := range a.Rows {
				tr := a.Tracks[int(r[0])]
				l := a.Labels[int(r[5])]
				if l.Originator != "USA" || len(l.ReleasableTo) != 1 || l.ReleasableTo[0] != "JPN" || l.Caveat != "" || l.Classification != "SECRET" {
					t.Errorf("row of %s under label %+v", tr[0], l)
				}
				if tr[1] != "a-f-G-U-C-I" || tr[2] == "" || tr[3] != "CS "+tr[0] {
					t.Errorf("track %v", tr)
				}
				if r[2]-r[1] != 60_000 {
					t.Errorf("stale %v - time %v", r[2], r[1])
				}
				got[tr[0]] = append(got[tr[0]], r[3])
			}
			if len(got) != len(tc.lats) {
				t.Errorf("uids %v, want %v", got, tc.lats)
			}
			for uid, want := range tc.lats {
				if len(got[uid]) != len(want) {
					t.Errorf("%s: %v, want %v", uid, got[uid], want)
					continue
				}
				for i := range want {
					if got[uid][i] != want[i] {
						t.Errorf("%s: %v, want %v", uid, got[uid], want)
					}
				}
			}
			if a.Truncated != tc.trunc {
				t.Errorf("truncated %v", a.Truncated)
			}
		})
	}
}

func TestReplayHistoryError(t *testing.T) {
	svc, err := New(Config{
		Picture: cop.New(), Ingest: func(context.Context, label.Principal, *cot.Event) error { return nil },
		History: func(context.Context, label.Principal, time.Time, time.Time, func(store.Object) error) error {
			return errors.New("disk on fire")
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	now := time.Now()
	svc.writeReplay(w, httptest.NewRequest("GET", "/", nil), label.Principal{Nation: "JPN", Clearance: label.Secret}, now.Add(-time.Hour), now, 0)
	if w.Code != 500 {
		t.Fatalf("status %d, want 500", w.Code)
	}
}

package mapapi

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"testing"
	"time"

	"kizuna/internal/cop"
	"kizuna/internal/cot"
	"kizuna/internal/label"
	"kizuna/internal/store"
	"kizuna/internal/taktest/cputime"
)

// replayStore fills a store with uids × reports history rows spread over
// the hour before now, as a node's history holds them, labelled SECRET
// releasable to JPN; every fifth uid is USA only.
func replayStore(tb testing.TB, uids, reports int, now time.Time) *store.Store {
	tb.Helper()
	st, err := store.Open(store.Config{Dir: tb.TempDir(), MaxPending: uids*reports + 1})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	xml := []byte(`<event version="2.0" uid="x" type="a-f-G-U-C-I" how="m-g" time="2026-01-01T00:00:00Z" start="2026-01-01T00:00:00Z" stale="2026-01-01T00:10:00Z" access="SECRET" releasableTo="JPN"><point lat="34" lon="129" hae="0" ce="10" le="10"/><detail><contact callsign="UNIT"/><__group name="Cyan" role="Team Member"/><track course="90" speed="10"/><__origin nation="USA" node="usa-1"/></detail></event>`)
	for k := 0; k < reports; k++ {
		at := now.Add(-time.Hour + time.Duration(k)*time.Hour/time.Duration(reports))
		for i := 0; i < uids; i++ {
			l := label.Label{Classification: label.Secret, Originator: "USA", ReleasableTo: []string{"JPN"}}
			if i%5 == 0 {
				l.ReleasableTo = nil
			}
			st.Put(store.Object{
				UID: fmt.Sprintf("unit-%d", i), Type: "a-f-G-U-C-I", Owner: "USA", Label: l,
				Time: at, Stale: at.Add(10 * time.Minute), Lat: 34 + float64(i%100)*0.01, Lon: 129 + float64(i/100)*0.01,
				Callsign: fmt.Sprintf("UNIT %d", i), XML: xml,
			})
		}
		if err := st.Flush(context.Background()); err != nil {
			tb.Fatal(err)
		}
	}
	return st
}

// BenchmarkReplayHour: the replay of an hour of 5,000 objects reporting
// every five minutes (60,000 rows, 48,000 released to JPN), as the map asks
// for it (step one minute), read from SQLite and encoded.
func BenchmarkReplayHour(b *testing.B) {
	now := time.Now()
	st := replayStore(b, 5000, 12, now)
	svc, err := New(Config{
		Picture: cop.New(), Ingest: func(context.Context, label.Principal, *cot.Event) error { return nil },
		History: historyOf(st),
	})
	if err != nil {
		b.Fatal(err)
	}
	p := label.Principal{Nation: "JPN", Clearance: label.Secret}
	r := httptest.NewRequest("GET", "/api/v1/replay", nil)
	var bytes int64
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cputime.Process()
	for b.Loop() {
		w := httptest.NewRecorder()
		svc.writeReplay(w, r, p, now.Add(-time.Hour-time.Minute), now.Add(time.Minute), time.Minute.Milliseconds())
		if w.Code != 200 {
			b.Fatalf("status %d", w.Code)
		}
		bytes = int64(w.Body.Len())
		io.Copy(io.Discard, w.Body)
	}
	b.ReportMetric(float64(bytes), "bytes/answer")
	// CPU time per answer: the cost, whatever else the machine runs.
	b.ReportMetric(float64(cputime.Process()-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
}

func historyOf(st *store.Store) HistoryFunc {
	return st.ExportPositions
}

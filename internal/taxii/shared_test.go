package taxii

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"kizuna/internal/clustertest"
	"kizuna/internal/label"
	"kizuna/internal/pgstore"
	"kizuna/internal/taktest/cputime"
)

// newSharedServer is a server on the PostgreSQL at pgURL (migrated by
// pgstore), as an instance of a cluster runs it.
func newSharedServer(tb testing.TB, pgURL string) *Server {
	tb.Helper()
	pg, err := pgstore.Open(context.Background(), pgstore.Config{URL: pgURL})
	if err != nil {
		tb.Fatal(err)
	}
	s, err := New(Config{
		Shared:      func() *sql.DB { return stdlib.OpenDBFromPool(pg.Pool()) },
		Collections: []Collection{{ID: "c1", Title: "one", Read: []string{"*"}, Write: []string{"*"}}},
		Principal: func(r *http.Request) (label.Principal, bool) {
			p, err := label.ParsePrincipal(r.Header.Get("X-Test-Principal"))
			return p, err == nil
		},
	})
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		s.Stop(context.Background())
		pg.Close()
	})
	return s
}

func ind(id int, modified string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--d0000000-0000-4000-8000-%012d","created":"2026-01-01T00:00:00.000Z","modified":"%s","pattern":"[ipv4-addr:value = '10.0.0.1']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}`, id, modified))
}

// TestSharedStoreTwoServers runs two servers (two instances of a cluster)
// on one PostgreSQL: what one stores the other lists under the same label
// filter; the same version stored by both at once is stored once; of two
// versions stored at once by each, each id has one last version;
// date_added stays unique; a deletion moves the clock.
func TestSharedStoreTwoServers(t *testing.T) {
	pgURL := clustertest.Postgres(t)
	a, b := newSharedServer(t, pgURL), newSharedServer(t, pgURL)
	ctx := context.Background()
	jpn := label.Principal{Nation: "JPN", Clearance: label.Secret}
	const n = 30
	present := make([]int, 2)
	var wg sync.WaitGroup
	for k, s := range []*Server{a, b} {
		wg.Go(func() {
			for i := range n {
				st, err := s.Add(ctx, "c1", jpn, []json.RawMessage{ind(i, "2026-01-01T00:00:00.000Z"), ind(i, fmt.Sprintf("2026-01-0%dT00:00:00.000Z", 2+k))}, nil)
				if err != nil || st.FailureCount > 0 {
					t.Errorf("server %d: %v %+v", k, err, st)
					return
				}
				for _, d := range st.Successes {
					if d.Message == "already present" {
						present[k]++
					}
				}
			}
		})
	}
	wg.Wait()
	if got := present[0] + present[1]; got != n {
		t.Errorf("%d versions already present, want %d", got, n)
	}
	for k, s := range []*Server{a, b} {
		d, _ := s.store()
		recs, _, err := d.find(ctx, jpn, query{coll: "c1", types: []string{"indicator"}, versions: []string{"last"}, limit: MaxPage})
		if err != nil {
			t.Fatal(err)
		}
		last := map[string][]string{}
		for _, r := range recs {
			last[r.id] = append(last[r.id], r.version)
		}
		if len(last) != n {
			t.Errorf("server %d: %d ids, want %d", k, len(last), n)
		}
		for id, v := range last {
			if !slices.Equal(v, []string{"2026-01-03T00:00:00.000Z"}) {
				t.Errorf("server %d: last versions of %s: %v", k, id, v)
			}
		}
		all, _, err := d.find(ctx, jpn, query{coll: "c1", types: []string{"indicator"}, versions: []string{"all"}, limit: MaxPage})
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 3*n {
			t.Errorf("server %d: %d versions, want %d", k, len(all), 3*n)
		}
		added := map[int64]bool{}
		for _, r := range all {
			if added[r.added] {
				t.Errorf("server %d: date_added %d twice", k, r.added)
			}
			added[r.added] = true
		}
	}
	// Labels across servers: stored on a, read on b.
	hs := httptest.NewServer(b)
	defer hs.Close()
	secretJPN := label.Label{Classification: label.Secret, ReleasableTo: []string{"JPN"}}
	if st, err := a.Add(ctx, "c1", jpn, []json.RawMessage{ind(1000, "2026-01-01T00:00:00.000Z")}, &AddOptions{Label: &secretJPN}); err != nil || st.FailureCount > 0 {
		t.Fatal(err, st)
	}
	for _, tc := range []struct {
		p    label.Principal
		want bool
	}{
		{jpn, true},
		{label.Principal{Nation: "JPN", Clearance: label.Unclassified}, false},
		{label.Principal{Nation: "USA", Clearance: label.TopSecret}, false},
	} {
		t.Run(tc.p.String(), func(t *testing.T) {
			code, body := get(t, hs, tc.p, "/taxii2/kizuna/collections/c1/objects/indicator--d0000000-0000-4000-8000-000000001000/")
			if got := code == http.StatusOK; got != tc.want {
				t.Errorf("GET on b: %d %s, want visible %v", code, body, tc.want)
			}
		})
	}
	c0, err := b.Clock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if k, err := a.DeleteFederated(ctx, "c1", label.Label{Classification: label.Secret, Originator: "JPN", ReleasableTo: []string{"JPN"}}, "indicator--d0000000-0000-4000-8000-000000001000", ""); err != nil || k != 1 {
		t.Fatalf("delete on a: %d %v", k, err)
	}
	if c1, _ := b.Clock(ctx); c1.Deletions != c0.Deletions+1 {
		t.Errorf("deletions %d → %d, want one more", c0.Deletions, c1.Deletions)
	}
}

// BenchmarkIngestPostgres is BenchmarkIngest on the cluster's
// PostgreSQL (cluster mode) instead of SQLite.
func BenchmarkIngestPostgres(b *testing.B) {
	s := newSharedServer(b, clustertest.Postgres(b))
	p := label.Principal{Nation: "JPN", Clearance: label.Secret}
	const batch = 1000
	envs := make([][]json.RawMessage, b.N)
	for i := range envs {
		envs[i] = benchObjects(i*batch, batch)
	}
	b.ResetTimer()
	start, cpu0 := time.Now(), cputime.Process()
	for i := 0; i < b.N; i++ {
		st, err := s.Add(context.Background(), "c1", p, envs[i], nil)
		if err != nil || st.SuccessCount != batch {
			b.Fatalf("%v %+v", err, st.Failures)
		}
	}
	b.ReportMetric(float64(b.N*batch)/time.Since(start).Seconds(), "objects/s")
	if cpu := cputime.Process() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*batch), "cpu-µs/object")
	}
}

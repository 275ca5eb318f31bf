package taxii

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"kizuna/internal/label"
	"kizuna/internal/stix"
	"kizuna/internal/taktest/cputime"
)

func benchObjects(start, n int) []json.RawMessage {
	out := make([]json.RawMessage, n)
	for i := range out {
		k := start + i
		out[i] = json.RawMessage(fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--%08x-%04x-4000-8000-000000000000","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"host %d","pattern":"[ipv4-addr:value = '10.%d.%d.%d'] AND [domain-name:value = 'h%d.example']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z","labels":["malicious-activity"]}`,
			k, k>>32&0xffff, k, k>>16&0xff, k>>8&0xff, k&0xff, k))
	}
	return out
}

// BenchmarkIngest measures validated, durable ingest: envelopes of 1,000
// indicators (each validated, its pattern parsed, labelled, stamped and
// committed to SQLite with synchronous=FULL before Add returns).
func BenchmarkIngest(b *testing.B) {
	s, _ := newTestServer(b)
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

// BenchmarkIngestSmall measures ingest of small envelopes (10
// indicators) posted by 16 concurrent clients: each Add is durable before
// it returns, and the group commit shares one transaction and one sync
// among the Adds waiting at the time.
func BenchmarkIngestSmall(b *testing.B) {
	for _, group := range []bool{true, false} {
		name := "group-commit"
		if !group {
			name = "commit-per-add"
		}
		b.Run(name, func(b *testing.B) {
			old := groupCommit
			groupCommit = group
			defer func() { groupCommit = old }()
			benchIngestSmall(b)
		})
	}
}

func benchIngestSmall(b *testing.B) {
	s, _ := newTestServer(b)
	p := label.Principal{Nation: "JPN", Clearance: label.Secret}
	const batch = 10
	var next atomic.Int64
	b.SetParallelism(8) // × GOMAXPROCS clients
	b.ResetTimer()
	start, cpu0 := time.Now(), cputime.Process()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			k := int(next.Add(1))
			st, err := s.Add(context.Background(), "c1", p, benchObjects(k*batch, batch), nil)
			if err != nil || st.SuccessCount != batch {
				b.Errorf("%v %+v", err, st)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N*batch)/time.Since(start).Seconds(), "objects/s")
	if cpu := cputime.Process() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*batch), "cpu-µs/object")
	}
}

// seedStore writes n indicators straight into the store of s, in one
// transaction (no validation: this builds a large store for the query
// benchmark fast). Three in four are SECRET releasable to JPN and USA,
// one in four SECRET JPN only; all originate from JPN.
func seedStore(tb testing.TB, s *Server, coll string, n int) {
	tb.Helper()
	d, err := s.store()
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	w, err := d.begin(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	defer w.rollback()
	shared := label.Label{Classification: label.Secret, ReleasableTo: []string{"JPN", "USA"}, Originator: "JPN"}
	national := label.Label{Classification: label.Secret, ReleasableTo: []string{"JPN"}, Originator: "JPN"}
	now := time.Now().Add(-time.Hour)
	const chunk = 10000
	for i := 0; i < n; i += chunk {
		for j, raw := range benchObjects(i, min(chunk, n-i)) {
			l := shared
			if (i+j)%4 == 0 {
				l = national
			}
			o := &stix.Object{Raw: raw}
			if err := stamp(o, []string{stix.MarkingID(l)}); err != nil {
				tb.Fatal(err)
			}
			id := fmt.Sprintf("indicator--%08x-%04x-4000-8000-000000000000", i+j, (i+j)>>32&0xffff)
			r := &record{coll: coll, id: id, typ: "indicator", spec: "2.1", version: "2026-01-01T00:00:00.000Z",
				nver: stix.NormVersion("2026-01-01T00:00:00.000Z"), added: d.nextAdded(now), lbl: l, body: o.Raw}
			if err := w.insert(ctx, r, false, false); err != nil {
				tb.Fatal(err)
			}
		}
	}
	for _, l := range []label.Label{shared, national} {
		if err := s.storeMarking(ctx, d, w, coll, l, now); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.commit(); err != nil {
		tb.Fatal(err)
	}
}

// TestBenchQuery measures GET objects with added_after and limit=1000 over
// a store of KIZUNA_TAXII_BENCH_N objects (skipped unless set), for three
// principals: JPN (sees every object), USA (three in four: the rest are
// withheld) and KOR (none: every row is withheld). It prints p50 and p99
// over 200 requests each, and the CPU time per request.
func TestBenchQuery(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("KIZUNA_TAXII_BENCH_N"))
	if n <= 0 {
		t.Skip("set KIZUNA_TAXII_BENCH_N to run")
	}
	s, hs := newTestServer(t)
	t0 := time.Now()
	seedStore(t, s, "c1", n)
	d, _ := s.store()
	var first, last int64
	d.sql.QueryRow(`SELECT MIN(added), MAX(added) FROM taxii_objects`).Scan(&first, &last)
	t.Logf("seeded %d objects in %v", n, time.Since(t0))
	for _, p := range []label.Principal{{Nation: "JPN", Clearance: label.Secret}, {Nation: "USA", Clearance: label.Secret}, {Nation: "KOR", Clearance: label.Secret}} {
		rng := rand.New(rand.NewPCG(1, 2))
		var lat []time.Duration
		got := 0
		cpu0 := cputime.Process()
		const reqs = 200
		for i := 0; i < reqs; i++ {
			after := first + rng.Int64N(max(1, last-first-1))
			req, _ := http.NewRequest("GET", hs.URL+"/taxii2/kizuna/collections/c1/objects/?limit=1000&added_after="+FormatDateAdded(after), nil)
			req.Header.Set("Accept", MediaTAXII)
			req.Header.Set("X-Test-Principal", p.Nation+":"+p.Clearance.String())
			t1 := time.Now()
			resp, err := hs.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			lat = append(lat, time.Since(t1))
			got += bytes.Count(body, []byte(`"type":"indicator"`))
		}
		cpu := cputime.Process() - cpu0
		slices.Sort(lat)
		t.Logf("%s: GET objects added_after+limit=1000 over %d objects: p50=%v p99=%v max=%v; %d objects per page on average; CPU per request (server and client in this process) %v",
			p.Nation, n, lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1], got/reqs, cpu/reqs)
	}
}

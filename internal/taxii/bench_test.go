package taxii

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
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

// TestBenchQuery measures GET objects with added_after and limit=1000 over
// a store of KIZUNA_TAXII_BENCH_N objects (skipped unless set), visible
// to the principal in the proportion the labels give (one object in four
// is withheld from it). It prints p50 and p99 over 200 requests.
func TestBenchQuery(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("KIZUNA_TAXII_BENCH_N"))
	if n <= 0 {
		t.Skip("set KIZUNA_TAXII_BENCH_N to run")
	}
	s, hs := newTestServer(t)
	poster := label.Principal{Nation: "JPN", Clearance: label.Secret}
	rel := label.Label{Classification: label.Secret, ReleasableTo: []string{"JPN", "USA"}}
	mark := json.RawMessage(stix.MarkingDefinition(rel))
	const batch = 5000
	t0 := time.Now()
	var first, last int64
	for i := 0; i < n; i += batch {
		objs := benchObjects(i, min(batch, n-i))
		for j := range objs {
			if (i+j)%4 != 0 { // three in four released to USA
				var m map[string]any
				json.Unmarshal(objs[j], &m)
				m["object_marking_refs"] = []string{stix.MarkingID(rel)}
				objs[j], _ = json.Marshal(m)
			}
		}
		st, err := s.Add(context.Background(), "c1", poster, append([]json.RawMessage{mark}, objs...), nil)
		if err != nil || st.FailureCount != 0 {
			t.Fatalf("%v %+v", err, st.Failures)
		}
	}
	d, _ := s.store()
	d.sql.QueryRow(`SELECT MIN(added), MAX(added) FROM taxii_objects`).Scan(&first, &last)
	t.Logf("built %d objects in %v (%.0f objects/s)", n, time.Since(t0), float64(n)/time.Since(t0).Seconds())
	usa := label.Principal{Nation: "USA", Clearance: label.Secret}
	rng := rand.New(rand.NewPCG(1, 2))
	var lat []time.Duration
	cpu0 := cputime.Process()
	for i := 0; i < 200; i++ {
		after := first + rng.Int64N(max(1, last-first-1))
		req, _ := http.NewRequest("GET", hs.URL+"/taxii2/kizuna/collections/c1/objects/?limit=1000&added_after="+FormatDateAdded(after), nil)
		req.Header.Set("Accept", MediaTAXII)
		req.Header.Set("X-Test-Principal", usa.Nation+":"+usa.Clearance.String())
		t1 := time.Now()
		resp, err := hs.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		lat = append(lat, time.Since(t1))
	}
	cpu := cputime.Process() - cpu0
	slices.Sort(lat)
	t.Logf("CPU per request (server and client in this process): %v", cpu/200)
	t.Logf("GET objects added_after+limit=1000 over %d objects: p50=%v p99=%v max=%v", n, lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1])
}

package sustain

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"
)

// TestLedgerScale is the benchmark of BENCHMARKS.md. It runs only with
// KIZUNA_SUSTAIN_BENCH=1 (it writes a million movements):
//
//	KIZUNA_SUSTAIN_BENCH=1 go test -run TestLedgerScale -v -timeout 30m ./internal/sustain/
//
// It measures durable ingest in batches (one transaction per batch),
// the p99 of a balance look-up by item and location with 1M movements in
// the ledger, the replay on reopen, and the readiness roll-up of a
// 500-unit order of battle.
func TestLedgerScale(t *testing.T) {
	if os.Getenv("KIZUNA_SUSTAIN_BENCH") == "" {
		t.Skip("set KIZUNA_SUSTAIN_BENCH=1 to run the ledger benchmark")
	}
	total, _ := strconv.Atoi(os.Getenv("KIZUNA_SUSTAIN_MOVEMENTS"))
	if total <= 0 {
		total = 1_000_000
	}
	batch := 1000
	ctx := context.Background()
	items := []Item{{Name: "20mm"}, {Name: "155mm"}, {Name: "JDAM"}, {Name: "Mk-54"}}
	s := newService(t, Config{Catalogue: items})
	const nloc = 500
	for i := 0; i < nloc; i++ {
		mustLoc(t, s, usaP, fmt.Sprintf("loc-%03d", i), Depot, relTo("USA", "JPN"))
	}
	// 500 units: a tree 5 wide, each unit with a location and two items.
	for i := 0; i < nloc; i++ {
		u := Unit{ID: fmt.Sprintf("u%03d", i), Name: fmt.Sprintf("Unit %d", i), Location: fmt.Sprintf("loc-%03d", i),
			Assets:   []Asset{{ID: fmt.Sprintf("a%d-1", i)}, {ID: fmt.Sprintf("a%d-2", i)}},
			Required: map[string]int64{"20mm": 100, "JDAM": 10}, Safety: map[string]int64{"JDAM": 4}, Label: relTo("USA", "JPN")}
		if i > 0 {
			u.Parent = fmt.Sprintf("u%03d", (i-1)/5)
		}
		if _, err := s.PutUnit(ctx, usaP, u); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Now()
	var lat []time.Duration
	have := map[[2]string]int64{} // what the generator knows is at each item and location
	for n := 0; n < total; n += batch {
		ms := make([]Movement, 0, batch)
		for i := 0; i < batch; i++ {
			it := items[rng.IntN(len(items))].Name
			li := rng.IntN(nloc)
			loc := fmt.Sprintf("loc-%03d", li)
			k := [2]string{it, loc}
			switch {
			case have[k] == 0 || rng.IntN(3) == 0:
				q := int64(10 + rng.IntN(50))
				have[k] += q
				ms = append(ms, Movement{Item: it, From: Source, To: loc, Quantity: q, Reason: Production, Label: relTo("USA", "JPN")})
			case rng.IntN(2) == 0:
				have[k]--
				ms = append(ms, Movement{Item: it, From: loc, To: Sink, Quantity: 1, Reason: Expenditure, Label: relTo("USA", "JPN")})
			default:
				to := fmt.Sprintf("loc-%03d", (li+1+rng.IntN(nloc-1))%nloc)
				have[k]--
				have[[2]string{it, to}]++
				ms = append(ms, Movement{Item: it, From: loc, To: to, Quantity: 1, Reason: Issue, Label: relTo("USA", "JPN")})
			}
		}
		t0 := time.Now()
		if _, err := s.Record(ctx, usaP, ms...); err != nil {
			t.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	el := time.Since(start)
	s.mu.Lock()
	recorded := s.led.lastSeq
	s.mu.Unlock()
	t.Logf("ingest: %d movements in %s = %.0f movements/s durable (batches of %d, commit p99 %s)",
		recorded, el.Round(time.Millisecond), float64(recorded)/el.Seconds(), batch, pct(lat, 0.99))

	// Single-movement commits, for comparison.
	single := 300
	t0 := time.Now()
	for i := 0; i < single; i++ {
		if _, err := s.Record(ctx, usaP, Movement{Item: "20mm", From: Source, To: "loc-000", Quantity: 1, Reason: Production, Label: relTo("USA", "JPN")}); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("ingest unbatched: %.0f movements/s (one commit each)", float64(single)/time.Since(t0).Seconds())

	lat = lat[:0]
	found := 0
	for i := 0; i < 20000; i++ {
		it := items[rng.IntN(len(items))].Name
		loc := fmt.Sprintf("loc-%03d", rng.IntN(nloc))
		t0 := time.Now()
		st, err := s.Balance(jpnP, it, loc, "USA")
		lat = append(lat, time.Since(t0))
		if err == nil && st.Quantity >= 0 {
			found++
		}
	}
	t.Logf("balance by item and location: p50 %s p99 %s max %s (%d of %d found)", pct(lat, 0.5), pct(lat, 0.99), pct(lat, 1), found, len(lat))
	if found < len(lat)/2 {
		t.Fatalf("only %d balances found", found)
	}

	lat = lat[:0]
	for i := 0; i < 100; i++ {
		t0 := time.Now()
		rs := s.Readiness(jpnP)
		lat = append(lat, time.Since(t0))
		if len(rs) != nloc {
			t.Fatalf("%d readiness entries", len(rs))
		}
	}
	t.Logf("readiness roll-up, %d units: p50 %s p99 %s", nloc, pct(lat, 0.5), pct(lat, 0.99))

	t0 = time.Now()
	if err := s.Verify(); err != nil {
		t.Fatal(err)
	}
	t.Logf("verify (conservation + replay of %d movements): %s", recorded, time.Since(t0).Round(time.Millisecond))
}

func pct(d []time.Duration, q float64) time.Duration {
	c := slices.Clone(d)
	slices.Sort(c)
	i := int(q * float64(len(c)-1))
	return c[i]
}

func BenchmarkBalance(b *testing.B) {
	s := newService(b, Config{Catalogue: []Item{{Name: "20mm"}}})
	mustLoc(b, s, usaP, "d", Depot, relTo("USA", "JPN"))
	if _, err := s.Record(context.Background(), usaP, Movement{Item: "20mm", From: Source, To: "d", Quantity: 10, Reason: Production}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.Balance(jpnP, "20mm", "d", "USA")
	}
}

// BenchmarkReadiness500 is the roll-up of a 500-unit order of battle.
func BenchmarkReadiness500(b *testing.B) {
	ctx := context.Background()
	s := newService(b, Config{Catalogue: []Item{{Name: "20mm"}, {Name: "JDAM"}}})
	for i := 0; i < 500; i++ {
		loc := fmt.Sprintf("loc-%03d", i)
		mustLoc(b, s, usaP, loc, Depot, relTo("USA", "JPN"))
		u := Unit{ID: fmt.Sprintf("u%03d", i), Location: loc, Assets: []Asset{{ID: fmt.Sprintf("a%d", i)}},
			Required: map[string]int64{"20mm": 100, "JDAM": 10}, Safety: map[string]int64{"JDAM": 4}, Label: relTo("USA", "JPN")}
		if i > 0 {
			u.Parent = fmt.Sprintf("u%03d", (i-1)/5)
		}
		if _, err := s.PutUnit(ctx, usaP, u); err != nil {
			b.Fatal(err)
		}
		var ms []Movement
		for _, it := range []string{"20mm", "JDAM"} {
			ms = append(ms, Movement{Item: it, From: Source, To: loc, Quantity: 200, Reason: Production, Label: relTo("USA", "JPN")})
			for j := 0; j < 20; j++ {
				ms = append(ms, Movement{Item: it, From: loc, To: Sink, Quantity: 1, Reason: Expenditure, Label: relTo("USA", "JPN")})
			}
		}
		if _, err := s.Record(ctx, usaP, ms...); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if rs := s.Readiness(jpnP); len(rs) != 500 {
			b.Fatalf("%d", len(rs))
		}
	}
}

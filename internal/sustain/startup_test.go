package sustain

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"kizuna/internal/taktest/cputime"
)

// TestStartupScale is the start-up benchmark of BENCHMARKS.md. It runs
// only with KIZUNA_SUSTAIN_STARTUP=1 (it writes a million movements):
//
//	KIZUNA_SUSTAIN_STARTUP=1 go test -run TestStartupScale -v -timeout 60m ./internal/sustain/
//
// It opens the same ledger three ways, in one run: replaying every
// movement (the checkpoint removed), from the checkpoint alone, and from
// the checkpoint plus a tail of 10,000 movements; it reports wall time
// and process CPU time of each open, and checks that the three agree with
// a replay from scratch.
func TestStartupScale(t *testing.T) {
	if os.Getenv("KIZUNA_SUSTAIN_STARTUP") == "" {
		t.Skip("set KIZUNA_SUSTAIN_STARTUP=1 to run the start-up benchmark")
	}
	total, _ := strconv.Atoi(os.Getenv("KIZUNA_SUSTAIN_MOVEMENTS"))
	if total <= 0 {
		total = 1_000_000
	}
	ctx := context.Background()
	items := []Item{{Name: "20mm"}, {Name: "155mm"}, {Name: "JDAM"}, {Name: "Mk-54"}}
	cfg := Config{DBPath: filepath.Join(t.TempDir(), "sustain.db"), Nation: "USA", NodeID: "bench", Catalogue: items, CheckpointEvery: -1}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	const nloc = 500
	for i := 0; i < nloc; i++ {
		mustLoc(t, s, usaP, fmt.Sprintf("loc-%03d", i), Depot, relTo("USA", "JPN"))
	}
	rng := rand.New(rand.NewPCG(3, 4))
	have := map[[2]string]int64{}
	fill := func(n int) {
		for done := 0; done < n; {
			b := min(10000, n-done)
			ms := make([]Movement, 0, b)
			for i := 0; i < b; i++ {
				it := items[rng.IntN(len(items))].Name
				li := rng.IntN(nloc)
				loc := fmt.Sprintf("loc-%03d", li)
				k := [2]string{it, loc}
				switch {
				case have[k] == 0 || rng.IntN(3) == 0:
					have[k] += 20
					ms = append(ms, Movement{Item: it, From: Source, To: loc, Quantity: 20, Reason: Production, Label: relTo("USA", "JPN")})
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
			if _, err := s.Record(ctx, usaP, ms...); err != nil {
				t.Fatal(err)
			}
			done += b
		}
	}
	t0 := time.Now()
	fill(total)
	t.Logf("wrote %d movements in %s", total, time.Since(t0).Round(time.Second))
	if err := s.Stop(ctx); err != nil { // writes the checkpoint
		t.Fatal(err)
	}
	open := func(what string) *Service {
		t.Helper()
		c0, w0 := cputime.Process(), time.Now()
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("open, %s: wall %s, CPU %s (checkpoint at %d, ledger at %d)", what, time.Since(w0).Round(time.Millisecond),
			(cputime.Process() - c0).Round(time.Millisecond), s.cpSeq, s.led.lastSeq)
		return s
	}
	// Before: no checkpoint, every movement replayed.
	db, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.db.Exec(`DELETE FROM sustain_checkpoint`); err != nil {
		t.Fatal(err)
	}
	db.cpSeq = db.led.lastSeq // so that Stop writes none
	db.Stop(ctx)
	full := open("full replay (no checkpoint)")
	if full.cpSeq != 0 {
		t.Fatal("a checkpoint was read")
	}
	full.cpSeq = 0
	full.Stop(ctx) // writes the checkpoint again
	cp := open("checkpoint, no tail")
	if cp.cpSeq != int64(total) || cp.cpSeq != cp.led.lastSeq {
		t.Fatalf("checkpoint at %d of %d", cp.cpSeq, cp.led.lastSeq)
	}
	s = cp
	fill(10000)
	s.cpSeq = s.led.lastSeq // stop without a new checkpoint: leave a tail
	s.Stop(ctx)
	s.cpSeq = 0
	tail := open("checkpoint + 10,000 movements of tail")
	defer tail.Stop(ctx)
	if tail.led.lastSeq-tail.cpSeq != 10000 {
		t.Fatalf("tail of %d", tail.led.lastSeq-tail.cpSeq)
	}
	c0 := time.Now()
	if err := tail.Verify(); err != nil {
		t.Fatal(err)
	}
	t.Logf("verify (replay of %d movements from scratch, compared with checkpoint + tail): %s", tail.led.lastSeq, time.Since(c0).Round(time.Millisecond))
}

package sustain

import (
	"context"
	"testing"
)

// TestCheckpoint: a reopened ledger starts from its checkpoint plus the
// movements after it and equals a replay from scratch; a corrupt
// checkpoint is ignored (full replay), never trusted.
func TestCheckpoint(t *testing.T) {
	s := newService(t, Config{CheckpointEvery: 10, Catalogue: []Item{{Name: "20mm"}}})
	ctx := context.Background()
	mustLoc(t, s, usaP, "a", Depot, relTo("USA", "JPN"))
	mustLoc(t, s, usaP, "b", Battery, relTo("USA", "JPN"))
	for i := 0; i < 25; i++ {
		ms := []Movement{
			{Item: "20mm", From: Source, To: "a", Quantity: 5, Reason: Production, Label: relTo("USA", "JPN")},
			{Item: "20mm", From: "a", To: "b", Quantity: 2, Reason: Issue, Label: relTo("USA", "JPN")},
			{Item: "PAC-3 MSE", From: Source, To: "a", Quantity: 1, Reason: Production, Label: relTo("USA", "JPN")},
		}
		if i%3 == 0 {
			ms = append(ms, Movement{Item: "20mm", From: "b", To: Sink, Quantity: 1, Reason: Expenditure, Label: relTo("USA", "JPN")})
		}
		if _, err := s.Record(ctx, usaP, ms...); err != nil {
			t.Fatal(err)
		}
	}
	cp := s.CheckpointSeq()
	if cp == 0 || cp == s.led.lastSeq {
		t.Fatalf("checkpoint at %d of %d: want one written, with a tail after it", cp, s.led.lastSeq)
	}
	want := s.Stocks(usaP, "", "")
	cfg := s.cfg
	// Reopen without the stop's checkpoint, so that a tail is replayed.
	s.cpSeq = s.led.lastSeq
	s.Stop(ctx)
	s2 := newService(t, cfg)
	if s2.CheckpointSeq() != cp || s2.led.lastSeq <= cp {
		t.Fatalf("reopened at checkpoint %d (want %d), ledger %d", s2.CheckpointSeq(), cp, s2.led.lastSeq)
	}
	if got := s2.Stocks(usaP, "", ""); !sameStocks(got, want) {
		t.Fatalf("from checkpoint + tail %+v, want %+v", got, want)
	}
	if err := s2.Verify(); err != nil {
		t.Fatal(err)
	}
	if len(s2.Serials(usaP, "PAC-3 MSE")) != 25 {
		t.Fatal("serials lost through the checkpoint")
	}
	// Corrupt the checkpoint: start-up replays everything instead.
	if _, err := s2.db.Exec(`UPDATE sustain_checkpoint SET doc = x'00ff'`); err != nil {
		t.Fatal(err)
	}
	s2.cpSeq = s2.led.lastSeq
	s2.Stop(ctx)
	s3 := newService(t, cfg)
	if s3.CheckpointSeq() != 0 {
		t.Fatalf("a corrupt checkpoint at %d was read", s3.CheckpointSeq())
	}
	if got := s3.Stocks(usaP, "", ""); !sameStocks(got, want) {
		t.Fatalf("after a corrupt checkpoint %+v, want %+v", got, want)
	}
	if err := s3.Verify(); err != nil {
		t.Fatal(err)
	}
	// A checkpoint whose state disagrees with the movements is caught by Verify.
	if err := s3.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	s3.mu.Lock()
	s3.led.bal[key{"20mm", "a", "USA"}].qty++
	s3.mu.Unlock()
	if err := s3.Verify(); err == nil {
		t.Fatal("Verify accepted a state that is not the replay of the movements")
	}
}

func sameStocks(a, b []Stock) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Item != b[i].Item || a[i].Location != b[i].Location || a[i].Owner != b[i].Owner || a[i].Quantity != b[i].Quantity || !a[i].Label.Equal(b[i].Label) {
			return false
		}
	}
	return true
}

package lease_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"kizuna/internal/clustertest"
	"kizuna/internal/lease"
)

func buckets(t *testing.T, ttl time.Duration) (jetstream.KeyValue, jetstream.KeyValue) {
	t.Helper()
	u, prefix := clustertest.NATS(t)
	nc, err := nats.Connect(u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, acks, err := lease.Buckets(context.Background(), js, prefix+"_leases", ttl)
	if err != nil {
		t.Fatal(err)
	}
	return kv, acks
}

// TestExclusiveAndTakeover: of three contenders exactly one holds the
// lease; when it dies (stops renewing without releasing) another takes
// over after the TTL and resumes from the acknowledged position; a
// graceful release hands over at once.
func TestExclusiveAndTakeover(t *testing.T) {
	const ttl = time.Second
	kv, acks := buckets(t, ttl)
	ctx := context.Background()
	var acquired [3]atomic.Uint64
	var held [3]atomic.Bool
	ls := make([]*lease.Lease, 3)
	for i := range ls {
		l, err := lease.New(lease.Config{KV: kv, Acks: acks, Name: "peer-usa", Holder: string(rune('a' + i)), TTL: ttl,
			OnAcquire: func(seq uint64) { acquired[i].Store(seq + 1); held[i].Store(true) },
			OnLose:    func() { held[i].Store(false) }})
		if err != nil {
			t.Fatal(err)
		}
		ls[i] = l
	}
	for _, l := range ls {
		l.Start(ctx)
	}
	holders := func() (n, who int) {
		who = -1
		for i, l := range ls {
			if l.Held() {
				n++
				who = i
			}
		}
		return
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if n, _ := holders(); n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no single holder")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Exclusive over several renewal periods.
	for range 20 {
		if n, _ := holders(); n > 1 {
			t.Fatalf("%d holders at once", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, first := holders()
	if err := ls[first].Ack(ctx, 41); err != nil {
		t.Fatal(err)
	}
	for i, l := range ls {
		if i != first {
			if err := l.Ack(ctx, 99); err == nil {
				t.Errorf("non-holder %d moved the acknowledged position", i)
			}
		}
	}
	ls[first].Abandon() // killed: no release
	deadline = time.Now().Add(ttl*4 + 2*time.Second)
	second := -1
	for second < 0 || second == first {
		if time.Now().After(deadline) {
			t.Fatal("no takeover after the holder died")
		}
		time.Sleep(20 * time.Millisecond)
		for i := range ls {
			if i != first && acquired[i].Load() != 0 {
				second = i
			}
		}
	}
	if got := acquired[second].Load() - 1; got != 41 {
		t.Errorf("new holder resumes from %d, want the acknowledged 41", got)
	}
	if err := ls[second].Stop(ctx); err != nil {
		t.Fatal(err)
	}
	third := 3 - first - second
	deadline = time.Now().Add(ttl)
	for !ls[third].Held() {
		if time.Now().After(deadline) {
			t.Fatal("graceful release did not hand over within one renewal period")
		}
		time.Sleep(20 * time.Millisecond)
	}
	ls[third].Stop(ctx)
}

package hub

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/label"
)

func principal(s string) label.Principal {
	p, err := label.ParsePrincipal(s)
	if err != nil {
		panic(err)
	}
	return p
}

func msg(uid string, l label.Label, from uint64) *Message {
	now := time.Now()
	ev := &cot.Event{UID: uid, Type: "a-f-G-U-C", Time: now, Start: now, Stale: now.Add(time.Minute), Point: cot.Point{Lat: 1, Lon: 2}}
	ev.SetLabel(l)
	return NewMessage(ev, l, from, &Encoders{})
}

func drain(t *testing.T, s *Subscriber) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	var uids []string
	for {
		ms, err := s.Next(ctx)
		if err != nil {
			return uids
		}
		for _, m := range ms {
			uids = append(uids, m.UID)
		}
	}
}

func TestPublishPolicy(t *testing.T) {
	h := New(16)
	usa := h.Subscribe(principal("USA:SECRET"), FormatXML, Options{})
	jpn := h.Subscribe(principal("JPN:SECRET"), FormatXML, Options{})
	jpnU := h.Subscribe(principal("JPN:U"), FormatXML, Options{})
	kor := h.Subscribe(principal("KOR:TS"), FormatXML, Options{})
	web := h.Subscribe(principal("KOR:TS"), FormatJSON, Options{Web: true})

	lbl := label.Label{Classification: label.Secret, Originator: "USA", ReleasableTo: []string{"JPN"}}
	h.Publish(msg("a", lbl, usa.ID))
	h.Publish(NewExpire("a", lbl, nil))
	h.Publish(NewExpire("k", label.Label{Classification: label.Unclassified, Originator: "KOR"}, nil))

	cases := []struct {
		name string
		s    *Subscriber
		want []string
	}{
		{"sender gets no echo", usa, nil},
		{"releasable", jpn, []string{"a"}},
		{"below classification", jpnU, nil},
		{"not releasable", kor, nil},
		{"web gets its nation's expiries only", web, []string{"k"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := drain(t, tc.s)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	if d := h.Stats.Denied.Load(); d == 0 {
		t.Error("denied deliveries not counted")
	}
}

func TestDirected(t *testing.T) {
	h := New(16)
	a := h.Subscribe(principal("JPN:S"), FormatXML, Options{})
	b := h.Subscribe(principal("JPN:S"), FormatXML, Options{})
	relay := h.Subscribe(principal("USA:S"), FormatXML, Options{Relay: true})
	a.SetIdentity(Identity{UID: "uid-a", Callsign: "ALPHA"})
	b.SetIdentity(Identity{UID: "uid-b", Callsign: "BRAVO"})
	m := msg("chat", label.Label{Classification: label.Unclassified, Originator: "JPN", ReleasableTo: []string{"USA"}}, 0)
	m.Dests = []cot.Dest{{Callsign: "ALPHA"}}
	h.Publish(m)
	if got := drain(t, a); len(got) != 1 {
		t.Errorf("named recipient got %v", got)
	}
	if got := drain(t, b); len(got) != 0 {
		t.Errorf("other client got %v", got)
	}
	if got := drain(t, relay); len(got) != 1 {
		t.Errorf("federation relay got %v", got)
	}
}

func TestShedSupersededThenDisconnect(t *testing.T) {
	h := New(4)
	var slow atomic.Int32
	s := h.Subscribe(principal("JPN:S"), FormatXML, Options{OnSlow: func() { slow.Add(1) }})
	l := label.Label{Classification: label.Unclassified, Originator: "JPN"}
	// Fill with updates of two uids, then keep updating them: the queue
	// sheds older updates of the same uid and stays open.
	for i := 0; i < 20; i++ {
		h.Publish(msg(fmt.Sprintf("u%d", i%2), l, 0))
	}
	if s.Err() != nil {
		t.Fatalf("closed while superseded updates could be shed: %v", s.Err())
	}
	if h.Stats.Superseded.Load() == 0 {
		t.Error("no superseded update shed")
	}
	// Distinct uids cannot be shed: the subscriber is dropped.
	for i := 0; i < 10; i++ {
		h.Publish(msg(fmt.Sprintf("n%d", i), l, 0))
	}
	if !errors.Is(s.Err(), ErrSlowConsumer) || slow.Load() != 1 || h.Stats.SlowDrops.Load() != 1 {
		t.Errorf("err=%v onSlow=%d drops=%d", s.Err(), slow.Load(), h.Stats.SlowDrops.Load())
	}
	if _, err := s.Next(context.Background()); !errors.Is(err, ErrSlowConsumer) {
		t.Errorf("Next after drop: %v", err)
	}
}

func TestNextCoalesces(t *testing.T) {
	h := New(100)
	s := h.Subscribe(principal("JPN:S"), FormatXML, Options{})
	l := label.Label{Classification: label.Unclassified, Originator: "JPN"}
	for i := 0; i < 10; i++ {
		h.Publish(msg(fmt.Sprintf("x%d", i), l, 0))
	}
	ms, err := s.Next(context.Background())
	if err != nil || len(ms) != 10 {
		t.Fatalf("one Next returned %d messages, err %v", len(ms), err)
	}
}

// TestPublishFromAnySender: whichever subscriber sends (Publish starts its
// walk at the sender's place), every other subscriber gets the event once
// and the sender none.
func TestPublishFromAnySender(t *testing.T) {
	h := New(16)
	subs := make([]*Subscriber, 7)
	for i := range subs {
		subs[i] = h.Subscribe(principal("JPN:S"), FormatXML, Options{})
	}
	l := label.Label{Classification: label.Unclassified, Originator: "JPN"}
	for from := range subs {
		t.Run(fmt.Sprint("sender ", from), func(t *testing.T) {
			h.Publish(msg("x", l, subs[from].ID))
			for i, s := range subs {
				want := 1
				if i == from {
					want = 0
				}
				if got := len(drain(t, s)); got != want {
					t.Errorf("subscriber %d got %d events, want %d", i, got, want)
				}
			}
		})
	}
}

// TestNextWakesOnPublish: a writer parked in Next on an empty queue is
// woken by the next publish, every time.
func TestNextWakesOnPublish(t *testing.T) {
	h := New(16)
	s := h.Subscribe(principal("JPN:S"), FormatXML, Options{})
	l := label.Label{Classification: label.Unclassified, Originator: "JPN"}
	parked := func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.waiting
	}
	for i := range 3 {
		got := make(chan int, 1)
		go func() {
			ms, _ := s.Next(context.Background())
			got <- len(ms)
		}()
		deadline := time.Now().Add(5 * time.Second)
		for !parked() {
			if time.Now().After(deadline) {
				t.Fatal("Next did not wait on the empty queue")
			}
			runtime.Gosched()
		}
		h.Publish(msg(fmt.Sprint("w", i), l, 0))
		select {
		case n := <-got:
			if n != 1 {
				t.Fatalf("round %d: Next returned %d messages", i, n)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("round %d: Next not woken by Publish", i)
		}
	}
}

// BenchmarkFanout publishes one event to 800 subscribers of three nations
// and drains their queues, as the TAK load profile does per report.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{200, 800} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			h := New(1 << 16)
			nations := []string{"USA", "JPN", "KOR"}
			subs := make([]*Subscriber, n)
			for i := range subs {
				subs[i] = h.Subscribe(principal(nations[i%3]+":SECRET"), FormatXML, Options{})
			}
			l := label.Label{Classification: label.Secret, Originator: "USA", ReleasableTo: []string{"JPN", "KOR"}}
			m := msg("bench", l, 0)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				h.Publish(m)
				if i%64 == 63 {
					for _, s := range subs {
						s.Next(ctx)
					}
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}

func TestFlashJumpsTheQueue(t *testing.T) {
	h := New(100)
	s := h.Subscribe(principal("JPN:S"), FormatXML, Options{})
	l := label.Label{Classification: label.Unclassified, Originator: "JPN"}
	for i := 0; i < 5; i++ {
		h.Publish(msg(fmt.Sprintf("r%d", i), l, 0))
	}
	f1 := msg("flash1", l, 0)
	f1.Flash = true
	h.Publish(f1)
	h.Publish(msg("r5", l, 0))
	f2 := msg("flash2", l, 0)
	f2.Flash = true
	h.Publish(f2)
	got := drain(t, s)
	want := "[flash1 flash2 r0 r1 r2 r3 r4 r5]"
	if fmt.Sprint(got) != want {
		t.Errorf("order %v, want %v", got, want)
	}
}

// TestReplayAfterLive: an object published between Subscribe and the
// snapshot reaches the new subscriber once; First messages come first.
func TestReplayAfterLive(t *testing.T) {
	h := New(100)
	l := label.Label{Classification: label.Unclassified, Originator: "JPN"}
	old := msg("a", l, 0)
	first := msg("offer", l, 0)
	s := h.Subscribe(principal("JPN:S"), FormatXML, Options{First: []*Message{first}})
	live := msg("b", l, 0)
	h.Publish(live)
	s.EnqueueReplay([]*Message{old, live})
	got := drain(t, s)
	if fmt.Sprint(got) != "[offer b a]" {
		t.Errorf("order %v, want [offer b a]", got)
	}
}

// TestTakeFlash: a writer still busy with an earlier batch takes only the
// flash messages at the head of the queue; routine ones stay queued in
// order, and a closed subscriber has none.
func TestTakeFlash(t *testing.T) {
	h := New(100)
	s := h.Subscribe(principal("JPN:S"), FormatXML, Options{})
	l := label.Label{Classification: label.Unclassified, Originator: "JPN"}
	if got := s.TakeFlash(nil); len(got) != 0 {
		t.Fatalf("empty queue gave %d flash messages", len(got))
	}
	h.Publish(msg("r0", l, 0))
	f1 := msg("flash1", l, 0)
	f1.Flash = true
	h.Publish(f1)
	h.Publish(msg("r1", l, 0))
	f2 := msg("flash2", l, 0)
	f2.Flash = true
	h.Publish(f2)
	var uids []string
	for _, m := range s.TakeFlash(nil) {
		uids = append(uids, m.UID)
	}
	if fmt.Sprint(uids) != "[flash1 flash2]" {
		t.Errorf("TakeFlash gave %v, want [flash1 flash2]", uids)
	}
	if got := s.TakeFlash(nil); len(got) != 0 {
		t.Errorf("second TakeFlash gave %d", len(got))
	}
	f3 := msg("flash3", l, 0)
	f3.Flash = true
	h.Publish(f3)
	if got := fmt.Sprint(drain(t, s)); got != "[flash3 r0 r1]" {
		t.Errorf("left queued %v, want [flash3 r0 r1]", got)
	}
	h.Publish(f3)
	s.Close(ErrClosed)
	if got := s.TakeFlash(nil); len(got) != 0 {
		t.Errorf("closed subscriber gave %d flash messages", len(got))
	}
}

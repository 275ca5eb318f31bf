package federation

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/hub"
	"kizuna/internal/label"
)

// relayHost is a node as federation sees it: what arrives is published
// (to the node's own tap: relayed on) and recorded.
type relayHost struct {
	f    *Federation
	mu   sync.Mutex
	seen map[string]time.Time
	n    int // routine events received
}

func (h *relayHost) IngestFederated(ev *cot.Event, l label.Label, fed *Provenance) error {
	now := time.Now()
	if h.f != nil {
		h.f.Tap(hub.NewMessage(ev, l, 0, nil), fed)
	}
	h.mu.Lock()
	if strings.HasPrefix(ev.UID, "tbm-") {
		h.seen[ev.UID] = now
	} else {
		h.n++
	}
	h.mu.Unlock()
	return nil
}

// startTrilateral starts JPN and KOR nodes dialling a USA hub, federation
// only (no node behind it: the hub's host relays what it receives), with
// cfg's flash-path settings.
func startTrilateral(b testing.TB, cfg Config) (jpn, usa *Federation, kor *relayHost) {
	p := newFedPKI(b, [2]string{"USA", "usa-hub"}, [2]string{"JPN", "jpn-node"}, [2]string{"KOR", "kor-node"})
	start := func(id, nation string, peers []PeerConfig, h Host, listen bool) *Federation {
		return p.start(b, cfg, id, nation, peers, h, listen)
	}
	uh := &relayHost{seen: map[string]time.Time{}}
	usa = start("usa-hub", "USA", []PeerConfig{{Name: "jpn-node", Classification: label.Secret}, {Name: "kor-node", Classification: label.Secret}}, uh, true)
	uh.f = usa
	hubAddr := usa.ln.Addr().String()
	kor = &relayHost{seen: map[string]time.Time{}}
	start("kor-node", "KOR", []PeerConfig{{Name: "usa-hub", Addr: hubAddr, Classification: label.Secret}}, kor, false)
	jpn = start("jpn-node", "JPN", []PeerConfig{{Name: "usa-hub", Addr: hubAddr, Classification: label.Secret}}, &relayHost{seen: map[string]time.Time{}}, false)
	deadline := time.Now().Add(60 * time.Second)
	for !(usa.links[0].isUp() && usa.links[1].isUp()) {
		if time.Now().After(deadline) {
			b.Fatal("links not up")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return jpn, usa, kor
}

// tapShared publishes one event at the JPN node releasable to USA and KOR.
func tapShared(f *Federation, uid, typ string, pad int) {
	now := time.Now()
	ev := &cot.Event{Version: "2.0", UID: uid, Type: typ, How: "m-g", Time: now, Start: now, Stale: now.Add(time.Hour)}
	ev.Detail, ev.HasDetail = []byte("<remarks>"+strings.Repeat("x", pad)+"</remarks>"), true
	l := label.Label{Classification: label.Secret, ReleasableTo: []string{"USA", "KOR"}, Originator: "JPN"}
	ev.SetLabel(l)
	f.Tap(hub.NewMessage(ev, l, 0, nil), nil)
}

// BenchmarkFlashTwoHop: the federation path of the missile-warning
// benchmark alone (JPN → USA hub → KOR, no clients, no node behind the
// federations), with routine traffic shared by all three nations at
// KIZUNA_FED_RATE events/s (default 5,000; 1 KB each) on both links; a
// missile warning every 50 ms. Reports the warning's p50, p99 and max at
// KOR and the routine events KOR received per second. Sub-benchmarks:
// path=flash (the defaults) and path=batch (one write per batch, events
// handled as read: the previous behaviour). Run with -benchtime=1x:
//
//	go test -run '^$' -bench BenchmarkFlashTwoHop -benchtime=1x ./internal/federation/
func BenchmarkFlashTwoHop(b *testing.B) {
	rate := 5000
	if v, err := strconv.Atoi(os.Getenv("KIZUNA_FED_RATE")); err == nil && v >= 0 {
		rate = v
	}
	for _, v := range []struct {
		name string
		cfg  Config
	}{
		{"flash", Config{}},
		{"batch", Config{WriteChunk: -1, NotSentLowat: -1, RecvQueue: -1}},
	} {
		b.Run("path="+v.name, func(b *testing.B) {
			for range b.N {
				flashTwoHop(b, v.cfg, rate)
			}
		})
	}
}

func flashTwoHop(b *testing.B, cfg Config, rate int) {
	b.StopTimer()
	jpn, _, kor := startTrilateral(b, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	wg.Add(1)
	go func() { // routine load: rate/100 events every 10 ms
		defer wg.Done()
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for i := 0; ; {
			for range rate / 100 {
				tapShared(jpn, fmt.Sprintf("pos-%d", i%2000), "a-f-G-U-C", 1000)
				i++
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	sent := map[string]time.Time{}
	warn := func(i int) {
		uid := fmt.Sprintf("tbm-%d", i)
		sent[uid] = time.Now()
		tapShared(jpn, uid, "a-h-A-W-M-S-S", 10)
	}
	time.Sleep(2 * time.Second) // warm-up
	kor.mu.Lock()
	n0 := kor.n
	kor.mu.Unlock()
	b.StartTimer()
	t0 := time.Now()
	for i := range 200 {
		warn(i)
		time.Sleep(50 * time.Millisecond)
	}
	el := time.Since(t0)
	time.Sleep(time.Second)
	b.StopTimer()
	kor.mu.Lock()
	var lat []time.Duration
	for uid, at := range kor.seen {
		lat = append(lat, at.Sub(sent[uid]))
	}
	routine := kor.n - n0
	kor.mu.Unlock()
	if len(lat) == 0 {
		b.Fatal("no warning received")
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / 1e6 }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1])/1e6, "max-ms")
	b.ReportMetric(float64(len(lat))/2, "received-%")
	b.ReportMetric(float64(routine)/el.Seconds(), "routine/s")
}

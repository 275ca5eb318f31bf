package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/node"
	"kizuna/internal/scenario"
	"kizuna/internal/taktest/cputime"
)

// BenchmarkFeedsCombinedLoad is the load target of the ISR issue, on one
// node with its load generator in the same process: 20,000 AIS messages/s
// (60,000 ships reporting every 3 s) over TCP, 10,000 Mode S frames/s
// (3,125 aircraft) as a Beast stream over TCP, and 10 radars at a 5 s scan
// sending ASTERIX CAT048 over UDP, for KIZUNA_LOAD_SECONDS (default 15)
// seconds (KIZUNA_LOAD_SCALE scales the AIS and Mode S rates), while
// KIZUNA_LOAD_CLIENTS (default 400) TAK clients at JPN:SECRET each send
// one position report a second and receive what the node gives a TAK
// client by default: each other's reports and the fused tracks within
// 100 km of their own position (node.DefaultFusedTracks). Two more
// clients at JPN:SECRET measure the fused tracks as they reach them: one
// on a listener configured for the whole fused picture (fusedTracks
// "all"), which receives every track event, and one like the 400 (it
// reports its position each second, and receives its area). It reports
// the fusion latency
// (observation received → track updated), the publication latency (track
// event built → read by the measuring client) and, for air tracks (which
// report twice a second, so that each of their events follows a sensor
// message), sensor message received by the node → fused track read by the
// client (the end-to-end figure, the engine's publication pacing included;
// from the track event's <__fusion received>) and, beside it, measured →
// read (<__fusion updated>: a radar plot is measured up to a sector sweep
// and its 300 ms transmission delay before the node receives it), each at
// p50 and p99, with the
// rates, drops and the CPU used; the headline metrics are those of the
// whole-picture client, the area client's carry an "area-" prefix.
// KIZUNA_LOAD_CPUPROFILE=FILE writes a CPU profile of the measurement
// window alone (not of the set-up; do not combine with -cpuprofile). Run
// it once:
//
//	go test -run XXX -bench BenchmarkFeedsCombinedLoad -benchtime=1x ./internal/e2e/
func BenchmarkFeedsCombinedLoad(b *testing.B) {
	dur := 15 * time.Second
	if v := os.Getenv("KIZUNA_LOAD_SECONDS"); v != "" {
		if d, err := time.ParseDuration(v + "s"); err == nil {
			dur = d
		}
	}
	scale := 1.0
	if v := os.Getenv("KIZUNA_LOAD_SCALE"); v != "" {
		if f, err := strconv.ParseFloat(v, 64); err == nil && f > 0 {
			scale = f
		}
	}
	clients := 400
	if v := os.Getenv("KIZUNA_LOAD_CLIENTS"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			clients = n
		}
	}
	for b.Loop() {
		feedsLoad(b, dur, scale, clients)
	}
}

// trackLatency reads a CoT stream and records, per fused track event
// (uid jpn-load.…) read while measuring, read time − event time
// (publication) and, for air tracks, read time − the receipt of the
// track's newest observation (end to end) and read time − its measurement
// (end to end with the sensor's own delay).
type trackLatency struct {
	mu                 sync.Mutex
	measuring          bool
	n                  int
	pub, air, measured []time.Duration
}

func (tl *trackLatency) read(wg *sync.WaitGroup, conn net.Conn) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		sp := cot.NewSplitter(0)
		for {
			buf := sp.Buffer(256 << 10)
			k, err := conn.Read(buf)
			now := time.Now()
			sp.Commit(k)
			for {
				doc, serr := sp.Next()
				if doc == nil && serr == nil {
					break
				}
				if serr == nil && bytes.Contains(doc, []byte(`uid="jpn-load.`)) {
					tl.record(doc, now)
				}
			}
			if err != nil {
				return
			}
		}
	}()
}

// attr returns the value of the first name="…" in doc after the first
// occurrence of after.
func attr(doc []byte, after, name string) []byte {
	i := bytes.Index(doc, []byte(after))
	if i < 0 {
		return nil
	}
	doc = doc[i:]
	j := bytes.Index(doc, []byte(" "+name+`="`))
	if j < 0 {
		return nil
	}
	v := doc[j+len(name)+3:]
	if k := bytes.IndexByte(v, '"'); k >= 0 {
		return v[:k]
	}
	return nil
}

func (tl *trackLatency) record(doc []byte, now time.Time) {
	evTime, err := time.Parse(time.RFC3339Nano, string(attr(doc, "<event", "time")))
	if err != nil {
		return
	}
	typ := attr(doc, "<event", "type")
	updated, uerr := time.Parse(time.RFC3339Nano, string(attr(doc, "<__fusion", "updated")))
	recv, rerr := time.Parse(time.RFC3339Nano, string(attr(doc, "<__fusion", "received")))
	tl.mu.Lock()
	defer tl.mu.Unlock()
	if !tl.measuring {
		return
	}
	tl.n++
	tl.pub = append(tl.pub, now.Sub(evTime))
	if len(typ) >= 5 && typ[4] == 'A' {
		if rerr == nil {
			tl.air = append(tl.air, now.Sub(recv))
		}
		if uerr == nil {
			tl.measured = append(tl.measured, now.Sub(updated))
		}
	}
}

// quantile returns the q-quantile of ds (sorted here), 0 when empty.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[int(q*float64(len(ds)-1))]
}

// windowProfile starts a CPU profile into KIZUNA_LOAD_CPUPROFILE, if set,
// and returns the function that ends it.
func windowProfile(b *testing.B) func() {
	path := os.Getenv("KIZUNA_LOAD_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// feedsNode starts a JPN node with the load's feeds and a CoT listener at
// JPN:SECRET; it is shut down when the benchmark ends.
func feedsNode(b *testing.B, srv *scenario.LoadServer) *node.Node {
	cfg := node.Default()
	cfg.DataDir = b.TempDir()
	cfg.Nation = "JPN"
	cfg.NodeID = "jpn-load"
	cfg.Listeners = []node.ListenerConfig{{Kind: node.KindCoTTCP, Addr: "127.0.0.1:0", Principal: "JPN:SECRET"},
		{Kind: node.KindCoTTCP, Addr: "127.0.0.1:0", Principal: "JPN:SECRET", FusedTracks: "all"}}
	for _, ep := range srv.Endpoints() {
		cl, rel, _ := strings.Cut(ep.Label, "/")
		fc := node.FeedConfig{Name: ep.Name, Kind: ep.Kind, Transport: ep.Transport, Addr: ep.Addr, Classification: cl, ReleasableTo: strings.Split(rel, ",")}
		if ep.Site != nil {
			fc.Site = &node.FeedSite{Lat: ep.Site.Lat, Lon: ep.Site.Lon, Height: ep.Site.Height}
		}
		cfg.Feeds = append(cfg.Feeds, fc)
	}
	n, err := node.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		sctx, c := context.WithTimeout(context.Background(), 20*time.Second)
		defer c()
		n.Shutdown(sctx)
	})
	return n
}

// Long on purpose: one run from generation to the report, read in order.
func feedsLoad(b *testing.B, dur time.Duration, scale float64, clients int) {
	genStart := time.Now()
	// The traffic starts once the node is up and the clients are connected
	// (their set-up is slow on a busy machine).
	lead := 20*time.Second + time.Duration(clients)*50*time.Millisecond
	load := scenario.NewLoad(scenario.LoadConfig{Seed: 1, Duration: dur, Start: time.Now().Add(lead).Truncate(time.Second),
		AISRate: int(20_000 * scale), ModeSRate: int(10_000 * scale)})
	b.Logf("generated %d ships, %d aircraft, %v messages in %v", load.Ships(), load.Aircraft(), load.Counts(), time.Since(genStart).Round(time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := load.Serve(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()

	n := feedsNode(b, srv)
	var wg sync.WaitGroup
	lctx, lcancel := context.WithCancel(context.Background())
	defer func() { lcancel(); wg.Wait() }()
	for i := range clients {
		loadClient(b, lctx, &wg, n.Addr(node.KindCoTTCP), fmt.Sprintf("tak-%d", i), "")
	}
	// The whole-picture client (the second listener) only reads; the
	// area client reports its position like the 400.
	conn, err := net.DialTimeout("tcp", n.Listeners()[1].Addr, 5*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	tl := &trackLatency{}
	tl.read(&wg, conn)
	areaConn, err := net.DialTimeout("tcp", n.Addr(node.KindCoTTCP), 5*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer areaConn.Close()
	area := &trackLatency{}
	area.read(&wg, areaConn)
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			areaConn.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.WriteString(areaConn, fedEvent("tak-area", "a-f-G-U-C", "", "")); err != nil {
				return
			}
			select {
			case <-lctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	start := load.Start()
	if late := time.Since(start); late > 0 {
		b.Logf("set-up ended %v after the traffic started: the measurement is short of that", late)
	}
	// Wait for the generator's start, then measure over the load.
	time.Sleep(time.Until(start))
	for _, x := range []*trackLatency{tl, area} {
		x.mu.Lock()
		x.measuring = true
		x.mu.Unlock()
	}
	stopProfile := windowProfile(b)
	cpu0, wall0 := cputime.Process(), time.Now()
	time.Sleep(time.Until(start.Add(dur + 2*time.Second)))
	cpu, wall := cputime.Process()-cpu0, time.Since(wall0)
	stopProfile()
	tl.mu.Lock()
	tl.measuring = false
	received, pub, air, measured := tl.n, slices.Clone(tl.pub), slices.Clone(tl.air), slices.Clone(tl.measured)
	tl.mu.Unlock()
	area.mu.Lock()
	area.measuring = false
	areaN, areaPub, areaAir := area.n, slices.Clone(area.pub), slices.Clone(area.air)
	area.mu.Unlock()
	conn.Close()
	areaConn.Close()
	p50, samples := n.FusionLatency(0.50)
	p99, _ := n.FusionLatency(0.99)
	fs := n.FusionStats()
	var msgs, obs, dropped uint64
	errs := map[string]uint64{}
	per := map[string]uint64{}
	for _, f := range n.Feeds() {
		per[f.Name] = f.Stats.Total()
		msgs += f.Stats.Total()
		obs += f.Stats.Observations
		dropped += f.Stats.Dropped
		for k, v := range f.Stats.Errors {
			errs[f.Name+"/"+k] += v
		}
	}
	c := load.Counts()
	sent := c["ais"] + c["beast"]
	for k, v := range c {
		if strings.HasPrefix(k, "radar") {
			sent += v
		}
	}
	b.Logf("%d TAK clients at 1 Hz; fused track events at the measuring client: publication p50 %v p99 %v; air tracks, sensor message received → client p50 %v p99 %v over %d; measured → client p50 %v p99 %v",
		clients, quantile(pub, 0.5), quantile(pub, 0.99), quantile(air, 0.5), quantile(air, 0.99), len(air), quantile(measured, 0.5), quantile(measured, 0.99))
	b.Logf("fed %d of %d messages (%d observations, %d dropped at the fusion queue); fusion p50 %v p99 %v over %d; %d tracks confirmed, %d events published, %d track events to the client; CPU %.2f cores; generator late by %v at worst; errors %v",
		msgs, sent, obs, dropped+fs.Dropped, p50, p99, samples, fs.Confirmed, fs.Published, received, cpu.Seconds()/wall.Seconds(), srv.Late(), errs)
	b.Logf("area client (100 km around its position): %d track events (%.0f/s); publication p50 %v p99 %v; air tracks, sensor message received → client p50 %v p99 %v over %d",
		areaN, float64(areaN)/dur.Seconds(), quantile(areaPub, 0.5), quantile(areaPub, 0.99), quantile(areaAir, 0.5), quantile(areaAir, 0.99), len(areaAir))
	hs := n.HubStats()
	b.Logf("hub: %d deliveries, %d out of the clients' areas, %d queued track updates replaced by newer ones", hs.Enqueued, hs.OutOfScope, hs.Replaced)
	b.Logf("received per feed %v", per)
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(msgs)/dur.Seconds(), "msgs/s")
	b.ReportMetric(float64(dropped+fs.Dropped), "dropped")
	b.ReportMetric(cpu.Seconds()/wall.Seconds(), "cores")
	b.ReportMetric(float64(received)/dur.Seconds(), "client-events/s")
	b.ReportMetric(float64(quantile(pub, 0.99).Microseconds())/1000, "pub-p99-ms")
	b.ReportMetric(float64(quantile(air, 0.5).Microseconds())/1000, "air-e2e-p50-ms")
	b.ReportMetric(float64(quantile(air, 0.99).Microseconds())/1000, "air-e2e-p99-ms")
	b.ReportMetric(float64(quantile(measured, 0.99).Microseconds())/1000, "air-measured-p99-ms")
	b.ReportMetric(float64(clients), "clients")
	b.ReportMetric(float64(areaN)/dur.Seconds(), "area-client-events/s")
	b.ReportMetric(float64(quantile(areaAir, 0.99).Microseconds())/1000, "area-air-e2e-p99-ms")
}

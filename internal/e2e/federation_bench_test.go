package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/label"
	"kizuna/internal/node"
	"kizuna/internal/taktest"
	"kizuna/internal/taktest/cputime"
	"kizuna/internal/topology"
)

// injectN publishes n events at a node as fast as it takes them: markers
// (not compactable) releasable to USA and KOR at SECRET.
func injectN(b testing.TB, n *node.Node, prefix string, count int) {
	b.Helper()
	l := label.Label{Classification: label.Secret, ReleasableTo: []string{"KOR", "USA"}, Originator: n.Nation()}
	now := time.Now()
	for i := range count {
		ev := &cot.Event{Version: "2.0", UID: prefix + strconv.Itoa(i), Type: "b-m-p-s-m", How: "h-g-i-g-o",
			Time: now, Start: now, Stale: now.Add(time.Hour), Point: cot.Point{Lat: 35, Lon: 139, HAE: 10, CE: 5, LE: 5}}
		ev.SetLabel(l)
		if err := n.Inject(context.Background(), ev); err != nil {
			b.Fatal(err)
		}
	}
}

func receivedFrom(n *node.Node, peer string) uint64 {
	for _, p := range n.Federation().Status().Peers {
		if p.Name == peer {
			return p.Received
		}
	}
	return 0
}

// BenchmarkFederationThroughput: sustained events per second over one
// link (JPN → USA hub), from the JPN node's publish to the hub's ingest,
// both nodes durable.
func BenchmarkFederationThroughput(b *testing.B) {
	c := fedCluster(b, topology.Trilateral()[:2])
	fedLinksUp(b, c)
	jpn, hub := c.Node("jpn-node"), c.Node("usa-hub")
	base := receivedFrom(hub, "jpn-node")
	b.ResetTimer()
	start, cpu := time.Now(), cputime.Process()
	injectN(b, jpn, fmt.Sprintf("thr-%d-", b.N), b.N)
	want := base + uint64(b.N)
	for receivedFrom(hub, "jpn-node") < want {
		time.Sleep(time.Millisecond)
	}
	el, cpuUsed := time.Since(start), cputime.Process()-cpu
	b.ReportMetric(float64(b.N)/el.Seconds(), "events/s")
	if cpuUsed > 0 {
		// Both nodes run in this process: the figure covers the sender's
		// publish, queue and send and the receiver's ingest and queue.
		b.ReportMetric(float64(b.N)/cpuUsed.Seconds(), "events/CPU-s")
	}
}

// BenchmarkFederationDrain100k: the JPN–USA link is cut, 100,000 events
// queue at JPN, the link comes back; the time until the hub has them all.
// Run with -benchtime=1x.
func BenchmarkFederationDrain100k(b *testing.B) {
	const n = 100_000
	for i := range b.N {
		b.StopTimer()
		var px *fedProxy
		specs := topology.Trilateral()[:2]
		specs[1].Configure = viaProxy(b, "usa-hub", &px)
		c := fedCluster(b, specs)
		fedLinksUp(b, c)
		jpn, hub := c.Node("jpn-node"), c.Node("usa-hub")
		px.Cut()
		taktest.WaitUntil(b, "link down", 10*time.Second, func() bool {
			return fedPeer(jpn.Federation().Status(), "usa-hub").State == "down"
		})
		injectN(b, jpn, fmt.Sprintf("drain-%d-", i), n)
		taktest.WaitUntil(b, "queue filled", 60*time.Second, func() bool {
			return fedPeer(jpn.Federation().Status(), "usa-hub").Queue >= n
		})
		base := receivedFrom(hub, "jpn-node")
		b.StartTimer()
		start, cpu := time.Now(), cputime.Process()
		px.Restore()
		for receivedFrom(hub, "jpn-node") < base+n {
			time.Sleep(time.Millisecond)
		}
		el, cpuUsed := time.Since(start), cputime.Process()-cpu
		b.StopTimer()
		if cpuUsed > 0 {
			b.ReportMetric(cpuUsed.Seconds(), "cpu-s")
		}
		taktest.WaitUntil(b, "queue acknowledged", 60*time.Second, func() bool {
			return fedPeer(jpn.Federation().Status(), "usa-hub").Queue == 0
		})
		b.ReportMetric(el.Seconds(), "drain-s")
		b.ReportMetric(n/el.Seconds(), "events/s")
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		c.Shutdown(ctx)
		cancel()
	}
}

// loadClient connects to a node's CoT listener, discards what it
// receives and sends one position report per second with its own uid.
func loadClient(b testing.TB, ctx context.Context, wg *sync.WaitGroup, addr, uid, attrs string) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		b.Fatalf("load dial: %v", err)
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		io.Copy(io.Discard, conn)
	}()
	go func() {
		defer wg.Done()
		defer conn.Close()
		time.Sleep(time.Duration(rand.N(int64(time.Second)))) // spread the phases
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.WriteString(conn, fedEvent(uid, "a-f-G-U-C", attrs, "")); err != nil {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// BenchmarkFederationMissileWarning: a publisher at the JPN node sends a
// missile warning (a-h-A-W-M-S-S, SECRET releasable to USA and KOR) every
// 50 ms; a client at the KOR node receives it through the USA hub, while
// 200 clients load each node with one position report per second. Reports
// the p50, p99 and max of publish-to-receipt latency. Run with
// -benchtime=1x; the measurement lasts 10 s after a 2 s warm-up.
func BenchmarkFederationMissileWarning(b *testing.B) {
	for _, load := range []string{"none", "national", "trilateral"} {
		b.Run("load="+load, func(b *testing.B) {
			for range b.N {
				missileWarning(b, load)
			}
		})
	}
}

// latencyReader reads a CoT stream and records the latency of every
// missile warning (uid tbm-…, publish time in its remarks).
func latencyReader(wg *sync.WaitGroup, conn net.Conn, mu *sync.Mutex, measuring *bool, lat *[]time.Duration) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		sp := cot.NewSplitter(0)
		for {
			buf := sp.Buffer(64 << 10)
			n, err := conn.Read(buf)
			now := time.Now()
			sp.Commit(n)
			for {
				doc, serr := sp.Next()
				if doc == nil && serr == nil {
					break
				}
				if serr != nil || !bytes.Contains(doc, []byte(`uid="tbm-`)) {
					continue
				}
				i := bytes.Index(doc, []byte("<remarks>t="))
				if i < 0 {
					continue
				}
				rest := doc[i+len("<remarks>t="):]
				k := bytes.IndexByte(rest, '<')
				if k < 0 {
					continue
				}
				ns, perr := strconv.ParseInt(string(rest[:k]), 10, 64)
				if perr != nil {
					continue
				}
				mu.Lock()
				if *measuring && !bytes.Contains(doc, []byte(`uid="tbm-w`)) {
					*lat = append(*lat, now.Sub(time.Unix(0, ns)))
				}
				mu.Unlock()
			}
			if err != nil {
				return
			}
		}
	}()
}

func missileWarning(b *testing.B, load string) {
	b.StopTimer()
	c := fedCluster(b, topology.Trilateral())
	fedLinksUp(b, c)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	const perNode = 200
	for _, id := range c.IDs() {
		if load == "none" {
			break
		}
		n := c.Node(id)
		attrs := "" // the submitter's nation only
		if load == "trilateral" {
			attrs = `access="SECRET" releasableTo="USA JPN KOR"`
		}
		for i := range perNode {
			loadClient(b, ctx, &wg, n.Addr(node.KindCoTTCP), fmt.Sprintf("load-%s-%d", id, i), attrs)
		}
	}
	pub := fedDial(b, c.Node("jpn-node"))
	var mu sync.Mutex
	var remote, local []time.Duration
	measuring := false
	for _, r := range []struct {
		id  string
		lat *[]time.Duration
	}{{"kor-node", &remote}, {"jpn-node", &local}} {
		conn, err := net.DialTimeout("tcp", c.Node(r.id).Addr(node.KindCoTTCP), 5*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		latencyReader(&wg, conn, &mu, &measuring, r.lat)
	}
	warn := func(i int) {
		uid := fmt.Sprintf("tbm-%d", i)
		if !measuring {
			uid = fmt.Sprintf("tbm-w%d", i) // warm-up, not measured
		}
		pub.send(fedEvent(uid, "a-h-A-W-M-S-S", `access="SECRET" releasableTo="USA KOR"`,
			fmt.Sprintf("<remarks>t=%d</remarks>", time.Now().UnixNano())))
	}
	i := 0
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); i++ {
		warn(i)
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	measuring = true
	mu.Unlock()
	b.StartTimer()
	sent := 0
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); i++ {
		warn(i)
		sent++
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	b.StopTimer()
	mu.Lock()
	measuring = false
	l, ll := slices.Clone(remote), slices.Clone(local)
	mu.Unlock()
	if len(l) == 0 || len(ll) == 0 {
		b.Fatal("no warning received")
	}
	slices.Sort(l)
	slices.Sort(ll)
	q := func(l []time.Duration, p float64) float64 { return float64(l[int(p*float64(len(l)-1))]) / 1e6 }
	b.ReportMetric(q(l, 0.5), "p50-ms")
	b.ReportMetric(q(l, 0.99), "p99-ms")
	b.ReportMetric(float64(l[len(l)-1])/1e6, "max-ms")
	b.ReportMetric(float64(len(l))/float64(sent)*100, "received-%")
	// The same warnings at a client of the publishing node: local fan-out
	// alone, for comparison.
	b.ReportMetric(q(ll, 0.99), "local-p99-ms")
}

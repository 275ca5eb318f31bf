// Command flashprobe measures node-local flash latency: one plain-TCP
// client publishes a missile warning (a-h-A-W-M-S-S, flash traffic) every
// interval with its send time in the detail, a second client of the same
// node timestamps each warning when its read returns. Run it beside
// `kizuna load` to see how long a warning waits behind routine traffic.
// Test tooling only, not part of the product. Loopback only.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"time"
)

func main() {
	addr := flag.String("addr", "", "cot-tcp listener of the node (host:port, loopback)")
	every := flag.Duration("every", 50*time.Millisecond, "time between two warnings")
	dur := flag.Duration("duration", 30*time.Second, "how long to publish")
	warm := flag.Duration("warmup", 5*time.Second, "warnings in this first stretch are not counted")
	flag.Parse()
	if err := run(*addr, *every, *dur, *warm); err != nil {
		fmt.Fprintln(os.Stderr, "flashprobe:", err)
		os.Exit(1)
	}
}

func run(addr string, every, dur, warm time.Duration) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%s is not a loopback address", addr)
	}
	pub, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer pub.Close()
	sub, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer sub.Close()
	go discard(pub)

	lat := make([]time.Duration, 0, int(dur/every)+1)
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		lat = collect(sub, start, warm, lat)
	}()

	time.Sleep(time.Second) // both connections registered
	sent := 0
	tick := time.NewTicker(every)
	defer tick.Stop()
	end := time.Now().Add(dur)
	for now := range tick.C {
		if now.After(end) {
			break
		}
		t := now.UTC()
		ts := t.Format("2006-01-02T15:04:05.000Z")
		stale := t.Add(time.Minute).Format("2006-01-02T15:04:05.000Z")
		ev := `<event version="2.0" uid="flashprobe-` + strconv.Itoa(sent%20) + `" type="a-h-A-W-M-S-S" how="m-g" time="` + ts +
			`" start="` + ts + `" stale="` + stale + `"><point lat="38.0" lon="127.0" hae="9999999" ce="9999999" le="9999999"/>` +
			`<detail><__flashprobe ts="` + strconv.FormatInt(time.Now().UnixNano(), 10) + `"/></detail></event>`
		if _, err := pub.Write([]byte(ev)); err != nil {
			return err
		}
		if now.Sub(start) >= warm {
			sent++
		}
	}
	time.Sleep(2 * time.Second)
	sub.Close()
	<-done
	if len(lat) == 0 {
		return fmt.Errorf("no warning came back (sent %d)", sent)
	}
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	fmt.Printf("flash: sent=%d received=%d p50=%.1fms p90=%.1fms p99=%.1fms max=%.1fms\n", sent, len(lat),
		ms(q(0.50)), ms(q(0.90)), ms(q(0.99)), ms(lat[len(lat)-1]))
	return nil
}

// collect reads the probe's warnings back from sub until it closes and
// appends the latency of each one sent after the warm-up to lat.
func collect(sub net.Conn, start time.Time, warm time.Duration, lat []time.Duration) []time.Duration {
	marker := []byte(`<__flashprobe ts="`)
	r := bufio.NewReaderSize(sub, 1<<20)
	for {
		line, err := r.ReadSlice('>')
		if err != nil && err != bufio.ErrBufferFull {
			return lat
		}
		i := bytes.Index(line, marker)
		if i < 0 {
			continue
		}
		now := time.Now()
		rest := line[i+len(marker):]
		j := bytes.IndexByte(rest, '"')
		if j < 0 {
			continue
		}
		ns, err := strconv.ParseInt(string(rest[:j]), 10, 64)
		if err != nil {
			continue
		}
		sent := time.Unix(0, ns)
		if sent.Sub(start) >= warm {
			lat = append(lat, now.Sub(sent))
		}
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func discard(c net.Conn) {
	b := make([]byte, 64<<10)
	for {
		if _, err := c.Read(b); err != nil {
			return
		}
	}
}

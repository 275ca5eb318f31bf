package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"kizuna/internal/command"
	"kizuna/internal/node"
	"kizuna/internal/pki"
	"kizuna/internal/scenario"
	"kizuna/internal/topology"
)

// Options configure the demo.
type Options struct {
	// DataDir holds the nodes' data; a fresh temporary directory when empty.
	DataDir string
	// Host is the address every listener binds; loopback by default.
	Host string
	// InsecurePlaintext allows a non-loopback Host for plain listeners.
	InsecurePlaintext bool
	// Period is how often units report (default 2s).
	Period time.Duration
	// OrderEvery is the pause between demonstration orders (default 15s).
	OrderEvery time.Duration
	// WarningEvery is the pause between simulated missile launches
	// (default 2m).
	WarningEvery time.Duration
	Out          io.Writer
	Log          *slog.Logger
	// AnyPort binds every listener to a free port instead of the preferred
	// ones (tests).
	AnyPort bool
	// Ready, if set, is called with the USA, JPN and KOR nodes once they
	// run (tests).
	Ready func(usa, jpn, kor *node.Node)
}

// Nation is one allied nation's seat in the demo: its TAK and web ports.
type Nation struct {
	Code     string
	CoTPort  int
	HTTPPort int
}

// Nations are the exercise's three allies with their preferred ports
// (the TAK conventions, offset by 100 per nation).
var Nations = []Nation{
	{Code: "USA", CoTPort: 8087, HTTPPort: 8080},
	{Code: "JPN", CoTPort: 8187, HTTPPort: 8180},
	{Code: "KOR", CoTPort: 8287, HTTPPort: 8280},
}

// port returns host:preferred if that port is free, else host:0.
func port(host string, preferred int) string {
	if preferred == 0 {
		return net.JoinHostPort(host, "0")
	}
	addr := net.JoinHostPort(host, strconv.Itoa(preferred))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return net.JoinHostPort(host, "0")
	}
	ln.Close()
	return addr
}

// defaults fills in the zero options but the data directory.
func (o *Options) defaults() {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.Period <= 0 {
		o.Period = 2 * time.Second
	}
	if o.OrderEvery <= 0 {
		o.OrderEvery = 15 * time.Second
	}
	if o.WarningEvery <= 0 {
		o.WarningEvery = 2 * time.Minute
	}
}

// jpnFeeds are the JPN node's feeds of the simulated sensors (all but the
// KOR radar), each under the label its endpoint suggests.
func jpnFeeds(eps []scenario.Endpoint) []node.FeedConfig {
	var feeds []node.FeedConfig
	for _, ep := range eps {
		if ep.Name == "radar-busan" {
			continue // a KOR radar: a KOR node would read it
		}
		cl, rel, _ := strings.Cut(ep.Label, "/")
		fc := node.FeedConfig{Name: ep.Name, Kind: ep.Kind, Transport: ep.Transport, Addr: ep.Addr, Classification: cl}
		if rel != "" {
			fc.ReleasableTo = strings.Split(rel, ",")
		}
		if ep.Site != nil {
			fc.Site = &node.FeedSite{Lat: ep.Site.Lat, Lon: ep.Site.Lon, Height: ep.Site.Height}
		}
		feeds = append(feeds, fc)
	}
	return feeds
}

// nodeSpecs configures the three national nodes: their listeners on the
// nation's ports, the CRLs of every nation, the USA order of battle and
// the JPN node's sensor feeds.
func nodeSpecs(o Options, ports map[string]Nation, feeds []node.FeedConfig) []topology.NodeSpec {
	specs := topology.Trilateral()
	for i := range specs {
		nat := specs[i].Nation
		specs[i].Configure = func(cfg *node.Config) {
			cfg.InsecurePlaintext = o.InsecurePlaintext
			// The exercise's picture is small: a device sees every
			// fused track wherever it is (the default is its area).
			cfg.FusedTracks = "all"
			cfg.Listeners = []node.ListenerConfig{
				{Kind: node.KindCoTTCP, Addr: port(o.Host, ports[nat].CoTPort), Principal: nat + ":SECRET"},
				{Kind: node.KindHTTP, Addr: port(o.Host, ports[nat].HTTPPort), Principal: nat + ":SECRET"},
				{Kind: node.KindFederation, Addr: "127.0.0.1:0"},
			}
			cfg.CRL = map[string]string{}
			for _, n := range Nations {
				cfg.CRL[n.Code] = filepath.Join(o.DataDir, "pki", "ca-"+n.Code, pki.CRLFile)
			}
			switch nat {
			case "USA":
				cfg.OrbatData = Orbat()
			case "JPN":
				cfg.Feeds = feeds
				// Its chain of command decides who approves Japan's side
				// of a transfer (the national stock of the Komaki plant).
				cfg.OrbatData = Orbat()
			}
		}
	}
	return specs
}

// Run starts the exercise and blocks until ctx is done.
func Run(ctx context.Context, o Options) error {
	o.defaults()
	if o.DataDir == "" {
		dir, err := os.MkdirTemp("", "kizuna-demo-")
		if err != nil {
			return fmt.Errorf("creating demo data directory: %w", err)
		}
		defer os.RemoveAll(dir)
		o.DataDir = dir
	}

	// Three national nodes: the USA INDOPACOM hub, which the JPN and KOR
	// nodes dial over mutual TLS, every link accredited to SECRET.
	ports := map[string]Nation{}
	for _, n := range Nations {
		ports[n.Code] = n
	}
	if o.AnyPort {
		for k, n := range ports {
			ports[k] = Nation{Code: n.Code}
		}
	}
	// Simulated sensors around the Korea Strait, served on loopback in
	// their real wire formats (AIS NMEA, SBS, Beast, ASTERIX over UDP) and
	// read by the JPN node's feeds: AIS and ADS-B are released to all
	// three allies, the Tsushima radar is JPN only and the Fukuoka radar
	// USA and JPN, so fused tracks differ between the views.
	sensors, err := scenario.Serve(ctx, scenario.New(scenario.Config{Seed: uint64(time.Now().UnixNano()), Crossing: true}), scenario.ServeConfig{})
	if err != nil {
		return fmt.Errorf("starting simulated sensors: %w", err)
	}
	defer sensors.Close()
	specs := nodeSpecs(o, ports, jpnFeeds(sensors.Endpoints()))
	cl, err := topology.Start(ctx, o.DataDir, specs, o.Log)
	if err != nil {
		return fmt.Errorf("starting the allied nodes: %w", err)
	}
	nodeOf := func(nation string) *node.Node {
		for _, id := range cl.IDs() {
			if n := cl.Node(id); n != nil && n.Nation() == nation {
				return n
			}
		}
		return nil
	}
	printAddresses(o.Out, o.DataDir, []*node.Node{nodeOf("USA"), nodeOf("JPN"), nodeOf("KOR")})
	if o.Ready != nil {
		o.Ready(nodeOf("USA"), nodeOf("JPN"), nodeOf("KOR"))
	}

	errs := storylines(ctx, o, nodeOf)
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errs = append(errs, cl.Shutdown(sctx))
	return errors.Join(errs...)
}

// storylines runs the exercise's storylines (unit movement, orders,
// sustainment, cyber, missile warnings) until ctx is done or one fails,
// and returns their errors.
func storylines(ctx context.Context, o Options, nodeOf func(nation string) *node.Node) []error {
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var errs []error
	var mu sync.Mutex
	run := func(name string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil && !errors.Is(err, context.Canceled) {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
				mu.Unlock()
				stop()
			}
		}()
	}
	run("units", func() error {
		return Move(runCtx, Units(), func(n string) Injector {
			if nd := nodeOf(n); nd != nil {
				return nd
			}
			return nil
		}, o.Period)
	})
	run("orders", func() error {
		return RunOrders(runCtx, nodeOf("USA").Command(), OrdersConfig{Every: o.OrderEvery, Simulate: true, Log: o.Log,
			ServiceOf: func(nation string) *command.Service {
				if nd := nodeOf(nation); nd != nil {
					return nd.Command()
				}
				return nil
			}})
	})
	run("sustainment", func() error {
		return SustainmentStory(runCtx, nodeOf("USA"), nodeOf("JPN"), nodeOf("KOR"), 500*time.Millisecond)
	})
	run("cyber", func() error {
		return Cyber(runCtx, nodeOf("JPN"), 3*time.Second)
	})
	run("missile warnings", func() error {
		return Warnings(runCtx, nodeOf("JPN"), o.WarningEvery)
	})
	<-runCtx.Done()
	stop()
	wg.Wait()
	return errs
}

func printAddresses(w io.Writer, dir string, nodes []*node.Node) {
	fmt.Fprintf(w, "Kizuna allied exercise: three national nodes federated over mutual TLS, data in %s\n\n", dir)
	fmt.Fprintln(w, "Web map, one view per nation (open them side by side):")
	for _, nd := range nodes {
		fmt.Fprintf(w, "  %s  %-9s http://%s/\n", nd.Nation(), nd.NodeID(), nd.Addr(node.KindHTTP))
	}
	fmt.Fprintln(w, "\nTAK (CoT over TCP, XML or TAK protocol v1) for ATAK, WinTAK and iTAK, one node per nation:")
	for _, nd := range nodes {
		fmt.Fprintf(w, "  %s  %-9s %s   (acts as %s at SECRET)\n", nd.Nation(), nd.NodeID(), nd.Addr(node.KindCoTTCP), nd.Nation())
	}
	fmt.Fprintln(w, "\nFederation: jpn-node and kor-node link to the usa-hub (INDOPACOM); every event crosses a link only")
	fmt.Fprintln(w, "where its label releases it. A simulated JPN sensor reports a ballistic missile launch every few")
	fmt.Fprintln(w, "minutes (launch point, track, predicted impact), released to USA, JPN and KOR; JPN-USA-only")
	fmt.Fprintln(w, "units never reach KOR. Orders of the demonstration order of battle flow on the usa-hub.")
	fmt.Fprintln(w, "Simulated AIS, ADS-B and two radars around the Korea Strait feed the jpn-node, which fuses them")
	fmt.Fprintln(w, "into system tracks: AIS and ADS-B tracks reach all three, the JPN-only radar's dark ships only JPN.")
	fmt.Fprintln(w, "Sustainment (Sustain panel): a JPN lot of PAC-3 MSE is accepted at Komaki and 8 are transferred to")
	fmt.Fprintln(w, "the USA (export licence and receipt approved, shipped, received); the US Patriot battery on Okinawa")
	fmt.Fprintln(w, "fires 2 per missile warning and its stock falls; DDG-65 is inducted at JMU Yokohama and unavailable.")
	fmt.Fprintln(w, "US stock levels are releasable to JPN, never to KOR.")
	fmt.Fprintln(w, `
How to connect ATAK: Settings > Network Preferences > TAK Servers > Add.
Enter the address and port of your nation's TAK listener above, protocol
TCP, without "Use Authentication" or "Enroll for Client Certificate".
Your device then acts as that nation at SECRET and sees exactly what the
labels release to that nation. Set the device callsign to one of the demo
order of battle (for example 31MEU-1 or 12MLR-1) and connect to the USA
node to receive its orders as GeoChat. On a phone, the listener must be
reachable: run the demo with --host set to this machine's LAN address and
--insecure-plaintext (an exercise only; real deployments use --cot-tls with
certificates from 'kizuna pki').

Press Ctrl-C to stop.`)
}

package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"kizuna/internal/command"
	"kizuna/internal/node"
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
	Out        io.Writer
	Log        *slog.Logger
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
	addr := net.JoinHostPort(host, strconv.Itoa(preferred))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return net.JoinHostPort(host, "0")
	}
	ln.Close()
	return addr
}

// Run starts the exercise and blocks until ctx is done.
func Run(ctx context.Context, o Options) error {
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
	if o.DataDir == "" {
		dir, err := os.MkdirTemp("", "kizuna-demo-")
		if err != nil {
			return fmt.Errorf("creating demo data directory: %w", err)
		}
		defer os.RemoveAll(dir)
		o.DataDir = dir
	}

	cfg := node.Default()
	cfg.DataDir = o.DataDir
	cfg.Nation = "USA"
	cfg.NodeID = "indopacom-demo"
	cfg.InsecurePlaintext = o.InsecurePlaintext
	cfg.OrbatData = command.DemoOrbat()
	cfg.Listeners = nil
	for _, n := range Nations {
		cfg.Listeners = append(cfg.Listeners, node.ListenerConfig{Kind: node.KindCoTTCP, Addr: port(o.Host, n.CoTPort), Principal: n.Code + ":SECRET"})
	}
	for _, n := range Nations {
		cfg.Listeners = append(cfg.Listeners, node.ListenerConfig{Kind: node.KindHTTP, Addr: port(o.Host, n.HTTPPort), Principal: n.Code + ":SECRET"})
	}
	nd, err := node.New(cfg, o.Log)
	if err != nil {
		return err
	}
	if err := nd.Start(ctx); err != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		nd.Shutdown(sctx)
		return err
	}
	printAddresses(o.Out, nd)

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
		return Move(runCtx, Units(), func(string) Injector { return nd }, o.Period)
	})
	run("orders", func() error {
		return nd.Command().RunDemo(runCtx, command.DemoConfig{Every: o.OrderEvery, Simulate: true})
	})
	<-runCtx.Done()
	stop()
	wg.Wait()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errs = append(errs, nd.Shutdown(sctx))
	return errors.Join(errs...)
}

func printAddresses(w io.Writer, nd *node.Node) {
	fmt.Fprintf(w, "Kizuna allied exercise: node %s (%s), data in %s\n\n", nd.NodeID(), nd.Nation(), nd.Config().DataDir)
	fmt.Fprintln(w, "Web map, one view per nation (open them side by side):")
	for _, l := range nd.Listeners() {
		if l.Kind == node.KindHTTP {
			fmt.Fprintf(w, "  %-18s http://%s/\n", l.Principal, l.Addr)
		}
	}
	fmt.Fprintln(w, "\nTAK (CoT over TCP, XML or TAK protocol v1) for ATAK, WinTAK and iTAK:")
	for _, l := range nd.Listeners() {
		if l.Kind == node.KindCoTTCP {
			fmt.Fprintf(w, "  %-18s %s\n", l.Principal, l.Addr)
		}
	}
	fmt.Fprintln(w, `
How to connect ATAK: Settings > Network Preferences > TAK Servers > Add.
Enter the address and port of your nation's TAK listener above, protocol
TCP, without "Use Authentication" or "Enroll for Client Certificate".
Your device then acts as that nation at SECRET and sees exactly what the
labels release to that nation. Set the device callsign to one of the demo
order of battle (for example 31MEU-1 or 12MLR-1) to receive its orders as
GeoChat. On a phone, the listener must be reachable:
run the demo with --host set to this machine's LAN address and
--insecure-plaintext (an exercise only; real deployments use --cot-tls with
certificates from 'kizuna pki').

Press Ctrl-C to stop.`)
}

package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"kizuna/internal/label"
	"kizuna/internal/node"
)

func init() {
	register(command{name: "serve", usage: "run one node (flags override --config FILE)", run: runServe})
}

// listenerFlag appends listeners of one kind to a shared list, so the list
// keeps the order the flags were given in.
type listenerFlag struct {
	kind     string
	list     *[]node.ListenerConfig
	set      *bool
	plainArg bool // accepts ADDR@NATION:CLEARANCE
}

func (f listenerFlag) String() string { return "" }

func (f listenerFlag) Set(v string) error {
	addr, prin, hasPrin := strings.Cut(v, "@")
	if hasPrin && !f.plainArg {
		return fmt.Errorf("%s takes its principal from client certificates; drop @%s", f.kind, prin)
	}
	if hasPrin {
		if _, err := label.ParsePrincipal(prin); err != nil {
			return err
		}
	}
	*f.list = append(*f.list, node.ListenerConfig{Kind: f.kind, Addr: addr, Principal: strings.ToUpper(prin)})
	*f.set = true
	return nil
}

// mapFlag parses repeatable KEY=VALUE flags.
type mapFlag map[string]string

func (m mapFlag) String() string { return "" }

func (m mapFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" || val == "" {
		return fmt.Errorf("want NATION=FILE, got %q", v)
	}
	n, err := label.ParseNation(k)
	if err != nil {
		return err
	}
	m[n] = val
	return nil
}

type funcFlag func(string) error

func (f funcFlag) String() string     { return "" }
func (f funcFlag) Set(v string) error { return f(v) }

// ParsePeer parses NAME=[HOST:PORT][@CLASSIFICATION].
func ParsePeer(v string) (node.PeerConfig, error) {
	name, rest, ok := strings.Cut(v, "=")
	if !ok || name == "" {
		return node.PeerConfig{}, fmt.Errorf("peer %q: want NAME=[HOST:PORT][@CLASSIFICATION]", v)
	}
	addr, cl, _ := strings.Cut(rest, "@")
	p := node.PeerConfig{Name: name, Addr: addr}
	if cl != "" {
		c, err := label.ParseClassification(cl)
		if err != nil {
			return p, fmt.Errorf("peer %s: %w", name, err)
		}
		p.Classification = c.String()
	}
	return p, nil
}

// ParseFeed parses NAME=KIND:TRANSPORT:HOST:PORT[@CLASSIFICATION/NATION,NATION].
func ParseFeed(v string) (node.FeedConfig, error) {
	name, rest, ok := strings.Cut(v, "=")
	if !ok || name == "" {
		return node.FeedConfig{}, fmt.Errorf("feed %q: want NAME=KIND:TRANSPORT:HOST:PORT[@CLASSIFICATION/NATION,NATION]", v)
	}
	spec, lbl, _ := strings.Cut(rest, "@")
	parts := strings.SplitN(spec, ":", 3)
	if len(parts) != 3 {
		return node.FeedConfig{}, fmt.Errorf("feed %s: want KIND:TRANSPORT:HOST:PORT", name)
	}
	f := node.FeedConfig{Name: name, Kind: parts[0], Transport: parts[1], Addr: parts[2]}
	if lbl != "" {
		cl, rel, _ := strings.Cut(lbl, "/")
		c, err := label.ParseClassification(cl)
		if err != nil {
			return f, fmt.Errorf("feed %s: %w", name, err)
		}
		f.Classification = c.String()
		if rel != "" {
			r, err := label.ParseReleasableTo(rel)
			if err != nil {
				return f, fmt.Errorf("feed %s: %w", name, err)
			}
			f.ReleasableTo = r
		}
	}
	return f, nil
}

// serveFlags binds every serve flag to cfg. apply must be called after
// parsing to merge the flags over the file.
type serveFlags struct {
	fs         *flag.FlagSet
	configFile string
	listeners  []node.ListenerConfig
	listenSet  bool
	trust, crl mapFlag
	peers      []node.PeerConfig
	feeds      []node.FeedConfig
	httpHosts  []string
	logLevel   string
	logFormat  string
	pprof      string
}

func newServeFlags(name string, cfg *node.Config, out io.Writer) *serveFlags {
	sf := &serveFlags{fs: flag.NewFlagSet(name, flag.ContinueOnError), trust: mapFlag{}, crl: mapFlag{}}
	fs := sf.fs
	fs.SetOutput(out)
	fs.StringVar(&sf.configFile, "config", "", "JSON configuration `file`; flags override it")
	fs.StringVar(&cfg.DataDir, "data", cfg.DataDir, "data `dir`ectory")
	fs.StringVar(&cfg.Nation, "nation", cfg.Nation, "the node's nation (ISO 3166 alpha-3)")
	fs.StringVar(&cfg.NodeID, "node-id", cfg.NodeID, "the node's id; must equal the CN of --tls-cert")
	fs.Var(listenerFlag{node.KindCoTTCP, &sf.listeners, &sf.listenSet, true}, "cot-tcp", "plain-TCP CoT listener `ADDR[@NATION:CLEARANCE]` (repeatable; loopback only unless --insecure-plaintext)")
	fs.Var(listenerFlag{node.KindCoTUDP, &sf.listeners, &sf.listenSet, true}, "cot-udp", "CoT UDP input `ADDR[@NATION:CLEARANCE]`: CoT XML or TAK mesh datagrams (repeatable; loopback only unless --insecure-plaintext)")
	fs.Var(listenerFlag{node.KindCoTTLS, &sf.listeners, &sf.listenSet, false}, "cot-tls", "TLS CoT listener `ADDR` requiring client certificates")
	fs.Var(listenerFlag{node.KindHTTP, &sf.listeners, &sf.listenSet, true}, "http", "HTTP listener `ADDR[@NATION:CLEARANCE[:CAVEATS]]` (loopback only; CAVEATS: those the principal holds, e.g. NOFORN/FOUO)")
	fs.Var(listenerFlag{node.KindHTTPS, &sf.listeners, &sf.listenSet, false}, "https", "HTTPS listener `ADDR` requiring client certificates")
	fs.Var(listenerFlag{node.KindEnroll, &sf.listeners, &sf.listenSet, false}, "enroll", "certificate enrollment listener `ADDR` (TLS, server certificate only)")
	fs.Var(listenerFlag{node.KindFederation, &sf.listeners, &sf.listenSet, false}, "federation", "federation listener `ADDR` (mutual TLS)")
	fs.BoolVar(&cfg.InsecurePlaintext, "insecure-plaintext", cfg.InsecurePlaintext, "allow plain TCP on non-loopback addresses")
	fs.StringVar(&cfg.TLSCert, "tls-cert", cfg.TLSCert, "the node's certificate `file` (PEM)")
	fs.StringVar(&cfg.TLSKey, "tls-key", cfg.TLSKey, "the node's key `file` (PEM)")
	fs.Var(sf.trust, "trust", "trusted CA per nation, `NATION=CAFILE` (repeatable)")
	fs.Var(sf.crl, "crl", "revocation list per nation, `NATION=CRLFILE` (repeatable)")
	fs.Var(funcFlag(func(v string) error {
		p, err := ParsePeer(v)
		sf.peers = append(sf.peers, p)
		return err
	}), "peer", "federation peer `NAME=[HOST:PORT][@CLASSIFICATION]` (repeatable)")
	fs.Var(funcFlag(func(v string) error {
		f, err := ParseFeed(v)
		sf.feeds = append(sf.feeds, f)
		return err
	}), "feed", "ISR feed `NAME=KIND:TRANSPORT:HOST:PORT[@CLASSIFICATION/NATION,NATION]` (repeatable)")
	fs.IntVar(&cfg.FederationQueue, "federation-queue", cfg.FederationQueue, "bound of each federation peer's durable queue, in events (0: 250000)")
	fs.IntVar(&cfg.QueueSize, "queue-size", cfg.QueueSize, "per-client queue bound, in events")
	fs.StringVar(&cfg.FusedTracks, "fused-tracks", cfg.FusedTracks, "what TAK clients receive of the fused ISR picture: area (the tracks within --fused-radius of the client's own position; default), all or none")
	fs.Float64Var(&cfg.FusedRadiusKm, "fused-radius", cfg.FusedRadiusKm, "radius of a TAK client's area of fused tracks, km (0: 100)")
	fs.IntVar(&cfg.MaxEventSize, "max-event-size", cfg.MaxEventSize, "largest event or frame in bytes; larger closes the connection")
	fs.IntVar(&cfg.EventRate, "event-rate", cfg.EventRate, "per-connection event rate limit per second (0: none)")
	fs.IntVar(&cfg.MaxConnsPerIP, "max-conns-per-ip", cfg.MaxConnsPerIP, "concurrent connections per client IP (0: no cap)")
	fs.IntVar(&cfg.MaxConnsPerPrincipal, "max-conns-per-principal", cfg.MaxConnsPerPrincipal, "concurrent connections per certificate principal (0: no cap)")
	fs.Func("history-retention", "how long per-uid history is kept (e.g. 24h; 0 keeps forever)", func(v string) error {
		d, err := time.ParseDuration(v)
		cfg.HistoryRetention = node.Duration(d)
		return err
	})
	fs.Func("history-interval", "store at most one history row per uid per interval (e.g. 5s; 0 keeps every report)", func(v string) error {
		d, err := time.ParseDuration(v)
		cfg.HistoryInterval = node.Duration(d)
		return err
	})
	fs.Func("event-timeout", "close a connection whose event stays incomplete this long (default 60s; negative: never)", func(v string) error {
		d, err := time.ParseDuration(v)
		cfg.EventTimeout = node.Duration(d)
		return err
	})
	fs.Func("idle-timeout", "close a TAK connection silent this long (e.g. 10m)", func(v string) error {
		d, err := time.ParseDuration(v)
		cfg.IdleTimeout = node.Duration(d)
		return err
	})
	fs.Var(funcFlag(func(v string) error {
		if v == "" {
			return fmt.Errorf("empty host name")
		}
		sf.httpHosts = append(sf.httpHosts, v)
		return nil
	}), "http-host", "extra host `NAME` (or NAME:PORT) the HTTP, HTTPS and enrollment listeners answer to, besides their own addresses (repeatable)")
	fs.StringVar(&cfg.Orbat, "orbat", cfg.Orbat, "order-of-battle `file` for the chain of command")
	fs.StringVar(&cfg.SustainCatalogue, "sustain-catalogue", cfg.SustainCatalogue, "JSON `file` of munition items added to the sustainment catalogue")
	fs.StringVar(&cfg.Users, "users", cfg.Users, "enrollment users `file`")
	fs.StringVar(&cfg.EnrollCA, "enroll-ca", cfg.EnrollCA, "CA `dir`ectory that signs enrolled client certificates")
	fs.StringVar(&sf.pprof, "pprof", "", "serve Go profiling on this loopback `ADDR` (for performance work)")
	fs.StringVar(&sf.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&sf.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&cfg.Cluster, "cluster", cfg.Cluster, "cluster mode: the NATS JetStream server `nats://HOST:PORT` the node's instances share (needs --store postgres://…)")
	fs.StringVar(&cfg.Store, "store", cfg.Store, "storage: sqlite (default, in --data) or a shared PostgreSQL `URL` postgres://USER@HOST/DB")
	fs.StringVar(&cfg.Instance, "instance", cfg.Instance, "this instance's `id` in a cluster (default: host-pid-random)")
	fs.Func("cluster-nations", "release tokens in a cluster's event subjects: `JPN,KOR,USA` (the same list on every instance); an instance then receives only what its clients' nations may see", func(v string) error {
		cfg.ClusterNations = strings.Split(v, ",")
		return nil
	})
	return sf
}

// parse parses args, reading --config first so that flags override it.
func (sf *serveFlags) parse(args []string, cfg *node.Config) error {
	// Find --config before the other flags take effect.
	pre := flag.NewFlagSet("config", flag.ContinueOnError)
	pre.SetOutput(io.Discard)
	var file string
	pre.StringVar(&file, "config", "", "")
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--config" || a == "-config" {
			if i+1 < len(args) {
				file = args[i+1]
			}
		} else if v, ok := strings.CutPrefix(a, "--config="); ok {
			file = v
		} else if v, ok := strings.CutPrefix(a, "-config="); ok {
			file = v
		}
	}
	if file != "" {
		if err := node.LoadFile(file, cfg); err != nil {
			return err
		}
	}
	if err := sf.fs.Parse(args); err != nil {
		return err
	}
	if sf.fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", sf.fs.Args())
	}
	if sf.listenSet {
		cfg.Listeners = sf.listeners
	}
	if len(sf.trust) > 0 {
		cfg.Trust = sf.trust
	}
	if len(sf.crl) > 0 {
		cfg.CRL = sf.crl
	}
	if len(sf.peers) > 0 {
		cfg.Peers = sf.peers
	}
	if len(sf.httpHosts) > 0 {
		cfg.HTTPHosts = sf.httpHosts
	}
	if len(sf.feeds) > 0 {
		// A sensor's site is set in the file only: keep it for a feed the
		// command line redefines by name.
		for i, f := range sf.feeds {
			for _, ff := range cfg.Feeds {
				if ff.Name == f.Name && f.Site == nil {
					sf.feeds[i].Site = ff.Site
				}
			}
		}
		cfg.Feeds = sf.feeds
	}
	return nil
}

func (sf *serveFlags) logger(w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(sf.logLevel)); err != nil {
		return nil, fmt.Errorf("log level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch sf.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: want text or json", sf.logFormat)
}

func runServe(ctx context.Context, args []string, env Env) error {
	cfg := node.Default()
	sf := newServeFlags("serve", &cfg, env.Stderr)
	if err := sf.parse(args, &cfg); err != nil {
		return err
	}
	log, err := sf.logger(env.Stderr)
	if err != nil {
		return err
	}
	n, err := node.New(cfg, log)
	if err != nil {
		return err
	}
	setProcs(cfg.Procs, log)
	if sf.pprof != "" {
		stop, err := servePprof(sf.pprof, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	if err := n.Start(ctx); err != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n.Shutdown(sctx)
		return err
	}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-env.Reload:
				n.Reload()
			}
		}
	}()
	return n.Run(ctx)
}

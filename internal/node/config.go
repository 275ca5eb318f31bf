package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"strings"
	"time"

	"kizuna/internal/hub"
	"kizuna/internal/label"
)

// Listener kinds, as written to listeners.json.
const (
	KindCoTTCP     = "cot-tcp"
	KindCoTTLS     = "cot-tls"
	KindCoTUDP     = "cot-udp"
	KindHTTP       = "http"
	KindHTTPS      = "https"
	KindEnroll     = "enroll"
	KindFederation = "federation"
)

// Duration is a time.Duration that reads and writes as "30s" in JSON.
type Duration time.Duration

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// ListenerConfig is one listener. Principal applies to plain listeners
// (cot-tcp, http) and is NATION:CLEARANCE; empty means the node's nation
// at UNCLASSIFIED.
type ListenerConfig struct {
	Kind      string `json:"kind"`
	Addr      string `json:"addr"`
	Principal string `json:"principal,omitempty"`
	// FusedTracks and FusedRadiusKm override Config's for the clients of
	// this TAK listener (cot-tcp, cot-tls).
	FusedTracks   string  `json:"fusedTracks,omitempty"`
	FusedRadiusKm float64 `json:"fusedRadiusKm,omitempty"`
}

// PeerConfig is one federation peer.
type PeerConfig struct {
	Name           string `json:"name"`
	Addr           string `json:"addr,omitempty"` // empty: accept its inbound link only
	Classification string `json:"classification,omitempty"`
}

// FeedConfig is one ISR feed: NAME=KIND:TRANSPORT:HOST:PORT[@CLASSIFICATION/NATION,NATION].
type FeedConfig struct {
	Name           string   `json:"name"`
	Kind           string   `json:"kind"`
	Transport      string   `json:"transport"`
	Addr           string   `json:"addr"`
	Classification string   `json:"classification,omitempty"`
	ReleasableTo   []string `json:"releasableTo,omitempty"`
	// Site is the sensor's position, set in the config file only: an
	// asterix feed needs it to locate CAT048 polar plots; for sbs and beast
	// feeds it is the receiver position.
	Site *FeedSite `json:"site,omitempty"`
}

// FeedSite is a sensor position: WGS-84 degrees, metres above the ellipsoid.
type FeedSite struct {
	Lat    float64 `json:"lat"`
	Lon    float64 `json:"lon"`
	Height float64 `json:"height,omitempty"`
}

// Config is the whole configuration of a node. Zero values take the
// defaults of Default; Validate checks it.
type Config struct {
	DataDir           string            `json:"data"`
	Nation            string            `json:"nation"`
	NodeID            string            `json:"nodeId"`
	Listeners         []ListenerConfig  `json:"listeners"`
	InsecurePlaintext bool              `json:"insecurePlaintext,omitempty"`
	TLSCert           string            `json:"tlsCert,omitempty"`
	TLSKey            string            `json:"tlsKey,omitempty"`
	Trust             map[string]string `json:"trust,omitempty"`
	CRL               map[string]string `json:"crl,omitempty"`
	CRLInterval       Duration          `json:"crlInterval,omitempty"`
	Peers             []PeerConfig      `json:"peers,omitempty"`
	// FederationQueue bounds each peer's durable outbound queue, in
	// events (0: the federation default, 250,000).
	FederationQueue int          `json:"federationQueue,omitempty"`
	Feeds           []FeedConfig `json:"feeds,omitempty"`
	// FusedTracks is what TAK clients receive of the fused ISR picture
	// (fusedscope.go): "area" (default) the tracks within FusedRadiusKm
	// (default 100) of the client's own last position report, "all"
	// every track, "none" none. A listener may override both.
	FusedTracks   string  `json:"fusedTracks,omitempty"`
	FusedRadiusKm float64 `json:"fusedRadiusKm,omitempty"`

	MaxEventSize  int      `json:"maxEventSize,omitempty"`
	QueueSize     int      `json:"queueSize,omitempty"`
	WriteTimeout  Duration `json:"writeTimeout,omitempty"`
	WriteCoalesce Duration `json:"writeCoalesce,omitempty"`
	WriteBudget   int      `json:"writeBudget,omitempty"`  // writes/s over all TAK connections; see stream.Config
	WriteChunk    int      `json:"writeChunk,omitempty"`   // routine bytes per write, flash first between parts; 0 off
	NotSentLowat  int      `json:"notSentLowat,omitempty"` // TCP_NOTSENT_LOWAT of TAK connections, bytes; 0 off
	// Procs, when positive, sets the Go processors (GOMAXPROCS) of a
	// node process (kizuna serve); 0 leaves Go's choice (the CPUs). More
	// processors than cores lets an idle one poll the network while every
	// core is busy, at some CPU cost; see "The flash path" in the README.
	Procs                int      `json:"procs,omitempty"`
	IdleTimeout          Duration `json:"idleTimeout,omitempty"`
	EventTimeout         Duration `json:"eventTimeout,omitempty"`
	EventRate            int      `json:"eventRate,omitempty"`
	MaxConnsPerIP        int      `json:"maxConnsPerIP,omitempty"`
	MaxConnsPerPrincipal int      `json:"maxConnsPerPrincipal,omitempty"`
	HistoryRetention     Duration `json:"historyRetention,omitempty"`
	HistoryInterval      Duration `json:"historyInterval,omitempty"`
	FlushInterval        Duration `json:"flushInterval,omitempty"`
	MaxHTTPBody          int64    `json:"maxHTTPBody,omitempty"`
	// SightingsFlush is how often the node's security events become STIX
	// sightings in its sightings collection (0: 5s).
	SightingsFlush Duration `json:"sightingsFlush,omitempty"`

	// Orbat is an order-of-battle file for the chain of command.
	Orbat string `json:"orbat,omitempty"`
	// OrbatData is an order of battle given in memory (the demo's), used
	// when Orbat is empty.
	OrbatData []byte `json:"-"`
	// HTTPHosts are extra names (NAME or NAME:PORT) every HTTP, HTTPS and
	// enrollment listener answers to besides its own addresses (see
	// package httpguard).
	HTTPHosts []string `json:"httpHosts,omitempty"`
	// SustainCatalogue is a JSON file of munition items added to the
	// sustainment catalogue.
	SustainCatalogue string `json:"sustainCatalogue,omitempty"`
	// Users is the enrollment users file; EnrollCA the CA directory that
	// signs enrolled clients.
	Users    string `json:"users,omitempty"`
	EnrollCA string `json:"enrollCA,omitempty"`

	// Cluster and Store select cluster mode (cluster.go): the NATS server
	// (nats://HOST:PORT) and the shared PostgreSQL database
	// (postgres://…). Instance names this instance (default: generated).
	Cluster  string `json:"cluster,omitempty"`
	Store    string `json:"store,omitempty"`
	Instance string `json:"instance,omitempty"`
	// ClusterNations are the node's release tokens in event subjects (the
	// same list on every instance): an instance then consumes only what
	// some nation of its clients may see (cluster/nations.go).
	ClusterNations []string `json:"clusterNations,omitempty"`
}

// Default returns the defaults: one loopback CoT listener and one loopback
// HTTP listener on the TAK-conventional ports.
func Default() Config {
	return Config{
		DataDir:          "./kizuna-data",
		Nation:           "USA",
		NodeID:           "kizuna",
		MaxEventSize:     1 << 20,
		QueueSize:        4096,
		WriteTimeout:     Duration(10 * time.Second),
		WriteCoalesce:    Duration(5 * time.Millisecond),
		WriteBudget:      32_000,
		WriteChunk:       64 << 10,
		NotSentLowat:     16 << 10,
		IdleTimeout:      Duration(10 * time.Minute),
		HistoryRetention: Duration(24 * time.Hour),
		HistoryInterval:  Duration(5 * time.Second),
		FlushInterval:    Duration(200 * time.Millisecond),
		CRLInterval:      Duration(5 * time.Minute),
		MaxHTTPBody:      1 << 20,
		SightingsFlush:   Duration(defaultSightingsFlush),
	}
}

// DefaultListeners are used when the configuration names none.
func DefaultListeners() []ListenerConfig {
	return []ListenerConfig{
		{Kind: KindCoTTCP, Addr: "127.0.0.1:8087"},
		{Kind: KindHTTP, Addr: "127.0.0.1:8080"},
	}
}

// LoadFile reads a JSON configuration file over the defaults.
func LoadFile(path string, into *Config) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading config: %w", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return fmt.Errorf("parsing config %s: %w", path, err)
	}
	return nil
}

// ErrConfig is wrapped by every validation error.
var ErrConfig = errors.New("invalid configuration")

func cfgErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
}

// Validate checks the configuration and fills defaults that depend on
// other fields.
//
// Long on purpose: a checklist of independent checks in the order of Config's
// fields, each a few lines.
func (c *Config) Validate() error {
	if c.DataDir == "" {
		return cfgErr("data directory is empty")
	}
	n, err := label.ParseNation(c.Nation)
	if err != nil {
		return cfgErr("nation: %v", err)
	}
	c.Nation = n
	if c.NodeID == "" {
		return cfgErr("node id is empty")
	}
	if len(c.Listeners) == 0 {
		c.Listeners = DefaultListeners()
	}
	needTLS := false
	for i, l := range c.Listeners {
		switch l.Kind {
		case KindCoTTCP, KindCoTUDP, KindHTTP:
			if l.Principal != "" {
				if _, err := label.ParsePrincipal(l.Principal); err != nil {
					return cfgErr("%s %s: %v", l.Kind, l.Addr, err)
				}
			}
			if !c.InsecurePlaintext && !loopback(l.Addr) {
				if l.Kind == KindHTTP {
					return cfgErr("http listener %s is not on loopback: use --https", l.Addr)
				}
				return cfgErr("plain-TCP listener %s is not on loopback: use --cot-tls or --insecure-plaintext", l.Addr)
			}
		case KindCoTTLS, KindHTTPS, KindEnroll, KindFederation:
			needTLS = true
			if l.Principal != "" {
				return cfgErr("%s %s: a TLS listener takes its principal from the client certificate", l.Kind, l.Addr)
			}
		default:
			return cfgErr("unknown listener kind %q", l.Kind)
		}
		if _, _, err := net.SplitHostPort(l.Addr); err != nil {
			return cfgErr("%s address %q: %v", l.Kind, l.Addr, err)
		}
		if (l.FusedTracks != "" || l.FusedRadiusKm != 0) && l.Kind != KindCoTTCP && l.Kind != KindCoTTLS {
			return cfgErr("%s %s: fusedTracks and fusedRadiusKm apply to cot-tcp and cot-tls listeners", l.Kind, l.Addr)
		}
		if err := checkFused(l.FusedTracks, l.FusedRadiusKm); err != nil {
			return cfgErr("%s %s: %v", l.Kind, l.Addr, err)
		}
		c.Listeners[i] = l
	}
	if err := checkFused(c.FusedTracks, c.FusedRadiusKm); err != nil {
		return cfgErr("%v", err)
	}
	if needTLS && (c.TLSCert == "" || c.TLSKey == "") {
		return cfgErr("TLS listeners need --tls-cert and --tls-key")
	}
	if needTLS && len(c.Trust) == 0 {
		return cfgErr("TLS listeners need at least one --trust NATION=CAFILE")
	}
	for nat := range c.Trust {
		if !label.ValidNation(nat) {
			return cfgErr("trust: bad nation %q", nat)
		}
	}
	for nat := range c.CRL {
		if _, ok := c.Trust[nat]; !ok {
			return cfgErr("crl for %s without a trusted CA for %s", nat, nat)
		}
	}
	seen := map[string]bool{}
	for _, p := range c.Peers {
		if p.Name == "" || seen[p.Name] {
			return cfgErr("peer name %q empty or repeated", p.Name)
		}
		seen[p.Name] = true
		if p.Classification != "" {
			if _, err := label.ParseClassification(p.Classification); err != nil {
				return cfgErr("peer %s: %v", p.Name, err)
			}
		}
	}
	if len(c.Peers) > 0 && (c.TLSCert == "" || len(c.Trust) == 0) {
		return cfgErr("federation peers need --tls-cert, --tls-key and --trust")
	}
	for _, f := range c.Feeds {
		switch f.Kind {
		case "ais", "sbs", "beast", "asterix", "cot":
		default:
			return cfgErr("feed %s: unknown kind %q", f.Name, f.Kind)
		}
		switch f.Transport {
		case "tcp", "tcp-listen", "udp":
		default:
			return cfgErr("feed %s: unknown transport %q", f.Name, f.Transport)
		}
	}
	if c.MaxEventSize <= 0 {
		c.MaxEventSize = 1 << 20
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 4096
	}
	if c.SightingsFlush < 0 {
		return cfgErr("sightings flush must not be negative")
	}
	if c.SightingsFlush == 0 {
		c.SightingsFlush = Duration(defaultSightingsFlush)
	}
	if c.Procs < 0 {
		return cfgErr("procs must be zero (Go's choice) or positive")
	}
	if c.WriteBudget < 0 || c.WriteChunk < 0 || c.NotSentLowat < 0 {
		return cfgErr("writeBudget, writeChunk and notSentLowat must be zero (off) or positive")
	}
	if c.FlushInterval <= 0 || time.Duration(c.FlushInterval) > 500*time.Millisecond {
		return cfgErr("flush interval must be in (0, 500ms] to keep the one-second durability promise")
	}
	return c.validateCluster()
}

// checkFused checks a fused-picture scope and radius (empty and zero:
// the default).
func checkFused(scope string, km float64) error {
	if _, ok := hub.ParseScope(scope); scope != "" && !ok {
		return fmt.Errorf("fusedTracks %q: want all, area or none", scope)
	}
	if km < 0 || math.IsNaN(km) || math.IsInf(km, 0) {
		return fmt.Errorf("fusedRadiusKm %v: want a positive number of kilometres", km)
	}
	return nil
}

// principalOf returns the principal of a plain listener.
func (c *Config) principalOf(l ListenerConfig) label.Principal {
	if l.Principal == "" {
		return label.Principal{Nation: c.Nation, Clearance: label.Unclassified}
	}
	p, _ := label.ParsePrincipal(l.Principal)
	return p
}

func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

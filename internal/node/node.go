// Package node assembles one Kizuna node from its parts and owns its
// lifecycle: storage, the live picture, the hub, the TAK listeners, the web
// API, the audit log and the extensions (chain of command, federation, ISR
// feeds). It also owns the ingest pipeline (ingest.go), where every event
// from any source is validated, labelled and ownership-checked before it
// reaches the hub.
//
// Where an event goes: stream (enters) → node.ingest (label checked,
// owner checked) → cop + store → hub.Publish (label.Releasable per
// recipient) → stream / web / federation (leaves).
package node

import (
	"context"
	"crypto"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"kizuna/internal/audit"
	"kizuna/internal/command"
	"kizuna/internal/cop"
	"kizuna/internal/cot"
	"kizuna/internal/cyber"
	"kizuna/internal/federation"
	"kizuna/internal/files"
	"kizuna/internal/hub"
	"kizuna/internal/label"
	"kizuna/internal/metrics"
	"kizuna/internal/mission"
	"kizuna/internal/pki"
	"kizuna/internal/seclog"
	"kizuna/internal/store"
	"kizuna/internal/stream"
	"kizuna/internal/sustain"
	"kizuna/internal/takproto"
	"kizuna/internal/taxii"
	"kizuna/internal/web"
	"kizuna/internal/webmap"
)

// ListenerInfo is one bound listener, as written to listeners.json.
type ListenerInfo struct {
	Kind      string `json:"kind"`
	Addr      string `json:"addr"`
	Principal string `json:"principal,omitempty"`
}

// Observer sees every event the node accepted, after its label check.
// Observe must return quickly: it runs on the ingest path.
type Observer interface {
	Observe(ev *cot.Event, from label.Principal)
}

// Node is one running Kizuna node.
type Node struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics.Metrics
	hub     *hub.Hub
	picture *cop.Picture
	store   store.Backend
	audit   *audit.Log
	stream  *stream.Server
	web     *web.Server
	enc     hub.Encoders

	mu         sync.Mutex
	listeners  []ListenerInfo // one slot per configured listener, filled as it binds
	httpSrvs   []*http.Server
	observers  []Observer
	extraHTTP  map[string]http.Handler
	extensions []Component // added by Use, started between the core and the listeners
	running    []Component // started, in order

	extraListeners map[string]func(context.Context, ListenerConfig) (ListenerInfo, error)
	taps           []Tap
	command        *command.Service
	federation     *federation.Federation // nil without federation
	fedc           *fedCluster            // federation in cluster mode (fedcluster.go)
	feedSet        *feedSet               // nil without feeds
	files          *files.Store           // nil if unavailable
	sustainSvc     atomic.Pointer[sustain.Service]
	sustainH       atomic.Pointer[http.Handler]
	missions       *mission.Service
	cyberTAXII     *taxii.Server
	cyberEffects   *cyber.Effects
	cert           *tls.Certificate
	trust          *pki.TrustStore

	securityLog *rotatingFile
	trustLoops  goroutines
	storeLoop   goroutines
	commandLoop goroutines
	expiryLoop  goroutines
	httpLoops   goroutines

	reservedOnce sync.Once
	reserved     []string // uid prefixes only nodes generate (ownership.go)

	// Cluster mode (cluster.go); all nil in single-process mode.
	cl          *clusterMode
	admit       func() error
	sharedClaim func(uid, owner string) error

	started atomic.Bool
	ready   chan struct{}
	cancel  context.CancelFunc
}

// New builds a node from cfg and its components. It validates the
// configuration, the extensions' included, and opens nothing yet; Start
// opens storage and binds the listeners.
func New(cfg Config, log *slog.Logger) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := &Node{
		cfg:       cfg,
		log:       log.With("node", cfg.NodeID, "nation", cfg.Nation),
		metrics:   metrics.New(),
		hub:       hub.New(cfg.QueueSize),
		picture:   cop.New(),
		ready:     make(chan struct{}),
		extraHTTP: make(map[string]http.Handler),
		listeners: make([]ListenerInfo, len(cfg.Listeners)),

		extraListeners: make(map[string]func(context.Context, ListenerConfig) (ListenerInfo, error)),
	}
	n.enc = hub.Encoders{
		Proto: func(dst []byte, m *hub.Message) []byte {
			b, err := takproto.MarshalEvent(dst, m.Event)
			if err != nil {
				n.log.Error("encoding protobuf", "uid", m.UID, "err", err)
				return nil
			}
			return b
		},
		JSON: web.EncodeFrame,
	}
	n.metrics.Register(hubCollector{n})
	n.setupSecurityLog()
	if err := n.setupCyber(); err != nil {
		return nil, err
	}
	if err := n.setupFederation(); err != nil {
		return nil, err
	}
	if err := n.setupFeeds(); err != nil {
		return nil, err
	}
	n.setupMarti()
	n.setupMapAPI()
	n.setupSustain()
	n.setupCluster()
	if err := n.setupMissions(); err != nil {
		return nil, err
	}
	return n, nil
}

// Config returns the validated configuration.
func (n *Node) Config() Config { return n.cfg }

// Metrics returns the node's instruments.
func (n *Node) Metrics() *metrics.Metrics { return n.metrics }

// Hub returns the node's hub.
func (n *Node) Hub() *hub.Hub { return n.hub }

// Picture returns the live picture.
func (n *Node) Picture() *cop.Picture { return n.picture }

// Audit returns the audit log (nil before Start).
func (n *Node) Audit() *audit.Log { return n.audit }

// Ready is closed once every listener is bound.
func (n *Node) Ready() <-chan struct{} { return n.ready }

// AddObserver registers an observer. Call before Start.
func (n *Node) AddObserver(o Observer) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.observers = append(n.observers, o)
}

// Handle mounts an extra HTTP handler on every HTTP listener for the given
// pattern (for example "/api/v1/orders/"). Call before Start.
func (n *Node) Handle(pattern string, h http.Handler) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.extraHTTP[pattern] = h
}

// NodeID returns the node's id.
func (n *Node) NodeID() string { return n.cfg.NodeID }

// Nation returns the node's nation.
func (n *Node) Nation() string { return n.cfg.Nation }

// Listeners returns the bound listeners in configuration order.
func (n *Node) Listeners() []ListenerInfo {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]ListenerInfo, 0, len(n.listeners))
	for _, l := range n.listeners {
		if l.Kind != "" {
			out = append(out, l)
		}
	}
	return out
}

// Addr returns the first bound address of the given kind, or "".
func (n *Node) Addr(kind string) string {
	for _, l := range n.Listeners() {
		if l.Kind == kind {
			return l.Addr
		}
	}
	return ""
}

// Start walks the node's components in order (see lifecycle): storage
// and the audit log open, the picture is restored, the extensions start
// and every listener binds. If one fails, what had started is stopped
// again. Background work runs until Shutdown.
func (n *Node) Start(ctx context.Context) error {
	if !n.started.CompareAndSwap(false, true) {
		return errors.New("node already started")
	}
	runCtx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	if err := n.startAll(runCtx, n.lifecycle()); err != nil {
		cancel()
		return err
	}
	if err := n.writeListeners(); err != nil {
		return err
	}
	n.auditf(ctx, "node:"+n.cfg.NodeID, "node.start", n.cfg.NodeID, "info", "listeners bound")
	close(n.ready)
	return nil
}

func (n *Node) makeDataDir(context.Context) error {
	if err := os.MkdirAll(n.cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("creating data directory: %w", err)
	}
	return nil
}

func (n *Node) startTrust(ctx context.Context) error {
	if n.cfg.TLSCert == "" {
		return nil
	}
	return n.setupTLS(ctx)
}

func (n *Node) startAudit(context.Context) error {
	var signer crypto.Signer
	if n.cert != nil {
		signer, _ = n.cert.PrivateKey.(crypto.Signer)
	}
	al, err := audit.Open(n.cfg.DataDir, audit.Config{Signer: signer, Log: n.log.With("component", "audit"), Actor: "node:" + n.cfg.NodeID})
	if err != nil {
		return fmt.Errorf("opening audit log: %w", err)
	}
	n.audit = al
	n.mountAuditAPI()
	return nil
}

func (n *Node) stopAudit(context.Context) error {
	// The shutdown deadline may be spent by now; the record still must
	// be written.
	n.auditf(context.Background(), "node:"+n.cfg.NodeID, "node.stop", n.cfg.NodeID, "info", "")
	if err := n.audit.Close(); err != nil {
		return fmt.Errorf("closing audit log: %w", err)
	}
	return nil
}

// startStore opens storage (SQLite, or PostgreSQL in cluster mode), runs
// its flusher and restores the picture.
func (n *Node) startStore(ctx context.Context) error {
	st, err := n.openStore(ctx)
	if err != nil {
		return fmt.Errorf("opening store: %w", err)
	}
	n.store = st
	n.storeLoop.run(ctx, func(ctx context.Context) {
		if err := st.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			n.log.Error("store stopped", "err", err)
		}
	})
	return n.restore(ctx)
}

func (n *Node) stopStore(ctx context.Context) error {
	err := n.storeLoop.stop(ctx)
	if cerr := n.store.Close(); cerr != nil {
		return errors.Join(err, fmt.Errorf("closing store: %w", cerr))
	}
	return err
}

func (n *Node) startExpiry(ctx context.Context) error {
	n.expiryLoop.run(ctx, n.expireLoop)
	return nil
}

// startListeners builds the TAK stream server and the web server and
// binds every listener that no extension bound itself.
func (n *Node) startListeners(ctx context.Context) error {
	var err error
	n.stream, err = stream.NewServer(stream.Options{
		Config: stream.Config{
			MaxEventSize: n.cfg.MaxEventSize,
			WriteTimeout: time.Duration(n.cfg.WriteTimeout),
			Coalesce:     time.Duration(n.cfg.WriteCoalesce),
			WriteBudget:  n.cfg.WriteBudget,
			WriteChunk:   n.cfg.WriteChunk,
			NotSentLowat: n.cfg.NotSentLowat,
			IdleTimeout:  time.Duration(n.cfg.IdleTimeout),
			EventRate:    n.cfg.EventRate,
			EventTimeout: time.Duration(n.cfg.EventTimeout),
		},
		Hub:                  n.hub,
		Metrics:              n.metrics,
		Log:                  n.log.With("component", "stream"),
		Ingest:               n.ingestClient,
		Replay:               n.replay,
		Encoders:             &n.enc,
		Reject:               n.rejected,
		Refuse:               n.refused,
		Closed:               n.closedForCause,
		Connected:            n.connected,
		MaxConnsPerIP:        n.cfg.MaxConnsPerIP,
		MaxConnsPerPrincipal: n.cfg.MaxConnsPerPrincipal,
	})
	if err != nil {
		return err
	}
	n.web, err = web.New(web.Options{
		Picture:  n.picture,
		Hub:      n.hub,
		History:  n.history,
		Metrics:  n.metrics,
		Log:      n.log.With("component", "web"),
		NodeID:   n.cfg.NodeID,
		Nation:   n.cfg.Nation,
		Encoders: &n.enc,
		Extra:    n.extraHTTP,
		MaxBody:  n.cfg.MaxHTTPBody,
		UI:       webmap.FS(),
		// Metrics name the node's feeds: only who may see every feed.
		MetricsClearance: n.metricsClearance(),
		Health:           n.healthFunc(),
	})
	if err != nil {
		return err
	}
	for i, l := range n.cfg.Listeners {
		if n.bound(i) {
			continue
		}
		info, err := n.listen(ctx, l)
		if err != nil {
			return err
		}
		n.setListener(i, info)
	}
	return nil
}

// stopListeners stops accepting, lets HTTP requests finish and drains the
// TAK connections.
func (n *Node) stopListeners(ctx context.Context) error {
	n.mu.Lock()
	srvs := n.httpSrvs
	n.mu.Unlock()
	for _, s := range srvs {
		if err := s.Shutdown(ctx); err != nil {
			s.Close()
		}
	}
	if n.web != nil {
		n.web.Close()
	}
	var err error
	if n.stream != nil {
		if e := n.stream.Shutdown(ctx); e != nil && !errors.Is(e, context.DeadlineExceeded) {
			err = e
		}
	}
	n.httpLoops.wg.Wait()
	return err
}

// bound reports whether the i-th configured listener is bound already.
func (n *Node) bound(i int) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.listeners[i].Kind != ""
}

// setListener records the i-th configured listener's bound address.
func (n *Node) setListener(i int, info ListenerInfo) {
	n.mu.Lock()
	n.listeners[i] = info
	n.mu.Unlock()
	n.log.Info("listening", "kind", info.Kind, "addr", info.Addr, "principal", info.Principal)
}

// bindOwn binds, for an extension, every configured listener of its kind
// with f, in configuration order.
func (n *Node) bindOwn(kind string, f func(ListenerConfig) (ListenerInfo, error)) error {
	for i, l := range n.cfg.Listeners {
		if l.Kind != kind {
			continue
		}
		info, err := f(l)
		if err != nil {
			return err
		}
		n.setListener(i, info)
	}
	return nil
}

func (n *Node) listen(ctx context.Context, l ListenerConfig) (ListenerInfo, error) {
	switch l.Kind {
	case KindCoTTCP:
		p := n.cfg.principalOf(l)
		addr, err := n.stream.Listen(ctx, stream.Listener{Kind: l.Kind, Addr: l.Addr, Principal: p})
		if err != nil {
			return ListenerInfo{}, err
		}
		return ListenerInfo{Kind: l.Kind, Addr: addr.String(), Principal: principalString(p)}, nil
	case KindCoTUDP:
		p := n.cfg.principalOf(l)
		addr, err := n.stream.ListenUDP(ctx, stream.Listener{Kind: l.Kind, Addr: l.Addr, Principal: p})
		if err != nil {
			return ListenerInfo{}, err
		}
		return ListenerInfo{Kind: l.Kind, Addr: addr.String(), Principal: principalString(p)}, nil
	case KindHTTP:
		p := n.cfg.principalOf(l)
		ln, err := net.Listen("tcp", l.Addr)
		if err != nil {
			return ListenerInfo{}, fmt.Errorf("listening http on %s: %w", l.Addr, err)
		}
		n.serveHTTP(ln, n.web.Handler(web.FixedPrincipal(p)), nil)
		return ListenerInfo{Kind: l.Kind, Addr: ln.Addr().String(), Principal: principalString(p)}, nil
	case KindCoTTLS:
		addr, err := n.stream.Listen(ctx, stream.Listener{Kind: l.Kind, Addr: l.Addr, TLS: n.trust.ServerTLS(*n.cert), Identify: n.trust.Principal})
		if err != nil {
			return ListenerInfo{}, err
		}
		return ListenerInfo{Kind: l.Kind, Addr: addr.String()}, nil
	case KindHTTPS:
		ln, err := net.Listen("tcp", l.Addr)
		if err != nil {
			return ListenerInfo{}, fmt.Errorf("listening https on %s: %w", l.Addr, err)
		}
		principal := func(r *http.Request) (label.Principal, error) {
			if r.TLS == nil {
				return label.Principal{}, errors.New("no TLS")
			}
			return n.trust.Principal(*r.TLS)
		}
		tlsCfg := n.trust.ServerTLS(*n.cert)
		tlsCfg.NextProtos = []string{"h2", "http/1.1"}
		n.serveHTTP(ln, n.web.Handler(principal), tlsCfg)
		return ListenerInfo{Kind: l.Kind, Addr: ln.Addr().String()}, nil
	}
	if l.Kind == KindEnroll {
		return n.listenEnroll(ctx, l)
	}
	if h, ok := n.extraListeners[l.Kind]; ok {
		return h(ctx, l)
	}
	return ListenerInfo{}, fmt.Errorf("%w: listener kind %s is not available in this build", ErrConfig, l.Kind)
}

// setupTLS loads the node's certificate and the trust store, reloads
// revocation lists periodically and closes live connections whose
// certificate was revoked after they connected.
func (n *Node) setupTLS(ctx context.Context) error {
	cert, err := pki.LoadKeyPair(n.cfg.TLSCert, n.cfg.TLSKey, n.cfg.NodeID)
	if err != nil {
		return fmt.Errorf("loading node certificate: %w", err)
	}
	n.cert = &cert
	trust, err := pki.NewTrustStore(pki.TrustConfig{
		Trust:       n.cfg.Trust,
		CRL:         n.cfg.CRL,
		CRLInterval: time.Duration(n.cfg.CRLInterval),
		// Every refused handshake is logged and audited: the handshake's
		// own cost (a signature verification) bounds their rate well
		// below what the group-committed audit log absorbs.
		OnRefuse: func(remote string, err error) {
			n.metrics.Refused.WithLabelValues("tls").Inc()
			n.log.Warn("TLS handshake refused", seclog.Tag(seclog.TLS), "remote", remote, "err", err)
			n.auditf(context.Background(), "remote:"+remote, "tls.refuse", remote, "deny", err.Error())
		},
	}, n.log.With("component", "trust"))
	if err != nil {
		return fmt.Errorf("loading trust store: %w", err)
	}
	n.trust = trust
	revoked := trust.Subscribe()
	n.trustLoops.run(ctx, trust.Run)
	n.trustLoops.run(ctx, func(ctx context.Context) {
		for {
			select {
			case <-ctx.Done():
				return
			case <-revoked:
				n.closeRevoked()
			}
		}
	})
	return nil
}

// closeRevoked closes every TLS connection whose certificate is now revoked.
func (n *Node) closeRevoked() {
	if n.stream == nil {
		return
	}
	closed := n.stream.CloseWhere(func(c *stream.Conn) bool {
		tc, ok := c.Conn.(*tls.Conn)
		if !ok {
			return false
		}
		certs := tc.ConnectionState().PeerCertificates
		return len(certs) > 0 && n.trust.Revoked(certs[0])
	}, "certificate revoked")
	if closed > 0 {
		n.log.Warn("closed connections of revoked certificates", seclog.Tag(seclog.Revocation), "count", closed)
	}
	if n.web != nil {
		n.web.Revalidate()
	}
}

// Trust returns the trust store (nil without TLS).
func (n *Node) Trust() *pki.TrustStore { return n.trust }

// Certificate returns the node's own certificate (nil without TLS).
func (n *Node) Certificate() *tls.Certificate { return n.cert }

// ExtraListener lets an extension (federation, enrollment) bind listeners
// of its kind. Call before Start.
func (n *Node) ExtraListener(kind string, f func(ctx context.Context, l ListenerConfig) (ListenerInfo, error)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.extraListeners[kind] = f
}

func principalString(p label.Principal) string { return p.Nation + ":" + p.Clearance.String() }

func (n *Node) serveHTTP(ln net.Listener, h http.Handler, tlsCfg *tls.Config) {
	srv := &http.Server{
		Handler:           n.guardHTTP(ln, h, tlsCfg != nil),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		TLSConfig:         tlsCfg,
		ErrorLog:          slog.NewLogLogger(n.log.Handler(), slog.LevelDebug),
	}
	n.mu.Lock()
	n.httpSrvs = append(n.httpSrvs, srv)
	n.mu.Unlock()
	n.httpLoops.wg.Add(1)
	go func() {
		defer n.httpLoops.wg.Done()
		var err error
		if tlsCfg != nil {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("http server stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
}

// writeListeners writes DATA/listeners.json atomically.
func (n *Node) writeListeners() error {
	b, err := json.MarshalIndent(n.Listeners(), "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(n.cfg.DataDir, "listeners.json")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing listeners: %w", err)
	}
	return os.Rename(tmp, path)
}

// Run starts the node (if needed) and serves until ctx is done, then shuts
// down gracefully.
func (n *Node) Run(ctx context.Context) error {
	if !n.started.Load() {
		if err := n.Start(ctx); err != nil {
			return err
		}
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return n.Shutdown(sctx)
}

// Shutdown stops the node's components in reverse order: the listeners
// stop accepting and drain their clients, the extensions stop, storage
// flushes and the audit log closes last.
func (n *Node) Shutdown(ctx context.Context) error {
	if !n.started.Load() {
		return nil
	}
	err := n.stopAll(ctx)
	if n.cancel != nil {
		n.cancel()
	}
	return err
}

// auditf appends an audit record and logs a failure to do so. Callers that
// must not proceed without the record use n.audit.Append directly.
func (n *Node) auditf(ctx context.Context, actor, action, object, decision, reason string) {
	if n.audit == nil {
		return
	}
	if _, err := n.audit.Append(ctx, audit.Record{Actor: actor, Action: action, Object: object, Decision: decision, Reason: reason}); err != nil {
		n.log.Error("audit append failed", seclog.Tag(seclog.Audit), "action", action, "err", err)
	}
}

// hubCollector exports the hub's counters.
type hubCollector struct{ n *Node }

var (
	descDrops     = prometheus.NewDesc("kizuna_queue_drops_total", "Queue drops by kind: superseded position updates shed from congested queues, and slow consumers disconnected.", []string{"kind"}, nil)
	descDenied    = prometheus.NewDesc("kizuna_hub_policy_denied_total", "Recipients the releasability policy withheld an event from.", nil, nil)
	descPublished = prometheus.NewDesc("kizuna_hub_published_total", "Messages published to the hub.", nil, nil)
	descSubs      = prometheus.NewDesc("kizuna_hub_subscribers", "Current hub subscribers.", nil, nil)
)

func (c hubCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descDrops
	ch <- descDenied
	ch <- descPublished
	ch <- descSubs
}

func (c hubCollector) Collect(ch chan<- prometheus.Metric) {
	s := &c.n.hub.Stats
	ch <- prometheus.MustNewConstMetric(descDrops, prometheus.CounterValue, float64(s.Superseded.Load()), "superseded")
	ch <- prometheus.MustNewConstMetric(descDrops, prometheus.CounterValue, float64(s.SlowDrops.Load()), "slow_consumer")
	ch <- prometheus.MustNewConstMetric(descDenied, prometheus.CounterValue, float64(s.Denied.Load()))
	ch <- prometheus.MustNewConstMetric(descPublished, prometheus.CounterValue, float64(s.Published.Load()))
	ch <- prometheus.MustNewConstMetric(descSubs, prometheus.GaugeValue, float64(len(c.n.hub.Subscribers())))
}

// Reload re-reads what an operator may change at run time (revocation
// lists). main calls it on SIGHUP.
func (n *Node) Reload() {
	n.log.Info("reload requested", seclog.Tag(seclog.Config))
	if n.trust != nil {
		if err := n.trust.Reload(); err != nil {
			n.log.Error("reloading revocation lists", "err", err)
		}
	}
	n.auditf(context.Background(), "operator", "config.reload", n.cfg.NodeID, "info", "SIGHUP")
}

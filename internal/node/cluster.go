package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"kizuna/internal/cluster"
	"kizuna/internal/clusteraudit"
	"kizuna/internal/cop"
	"kizuna/internal/cot"
	"kizuna/internal/federation"
	"kizuna/internal/hub"
	"kizuna/internal/label"
	"kizuna/internal/pgstore"
	"kizuna/internal/store"
	"kizuna/internal/web"
)

// ErrUnavailable is wrapped by every refusal of new work in cluster mode
// while NATS or PostgreSQL cannot be reached.
var ErrUnavailable = errors.New("node unavailable")

// clusterMode is the state of an instance running in cluster mode: events
// cross instances through the bus, state lives in PostgreSQL.
type clusterMode struct {
	bus     *cluster.Bus
	pg      *pgstore.Store
	storeOK atomic.Bool
	storeE  atomic.Pointer[string]
	claims  atomic.Uint64
	refused atomic.Uint64
	remote  atomic.Uint64
	// order drops an event of a uid older than one already delivered
	// (several consumers, see uidorder.go).
	order *uidOrder
	loops goroutines
}

// isPostgres reports whether a store setting names PostgreSQL.
func isPostgres(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// validateCluster checks the cluster settings.
func (c *Config) validateCluster() error {
	if c.Store != "" && c.Store != "sqlite" && !isPostgres(c.Store) {
		return cfgErr("store %q: want sqlite or postgres://…", c.Store)
	}
	if c.Cluster != "" {
		if !strings.HasPrefix(c.Cluster, "nats://") && !strings.HasPrefix(c.Cluster, "tls://") {
			return cfgErr("cluster %q: want nats://HOST:PORT", c.Cluster)
		}
		if !isPostgres(c.Store) {
			return cfgErr("cluster mode needs a shared store: --store postgres://…")
		}
		for _, nat := range c.ClusterNations {
			if !label.ValidNation(nat) {
				return cfgErr("cluster nation %q", nat)
			}
		}
	}
	return nil
}

// maxClearance is the highest clearance a client of this instance can
// hold: TOP SECRET behind any certificate listener, else the highest
// principal of the plain listeners.
func (c *Config) maxClearance() label.Classification {
	top := label.Unclassified
	for _, l := range c.Listeners {
		switch l.Kind {
		case KindCoTTCP, KindCoTUDP, KindHTTP:
			if p := c.principalOf(l); p.Clearance > top {
				top = p.Clearance
			}
		default:
			return label.TopSecret
		}
	}
	return top
}

// servedNations are the nations this instance's clients can belong to:
// the principals of the plain listeners; nil (any nation) behind a
// certificate listener.
func (c *Config) servedNations() []string {
	var out []string
	for _, l := range c.Listeners {
		switch l.Kind {
		case KindCoTTCP, KindCoTUDP, KindHTTP:
			if p := c.principalOf(l); !slices.Contains(out, p.Nation) {
				out = append(out, p.Nation)
			}
		case KindFederation: // peers, not clients (the holder reads the whole stream)
		default:
			return nil
		}
	}
	return out
}

// setupCluster wires cluster mode in (called by New): the bus, the
// ingest gate, shared uid claims, metrics and the cluster API.
func (n *Node) setupCluster() {
	if n.cfg.Cluster == "" {
		return
	}
	cm := &clusterMode{order: newUIDOrder(1 << 16)}
	n.cl = cm
	n.admit = n.clusterAdmit
	n.sharedClaim = n.clusterClaim
	n.AddTap(n.clusterTap)
	n.metrics.Register(clusterCollector{n})
	n.Handle("GET /api/v1/cluster", http.HandlerFunc(n.serveCluster))
	n.Use(Hooks{ID: "cluster", OnStart: n.startCluster, OnStop: n.stopCluster})
}

// openStore opens the configured storage backend. In cluster mode it also
// connects the bus first, so that consumption resumes after what the
// restored store already holds.
func (n *Node) openStore(ctx context.Context) (store.Backend, error) {
	if !isPostgres(n.cfg.Store) {
		return store.Open(store.Config{
			Dir:              n.cfg.DataDir,
			FlushInterval:    time.Duration(n.cfg.FlushInterval),
			HistoryRetention: time.Duration(n.cfg.HistoryRetention),
			Log:              n.log.With("component", "store"),
		})
	}
	pg, err := pgstore.Open(ctx, pgstore.Config{
		URL:              n.cfg.Store,
		FlushInterval:    time.Duration(n.cfg.FlushInterval),
		HistoryRetention: time.Duration(n.cfg.HistoryRetention),
		Log:              n.log,
	})
	if err != nil {
		return nil, err
	}
	if n.cl == nil {
		return pg, nil
	}
	n.cl.pg = pg
	n.cl.storeOK.Store(true)
	bus, err := cluster.New(cluster.Config{
		URL:          n.cfg.Cluster,
		Name:         "kizuna_" + n.cfg.NodeID,
		Instance:     n.cfg.Instance,
		MaxClearance: n.cfg.maxClearance(),
		Nations:      n.cfg.ClusterNations,
		Serve:        n.cfg.servedNations(),
		Deliver:      n.applyRemote,
		Log:          n.log,
	})
	if err == nil {
		err = bus.Connect(ctx)
	}
	if err != nil {
		pg.Close()
		return nil, fmt.Errorf("joining cluster: %w", err)
	}
	n.cl.bus = bus
	n.log.Info("cluster mode", "instance", bus.Instance(), "filters", bus.Filters())
	return pg, nil
}

func (n *Node) startCluster(ctx context.Context) error {
	if err := n.cl.bus.Start(ctx); err != nil {
		return fmt.Errorf("starting cluster: %w", err)
	}
	n.cl.loops.run(ctx, n.watchStore)
	return nil
}

func (n *Node) stopCluster(ctx context.Context) error {
	n.cl.loops.stop(ctx)
	if n.cl.bus == nil {
		return nil
	}
	if n.fedc != nil {
		if err := n.fedc.stop(ctx); err != nil {
			n.log.Warn("stopping federation", "err", err)
		}
	}
	n.checkpointAudit(context.Background())
	return n.cl.bus.Stop(ctx)
}

// watchStore pings PostgreSQL twice a second (the gate reads the result)
// and records this instance's audit chain head every few seconds.
func (n *Node) watchStore(ctx context.Context) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	var ticks, slow int
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := n.cl.pg.Ping(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		// A refused connection is unavailability at once; a slow answer
		// (a busy machine) only after several in a row, so that load does
		// not make the instance refuse work.
		if err != nil && errors.Is(err, context.DeadlineExceeded) {
			if slow++; slow < 3 {
				continue
			}
		}
		if err != nil {
			s := err.Error()
			n.cl.storeE.Store(&s)
			if n.cl.storeOK.Swap(false) {
				n.log.Error("PostgreSQL unavailable: refusing new work", "err", err)
			}
			continue
		}
		slow = 0
		if !n.cl.storeOK.Swap(true) {
			n.log.Info("PostgreSQL available again")
		}
		if ticks++; ticks%10 == 0 {
			n.checkpointAudit(ctx)
		}
	}
}

// checkpointAudit records the head of this instance's audit chain in the
// shared store (see package clusteraudit).
func (n *Node) checkpointAudit(ctx context.Context) {
	if n.audit == nil || n.cl.pg == nil || n.cl.bus == nil {
		return
	}
	h := n.audit.Head()
	if h.Seq == 0 {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := clusteraudit.Checkpoint(cctx, n.cl.pg.Pool(), n.cl.bus.Instance(), h.Seq, h.Hash); err != nil && ctx.Err() == nil {
		n.log.Warn("audit checkpoint not recorded", "err", err)
	}
}

// clusterHealth is nil when the instance can take work.
func (n *Node) clusterHealth() error {
	if err := n.cl.bus.Health(); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if !n.cl.storeOK.Load() {
		msg := "PostgreSQL unreachable"
		if p := n.cl.storeE.Load(); p != nil {
			msg = *p
		}
		return fmt.Errorf("%w: store: %s", ErrUnavailable, msg)
	}
	return nil
}

func (n *Node) clusterAdmit() error {
	if n.cl.bus == nil {
		return nil
	}
	if err := n.clusterHealth(); err != nil {
		n.cl.refused.Add(1)
		return err
	}
	return nil
}

// clusterClaim makes the first claim of a uid in the shared store, where
// one PostgreSQL statement picks exactly one owner across all instances.
func (n *Node) clusterClaim(uid, owner string) error {
	if _, known := n.picture.Owner(uid); known || n.cl.pg == nil {
		return nil
	}
	// Generous: a busy database answers late rather than not at all, and
	// only this client's connection waits.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	winner, err := n.cl.pg.Claim(ctx, uid, owner)
	if err != nil {
		return fmt.Errorf("%w: claiming uid: %w", ErrUnavailable, err)
	}
	n.cl.claims.Add(1)
	// The claim lasts like a local one; the event that follows extends it
	// to its own stale time.
	n.picture.LoadOwners(map[string]string{uid: winner}, func(string) time.Time { return n.claimUntil(time.Now()) })
	return nil
}

// clusterTap sends every event this instance accepted to the others.
func (n *Node) clusterTap(m *hub.Message, fed *federation.Provenance) {
	if n.cl.bus == nil || m.Kind != hub.KindEvent || m.Event == nil {
		return
	}
	owner, _ := n.picture.Owner(m.UID)
	n.cl.bus.Publish(cluster.Envelope{Owner: owner, Label: m.Label, XML: m.XML(), Fed: fedEnvelope(fed)})
}

// applyRemote applies an event accepted by another instance: the picture
// takes it, and the hub delivers it to this instance's clients with the
// label check at egress. It is not stored again (the accepting instance
// stored it) nor sent on to the taps.
func (n *Node) applyRemote(env cluster.Envelope) {
	ev, err := cot.Decode(env.XML)
	if err != nil {
		n.log.Warn("undecodable cluster event", "from", env.Instance, "seq", env.Seq, "err", err)
		return
	}
	l, present, err := ev.ParseLabel()
	if err != nil || !present || !l.Valid() {
		n.log.Warn("unlabelled cluster event dropped", "from", env.Instance, "uid", ev.UID)
		return
	}
	if !n.cl.order.fresh(ev.UID, env.Seq) {
		return // a newer event of the uid was delivered already
	}
	n.cl.remote.Add(1)
	if ev.IsDelete() {
		targets := make([]string, 0, len(ev.Links)+1)
		for _, lk := range ev.Links {
			if lk.UID != "" {
				targets = append(targets, lk.UID)
			}
		}
		if len(targets) == 0 {
			targets = append(targets, ev.UID)
		}
		for _, uid := range targets {
			if old, ok := n.picture.Remove(uid); ok {
				n.hub.Publish(hub.NewExpire(uid, old.Label, &n.enc))
			}
		}
		n.hub.Publish(hub.NewMessage(ev, l, 0, &n.enc))
		return
	}
	persistent := cop.Persistent(ev)
	if persistent {
		l = label.Intern(l)
	}
	if persistent {
		// Already in the picture, byte for byte (restored from the store
		// at start, and read again from the stream's recent backlog).
		if old, ok := n.picture.Get(ev.UID); ok && bytes.Equal(old.XML(), env.XML) {
			return
		}
	}
	m := hub.NewMessage(ev, l, 0, &n.enc)
	m.SetXML(env.XML)
	markFused(m)
	if persistent {
		owner := env.Owner
		if owner == "" {
			owner = l.Originator
		}
		if _, err := n.picture.Claim(ev.UID, owner, n.claimUntil(ev.Stale)); err != nil {
			n.log.Warn("cluster event for a uid owned elsewhere", "uid", ev.UID, "err", err)
			return
		}
		m.ShareDetail()
		n.picture.Put(m, m.Received)
	}
	n.hub.Publish(m)
}

// healthFunc returns the /healthz detail function (nil outside cluster
// mode, where /healthz stays as it was).
func (n *Node) healthFunc() func() (any, error) {
	if n.cl == nil {
		return nil
	}
	return func() (any, error) {
		return n.clusterStatus(), n.clusterHealth()
	}
}

// ClusterStatus is what /healthz and /api/v1/cluster report.
type ClusterStatus struct {
	Instance string           `json:"instance"`
	Members  []cluster.Member `json:"members"`
	Filters  []string         `json:"filters"`
	Bus      cluster.Stats    `json:"bus"`
	StoreOK  bool             `json:"storeOk"`
	Store    store.Stats      `json:"store"`
	Claims   uint64           `json:"claims"`
	Refused  uint64           `json:"refused"`
}

func (n *Node) clusterStatus() ClusterStatus {
	st := ClusterStatus{StoreOK: n.cl.storeOK.Load(), Claims: n.cl.claims.Load(), Refused: n.cl.refused.Load()}
	if b := n.cl.bus; b != nil {
		st.Instance, st.Members, st.Filters, st.Bus = b.Instance(), b.KnownMembers(), b.Filters(), b.Stats()
	}
	if n.cl.pg != nil {
		st.Store = n.cl.pg.Stats()
	}
	return st
}

func (n *Node) serveCluster(w http.ResponseWriter, r *http.Request) {
	web.WriteJSON(w, http.StatusOK, n.clusterStatus())
}

// Cluster returns the instance's cluster status (ok false outside cluster
// mode).
func (n *Node) Cluster() (ClusterStatus, bool) {
	if n.cl == nil || n.cl.bus == nil {
		return ClusterStatus{}, false
	}
	return n.clusterStatus(), true
}

type clusterCollector struct{ n *Node }

var (
	descMembers   = prometheus.NewDesc("kizuna_cluster_members", "Live instances of this node, as of the last heartbeat.", nil, nil)
	descUp        = prometheus.NewDesc("kizuna_cluster_up", "1 while the instance can take work (NATS and PostgreSQL reachable).", []string{"part"}, nil)
	descLag       = prometheus.NewDesc("kizuna_cluster_lag_messages", "Messages in the stream not yet consumed by this instance.", nil, nil)
	descClPub     = prometheus.NewDesc("kizuna_cluster_published_total", "Events this instance stored in JetStream.", nil, nil)
	descClRecv    = prometheus.NewDesc("kizuna_cluster_received_total", "Events from other instances applied here.", nil, nil)
	descClBytes   = prometheus.NewDesc("kizuna_cluster_received_bytes_total", "Payload bytes this instance received from the stream.", nil, nil)
	descOutbox    = prometheus.NewDesc("kizuna_cluster_outbox", "Accepted events waiting to be stored in JetStream.", nil, nil)
	descClDropped = prometheus.NewDesc("kizuna_cluster_outbox_dropped_total", "Events lost to a full outbox.", nil, nil)
	descRefused   = prometheus.NewDesc("kizuna_cluster_refused_total", "Events refused while NATS or PostgreSQL were unavailable.", nil, nil)
	descPending   = prometheus.NewDesc("kizuna_store_pending_rows", "Rows waiting for the next store flush.", nil, nil)
	descReordered = prometheus.NewDesc("kizuna_cluster_reordered_total", "Events from the stream dropped because a newer event of the same uid had been delivered already.", nil, nil)
)

func (c clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descMembers, descUp, descLag, descClPub, descClRecv, descClBytes, descOutbox, descClDropped, descRefused, descPending, descReordered} {
		ch <- d
	}
}

func (c clusterCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.n.clusterStatus()
	up := func(ok bool) float64 {
		if ok {
			return 1
		}
		return 0
	}
	busOK := c.n.cl.bus != nil && c.n.cl.bus.Health() == nil
	ch <- prometheus.MustNewConstMetric(descMembers, prometheus.GaugeValue, float64(len(st.Members)))
	ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, up(busOK), "nats")
	ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, up(st.StoreOK), "postgres")
	ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, float64(st.Bus.Lag))
	ch <- prometheus.MustNewConstMetric(descClPub, prometheus.CounterValue, float64(st.Bus.Published))
	ch <- prometheus.MustNewConstMetric(descClRecv, prometheus.CounterValue, float64(st.Bus.Received))
	ch <- prometheus.MustNewConstMetric(descClBytes, prometheus.CounterValue, float64(st.Bus.BytesReceived))
	ch <- prometheus.MustNewConstMetric(descOutbox, prometheus.GaugeValue, float64(st.Bus.Outbox))
	ch <- prometheus.MustNewConstMetric(descClDropped, prometheus.CounterValue, float64(st.Bus.OutboxDropped))
	ch <- prometheus.MustNewConstMetric(descRefused, prometheus.CounterValue, float64(st.Refused))
	ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, float64(st.Store.PendingObjects+st.Store.PendingHistory))
	ch <- prometheus.MustNewConstMetric(descReordered, prometheus.CounterValue, float64(c.n.cl.order.Dropped()))
}

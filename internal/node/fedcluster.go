package node

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/prometheus/client_golang/prometheus"

	"kizuna/internal/cluster"
	"kizuna/internal/cot"
	"kizuna/internal/federation"
	"kizuna/internal/hub"
	"kizuna/internal/lease"
	"kizuna/internal/seclog"
	"kizuna/internal/web"
)

// FederationLeaseTTL is how long a dead holder keeps a peer link of a
// cluster before another instance takes it over.
const FederationLeaseTTL = 6 * time.Second

// fedCluster runs federation in cluster mode: each peer link is held by
// one instance at a time, the holder of the lease "link.PEER" in the
// JetStream bucket <stream>_fed, so that a node's links spread over its
// instances. For each link it holds, an instance runs a
// federation.Federation of that one peer, whose durable queue, epoch and
// input position are in PostgreSQL (keyed by the peer) and whose input
// is the node's whole stream, read by its own reader from the link's
// committed position (see federation/cluster.go). When the holder dies,
// its lease expires, another instance acquires it, starts the link from
// the same shared state and redials the peer: nothing queued is lost, and
// what the dead holder sent without committing is dropped by the peer as
// duplicates (origin sequence numbers derive from stream positions, the
// same whichever instance routes an event).
//
// Who holds what: an instance takes a free link it dials while it holds
// fewer than its share (links / live instances, rounded up), and any link
// that stayed free for two renewal rounds (its holder died); one holding
// more than its share gives one back each round, a link held for at
// least a lease period and not within two member TTLs of a takeover (the
// dead instance is still listed as a member meanwhile), so links spread
// over the instances as they join. A link the peer dials (no
// address) is taken by the instance whose listener the peer reaches, for
// as long as the peer stays connected (see accept).
type fedCluster struct {
	n     *Node
	base  federation.Config
	peers []federation.PeerConfig
	dedup *federation.Dedup

	leases map[string]*lease.Lease
	db     *sql.DB
	ln     net.Listener
	loops  goroutines          // the hold loop and the accept loop
	onUp   []func(peer string) // link-up hooks, given to each link's federation
	conns  goroutines          // the peers' inbound connections

	// op serialises taking and giving back links (the hold loop and the
	// listener's connections).
	op sync.Mutex
	mu sync.Mutex
	// links are the links this instance holds, by peer name.
	links map[string]*heldLink
	// freeRounds counts, per dialled peer, the renewal rounds in a row
	// its lease was seen free (hold loop only).
	freeRounds map[string]int
	// tookOver is when this instance last took a link beyond its share
	// (hold loop only): the member list still names the instance that
	// died for up to its TTL, so no link is given back for a while.
	tookOver time.Time

	stopped atomic.Bool
}

// heldLink is one link this instance holds.
type heldLink struct {
	f      *federation.Federation
	r      *cluster.Reader
	since  time.Time
	lastUp time.Time // hold loop only
}

// setupClusterFederation replaces the single-process wiring of
// setupFederation in cluster mode.
func (n *Node) setupClusterFederation(cfg federation.Config) {
	fc := &fedCluster{n: n, base: cfg, peers: cfg.Peers, dedup: federation.NewDedup(),
		links: map[string]*heldLink{}, freeRounds: map[string]int{}}
	n.fedc = fc
	n.Use(Hooks{ID: "federation", OnStart: fc.start, OnStop: fc.stop})
	n.Handle("/api/v1/federation", http.HandlerFunc(fc.serveStatus))
	n.metrics.Register(fc)
}

// OnLinkUp registers fn with every federation this instance runs while it
// holds the lease (see federation.Federation.OnLinkUp). Call before Start.
func (fc *fedCluster) OnLinkUp(fn func(peer string)) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	fc.onUp = append(fc.onUp, fn)
}

// leaseKey makes a lease name of a peer name: kept when it is a valid key
// token, encoded otherwise.
var leaseKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func leaseName(peer string) string {
	if leaseKey.MatchString(peer) {
		return "link." + peer
	}
	return "link.b64-" + base64.RawURLEncoding.EncodeToString([]byte(peer))
}

// link returns the federation of a link this instance holds (nil when
// another instance holds it).
func (fc *fedCluster) link(peer string) *federation.Federation {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if h := fc.links[peer]; h != nil {
		return h.f
	}
	return nil
}

// reporter reports whether this instance is the one of a federated
// cluster that publishes node-wide reports (sustainment stock and
// readiness), so they go out once: the live member with the smallest
// instance name. It does not depend on holding a link: a link may be down
// (an inbound peer not connected) while the reports must still go out.
func (fc *fedCluster) reporter() bool {
	self := fc.n.cl.bus.Instance()
	for _, m := range fc.n.cl.bus.KnownMembers() {
		if m.Instance < self {
			return false
		}
	}
	return true
}

// held returns the links this instance holds, in configuration order.
func (fc *fedCluster) held() (names []string, fs []*federation.Federation) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	for _, p := range fc.peers {
		if h := fc.links[p.Name]; h != nil {
			names = append(names, p.Name)
			fs = append(fs, h.f)
		}
	}
	return names, fs
}

func (fc *fedCluster) start(ctx context.Context) error {
	n := fc.n
	if n.cl == nil || n.cl.bus == nil || n.cl.pg == nil {
		return fmt.Errorf("federation in cluster mode needs the cluster")
	}
	kv, acks, err := lease.Buckets(ctx, n.cl.bus.JetStream(), n.cl.bus.StreamName()+"_fed", FederationLeaseTTL)
	if err != nil {
		return fmt.Errorf("federation lease: %w", err)
	}
	fc.leases = map[string]*lease.Lease{}
	for _, p := range fc.peers {
		l, err := lease.New(lease.Config{KV: kv, Acks: acks, Name: leaseName(p.Name), Holder: n.cl.bus.Instance(), TTL: FederationLeaseTTL, Log: n.log})
		if err != nil {
			return err
		}
		fc.leases[p.Name] = l
	}
	fc.db = stdlib.OpenDBFromPool(n.cl.pg.Pool())
	// Every instance listens: a peer that dials the node reaches any of
	// them, and the one it reaches takes its link (accept).
	err = n.bindOwn(KindFederation, func(l ListenerConfig) (ListenerInfo, error) {
		ln, err := net.Listen("tcp", l.Addr)
		if err != nil {
			return ListenerInfo{}, fmt.Errorf("federation listener: %w", err)
		}
		fc.ln = ln
		return ListenerInfo{Kind: KindFederation, Addr: ln.Addr().String()}, nil
	})
	if err != nil {
		fc.db.Close()
		return err
	}
	if fc.ln != nil {
		fc.loops.run(ctx, fc.acceptLoop)
	}
	fc.loops.run(ctx, fc.hold)
	return nil
}

// hold renews the leases of the links this instance holds and takes or
// gives back links every TTL/3 (see fedCluster).
func (fc *fedCluster) hold(ctx context.Context) {
	t := time.NewTicker(FederationLeaseTTL / 3)
	defer t.Stop()
	for {
		fc.round(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// round is one renewal round of hold.
func (fc *fedCluster) round(ctx context.Context) {
	fc.op.Lock()
	defer fc.op.Unlock()
	dialled, mine := 0, 0
	for _, p := range fc.peers {
		if p.Addr != "" {
			dialled++
		}
	}
	members := max(1, len(fc.n.cl.bus.KnownMembers()))
	share := (dialled + members - 1) / members
	for _, p := range fc.peers {
		if ctx.Err() != nil {
			return
		}
		if fc.renew(ctx, p) && p.Addr != "" {
			mine++
		}
	}
	for _, p := range fc.peers {
		if ctx.Err() != nil || p.Addr == "" || fc.link(p.Name) != nil {
			continue
		}
		l := fc.leases[p.Name]
		if mine >= share {
			// Over our share: only a link nobody took for two rounds.
			cctx, cancel := context.WithTimeout(ctx, FederationLeaseTTL/3)
			holder, err := l.Holder(cctx)
			cancel()
			if err != nil || holder != "" {
				fc.freeRounds[p.Name] = 0
				continue
			}
			if fc.freeRounds[p.Name]++; fc.freeRounds[p.Name] < 2 {
				continue
			}
		}
		if fc.tryTake(ctx, p) {
			if mine >= share {
				fc.tookOver = time.Now()
			}
			mine++
		}
	}
	if mine > share && members > 1 && time.Since(fc.tookOver) > 2*cluster.DefaultMemberTTL {
		fc.giveBack(share)
	}
}

// renew renews the lease of a held link and reports whether it is still
// held; a link whose lease is lost, whose federation was fenced off, or
// (a link the peer dials) whose peer stayed away for two lease periods is
// let go.
func (fc *fedCluster) renew(ctx context.Context, p federation.PeerConfig) bool {
	fc.mu.Lock()
	h := fc.links[p.Name]
	fc.mu.Unlock()
	if h == nil {
		return false
	}
	cctx, cancel := context.WithTimeout(ctx, FederationLeaseTTL/3)
	ok, err := fc.leases[p.Name].TryAcquire(cctx)
	cancel()
	if err != nil && ctx.Err() == nil {
		fc.n.log.Warn("federation lease renewal failed", "peer", p.Name, "err", err)
	}
	switch {
	case !ok:
		fc.release(p.Name, "lease lost", false)
		return false
	case h.f.Fenced():
		fc.release(p.Name, "fenced", false)
		return false
	}
	if linkUp(h.f) {
		h.lastUp = time.Now()
	} else if p.Addr == "" && time.Since(h.lastUp) > 2*FederationLeaseTTL {
		fc.release(p.Name, "peer not connected", true)
		return false
	}
	return true
}

// giveBack releases the most recently taken dialled link held for a
// while, so that an instance below its share takes it.
func (fc *fedCluster) giveBack(share int) {
	fc.mu.Lock()
	var newest string
	var at time.Time
	for _, p := range fc.peers {
		if h := fc.links[p.Name]; h != nil && p.Addr != "" && time.Since(h.since) > FederationLeaseTTL && h.since.After(at) {
			newest, at = p.Name, h.since
		}
	}
	fc.mu.Unlock()
	if newest != "" {
		fc.release(newest, fmt.Sprintf("rebalancing: more than this instance's share of %d", share), true)
	}
}

// tryTake acquires a link's lease and starts the link; the caller holds
// op.
func (fc *fedCluster) tryTake(ctx context.Context, p federation.PeerConfig) bool {
	l := fc.leases[p.Name]
	cctx, cancel := context.WithTimeout(ctx, FederationLeaseTTL/3)
	ok, err := l.TryAcquire(cctx)
	cancel()
	if err != nil && ctx.Err() == nil {
		fc.n.log.Warn("federation lease", "peer", p.Name, "err", err)
	}
	if !ok {
		return false
	}
	fc.freeRounds[p.Name] = 0
	if err := fc.acquire(ctx, p); err != nil {
		fc.n.log.Error("federation link not started on this instance", "peer", p.Name, "err", err)
		sctx, c := context.WithTimeout(context.Background(), 2*time.Second)
		l.Stop(sctx) // to the next instance
		c()
		return false
	}
	return true
}

// linkUp reports whether a one-peer federation's link is up.
func linkUp(f *federation.Federation) bool { return f.Status().Up() > 0 }

// acquire starts this instance's federation of one link from the shared
// state.
func (fc *fedCluster) acquire(ctx context.Context, p federation.PeerConfig) error {
	n := fc.n
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	id, err := n.cl.bus.LogID(sctx)
	if err != nil {
		return err
	}
	cfg := fc.base
	cfg.Peers = []federation.PeerConfig{p}
	cfg.Shared, cfg.Input, cfg.InputID, cfg.Scope, cfg.Dedup = fc.db, true, id, p.Name, fc.dedup
	cfg.BeforeAck = n.cl.bus.Synced
	f, err := federation.New(cfg)
	if err != nil {
		return err
	}
	fc.mu.Lock()
	for _, fn := range fc.onUp {
		f.OnLinkUp(fn)
	}
	fc.mu.Unlock()
	err = f.Start(sctx, n.Trust(), n.Certificate())
	var r *cluster.Reader
	if err == nil {
		r, err = n.cl.bus.Read(sctx, f.InputPos(), func(env cluster.Envelope) {
			if m, fed := n.fedMessage(env); m != nil {
				f.Input(m, fed, env.Seq)
			}
		})
	}
	if err != nil {
		cctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		f.Close(cctx)
		c()
		return err
	}
	now := time.Now()
	fc.mu.Lock()
	fc.links[p.Name] = &heldLink{f: f, r: r, since: now, lastUp: now}
	fc.mu.Unlock()
	n.log.Info("federation link held by this instance", "peer", p.Name, "instance", n.cl.bus.Instance(), "from", f.InputPos())
	return nil
}

// release stops this instance's federation of one link; with giveUp it
// also deletes the lease, so that another instance takes the link at
// once (otherwise the lease is already lost, or expires).
func (fc *fedCluster) release(peer, why string, giveUp bool) {
	fc.mu.Lock()
	h := fc.links[peer]
	delete(fc.links, peer)
	fc.mu.Unlock()
	if h == nil {
		return
	}
	if h.r != nil {
		h.r.Stop()
	}
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.f.Close(cctx); err != nil {
		fc.n.log.Warn("closing federation link", "peer", peer, "err", err)
	}
	if giveUp {
		if err := fc.leases[peer].Stop(cctx); err != nil {
			fc.n.log.Warn("giving back federation link", "peer", peer, "err", err)
		}
	}
	fc.n.log.Warn("federation link released by this instance", "peer", peer, "why", why)
}

// acceptLoop takes the connections of peers that dial the node.
func (fc *fedCluster) acceptLoop(ctx context.Context) {
	for {
		raw, err := fc.ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			fc.n.log.Warn("federation accept", "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		fc.conns.run(ctx, func(ctx context.Context) { fc.accept(ctx, raw) })
	}
}

// accept authenticates a peer's connection and hands it to the link's
// federation: this instance's if it holds the link, or takes the link
// if no instance does. A connection for a link another instance holds is
// closed; the peer dials again (through a load balancer, it reaches
// another instance).
func (fc *fedCluster) accept(ctx context.Context, raw net.Conn) {
	n := fc.n
	remote := raw.RemoteAddr().String()
	tc, peer, err := federation.AcceptTLS(ctx, raw, n.Trust(), *n.Certificate())
	if err != nil {
		n.log.Warn("federation handshake refused", seclog.Tag(seclog.Federation), "remote", remote, "err", err)
		return
	}
	i := slices.IndexFunc(fc.peers, func(p federation.PeerConfig) bool { return p.Name == peer.ID })
	if i < 0 {
		tc.Close()
		n.log.Warn("federation link refused", seclog.Tag(seclog.Federation), "remote", remote, "node", peer.ID, "err", federation.ErrNotPeer)
		return
	}
	f := fc.takeFor(ctx, fc.peers[i])
	if f == nil {
		tc.Close()
		n.log.Info("federation link refused: held by another instance", "peer", peer.ID, "remote", remote)
		return
	}
	f.ServeInbound(tc, peer)
}

// takeFor returns the federation of a peer's link, taking the link if no
// instance holds it; nil when another instance holds it.
func (fc *fedCluster) takeFor(ctx context.Context, p federation.PeerConfig) *federation.Federation {
	if f := fc.link(p.Name); f != nil {
		return f
	}
	fc.op.Lock()
	defer fc.op.Unlock()
	if f := fc.link(p.Name); f != nil {
		return f
	}
	if fc.stopped.Load() || !fc.tryTake(ctx, p) {
		return nil
	}
	return fc.link(p.Name)
}

// stop releases every link and lease; the cluster's stop calls it first,
// while NATS is still connected, and the lifecycle again.
func (fc *fedCluster) stop(ctx context.Context) error {
	if !fc.stopped.CompareAndSwap(false, true) {
		return nil
	}
	if fc.ln != nil {
		fc.ln.Close()
	}
	fc.loops.stop(ctx)
	fc.op.Lock() // no link taken from here on (stopped)
	names, _ := fc.held()
	var wg sync.WaitGroup
	for _, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fc.release(name, "shutdown", true) // at once to the next instance
		}()
	}
	wg.Wait()
	fc.op.Unlock()
	fc.conns.stop(ctx) // their links are closed
	if fc.db != nil {
		fc.db.Close()
	}
	return nil
}

// fedMessage rebuilds a published event from the stream for federation:
// its label, its XML as published, and its federation provenance (nil
// for an event that entered at one of the node's instances).
func (n *Node) fedMessage(env cluster.Envelope) (*hub.Message, *federation.Provenance) {
	ev, err := cot.Decode(env.XML)
	if err != nil {
		n.log.Warn("undecodable stream event not federated", "seq", env.Seq, "err", err)
		return nil, nil
	}
	l, present, err := ev.ParseLabel()
	if err != nil || !present || !l.Valid() {
		return nil, nil
	}
	m := hub.NewMessage(ev, l, 0, &n.enc)
	m.SetXML(env.XML)
	var fed *federation.Provenance
	if env.Fed != nil {
		fed = &federation.Provenance{OriginNode: env.Fed.Origin, Seq: env.Fed.Seq, Path: env.Fed.Path, Peer: env.Fed.Peer, Signed: env.Fed.Signed}
	}
	return m, fed
}

// fedEnvelope is the provenance a federated event carries on the stream.
func fedEnvelope(fi *federation.Provenance) *cluster.Fed {
	if fi == nil {
		return nil
	}
	return &cluster.Fed{Origin: fi.OriginNode, Seq: fi.Seq, Path: fi.Path, Peer: fi.Peer, Signed: fi.Signed}
}

// clusterPeerStatus is one link in cluster mode: its state at the holder,
// and which instance holds it.
type clusterPeerStatus struct {
	federation.PeerStatus
	HeldBy string `json:"heldBy"`
}

// serveStatus answers GET /api/v1/federation: every link this instance
// holds with its state, the others with the instance that holds them
// (link internals to the node's own nation only, as in single-process
// mode).
func (fc *fedCluster) serveStatus(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		web.WriteJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "GET only"})
		return
	}
	out := struct {
		Node     string              `json:"node"`
		Nation   string              `json:"nation"`
		Instance string              `json:"instance"`
		Peers    []clusterPeerStatus `json:"peers"`
	}{Node: fc.n.cfg.NodeID, Nation: fc.n.cfg.Nation, Peers: []clusterPeerStatus{}}
	if fc.n.cl != nil && fc.n.cl.bus != nil {
		out.Instance = fc.n.cl.bus.Instance()
	}
	if p, ok := web.PrincipalFrom(r.Context()); !ok || p.Nation != fc.n.cfg.Nation {
		web.WriteJSON(w, http.StatusOK, out)
		return
	}
	for _, p := range fc.peers {
		if f := fc.link(p.Name); f != nil {
			for _, ps := range f.Status().Peers {
				out.Peers = append(out.Peers, clusterPeerStatus{PeerStatus: ps, HeldBy: out.Instance})
			}
			continue
		}
		ps := clusterPeerStatus{PeerStatus: federation.PeerStatus{Name: p.Name, State: "elsewhere", Addr: p.Addr, Classification: p.Classification.String()}}
		if l := fc.leases[p.Name]; l != nil {
			ps.HeldBy, _ = l.Holder(r.Context())
		}
		out.Peers = append(out.Peers, ps)
	}
	web.WriteJSON(w, http.StatusOK, out)
}

// Describe sends nothing: the held links' metrics come and go with their
// leases (an unchecked collector).
func (fc *fedCluster) Describe(chan<- *prometheus.Desc) {}

func (fc *fedCluster) Collect(ch chan<- prometheus.Metric) {
	if _, fs := fc.held(); len(fs) > 0 {
		federation.CollectAll(ch, fs)
	}
}

// federatedErr marks a refusal for want of NATS or PostgreSQL so that
// federation does not acknowledge the event and the peer sends it again.
func federatedErr(err error) error {
	if errors.Is(err, ErrUnavailable) {
		return fmt.Errorf("%w: %w", federation.ErrHostUnavailable, err)
	}
	return err
}

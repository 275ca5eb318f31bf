package node

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
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
	"kizuna/internal/web"
)

// FederationLeaseTTL is how long a dead holder keeps the federation of a
// cluster before another instance takes it over.
const FederationLeaseTTL = 6 * time.Second

// fedCluster runs federation in cluster mode: all the node's peer links
// are held by one instance at a time, the holder of the lease
// "federation" in the JetStream bucket <stream>_fed. The holder runs a
// federation.Federation whose durable queue is in PostgreSQL and whose
// input is the node's stream, read from the position the queue recorded
// (see federation/cluster.go); when it dies, its lease expires, another
// instance acquires it, starts a federation from the same shared state
// and redials the peers: nothing queued is lost, and what the dead holder
// sent without committing is dropped by the peers as duplicates.
type fedCluster struct {
	n    *Node
	base federation.Config

	mu     sync.Mutex
	cur    *federation.Federation
	reader *cluster.Reader
	lease  *lease.Lease
	db     *sql.DB
	loops  goroutines
	onUp   []func(peer string) // link-up hooks, given to each federation started

	stopped atomic.Bool
}

// setupClusterFederation replaces the single-process wiring of
// setupFederation in cluster mode.
func (n *Node) setupClusterFederation(cfg federation.Config) {
	fc := &fedCluster{n: n, base: cfg}
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

// current returns the running federation, nil when another instance
// holds it.
func (fc *fedCluster) current() *federation.Federation {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return fc.cur
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
	l, err := lease.New(lease.Config{KV: kv, Acks: acks, Name: "federation", Holder: n.cl.bus.Instance(), TTL: FederationLeaseTTL, Log: n.log})
	if err != nil {
		return err
	}
	fc.lease = l
	fc.db = stdlib.OpenDBFromPool(n.cl.pg.Pool())
	fc.loops.run(ctx, fc.hold)
	return nil
}

// hold tries to acquire or renew the lease every TTL/3; it starts the
// federation when it gains the lease and stops it when it loses it (or
// another instance fenced it off).
func (fc *fedCluster) hold(ctx context.Context) {
	t := time.NewTicker(FederationLeaseTTL / 3)
	defer t.Stop()
	for {
		cctx, cancel := context.WithTimeout(ctx, FederationLeaseTTL/3)
		held, err := fc.lease.TryAcquire(cctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			fc.n.log.Warn("federation lease renewal failed", "err", err)
		}
		cur := fc.current()
		switch {
		case held && cur != nil && cur.Fenced():
			fc.release(ctx, "fenced")
		case held && cur == nil:
			if err := fc.acquire(ctx); err != nil {
				fc.n.log.Error("federation not started on this instance", "err", err)
			}
		case !held && cur != nil:
			fc.release(ctx, "lease lost")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// acquire starts this instance's federation from the shared state.
func (fc *fedCluster) acquire(ctx context.Context) error {
	n := fc.n
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	id, err := n.cl.bus.LogID(sctx)
	if err != nil {
		return err
	}
	cfg := fc.base
	cfg.Shared, cfg.Input, cfg.InputID = fc.db, true, id
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
	err = n.bindOwn(KindFederation, func(l ListenerConfig) (ListenerInfo, error) {
		addr, err := f.Listen(l.Addr)
		if err != nil {
			return ListenerInfo{}, err
		}
		return ListenerInfo{Kind: KindFederation, Addr: addr.String()}, nil
	})
	if err == nil {
		err = f.Start(sctx, n.Trust(), n.Certificate())
	}
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
	fc.mu.Lock()
	fc.cur, fc.reader = f, r
	fc.mu.Unlock()
	n.log.Info("federation held by this instance", "instance", n.cl.bus.Instance(), "from", f.InputPos())
	return nil
}

// release stops this instance's federation.
func (fc *fedCluster) release(ctx context.Context, why string) {
	fc.mu.Lock()
	f, r := fc.cur, fc.reader
	fc.cur, fc.reader = nil, nil
	fc.mu.Unlock()
	if f == nil {
		return
	}
	if r != nil {
		r.Stop()
	}
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.Close(cctx); err != nil {
		fc.n.log.Warn("closing federation", "err", err)
	}
	fc.n.log.Warn("federation released by this instance", "why", why)
}

// stop releases the federation and the lease; the cluster's stop calls
// it first, while NATS is still connected, and the lifecycle again.
func (fc *fedCluster) stop(ctx context.Context) error {
	if !fc.stopped.CompareAndSwap(false, true) {
		return nil
	}
	fc.loops.stop(ctx)
	fc.release(ctx, "shutdown")
	var err error
	if fc.lease != nil {
		err = fc.lease.Stop(ctx) // at once to the next instance
	}
	if fc.db != nil {
		fc.db.Close()
	}
	return err
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

// serveStatus answers GET /api/v1/federation: the holder's status, or
// where the federation is held.
func (fc *fedCluster) serveStatus(w http.ResponseWriter, r *http.Request) {
	if f := fc.current(); f != nil {
		f.Handler().ServeHTTP(w, r)
		return
	}
	holder := ""
	if fc.lease != nil {
		if e, err := fc.lease.Holder(r.Context()); err == nil {
			holder = e
		}
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{"node": fc.n.cfg.NodeID, "heldBy": holder, "peers": json.RawMessage("[]")})
}

// Describe sends nothing: the holder's federation metrics come and go
// with the lease (an unchecked collector).
func (fc *fedCluster) Describe(chan<- *prometheus.Desc) {}

func (fc *fedCluster) Collect(ch chan<- prometheus.Metric) {
	if f := fc.current(); f != nil {
		f.Collect(ch)
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

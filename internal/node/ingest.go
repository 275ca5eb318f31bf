package node

import (
	"context"
	"fmt"
	"time"

	"kizuna/internal/cop"
	"kizuna/internal/cot"
	"kizuna/internal/federation"
	"kizuna/internal/hub"
	"kizuna/internal/label"
	"kizuna/internal/reject"
	"kizuna/internal/store"
	"kizuna/internal/stream"
)

// Sentinel errors of the ingest pipeline.
var (
	ErrAboveClearance = label.ErrAboveClearance
	ErrNotOwner       = cop.ErrNotOwner
)

// ingestClient is where every event from a TAK client is checked. The
// submitter's identity comes only from the connection (listener or client
// certificate), never from the event: any __origin the client sent has
// been replaced, and an unlabelled event takes the submitter's default. A
// refusal is reported to the connection once, as a typed rejection.
func (n *Node) ingestClient(c *stream.Conn, ev *cot.Event, format string) error {
	var from uint64
	if c.Sub != nil {
		from = c.Sub.ID
	}
	if rej := n.ingestFrom(c.Principal, ev, from); rej != nil {
		c.Reject(string(rej.Reason), rej)
		return rej
	}
	n.metrics.EventsIn.WithLabelValues(format).Inc()
	n.followClient(c, ev)
	n.observeConn(c, ev, c.Principal)
	return nil
}

// ingestFrom applies the label and write rules to one event submitted by
// principal p and, when they pass, publishes it. It returns the rejection,
// if any, with its reason.
func (n *Node) ingestFrom(p label.Principal, ev *cot.Event, from uint64) *reject.Rejection {
	ev.Origin = cot.Origin{Nation: p.Nation, Node: n.cfg.NodeID}
	l, present, err := ev.ParseLabel()
	if err != nil {
		return reject.New(reasonOf(err), fmt.Errorf("event %s: %w", ev.UID, err))
	}
	if !present {
		l = label.Default(p)
	} else if err := label.CheckSubmit(p, l); err != nil {
		return reject.New(reject.AboveClearance, fmt.Errorf("event %s: %w", ev.UID, err))
	}
	ev.SetLabel(l)
	ev.DefaultHowIfMissing()
	if err := n.checkClientUIDs(ev); err != nil {
		return reject.New(reasonOf(err), err)
	}
	if n.admit != nil {
		if err := n.admit(); err != nil {
			return reject.New(reject.Unavailable, err)
		}
	}
	if err := n.acceptAs(ev, l, p.Nation, from, nil, p.Clearance); err != nil {
		return reject.New(reasonOf(err), err)
	}
	return nil
}

// accept applies a labelled event to the picture and publishes it. owner
// is the nation claiming the uid; from the sending subscriber (0 for the
// node itself).
func (n *Node) accept(ev *cot.Event, l label.Label, owner string, from uint64) error {
	return n.acceptAs(ev, l, owner, from, nil, label.Invalid)
}

// IngestFederated accepts an event that arrived from an allied node. Its
// label and originator are kept as they were stamped at the origin; the
// originator nation owns the uid, so no peer can overwrite another
// nation's object. The caller (package federation) has authenticated the
// peer and removed duplicates.
func (n *Node) IngestFederated(ev *cot.Event, l label.Label, fed *federation.Provenance) error {
	if err := ev.Validate(); err != nil {
		n.metrics.Rejected.WithLabelValues("federation_" + cot.Reason(err)).Inc()
		return err
	}
	if !l.Valid() {
		n.metrics.Rejected.WithLabelValues("federation_label").Inc()
		return fmt.Errorf("federated event %s: %w", ev.UID, cot.ErrLabel)
	}
	ev.SetLabel(l)
	if err := n.acceptAs(ev, l, l.Originator, 0, fed, label.Invalid); err != nil {
		reason := "federation_" + string(reasonOf(err))
		n.metrics.Rejected.WithLabelValues(reason).Inc()
		n.auditf(context.Background(), "node:"+fed.Peer, "federation."+reason, ev.UID, "deny", err.Error())
		return federatedErr(err)
	}
	n.metrics.EventsIn.WithLabelValues("federation").Inc()
	return nil
}

// Tap sees a message the node publishes and, when the event arrived over
// federation, its provenance (nil for a local event). The provenance
// travels beside the message: fan-out does not need it.
type Tap func(m *hub.Message, fed *federation.Provenance)

// AddTap registers a function that sees every event the node accepts
// (local and federated), after the label checks and before fan-out.
// Federation uses it to feed its durable outbound queues. It must not
// block. Call before Start.
func (n *Node) AddTap(f Tap) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.taps = append(n.taps, f)
}

// AddFederatedTap registers f for the events that arrived over
// federation only. It must not block. Call before Start.
func (n *Node) AddFederatedTap(f func(*hub.Message)) {
	n.AddTap(func(m *hub.Message, fed *federation.Provenance) {
		if fed != nil {
			f(m)
		}
	})
}

// publish hands m to the taps and the hub.
func (n *Node) publish(m *hub.Message, fed *federation.Provenance) {
	for _, t := range n.taps {
		t(m, fed)
	}
	n.hub.Publish(m)
}

// acceptAs applies the write rules to an event (owner is the nation that
// writes; clearance the writer's, label.Invalid when the node itself or a
// peer writes) and publishes it. Every event claims its uid, whatever its
// type: the claim lasts until its stale time plus the claim retention.
func (n *Node) acceptAs(ev *cot.Event, l label.Label, owner string, from uint64, fed *federation.Provenance, clearance label.Classification) error {
	if fed != nil && n.ownNamespace(ev) {
		return fmt.Errorf("federated event %s: %w", ev.UID, ErrReserved)
	}
	if n.sharedClaim != nil {
		// Cluster mode: the first claim of a uid is decided once, in the
		// shared store, for every instance.
		if err := n.sharedClaim(ev.UID, owner); err != nil {
			return fmt.Errorf("event %s: %w", ev.UID, err)
		}
	}
	if ev.IsDelete() {
		return n.acceptDelete(ev, l, owner, from, fed, clearance)
	}
	if _, err := n.picture.Claim(ev.UID, owner, n.claimUntil(ev.Stale)); err != nil {
		return fmt.Errorf("event %s: %w", ev.UID, err)
	}
	if err := n.checkWriteDown(ev.UID, clearance); err != nil {
		return err
	}
	persistent := cop.Persistent(ev)
	if persistent {
		// Live objects share one copy of each releasability list.
		l = label.Intern(l)
	}
	m := hub.NewMessage(ev, l, from, &n.enc)
	if clearance == label.Invalid {
		// Only the node's own fusion, a cluster instance or a partner
		// makes fused tracks: a client's event that looks like one
		// (how="m-f" with a <__fusion> detail) is delivered and stored
		// like any other client event.
		markFused(m)
	}
	if persistent {
		m.ShareDetail()
		o := storeObject(m, owner)
		// Thin the history of frequent reports: one row per uid per
		// history interval, and always one when the type changes.
		interval := time.Duration(n.cfg.HistoryInterval)
		if m.Regional {
			interval = max(interval, fusedStoreInterval)
		}
		historyAt := m.Received
		old, at, ok := n.picture.GetHistory(ev.UID)
		if ok && old.Event.Type == ev.Type && m.Received.Sub(at) < interval {
			o.NoHistory = true
			historyAt = at
		}
		n.picture.Put(m, historyAt)
		// A fused track is first stored after an interval: most of the
		// tracks a feed starts are confirmed or dropped within it.
		if !m.Regional || (ok && !o.NoHistory) {
			n.store.Put(o)
		}
	}
	n.publish(m, fed)
	return nil
}

// acceptDelete handles t-x-d-d: every linked uid (or the event's own uid
// when it links none) must be claimed by the submitter's nation and not
// classified above its clearance; the delete event's own uid is claimed
// like any other.
func (n *Node) acceptDelete(ev *cot.Event, l label.Label, owner string, from uint64, fed *federation.Provenance, clearance label.Classification) error {
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
		o, ok := n.picture.Owner(uid)
		if !ok {
			return fmt.Errorf("delete of %s: %w", uid, ErrUnknownUID)
		}
		if o != owner {
			return fmt.Errorf("delete of %s: %w: %s", uid, ErrNotOwner, o)
		}
		if err := n.checkWriteDown(uid, clearance); err != nil {
			return err
		}
	}
	if _, err := n.picture.Claim(ev.UID, owner, n.claimUntil(ev.Stale)); err != nil {
		return fmt.Errorf("event %s: %w", ev.UID, err)
	}
	for _, uid := range targets {
		if old, ok := n.picture.Remove(uid); ok {
			n.store.Delete(uid)
			n.hub.Publish(hub.NewExpire(uid, old.Label, &n.enc))
		}
	}
	n.publish(hub.NewMessage(ev, l, from, &n.enc), fed)
	return nil
}

func storeObject(m *hub.Message, owner string) store.Object {
	e := m.Event
	return store.Object{
		UID: e.UID, Type: e.Type, Owner: owner, Label: m.Label,
		Time: e.Time, Stale: e.Stale, Lat: e.Point.Lat, Lon: e.Point.Lon, HAE: e.Point.HAE,
		Callsign: e.Callsign, XML: m.XML(),
	}
}

// Inject publishes an event made by the node itself (orders, fused
// tracks, alerts). The caller sets the label (ev.SetLabel); the node
// stamps its origin. Delivery still passes the label policy per recipient.
func (n *Node) Inject(ctx context.Context, ev *cot.Event) error {
	l, err := n.prepareInjected(ev)
	if err != nil {
		return err
	}
	if err := n.accept(ev, l, l.Originator, 0); err != nil {
		return err
	}
	n.metrics.EventsIn.WithLabelValues("internal").Inc()
	return nil
}

// InjectLocal delivers an event made by the node to the clients of this
// instance only, as the hub delivers any event (label policy per
// recipient): no picture, store, taps, cluster or federation. In cluster
// mode each instance sends its own clients the notices meant for them
// (mission change notices).
func (n *Node) InjectLocal(ctx context.Context, ev *cot.Event) error {
	l, err := n.prepareInjected(ev)
	if err != nil {
		return err
	}
	n.hub.Publish(hub.NewMessage(ev, l, 0, &n.enc))
	n.metrics.EventsIn.WithLabelValues("internal").Inc()
	return nil
}

// prepareInjected checks an event the node made, stamps its origin and
// returns its label.
func (n *Node) prepareInjected(ev *cot.Event) (label.Label, error) {
	if err := ev.Validate(); err != nil {
		return label.Label{}, fmt.Errorf("injecting %s: %w", ev.UID, err)
	}
	if ev.HasDetail || len(ev.Detail) > 0 {
		// Check the detail as a client's would be, and extract its facts
		// (callsign, destinations, links, track) for delivery and the API.
		origin := ev.Origin
		if err := ev.SetDetail(ev.Detail); err != nil {
			return label.Label{}, fmt.Errorf("injecting %s: %w", ev.UID, err)
		}
		ev.HasDetail = true
		if origin.Nation != "" {
			ev.Origin = origin
		}
	}
	if ev.Origin.Nation == "" {
		ev.Origin.Nation = n.cfg.Nation
	}
	ev.Origin.Node = n.cfg.NodeID
	ev.DefaultHowIfMissing()
	l, present, err := ev.ParseLabel()
	if err != nil {
		return label.Label{}, fmt.Errorf("injecting %s: %w", ev.UID, err)
	}
	if !present {
		l = label.Default(label.Principal{Nation: ev.Origin.Nation, Clearance: label.Unclassified})
		ev.SetLabel(l)
	}
	return l, nil
}

// observe hands an accepted event to the extensions.
func (n *Node) observe(ev *cot.Event, p label.Principal) {
	n.mu.Lock()
	obs := n.observers
	n.mu.Unlock()
	for _, o := range obs {
		o.Observe(ev, p)
	}
}

// replay returns the current objects p may see, for a new connection.
func (n *Node) replay(p label.Principal) []*hub.Message {
	return n.picture.Visible(p, time.Now())
}

func (n *Node) history(ctx context.Context, uid string, since time.Time, limit int) ([]store.Object, error) {
	return n.store.History(ctx, uid, since, limit)
}

func actorOf(c *stream.Conn) string {
	return c.Principal.String() + "@" + c.Kind
}

// rejected is the stream server's hook for dropped events: the first of
// each reason on a connection, and a per-reason summary when it closes.
// The security-relevant reasons of package reject's list are audited.
func (n *Node) rejected(c *stream.Conn, reason string, err error) {
	if reject.Reason(reason).Security() {
		n.auditf(context.Background(), actorOf(c), "event."+reason, c.Remote(), "deny", err.Error())
	}
}

func (n *Node) refused(remote, listener string, err error) {
	n.auditf(context.Background(), "remote:"+remote, "connect", listener, "deny", err.Error())
}

func (n *Node) connected(c *stream.Conn) {
	n.scopeConn(c)
	n.auditf(context.Background(), actorOf(c), "connect", c.Remote(), "allow", "")
}

func (n *Node) closedForCause(c *stream.Conn, reason string) {
	n.auditf(context.Background(), actorOf(c), "disconnect", c.Remote(), "info", reason)
}

// restore rebuilds the picture and ownership from storage after a restart.
func (n *Node) restore(ctx context.Context) error {
	owners, err := n.store.Owners(ctx)
	if err != nil {
		return fmt.Errorf("restoring owners: %w", err)
	}
	objs, err := n.store.Objects(ctx)
	if err != nil {
		return fmt.Errorf("restoring objects: %w", err)
	}
	// A claim lasts until its object's stale time plus the retention; a
	// uid without a stored object (deleted) keeps its claim for one
	// retention from now.
	now := time.Now()
	until := make(map[string]time.Time, len(objs))
	for _, o := range objs {
		if o.Owner != "" {
			owners[o.UID] = o.Owner
		}
		until[o.UID] = n.claimUntil(o.Stale)
	}
	n.picture.LoadOwners(owners, func(uid string) time.Time {
		if t, ok := until[uid]; ok {
			return t
		}
		return n.claimUntil(now)
	})
	restored := 0
	for _, o := range objs {
		if !o.Stale.After(now) {
			continue
		}
		ev, err := cot.Decode(o.XML)
		if err != nil {
			n.log.Warn("skipping stored object", "uid", o.UID, "err", err)
			continue
		}
		m := hub.NewMessage(ev, o.Label, 0, &n.enc)
		m.SetXML(o.XML)
		markFused(m)
		n.picture.Put(m, time.Time{})
		restored++
	}
	n.metrics.Objects.Set(float64(n.picture.Len()))
	n.log.Info("picture restored", "objects", restored, "owners", len(owners))
	return nil
}

// expireLoop removes stale objects from the picture every second.
func (n *Node) expireLoop(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	lastSweep := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if now.Sub(lastSweep) >= claimSweep {
				n.picture.ExpireClaims(now)
				lastSweep = now
			}
			for _, m := range n.picture.Expire(now) {
				n.store.Delete(m.UID)
				n.hub.Publish(hub.NewExpire(m.UID, m.Label, &n.enc))
			}
			n.metrics.Objects.Set(float64(n.picture.Len()))
		}
	}
}

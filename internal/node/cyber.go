package node

import (
	"context"
	"crypto/sha1"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	"kizuna/internal/cyber"
	"kizuna/internal/label"
	"kizuna/internal/stix"
	"kizuna/internal/taxii"
	"kizuna/internal/web"
)

// Cyber threat intelligence: the node's TAXII 2.1 server at /taxii2/, the
// node's own sightings of attacks on itself, and the effects of incidents
// and sightings on picture objects at GET /api/v1/cyber/effects.
//
// A fresh node has one API root, "kizuna", with two collections:
//   - the default collection (id DefaultCollectionID(node id)): its own
//     nation's principals read and write it; allied principals read it,
//     each object still label-filtered;
//   - the sightings collection (id SightingsCollectionID(node id)): the
//     node writes its security events into it, labelled UNCLASSIFIED and
//     releasable to its own nation only; its own nation's operators may
//     post a new version of a sighting with a Kizuna marking to release it
//     to partners; allied principals read what is released to them.

// CyberAPIRoot is the path segment of the node's TAXII API root.
const CyberAPIRoot = "kizuna"

// defaultSightingsFlush is how often security events become sightings
// when Config.SightingsFlush is zero.
const defaultSightingsFlush = 5 * time.Second

func collectionID(nodeID, what string) string {
	h := sha1.Sum([]byte("kizuna-collection\x00" + nodeID + "\x00" + what))
	h[6] = (h[6] & 0x0f) | 0x50
	h[8] = (h[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// DefaultCollectionID is the id of a node's default TAXII collection.
func DefaultCollectionID(nodeID string) string { return collectionID(nodeID, "default") }

// SightingsCollectionID is the id of a node's own sightings collection.
func SightingsCollectionID(nodeID string) string { return collectionID(nodeID, "sightings") }

// TAXII returns the node's TAXII server.
func (n *Node) TAXII() *taxii.Server { return n.cyberTAXII }

// CyberEffects returns the tracker of cyber effects on picture objects.
func (n *Node) CyberEffects() *cyber.Effects { return n.cyberEffects }

func httpPrincipal(r *http.Request) (label.Principal, bool) { return web.PrincipalFrom(r.Context()) }

// setupCyber wires the TAXII server, the sightings and the effects. New
// calls it right after setupSecurityLog, so that the security observer
// sees every component's log; a configuration error is returned from New.
func (n *Node) setupCyber() error {
	nat := n.cfg.Nation
	effects := cyber.NewEffects()
	srv, err := taxii.New(taxii.Config{
		Title:       "Kizuna " + n.cfg.NodeID,
		Description: "Cyber threat intelligence of " + nat + " under Kizuna security labels",
		APIRoot:     CyberAPIRoot,
		DBPath:      filepath.Join(n.cfg.DataDir, "taxii.db"),
		Shared:      n.cyberShared,
		Collections: []taxii.Collection{
			{ID: DefaultCollectionID(n.cfg.NodeID), Title: nat + " cyber threat intelligence", Read: []string{"*"}, Write: []string{nat}},
			{ID: SightingsCollectionID(n.cfg.NodeID), Title: nat + " node sightings (" + n.cfg.NodeID + ")", Read: []string{"*"}, Write: []string{nat}},
			{ID: FederatedCollectionID(n.cfg.NodeID), Title: "From allied nodes (" + n.cfg.NodeID + ")", Read: []string{"*"}},
		},
		MaxContentLength: n.cfg.MaxHTTPBody,
		Principal:        httpPrincipal,
		OnAdd: func(coll string, o *stix.Object, l label.Label) {
			effects.Observe(o, l)
			n.federateCyber(coll, o, l)
		},
		OnDelete: func(coll string, gone []taxii.Deleted) {
			for _, g := range gone {
				effects.Forget(g.Label, g.ID, g.Version)
			}
			n.federateCyberDelete(coll, gone)
		},
		Log: n.log.With("component", "taxii"),
	})
	if err != nil {
		return err
	}
	n.cyberTAXII, n.cyberEffects = srv, effects
	node := label.Principal{Nation: nat, Clearance: label.TopSecret, Name: "node:" + n.cfg.NodeID}
	national := label.Label{Classification: label.Unclassified, ReleasableTo: []string{nat}, Originator: nat}
	sightings, err := cyber.NewSightings(cyber.SightingsConfig{
		NodeID: n.cfg.NodeID, Nation: nat, Flush: time.Duration(n.cfg.SightingsFlush), Log: n.log.With("component", "cyber"),
		Store: func(ctx context.Context, objs []json.RawMessage) error {
			st, err := srv.Add(ctx, SightingsCollectionID(n.cfg.NodeID), node, objs, &taxii.AddOptions{Label: &national})
			if err == nil && st.FailureCount > 0 {
				err = fmt.Errorf("%d sighting objects refused: %s", st.FailureCount, st.Failures[0].Message)
			}
			return err
		},
	})
	if err != nil {
		return err
	}
	// Observe the security log: every record the security stream takes
	// becomes an event for the sightings.
	n.log = slog.New(&securityObserver{inner: n.log.Handler(), sink: sightings.Observe})

	n.Handle("/taxii2/", srv)
	n.Handle("GET /api/v1/cyber/effects", effects.Handler(httpPrincipal))
	n.Handle("POST /api/v1/cyber/release", http.HandlerFunc(n.cyberRelease))
	n.useCyber(srv, effects, sightings)
	n.wireCyberFederation(srv)
	return nil
}

// useCyber adds the cyber component: the TAXII store opens, the effects
// are replayed from it, sightings start and, in cluster mode, the effects
// follow the other instances' commits (watchCyber).
func (n *Node) useCyber(srv *taxii.Server, effects *cyber.Effects, sightings *cyber.Sightings) {
	var follow goroutines
	n.Use(Hooks{
		ID: "cyber",
		OnStart: func(ctx context.Context) error {
			if err := srv.Start(ctx); err != nil {
				return err
			}
			// In cluster mode, the clock before the replay: watchCyber
			// follows the other instances' commits from there.
			clock, err := srv.Clock(ctx)
			if err == nil {
				err = srv.Replay(ctx, cyberTypes, func(_ string, o *stix.Object, l label.Label) { effects.Observe(o, l) })
			}
			if err != nil {
				return errors.Join(err, srv.Stop(ctx))
			}
			if err := sightings.Start(ctx); err != nil {
				return errors.Join(err, srv.Stop(ctx))
			}
			if srv.Shared() {
				follow.run(ctx, func(ctx context.Context) { n.watchCyber(ctx, srv, effects, clock) })
			}
			return nil
		},
		OnStop: func(ctx context.Context) error {
			return errors.Join(follow.stop(ctx), sightings.Stop(ctx), srv.Stop(ctx))
		},
	})
}

// securityObserver passes every record on and tells sink of the
// security-relevant ones (as the security log stream classifies them).
type securityObserver struct {
	inner slog.Handler
	bound []slog.Attr
	sink  func(cyber.SecurityEvent)
}

func (h *securityObserver) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || h.inner.Enabled(ctx, l)
}

func (h *securityObserver) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelInfo {
		if cat, ok := securityCategory(r, h.bound); ok && cat != SecAudit && cat != SecConfig {
			ev := cyber.SecurityEvent{Category: cat, Message: r.Message, Time: r.Time}
			find := func(a slog.Attr) bool {
				if a.Key == "remote" {
					ev.Remote = a.Value.String()
				}
				return true
			}
			for _, a := range h.bound {
				find(a)
			}
			r.Attrs(find)
			h.sink(ev)
		}
	}
	if h.inner.Enabled(ctx, r.Level) {
		return h.inner.Handle(ctx, r)
	}
	return nil
}

func (h *securityObserver) WithAttrs(as []slog.Attr) slog.Handler {
	return &securityObserver{inner: h.inner.WithAttrs(as), bound: append(h.bound[:len(h.bound):len(h.bound)], as...), sink: h.sink}
}

func (h *securityObserver) WithGroup(name string) slog.Handler {
	return &securityObserver{inner: h.inner.WithGroup(name), bound: h.bound, sink: h.sink}
}

// cyberRelease serves POST /api/v1/cyber/release {"collection", "id",
// "releasableTo"}: it widens the releasability of the caller's nation's
// object (a sighting, typically) by storing a new version under the wider
// label (taxii.Server.Release), which federates it. The collection
// defaults to the node's sightings collection. Every decision is audited.
// An id the caller may not see is answered like an id nobody holds.
func (n *Node) cyberRelease(w http.ResponseWriter, r *http.Request) {
	p, ok := httpPrincipal(r)
	if !ok || !p.Valid() {
		http.Error(w, "no principal", http.StatusForbidden)
		return
	}
	var req struct {
		Collection   string   `json:"collection"`
		ID           string   `json:"id"`
		ReleasableTo []string `json:"releasableTo"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil || req.ID == "" || len(req.ReleasableTo) == 0 || len(req.ReleasableTo) > 64 {
		http.Error(w, "want {collection, id, releasableTo: [nations]}", http.StatusBadRequest)
		return
	}
	out, err := n.ReleaseCyber(r.Context(), p, req.Collection, req.ID, req.ReleasableTo)
	status := http.StatusOK
	switch {
	case err == nil:
	case errors.Is(err, taxii.ErrNotFound), errors.Is(err, taxii.ErrNoCollection):
		status = http.StatusNotFound
	case errors.Is(err, taxii.ErrForbidden):
		status = http.StatusForbidden
	case errors.Is(err, taxii.ErrBadRelease):
		status = http.StatusUnprocessableEntity
	default:
		n.log.Error("cyber: release failed", "id", req.ID, "err", err)
		status = http.StatusInternalServerError
	}
	if err != nil {
		msg := err.Error()
		if status == http.StatusNotFound {
			msg = "no such object"
		}
		http.Error(w, msg, status)
		return
	}
	if out == nil {
		out = []taxii.Released{}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"released": out})
}

// ReleaseCyber widens the releasability of object id in collection coll
// (the node's sightings collection when empty) as principal p, and audits
// the decision (see taxii.Server.Release).
func (n *Node) ReleaseCyber(ctx context.Context, p label.Principal, coll, id string, to []string) ([]taxii.Released, error) {
	if coll == "" {
		coll = SightingsCollectionID(n.cfg.NodeID)
	}
	obj := coll + "/" + id
	var out []taxii.Released
	err := taxii.ErrNoCollection
	if coll != FederatedCollectionID(n.cfg.NodeID) { // received objects are released by their originator's node
		out, err = n.cyberTAXII.Release(ctx, coll, id, p, to)
	}
	if err != nil {
		n.auditf(ctx, p.String(), "cyber.release", obj, "deny", err.Error())
		return nil, err
	}
	for _, x := range out {
		n.auditf(ctx, p.String(), "cyber.release", obj, "allow", "version "+x.Version+" released as "+x.Marking)
	}
	return out, nil
}

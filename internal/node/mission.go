package node

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"net/http"
	"path/filepath"

	"github.com/jackc/pgx/v5/stdlib"

	"kizuna/internal/cot"
	"kizuna/internal/files"
	"kizuna/internal/hub"
	"kizuna/internal/label"
	"kizuna/internal/mission"
	"kizuna/internal/web"
)

// setupMissions wires TAK missions (package mission): their database in
// DATA/missions.db, TAK Server's Mission API under /Marti/api/missions on
// every HTTP listener, CoT items looked up in the picture, files in the
// labelled file store, and change notices published through Inject (so
// the hub checks each delivery's label again), and mission changes of
// allied nodes taken from the federated messages; each federation link
// that comes up has the missions sent whole. In cluster mode the missions
// are in the cluster's PostgreSQL (see package mission, shared.go), each
// instance sends the change notices to its own clients only, and the
// instance holding the federation lease sends the missions whole when a
// link comes up.
func (n *Node) setupMissions() error {
	var notify mission.Publisher
	if n.cl != nil {
		notify = localNotices{n}
	}
	svc, err := mission.New(mission.Config{
		DBPath: filepath.Join(n.cfg.DataDir, "missions.db"),
		Shared: n.missionShared,
		Notify: notify,
		NodeID: n.cfg.NodeID,
		Nation: n.cfg.Nation,
		Nations: func() []string {
			if t := n.Trust(); t != nil {
				return t.Nations()
			}
			return nil
		},
		Objects:   pictureObjects{n},
		Files:     nodeFiles{n},
		Store:     nodeFiles{n},
		Publisher: n,
		Clients:   n.streamPrincipals,
		Audit:     n.auditf,
		Log:       n.log.With("component", "missions"),
	})
	if err != nil {
		return err
	}
	n.missions = svc
	n.Use(Hooks{ID: "missions", OnStart: svc.Start, OnStop: svc.Stop})
	principal := func(r *http.Request) label.Principal {
		p, _ := web.PrincipalFrom(r.Context())
		return p
	}
	for pattern, h := range svc.Routes(principal) {
		n.Handle(pattern, h)
	}
	// A link that comes up gets every mission whole (see package
	// mission, FedType).
	switch {
	case n.federation != nil:
		n.federation.OnLinkUp(func(string) { svc.LinkUp() })
	case n.fedc != nil:
		n.fedc.OnLinkUp(func(string) { svc.LinkUp() })
	}
	n.AddFederatedTap(func(m *hub.Message) {
		if m.Event == nil || m.Event.Type != mission.FedType {
			return
		}
		if !svc.Enqueue(m.Event, m.Label) {
			n.log.Warn("missions: federated change queue full; change dropped", "uid", m.UID)
		}
	})
	return nil
}

// missionShared returns the cluster's PostgreSQL for the missions in
// cluster mode, nil otherwise (their SQLite file).
func (n *Node) missionShared() *sql.DB {
	if n.cl == nil || n.cl.pg == nil {
		return nil
	}
	return stdlib.OpenDBFromPool(n.cl.pg.Pool())
}

// localNotices delivers mission notices to this instance's clients only.
type localNotices struct{ n *Node }

func (l localNotices) Inject(ctx context.Context, ev *cot.Event) error {
	return l.n.InjectLocal(ctx, ev)
}

// Missions returns the node's mission service.
func (n *Node) Missions() *mission.Service { return n.missions }

// pictureObjects reads the latest report of a uid from the picture.
type pictureObjects struct{ n *Node }

func (o pictureObjects) Latest(uid string) (mission.Object, bool) {
	m, ok := o.n.picture.Get(uid)
	if !ok || m.Event == nil {
		return mission.Object{}, false
	}
	e := m.Event
	return mission.Object{Type: e.Type, Callsign: e.Callsign, Lat: e.Point.Lat, Lon: e.Point.Lon, Label: m.Label, XML: m.XML()}, true
}

// nodeFiles reads the file store, which may be unavailable.
type nodeFiles struct{ n *Node }

func (f nodeFiles) Stat(p label.Principal, hash string) (files.Meta, error) {
	if f.n.files == nil {
		return files.Meta{}, errors.New("file store unavailable")
	}
	return f.n.files.Stat(p, hash)
}

// streamPrincipals returns the principals of the live TAK streams that
// announced uid (federation links excluded).
func (n *Node) streamPrincipals(uid string) []label.Principal {
	var out []label.Principal
	for _, s := range n.hub.Subscribers() {
		if !s.Relay && s.Identity().UID == uid {
			out = append(out, s.Principal)
		}
	}
	return out
}

func (f nodeFiles) Open(p label.Principal, hash string) (io.ReadCloser, files.Meta, error) {
	if f.n.files == nil {
		return nil, files.Meta{}, errors.New("file store unavailable")
	}
	return f.n.files.Open(p, hash)
}

func (f nodeFiles) Put(ctx context.Context, p label.Principal, req files.PutRequest, r io.Reader) (files.Meta, error) {
	if f.n.files == nil {
		return files.Meta{}, errors.New("file store unavailable")
	}
	return f.n.files.Put(ctx, p, req, r)
}

package node

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5/stdlib"

	"kizuna/internal/federation"
	"kizuna/internal/hub"
	"kizuna/internal/label"
	"kizuna/internal/sustain"
	"kizuna/internal/web"
)

// setupSustain wires the sustainment service (package sustain): its
// ledger in DATA/sustain.db (in cluster mode in the cluster's PostgreSQL,
// shared by every instance), its REST API under /api/v1/sustainment/, its
// stock and readiness reports published through Inject (so the hub and
// federation release them per label), and the reports of allied nodes
// taken from the federated messages.
func (n *Node) setupSustain() {
	principal := func(r *http.Request) label.Principal {
		p, _ := web.PrincipalFrom(r.Context())
		return p
	}
	var shared *sql.DB
	start := func(ctx context.Context) error {
		shared = n.sustainShared()
		svc, err := sustain.New(sustain.Config{
			DBPath:        filepath.Join(n.cfg.DataDir, "sustain.db"),
			Shared:        shared,
			Reporter:      n.sustainReporter(),
			Nation:        n.cfg.Nation,
			NodeID:        n.cfg.NodeID,
			CatalogueFile: n.cfg.SustainCatalogue,
			Publisher:     n,
			Authorize:     n.stockAuthority,
			Audit:         n.audit,
			Log:           n.log.With("component", "sustain"),
			Cyber:         n.cyberStatus(),
		})
		if err != nil {
			if shared != nil {
				shared.Close()
			}
			return err
		}
		h := svc.Handler(principal)
		n.sustainH.Store(&h)
		n.sustainSvc.Store(svc)
		return svc.Start(ctx)
	}
	stop := func(ctx context.Context) error {
		var err error
		if svc := n.sustainSvc.Load(); svc != nil {
			err = svc.Stop(ctx)
		}
		if shared != nil {
			err = errors.Join(err, shared.Close())
		}
		return err
	}
	n.Use(Hooks{ID: "sustainment", OnStart: start, OnStop: stop})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := n.sustainH.Load()
		if h == nil {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		(*h).ServeHTTP(w, r)
	})
	n.Handle(sustain.Prefix, h)
	n.AddTap(func(m *hub.Message, fed *federation.Provenance) {
		if fed == nil || m.Event == nil {
			return
		}
		if m.Event.Type == sustain.FedType {
			// A transfer's facts from the allied node that is its other
			// party; the label is as federation authenticated it.
			if svc := n.sustainSvc.Load(); svc == nil || !svc.Enqueue(m.Event, m.Label, fed.OriginNode) {
				n.log.Warn("sustain: federated transfer not taken (the sender sends it again)", "uid", m.UID)
			}
			return
		}
		if !strings.HasPrefix(m.Event.Type, "y-s-") {
			return
		}
		if svc := n.sustainSvc.Load(); svc != nil {
			if err := svc.Remote(m.Event, m.Label); err != nil {
				n.log.Warn("sustain: allied report refused", "uid", m.UID, "err", err)
			}
		}
	})
}

// sustainShared returns, in cluster mode, the cluster's PostgreSQL for
// the sustainment service (every instance shares one ledger; see package
// sustain's shared.go); nil otherwise (its SQLite file).
func (n *Node) sustainShared() *sql.DB {
	if n.cl == nil || n.cl.pg == nil {
		return nil
	}
	return stdlib.OpenDBFromPool(n.cl.pg.Pool())
}

// sustainReporter, in a federated cluster, makes one live instance (the
// smallest name) the one that publishes the stock and readiness reports (every instance follows the shared ledger, so it
// reports every change); nil otherwise (every instance reports).
func (n *Node) sustainReporter() func() bool {
	if n.cl == nil || n.fedc == nil {
		return nil
	}
	fc := n.fedc
	return fc.reporter
}

// stockAuthority asks the chain of command whether p acts for a command
// with authority over the stocks a transfer moves.
func (n *Node) stockAuthority(ctx context.Context, p label.Principal, a sustain.StockAuthority) error {
	if n.command == nil {
		return errors.New("no chain of command on this node")
	}
	_, err := n.command.StockAuthority(ctx, p, a.Nation, a.Units, a.Action+" "+a.Location)
	return err
}

// Sustainment returns the sustainment service (nil before Start).
func (n *Node) Sustainment() *sustain.Service { return n.sustainSvc.Load() }

// cyberStatus is the cyber effects tracker as readiness sees it (nil when
// the node has none).
func (n *Node) cyberStatus() sustain.CyberStatus {
	if n.cyberEffects == nil {
		return nil
	}
	return n.cyberEffects
}

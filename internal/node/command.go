package node

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"

	"kizuna/internal/command"
	"kizuna/internal/cot"
	"kizuna/internal/hub"
	"kizuna/internal/label"
	"kizuna/internal/stream"
	"kizuna/internal/web"
)

// setupCommand starts the chain-of-command service: units, grants and
// orders, stored in DATA/command.db, audited in the node's audit log,
// delivered to TAK devices through Inject and fed TAK receipts through
// Observe. Its REST API is mounted on every HTTP listener.
func (n *Node) startCommand(ctx context.Context) error {
	svc, err := command.New(command.Config{
		DBPath:    filepath.Join(n.cfg.DataDir, "command.db"),
		Orbat:     n.cfg.Orbat,
		OrbatData: n.cfg.OrbatData,
		Nation:    n.cfg.Nation,
		NodeID:    n.cfg.NodeID,
		Publisher: n,
		Federated: func() bool { return n.federation != nil || n.fedc != nil },
		Readiness: sustainReadiness{n},
		Audit:     n.audit,
		Log:       n.log.With("component", "command"),
		Shared:    n.commandShared(),
	})
	if err != nil {
		return fmt.Errorf("starting chain of command: %w", err)
	}
	n.command = svc
	principal := func(r *http.Request) label.Principal {
		p, _ := web.PrincipalFrom(r.Context())
		return p
	}
	h := svc.Handler(principal)
	for _, p := range []string{"/api/v1/units", "/api/v1/grants", "/api/v1/authority", "/api/v1/orders"} {
		n.Handle(p, h)
		n.Handle(p+"/", h)
	}
	n.AddObserver(svc)
	n.wireCommandFederation(svc)
	n.commandLoop.run(ctx, func(ctx context.Context) {
		if err := svc.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			n.log.Error("chain of command stopped", "err", err)
		}
	})
	n.watchCommand(ctx, svc)
	return nil
}

func (n *Node) stopCommand(ctx context.Context) error {
	return errors.Join(n.commandLoop.stop(ctx), n.command.Close())
}

// Command returns the chain-of-command service (nil before Start).
func (n *Node) Command() *command.Service { return n.command }

// DeviceObserver is an Observer that also wants the authenticated device
// identity of the connection an event came from: the uid and callsign the
// connection is bound to (its own position reports), not what the event
// claims. The chain-of-command service matches order receipts and replies
// on it.
type DeviceObserver interface {
	ObserveDevice(ev *cot.Event, from label.Principal, uid, callsign string)
}

// observeConn hands an accepted client event to the extensions, with the
// connection's device identity for those that want it.
func (n *Node) observeConn(c *stream.Conn, ev *cot.Event, p label.Principal) {
	var id hub.Identity
	if c != nil && c.Sub != nil {
		id = c.Sub.Identity()
	}
	n.mu.Lock()
	obs := n.observers
	n.mu.Unlock()
	for _, o := range obs {
		if d, ok := o.(DeviceObserver); ok {
			d.ObserveDevice(ev, p, id.UID, id.Callsign)
			continue
		}
		o.Observe(ev, p)
	}
}

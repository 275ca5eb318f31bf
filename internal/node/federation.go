package node

import (
	"context"
	"fmt"

	"kizuna/internal/audit"
	"kizuna/internal/federation"
	"kizuna/internal/label"
	"kizuna/internal/seclog"
)

// Federation returns the node's federation, or nil when it has no
// federation listener and no peers.
func (n *Node) Federation() *federation.Federation {
	if n.fedc != nil {
		_, fs := n.fedc.held() // the first link this instance holds, if any
		if len(fs) == 0 {
			return nil
		}
		return fs[0]
	}
	return n.federation
}

// setupFederation wires package federation into the node when it has a
// federation listener or peers: the tap feeds the durable outbound
// queues, the listener kind "federation" binds the mutual-TLS listener,
// links start once the node is up, and GET /api/v1/federation and the
// kizuna_federation_* metrics show link state. A configuration error
// is returned from New.
func (n *Node) setupFederation() error {
	listener := false
	for _, l := range n.cfg.Listeners {
		if l.Kind == KindFederation {
			if listener {
				return fmt.Errorf("%w: only one federation listener", ErrConfig)
			}
			listener = true
		}
	}
	if !listener && len(n.cfg.Peers) == 0 {
		return nil
	}
	var peers []federation.PeerConfig
	for _, p := range n.cfg.Peers {
		cl := label.Unclassified
		if p.Classification != "" {
			c, err := label.ParseClassification(p.Classification)
			if err != nil {
				return fmt.Errorf("%w: peer %s: %v", ErrConfig, p.Name, err)
			}
			cl = c
		}
		peers = append(peers, federation.PeerConfig{Name: p.Name, Addr: p.Addr, Classification: cl})
	}
	fcfg := federation.Config{
		MaxQueue: n.cfg.FederationQueue,
		NodeID:   n.cfg.NodeID,
		Nation:   n.cfg.Nation,
		DataDir:  n.cfg.DataDir,
		Peers:    peers,
		Host:     n,
		Log:      n.log,
		MaxFrame: n.cfg.MaxEventSize + federation.HeaderSlack,
		Audit: func(ctx context.Context, r audit.Record) {
			if a := n.Audit(); a != nil {
				if _, err := a.Append(ctx, r); err != nil {
					n.log.Error("audit append failed", seclog.Tag(seclog.Audit), "action", r.Action, "err", err)
				}
			}
		},
	}
	f, err := federation.New(fcfg)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if n.cfg.Cluster != "" {
		n.setupClusterFederation(fcfg)
		return nil
	}
	n.federation = f
	n.AddTap(f.Tap)
	n.Use(Hooks{
		ID: "federation",
		OnStart: func(ctx context.Context) error {
			err := n.bindOwn(KindFederation, func(l ListenerConfig) (ListenerInfo, error) {
				addr, err := f.Listen(l.Addr)
				if err != nil {
					return ListenerInfo{}, err
				}
				return ListenerInfo{Kind: KindFederation, Addr: addr.String()}, nil
			})
			if err != nil {
				return err
			}
			return f.Start(ctx, n.Trust(), n.Certificate())
		},
		OnStop: f.Close,
	})
	n.Handle("/api/v1/federation", f.Handler())
	n.metrics.Register(f)
	return nil
}

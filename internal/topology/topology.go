// Package topology builds federated Kizuna nodes on loopback with a
// PKI: one CA per nation, one node certificate per node, and nodes whose
// federation links are wired to each other's real listener addresses. The
// demo and the federation tests use it.
package topology

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"kizuna/internal/nationca"
	"kizuna/internal/node"
	"kizuna/internal/pki"
)

// PKI is a certificate authority per nation under one directory
// (nationca), with the node configurations a topology needs.
type PKI struct{ *nationca.PKI }

// NewPKI creates (or reopens) a CA for each nation under dir.
func NewPKI(dir string, nations ...string) (*PKI, error) {
	p, err := nationca.New(dir, nations...)
	if err != nil {
		return nil, err
	}
	return &PKI{p}, nil
}

// Peer is one link of a NodeSpec.
type Peer struct {
	Name string
	// Dial: this node dials the peer (its address is filled in when the
	// peer has started); otherwise it only accepts the peer's link.
	Dial           bool
	Classification string
	// Cuttable puts a loopback relay between this node and the peer it
	// dials, which Cluster.Link can cut and restore (a real link drop:
	// the TCP connections are closed and new ones refused).
	Cuttable bool
}

// NodeSpec is one node of a cluster.
type NodeSpec struct {
	ID     string
	Nation string
	Peers  []Peer
	// Configure, if set, adjusts the generated configuration (listeners,
	// limits) before the node is built.
	Configure func(*node.Config)
}

// Cluster is a set of started, linked nodes.
type Cluster struct {
	PKI   *PKI
	Dir   string
	log   *slog.Logger
	mu    sync.Mutex
	specs map[string]NodeSpec
	cfgs  map[string]node.Config
	nodes map[string]*node.Node
	order []string
	links map[string]*Link
}

// Trilateral is the reference topology: a USA hub that JPN and KOR nodes
// dial, every link accredited to SECRET.
func Trilateral() []NodeSpec {
	return []NodeSpec{
		{ID: "usa-hub", Nation: "USA", Peers: []Peer{{Name: "jpn-node", Classification: "SECRET"}, {Name: "kor-node", Classification: "SECRET"}}},
		{ID: "jpn-node", Nation: "JPN", Peers: []Peer{{Name: "usa-hub", Dial: true, Classification: "SECRET"}}},
		{ID: "kor-node", Nation: "KOR", Peers: []Peer{{Name: "usa-hub", Dial: true, Classification: "SECRET"}}},
	}
}

// Config builds a node's configuration: data under dir/ID, a plain CoT
// listener and a plain HTTP listener for the node's nation at SECRET, and
// a federation listener, all on 127.0.0.1 with free ports. addrs gives
// the federation addresses of the peers it dials.
func (p *PKI) Config(dir string, s NodeSpec, addrs map[string]string) (node.Config, error) {
	cfg := node.Default()
	cfg.DataDir = filepath.Join(dir, s.ID)
	cfg.Nation = s.Nation
	cfg.NodeID = s.ID
	cert, key, err := p.NodeCert(s.Nation, s.ID, pki.Validity{})
	if err != nil {
		return cfg, err
	}
	cfg.TLSCert, cfg.TLSKey = cert, key
	cfg.Trust = p.Trust()
	cfg.CRL = p.CRL()
	cfg.Listeners = []node.ListenerConfig{
		{Kind: node.KindCoTTCP, Addr: "127.0.0.1:0", Principal: s.Nation + ":SECRET"},
		{Kind: node.KindHTTP, Addr: "127.0.0.1:0", Principal: s.Nation + ":SECRET"},
		{Kind: node.KindFederation, Addr: "127.0.0.1:0"},
	}
	for _, pe := range s.Peers {
		pc := node.PeerConfig{Name: pe.Name, Classification: pe.Classification}
		if pe.Dial {
			a, ok := addrs[pe.Name]
			if !ok {
				return cfg, fmt.Errorf("%s dials %s, which has no address yet", s.ID, pe.Name)
			}
			pc.Addr = a
		}
		cfg.Peers = append(cfg.Peers, pc)
	}
	if s.Configure != nil {
		s.Configure(&cfg)
	}
	return cfg, nil
}

// Start creates the PKI under dir and starts every node, each after the
// nodes it dials. A cycle of dialling nodes is an error.
func Start(ctx context.Context, dir string, specs []NodeSpec, log *slog.Logger) (*Cluster, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var nations []string
	for _, s := range specs {
		if !slices.Contains(nations, s.Nation) {
			nations = append(nations, s.Nation)
		}
	}
	p, err := NewPKI(filepath.Join(dir, "pki"), nations...)
	if err != nil {
		return nil, err
	}
	return StartPKI(ctx, p, dir, specs, log)
}

// StartPKI is Start with a given PKI (which may trust more nations than
// the nodes have).
func StartPKI(ctx context.Context, p *PKI, dir string, specs []NodeSpec, log *slog.Logger) (*Cluster, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Cluster{PKI: p, Dir: dir, log: log, specs: map[string]NodeSpec{}, cfgs: map[string]node.Config{}, nodes: map[string]*node.Node{}, links: map[string]*Link{}}
	for _, s := range specs {
		c.specs[s.ID] = s
	}
	addrs := map[string]string{}
	left := slices.Clone(specs)
	for len(left) > 0 {
		progress := false
		for i := 0; i < len(left); i++ {
			s := left[i]
			ready := true
			for _, pe := range s.Peers {
				if _, ok := addrs[pe.Name]; pe.Dial && !ok {
					ready = false
				}
			}
			if !ready {
				continue
			}
			dial, err := c.relays(s, addrs)
			if err != nil {
				c.Shutdown(context.Background())
				return nil, err
			}
			cfg, err := p.Config(dir, s, dial)
			if err != nil {
				c.Shutdown(context.Background())
				return nil, err
			}
			n, err := c.startNode(ctx, cfg)
			if err != nil {
				c.Shutdown(context.Background())
				return nil, fmt.Errorf("starting %s: %w", s.ID, err)
			}
			addrs[s.ID] = n.Addr(node.KindFederation)
			left = slices.Delete(left, i, i+1)
			i--
			progress = true
		}
		if !progress {
			c.Shutdown(context.Background())
			return nil, errors.New("topology: the nodes dial each other in a cycle")
		}
	}
	return c, nil
}

func (c *Cluster) startNode(ctx context.Context, cfg node.Config) (*node.Node, error) {
	n, err := node.New(cfg, c.log)
	if err != nil {
		return nil, err
	}
	if err := n.Start(ctx); err != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n.Shutdown(sctx)
		return nil, err
	}
	// Keep the bound addresses so that a restart listens where the peers
	// dial.
	for i, l := range cfg.Listeners {
		for _, b := range n.Listeners() {
			if b.Kind == l.Kind && l.Kind == node.KindFederation {
				cfg.Listeners[i].Addr = b.Addr
			}
		}
	}
	c.mu.Lock()
	c.cfgs[cfg.NodeID] = cfg
	c.nodes[cfg.NodeID] = n
	if !slices.Contains(c.order, cfg.NodeID) {
		c.order = append(c.order, cfg.NodeID)
	}
	c.mu.Unlock()
	return n, nil
}

// Node returns a running node by id (nil if stopped).
func (c *Cluster) Node(id string) *node.Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[id]
}

// Config returns the configuration a node was started with.
func (c *Cluster) Config(id string) node.Config {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cfgs[id]
}

// IDs returns the node ids in start order.
func (c *Cluster) IDs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.order)
}

// Stop shuts one node down gracefully.
func (c *Cluster) Stop(ctx context.Context, id string) error {
	c.mu.Lock()
	n := c.nodes[id]
	delete(c.nodes, id)
	c.mu.Unlock()
	if n == nil {
		return nil
	}
	return n.Shutdown(ctx)
}

// Restart starts a stopped node again on its data directory and its
// federation address.
func (c *Cluster) Restart(ctx context.Context, id string) (*node.Node, error) {
	return c.startNode(ctx, c.Config(id))
}

// Shutdown stops every node, last started first.
func (c *Cluster) Shutdown(ctx context.Context) error {
	ids := c.IDs()
	var errs []error
	for i := len(ids) - 1; i >= 0; i-- {
		if err := c.Stop(ctx, ids[i]); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", ids[i], err))
		}
	}
	c.mu.Lock()
	for _, l := range c.links {
		l.close()
	}
	c.mu.Unlock()
	return errors.Join(errs...)
}

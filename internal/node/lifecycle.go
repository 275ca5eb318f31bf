package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Component is one part of a node with a lifecycle, in the manner of
// Caddy's modules: it is built and its configuration validated when the
// node is built (New), started in order by Node.Start and stopped in
// reverse order by Node.Shutdown.
//
// The ctx given to Start lives until the node shuts down; a component may
// run goroutines under it but must join them in Stop. Stop is called only
// for a component whose Start returned nil.
type Component interface {
	Name() string
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
}

// Hooks adapts a pair of functions to a Component; either may be nil.
type Hooks struct {
	ID      string
	OnStart func(context.Context) error
	OnStop  func(context.Context) error
}

// Name returns the component's name.
func (h Hooks) Name() string { return h.ID }

// Start runs OnStart.
func (h Hooks) Start(ctx context.Context) error {
	if h.OnStart == nil {
		return nil
	}
	return h.OnStart(ctx)
}

// Stop runs OnStop.
func (h Hooks) Stop(ctx context.Context) error {
	if h.OnStop == nil {
		return nil
	}
	return h.OnStop(ctx)
}

// goroutines runs the background loops of one component and joins them
// when it stops.
type goroutines struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// run starts f under a context, derived from the first call's ctx, that
// stop cancels.
func (g *goroutines) run(ctx context.Context, f func(context.Context)) {
	if g.cancel == nil {
		g.ctx, g.cancel = context.WithCancel(ctx)
	}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		f(g.ctx)
	}()
}

// stop cancels the loops and joins them. It waits past ctx's deadline:
// a loop's last act may be a flush that durability depends on (the
// store's), and no goroutine outlives Shutdown.
func (g *goroutines) stop(context.Context) error {
	if g.cancel == nil {
		return nil
	}
	g.cancel()
	g.wg.Wait()
	return nil
}

// Use adds an extension component (federation, feeds, or any capability
// built outside this package). Extensions start after the node's core
// (storage, audit, chain of command) and before its client listeners
// open, and stop after those listeners have drained, so nothing a client
// sends during shutdown misses them. Call before Start (New's setup
// functions do): a component added later would never start nor stop, so
// that is a programming error and panics.
func (n *Node) Use(c Component) {
	if n.started.Load() {
		panic("node: component " + c.Name() + " added after Start")
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.extensions = append(n.extensions, c)
}

// OnStart registers a function run while the node starts, as an extension
// component (see Use). ctx lives until Shutdown. Call before Start.
func (n *Node) OnStart(f func(ctx context.Context) error) {
	n.Use(Hooks{ID: "hook", OnStart: f})
}

// OnShutdown registers a function run during Shutdown, after the client
// listeners have drained and before storage closes. Call before Start.
func (n *Node) OnShutdown(f func(context.Context) error) {
	n.Use(Hooks{ID: "hook", OnStop: f})
}

// lifecycle is the node's ordered list of components: the core that every
// node has, then the extensions, then the client listeners and the
// picture's expiry. Start walks it forward; Shutdown walks it backward.
func (n *Node) lifecycle() []Component {
	n.mu.Lock()
	defer n.mu.Unlock()
	list := []Component{
		Hooks{ID: "security-log", OnStop: n.closeSecurityLog},
		Hooks{ID: "data", OnStart: n.makeDataDir},
		Hooks{ID: "trust", OnStart: n.startTrust, OnStop: n.trustLoops.stop},
		Hooks{ID: "audit", OnStart: n.startAudit, OnStop: n.stopAudit},
		Hooks{ID: "store", OnStart: n.startStore, OnStop: n.stopStore},
		Hooks{ID: "command", OnStart: n.startCommand, OnStop: n.stopCommand},
	}
	list = append(list, n.extensions...)
	return append(list,
		Hooks{ID: "listeners", OnStart: n.startListeners, OnStop: n.stopListeners},
		Hooks{ID: "expiry", OnStart: n.startExpiry, OnStop: n.expiryLoop.stop},
	)
}

// startAll starts each component in order. On the first failure it stops
// what had started, in reverse, and returns the failure.
func (n *Node) startAll(ctx context.Context, list []Component) error {
	for _, c := range list {
		if err := c.Start(ctx); err != nil {
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			return errors.Join(fmt.Errorf("starting %s: %w", c.Name(), err), n.stopAll(sctx))
		}
		n.mu.Lock()
		n.running = append(n.running, c)
		n.mu.Unlock()
	}
	return nil
}

// stopAll stops every started component in reverse order and forgets
// them. Every component is asked to stop even when an earlier one failed.
func (n *Node) stopAll(ctx context.Context) error {
	n.mu.Lock()
	running := n.running
	n.running = nil
	n.mu.Unlock()
	var errs []error
	for i := len(running) - 1; i >= 0; i-- {
		if err := running[i].Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stopping %s: %w", running[i].Name(), err))
		}
	}
	return errors.Join(errs...)
}

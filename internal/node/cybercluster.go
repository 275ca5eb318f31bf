package node

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"kizuna/internal/cyber"
	"kizuna/internal/follow"
	"kizuna/internal/label"
	"kizuna/internal/stix"
	"kizuna/internal/taxii"
)

// Cyber records in cluster mode: the TAXII store is in the cluster's
// PostgreSQL (package taxii, shared.go), so every instance lists what any
// instance stored. The effects on the picture (and the readiness ratings
// that read them) are kept in memory by each instance; watchCyber makes
// them follow the other instances' commits.

// cyberTypes are the STIX types whose versions carry effects.
var cyberTypes = []string{"incident", "sighting", "observed-data"}

// CyberFollow is how often an instance of a cluster looks for other
// instances' cyber commits.
var CyberFollow = 250 * time.Millisecond

// cyberShared returns the cluster's PostgreSQL for the TAXII store in
// cluster mode, nil otherwise (its SQLite file). Start calls it, after
// the store opened.
func (n *Node) cyberShared() *sql.DB {
	if n.cl == nil || n.cl.pg == nil {
		return nil
	}
	return stdlib.OpenDBFromPool(n.cl.pg.Pool())
}

// federates reports whether the node federates (in cluster mode through
// the holder of the federation lease, whichever instance that is).
func (n *Node) federates() bool { return n.federation != nil || n.fedc != nil }

// watchCyber polls the shared store's clock: versions added since the
// last poll are observed (by whichever instance stored them; observing a
// version twice changes nothing), and when another deletion was committed
// the effects are rebuilt from the store.
// seen is a clock read before the replay that filled effects at start.
func (n *Node) watchCyber(ctx context.Context, srv *taxii.Server, effects *cyber.Effects, seen taxii.Clock) {
	follow.Run(ctx, n.log, "cyber", CyberFollow, func(ctx context.Context) error {
		c, err := srv.Clock(ctx)
		switch {
		case err != nil:
			return fmt.Errorf("reading the shared store's clock: %w", err)
		case c.Deletions != seen.Deletions:
			fresh := cyber.NewEffects()
			if err := srv.Replay(ctx, cyberTypes, func(_ string, o *stix.Object, l label.Label) { fresh.Observe(o, l) }); err != nil {
				return fmt.Errorf("rebuilding the effects: %w", err)
			}
			effects.Replace(fresh)
			seen = c
		case c.Added != seen.Added:
			if err := srv.ReplayAfter(ctx, cyberTypes, seen.Added, func(_ string, o *stix.Object, l label.Label) { effects.Observe(o, l) }); err != nil {
				return fmt.Errorf("following the shared store: %w", err)
			}
			seen.Added = c.Added
		}
		return nil
	})
}

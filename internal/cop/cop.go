// Package cop owns the live common operational picture: the current,
// not-yet-stale object of every uid, and which nation owns each uid. A uid
// belongs to the nation that first published it, whatever the type of the
// event that carried it; no other nation may overwrite or delete it. A
// claim lasts as long as its uid is in use: until the latest stale time
// published under it plus a retention (ExpireClaims then releases it), so
// claims do not accumulate and a uid once used is not locked forever.
// Beside each object it keeps when the uid's last history row was stored,
// so that the node can thin the history of frequent reports.
package cop

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/hub"
	"kizuna/internal/label"
)

// ErrNotOwner is returned when a nation tries to change another nation's
// object.
var ErrNotOwner = errors.New("object owned by another nation")

// Persistent reports whether an event becomes part of the picture. Chat,
// tasking and control traffic and directed messages pass through the hub
// but are not objects on the map.
func Persistent(e *cot.Event) bool {
	switch {
	case len(e.Dests) > 0:
		return false
	case strings.HasPrefix(e.Type, "t-"), strings.HasPrefix(e.Type, "b-t-f"), strings.HasPrefix(e.Type, "b-f-t"):
		return false
	}
	return true
}

// DefaultClaimRetention is how long a claim outlives the latest stale
// time of its uid when no retention is configured.
const DefaultClaimRetention = 24 * time.Hour

// claim is the ownership of one uid and when it lapses (Unix nanoseconds).
type claim struct {
	nation string
	until  atomic.Int64
}

// object is the current message of one uid and when the last history row
// of that uid was stored (for thinning the history of frequent reports).
type object struct {
	m         *hub.Message
	historyAt time.Time
}

// Picture is the live picture. It is safe for concurrent use.
type Picture struct {
	mu      sync.RWMutex
	objects map[string]object
	owners  map[string]*claim
}

// New returns an empty picture.
func New() *Picture {
	return &Picture{objects: make(map[string]object), owners: make(map[string]*claim)}
}

// LoadOwners restores uid ownership (after a restart); until gives the
// time each claim lapses.
func (p *Picture) LoadOwners(owners map[string]string, until func(uid string) time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for uid, n := range owners {
		if _, ok := p.owners[uid]; !ok {
			c := &claim{nation: n}
			c.until.Store(until(uid).UnixNano())
			p.owners[uid] = c
		}
	}
}

// Owner returns the nation owning uid, if a claim is in force.
func (p *Picture) Owner(uid string) (string, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	c, ok := p.owners[uid]
	if !ok || c.until.Load() < time.Now().UnixNano() {
		return "", false
	}
	return c.nation, true
}

// Claims returns the number of claims held (in force or not yet swept).
func (p *Picture) Claims() int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return len(p.owners)
}

// Claim checks that nation may write uid and records it as the owner when
// uid is unclaimed (or its claim has lapsed). until extends the claim: it
// is the stale time of the event plus the retention. It returns whether
// the claim created the ownership.
func (p *Picture) Claim(uid, nation string, until time.Time) (created bool, err error) {
	u := until.UnixNano()
	p.mu.RLock()
	c, ok := p.owners[uid]
	p.mu.RUnlock()
	if ok && c.until.Load() >= time.Now().UnixNano() {
		if c.nation != nation {
			return false, fmt.Errorf("%w: %s", ErrNotOwner, c.nation)
		}
		extend(c, u)
		return false, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.owners[uid]; ok && c.until.Load() >= time.Now().UnixNano() {
		if c.nation != nation {
			return false, fmt.Errorf("%w: %s", ErrNotOwner, c.nation)
		}
		extend(c, u)
		return false, nil
	}
	c = &claim{nation: nation}
	c.until.Store(u)
	p.owners[uid] = c
	return true, nil
}

// extend moves a claim's end to u if that is later.
func extend(c *claim, u int64) {
	for {
		cur := c.until.Load()
		if u <= cur || c.until.CompareAndSwap(cur, u) {
			return
		}
	}
}

// ExpireClaims releases the claims that lapsed before now and whose uid
// has no live object. It returns how many it released.
func (p *Picture) ExpireClaims(now time.Time) int {
	t := now.UnixNano()
	var lapsed []string
	p.mu.RLock()
	for uid, c := range p.owners {
		if c.until.Load() < t {
			if _, live := p.objects[uid]; !live {
				lapsed = append(lapsed, uid)
			}
		}
	}
	p.mu.RUnlock()
	if len(lapsed) == 0 {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, uid := range lapsed {
		if c, ok := p.owners[uid]; ok && c.until.Load() < t {
			if _, live := p.objects[uid]; !live {
				delete(p.owners, uid)
				n++
			}
		}
	}
	return n
}

// Put stores m as the current object of its uid; historyAt is when the
// last history row of the uid was stored (zero when unknown). The caller
// has claimed the uid. It returns the object it replaced, if any.
func (p *Picture) Put(m *hub.Message, historyAt time.Time) *hub.Message {
	p.mu.Lock()
	old := p.objects[m.UID]
	p.objects[m.UID] = object{m: m, historyAt: historyAt}
	p.mu.Unlock()
	return old.m
}

// Remove deletes the current object of uid, returning it.
func (p *Picture) Remove(uid string) (*hub.Message, bool) {
	p.mu.Lock()
	o, ok := p.objects[uid]
	delete(p.objects, uid)
	p.mu.Unlock()
	return o.m, ok
}

// Get returns the current object of uid.
func (p *Picture) Get(uid string) (*hub.Message, bool) {
	m, _, ok := p.GetHistory(uid)
	return m, ok
}

// GetHistory returns the current object of uid and when the last history
// row of the uid was stored, as given to Put.
func (p *Picture) GetHistory(uid string) (*hub.Message, time.Time, bool) {
	p.mu.RLock()
	o, ok := p.objects[uid]
	p.mu.RUnlock()
	return o.m, o.historyAt, ok
}

// Len returns the number of live objects.
func (p *Picture) Len() int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return len(p.objects)
}

// Visible returns the live, not-yet-stale objects principal pr may see.
// The label policy decides; nothing else is returned.
func (p *Picture) Visible(pr label.Principal, now time.Time) []*hub.Message {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := make([]*hub.Message, 0, len(p.objects))
	for _, o := range p.objects {
		if o.m.Event.IsStale(now) || !label.Releasable(pr, o.m.Label) {
			continue
		}
		out = append(out, o.m)
	}
	return out
}

// All returns every live object, for storage and internal consumers that
// apply the policy themselves.
func (p *Picture) All() []*hub.Message {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := make([]*hub.Message, 0, len(p.objects))
	for _, o := range p.objects {
		out = append(out, o.m)
	}
	return out
}

// Expire removes and returns the objects that are stale at now.
func (p *Picture) Expire(now time.Time) []*hub.Message {
	var stale []*hub.Message
	p.mu.RLock()
	for _, o := range p.objects {
		if o.m.Event.IsStale(now) {
			stale = append(stale, o.m)
		}
	}
	p.mu.RUnlock()
	if len(stale) == 0 {
		return nil
	}
	p.mu.Lock()
	out := stale[:0]
	for _, m := range stale {
		// Only remove it if no fresher update replaced it meanwhile.
		if cur, ok := p.objects[m.UID]; ok && cur.m == m {
			delete(p.objects, m.UID)
			out = append(out, m)
		}
	}
	p.mu.Unlock()
	return out
}

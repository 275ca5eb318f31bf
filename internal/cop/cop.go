// Package cop owns the live common operational picture: the current,
// not-yet-stale object of every uid, and which nation owns each uid. An
// object belongs to the nation that first published it; no other nation
// may overwrite or delete it.
package cop

import (
	"errors"
	"fmt"
	"strings"
	"sync"
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

// Picture is the live picture. It is safe for concurrent use.
type Picture struct {
	mu      sync.RWMutex
	objects map[string]*hub.Message
	owners  map[string]string
}

// New returns an empty picture.
func New() *Picture {
	return &Picture{objects: make(map[string]*hub.Message), owners: make(map[string]string)}
}

// LoadOwners restores uid ownership (after a restart).
func (p *Picture) LoadOwners(owners map[string]string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for uid, n := range owners {
		if _, ok := p.owners[uid]; !ok {
			p.owners[uid] = n
		}
	}
}

// Owner returns the nation owning uid, if any.
func (p *Picture) Owner(uid string) (string, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	n, ok := p.owners[uid]
	return n, ok
}

// Claim checks that nation may write uid and records it as the owner when
// uid is new. It returns whether the claim created the ownership.
func (p *Picture) Claim(uid, nation string) (created bool, err error) {
	p.mu.RLock()
	owner, ok := p.owners[uid]
	p.mu.RUnlock()
	if ok {
		if owner != nation {
			return false, fmt.Errorf("%w: %s", ErrNotOwner, owner)
		}
		return false, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if owner, ok := p.owners[uid]; ok {
		if owner != nation {
			return false, fmt.Errorf("%w: %s", ErrNotOwner, owner)
		}
		return false, nil
	}
	p.owners[uid] = nation
	return true, nil
}

// Put stores m as the current object of its uid. The caller has claimed
// the uid. It returns the object it replaced, if any.
func (p *Picture) Put(m *hub.Message) *hub.Message {
	p.mu.Lock()
	old := p.objects[m.UID]
	p.objects[m.UID] = m
	p.mu.Unlock()
	return old
}

// Remove deletes the current object of uid, returning it.
func (p *Picture) Remove(uid string) (*hub.Message, bool) {
	p.mu.Lock()
	m, ok := p.objects[uid]
	delete(p.objects, uid)
	p.mu.Unlock()
	return m, ok
}

// Get returns the current object of uid.
func (p *Picture) Get(uid string) (*hub.Message, bool) {
	p.mu.RLock()
	m, ok := p.objects[uid]
	p.mu.RUnlock()
	return m, ok
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
	for _, m := range p.objects {
		if m.Event.IsStale(now) || !label.Releasable(pr, m.Label) {
			continue
		}
		out = append(out, m)
	}
	return out
}

// All returns every live object, for storage and internal consumers that
// apply the policy themselves.
func (p *Picture) All() []*hub.Message {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := make([]*hub.Message, 0, len(p.objects))
	for _, m := range p.objects {
		out = append(out, m)
	}
	return out
}

// Expire removes and returns the objects that are stale at now.
func (p *Picture) Expire(now time.Time) []*hub.Message {
	var stale []*hub.Message
	p.mu.RLock()
	for _, m := range p.objects {
		if m.Event.IsStale(now) {
			stale = append(stale, m)
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
		if cur, ok := p.objects[m.UID]; ok && cur == m {
			delete(p.objects, m.UID)
			out = append(out, m)
		}
	}
	p.mu.Unlock()
	return out
}

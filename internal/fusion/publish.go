package fusion

import (
	"time"

	"kizuna/internal/cot"
)

// Publication on change. Every observation applied to a track queues the
// track (touch); Run then calls PublishChanged after each batch and on
// each tick, so that a track is published as soon as an observation makes
// it due, not on the next pass over the tracks. PublishInterval is the
// per-track minimum interval: a track changed again within it is held
// (hold) and published by the first PublishChanged after the interval has
// passed, with its newest state. A track that reports faster than
// PublishInterval is so published about once per interval, each time with
// its newest observation; the states in between are superseded, not
// queued, and a held change waits at most the interval (plus one tick when
// no batch arrives), not until the track's next observation.

// touch marks t changed by o, in the batch being applied, and queues it
// for PublishChanged. Called with e.mu held.
func (e *Engine) touch(t *track, o *Observation) {
	t.dirty = true
	t.seen = e.now
	if o.Received.After(t.recv) {
		t.recv = o.Received
	}
	if !t.queued {
		t.queued = true
		e.touched = append(e.touched, t)
	}
}

// hold queues t, changed within its publish interval, for PublishChanged
// to publish when the interval has passed. Called with e.mu held.
func (e *Engine) hold(t *track) {
	if !t.held {
		t.held = true
		e.held = append(e.held, t)
	}
}

// publishHeld publishes the held tracks whose interval has passed, as of
// now, and keeps the others. Called with e.mu held.
func (e *Engine) publishHeld(now time.Time, out []*cot.Event) []*cot.Event {
	keep := e.held[:0]
	for _, t := range e.held {
		switch {
		case t.removed || !t.dirty:
			t.held = false
		case now.Sub(t.lastPub) < e.cfg.PublishInterval:
			keep = append(keep, t)
		default:
			t.held = false
			out = e.publish(t.v, t, now, out)
		}
	}
	clear(e.held[len(keep):])
	e.held = keep
	return out
}

// PublishChanged returns the events of the tracks changed since it last
// ran that are due as of now: a tentative track that has reached M of N
// hits is confirmed first (and a confirmed track without identity that
// lies on an identity track is merged into it); a confirmed track is
// published when its PublishInterval has passed and the picture would
// otherwise be off (moved more than PublishDistance, new sources or
// names, heartbeat).
func (e *Engine) PublishChanged(now time.Time) []*cot.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.publishHeld(now, nil)
	window := time.Duration(e.cfg.ConfirmN) * e.cfg.ScanPeriod
	for _, t := range e.touched {
		t.queued = false
		if t.removed {
			continue
		}
		if !t.confirmed && t.hits >= e.cfg.ConfirmM && t.t.Sub(t.born) <= window {
			t.confirmed = true
			e.stats.conf.Add(1)
		}
		if !t.confirmed {
			continue
		}
		if t.key.Kind == IDNone {
			if out = e.merge(t.v, t, now, out); t.removed {
				continue
			}
		}
		out = e.publish(t.v, t, now, out)
	}
	clear(e.touched)
	e.touched = e.touched[:0]
	return out
}

// forgetTouched empties the queue of changed tracks without publishing
// from it (the synchronous Tick examines every track itself). Called with
// e.mu held.
func (e *Engine) forgetTouched() {
	for _, t := range e.touched {
		t.queued = false
	}
	clear(e.touched)
	e.touched = e.touched[:0]
	for _, t := range e.held {
		t.held = false
	}
	clear(e.held)
	e.held = e.held[:0]
}

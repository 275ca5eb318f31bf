package fusion

import (
	"time"

	"kizuna/internal/cot"
)

// Publication on change. Every observation applied to a track queues the
// track (touch); Run then calls PublishChanged after each batch, so that a
// track is published as soon as an observation makes it due, not on the
// next tick. PublishInterval is the per-track minimum interval: a track
// changed again within it stays dirty and is published by its next
// observation after the interval, with the state of that observation, or,
// when it goes quiet for a whole interval, by Run's tick with its last
// state. A track that reports faster than PublishInterval is so published
// about once per interval, each time with its newest observation; the
// states in between are superseded, not queued.

// touch marks t changed by the batch being applied and queues it for
// PublishChanged. Called with e.mu held.
func (e *Engine) touch(t *track) {
	t.dirty = true
	t.seen = e.now
	if !t.queued {
		t.queued = true
		e.touched = append(e.touched, t)
	}
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
	var out []*cot.Event
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
}

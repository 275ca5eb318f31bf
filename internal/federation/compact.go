package federation

import "kizuna/internal/cot"

// compactable reports whether a queued event may be dropped for a newer
// one of the same uid while its link is down: position reports only
// (atoms, a-…), never flash traffic, messages, orders, deletes or alerts.
func compactable(ev *cot.Event, flash bool) bool {
	return !flash && ev.IsPosition()
}

package mapapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"kizuna/internal/label"
	"kizuna/internal/store"
	"kizuna/internal/symbol"
	"kizuna/internal/web"
)

// MaxReplayWindow bounds one replay request.
const MaxReplayWindow = 24 * time.Hour

// ReplayRow is one stored report, as the map replays it. Times are Unix
// milliseconds, which keeps an hour of a large picture compact.
type ReplayRow struct {
	UID      string  `json:"uid"`
	Type     string  `json:"type"`
	SIDC     string  `json:"sidc"`
	Callsign string  `json:"callsign,omitempty"`
	Time     int64   `json:"t"`
	Stale    int64   `json:"stale"`
	Lat      float64 `json:"lat"`
	Lon      float64 `json:"lon"`
	// Label indexes the answer's labels: thousands of rows share a few.
	Label int `json:"l"`
}

var errTooMany = errors.New("too many rows")

// replayWindow reads since, until and step (in ms; 0 keeps every row)
// from the query, or says what is wrong with them.
func replayWindow(r *http.Request, now time.Time) (since, until time.Time, step int64, bad string) {
	since, until = now.Add(-3*time.Hour), now
	q := r.URL.Query()
	for name, dst := range map[string]*time.Time{"since": &since, "until": &until} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return since, until, 0, "bad " + name
			}
			*dst = t
		}
	}
	if v := q.Get("step"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > time.Hour {
			return since, until, 0, "bad step"
		}
		step = d.Milliseconds()
	}
	if !until.After(since) || until.Sub(since) > MaxReplayWindow {
		return since, until, 0, "bad window: until must follow since, by at most 24h"
	}
	return since, until, step, ""
}

// replay answers the history rows of [since, until) that the principal
// may see. since defaults to three hours ago, until to now; step (a Go
// duration, at most an hour) keeps the first row of each uid per step and
// its last in the window.
func (s *Service) replay(w http.ResponseWriter, r *http.Request) {
	p, ok := principal(r)
	if !ok {
		http.Error(w, "no valid principal", http.StatusForbidden)
		return
	}
	since, until, step, bad := replayWindow(r, s.cfg.Now())
	if bad != "" {
		http.Error(w, bad, http.StatusBadRequest)
		return
	}
	rows := make([]ReplayRow, 0, 1024)
	truncated := false
	// Labels repeat: each distinct one is sent once.
	labelIdx := map[string]int{}
	labels := []web.Label{}
	// With a step, the first row of each uid in each step, plus its last
	// row in the window: a long window of a large picture stays small
	// enough for a browser, and the replay still ends where the object was.
	type thin struct {
		bucket int64
		tail   *ReplayRow // the latest row not kept, if any
	}
	thinned := map[string]*thin{}
	err := s.cfg.History(r.Context(), p, since, until, func(o store.Object) error {
		// The store already applied the policy; the one policy function
		// decides again here, so that this egress path cannot depend on
		// how the store narrows its query.
		if !label.Releasable(p, o.Label) {
			return nil
		}
		if len(rows) >= s.cfg.MaxReplayRows {
			truncated = true
			return errTooMany
		}
		key := o.Label.Marking() + "|" + o.Label.Originator
		li, ok := labelIdx[key]
		if !ok {
			li = len(labels)
			labels = append(labels, web.LabelJSON(o.Label))
			labelIdx[key] = li
		}
		row := ReplayRow{
			UID: o.UID, Type: o.Type, SIDC: symbol.SIDC(o.Type), Callsign: o.Callsign,
			Time: o.Time.UnixMilli(), Stale: o.Stale.UnixMilli(), Lat: o.Lat, Lon: o.Lon, Label: li,
		}
		if step > 0 {
			b := row.Time / step
			th := thinned[o.UID]
			if th != nil && th.bucket == b {
				th.tail = &row
				return nil
			}
			if th == nil {
				th = &thin{}
				thinned[o.UID] = th
			}
			th.bucket, th.tail = b, nil
		}
		rows = append(rows, row)
		return nil
	})
	for _, th := range thinned {
		if th.tail != nil && len(rows) < s.cfg.MaxReplayRows {
			rows = append(rows, *th.tail)
		}
	}
	if err != nil && !errors.Is(err, errTooMany) {
		s.log.Error("reading history for replay", "principal", p.String(), "err", err)
		http.Error(w, "history unavailable", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(map[string]any{
		"since": since.UTC(), "until": until.UTC(), "truncated": truncated, "labels": labels, "rows": rows,
	})
}

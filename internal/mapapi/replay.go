package mapapi

import (
	"bufio"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"kizuna/internal/label"
	"kizuna/internal/store"
	"kizuna/internal/symbol"
	"kizuna/internal/web"
)

// MaxReplayWindow bounds one replay request.
const MaxReplayWindow = 24 * time.Hour

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
	s.writeReplay(w, r, p, since, until, step)
}

// writeReplay answers the replay of [since, until) for p, thinned to step
// (ms; 0 keeps every row). The answer is compact and streamed as the
// history is read:
//
//	{"rows":[[track, t, stale, lat, lon, label], …],
//	 "tracks":[[uid, type, sidc, callsign], …], "labels":[…],
//	 "since":…, "until":…, "truncated":false}
//
// A row names its track (uid, type and callsign, sent once) and its label
// by index; times are Unix milliseconds.
func (s *Service) writeReplay(w http.ResponseWriter, r *http.Request, p label.Principal, since, until time.Time, step int64) {
	idx := &replayIndex{tracks: map[trackKey]int{}, labelIdx: map[string]int{}, labels: []web.Label{}}
	// With a step, the first row of each uid in each step, plus its last
	// row in the window: a long window of a large picture stays small
	// enough for a browser, and the replay still ends where the object was.
	thinned := map[string]*thin{}
	bw := bufio.NewWriterSize(w, 64<<10)
	n := 0
	truncated := false
	var row []byte
	wroteHeader := false
	err := s.cfg.History(r.Context(), p, since, until, func(o store.Object) error {
		// The store already applied the policy; the one policy function
		// decides again here, so that this egress path cannot depend on
		// how the store narrows its query.
		if !label.Releasable(p, o.Label) {
			return nil
		}
		if n >= s.cfg.MaxReplayRows {
			truncated = true
			return errTooMany
		}
		t := o.Time.UnixMilli()
		row = appendRow(row[:0], idx.track(o), t, o.Stale.UnixMilli(), o.Lat, o.Lon, idx.label(o.Label))
		if step > 0 {
			b := t / step
			th := thinned[o.UID]
			if th != nil && th.bucket == b {
				th.tail = append(th.tail[:0], row...)
				return nil
			}
			if th == nil {
				th = &thin{}
				thinned[o.UID] = th
			}
			th.bucket, th.tail = b, th.tail[:0]
		}
		if !wroteHeader {
			w.Header().Set("Content-Type", "application/json")
			bw.WriteString(`{"rows":[`)
			wroteHeader = true
		} else {
			bw.WriteByte(',')
		}
		bw.Write(row)
		n++
		return nil
	})
	if err != nil && !errors.Is(err, errTooMany) {
		s.log.Error("reading history for replay", "principal", p.String(), "err", err)
		if !wroteHeader {
			http.Error(w, "history unavailable", http.StatusInternalServerError)
		}
		// Else the answer stops short and does not parse: the page
		// reports the replay unavailable.
		return
	}
	if !wroteHeader {
		w.Header().Set("Content-Type", "application/json")
		bw.WriteString(`{"rows":[`)
	}
	for _, th := range thinned {
		if len(th.tail) > 0 && n < s.cfg.MaxReplayRows {
			if n > 0 {
				bw.WriteByte(',')
			}
			bw.Write(th.tail)
			n++
		}
	}
	idx.write(bw)
	b, _ := json.Marshal(map[string]any{"since": since.UTC(), "until": until.UTC(), "truncated": truncated})
	bw.WriteByte(',')
	bw.Write(b[1:])
	bw.WriteByte('\n')
	bw.Flush()
}

// thin is what a thinned replay keeps of one uid.
type thin struct {
	bucket int64
	tail   []byte // the latest row not kept, encoded, if any
}

// trackKey names a replayed track.
type trackKey struct{ uid, typ, callsign string }

// replayIndex numbers the tracks and labels of a replay answer: its rows
// name them by index, and each is sent once.
type replayIndex struct {
	tracks    map[trackKey]int
	trackList []trackKey
	labelIdx  map[string]int
	labels    []web.Label
}

// label is the index of a label, added when new.
func (x *replayIndex) label(l label.Label) int {
	key := l.Marking() + "|" + l.Originator
	li, ok := x.labelIdx[key]
	if !ok {
		li = len(x.labels)
		x.labels = append(x.labels, web.LabelJSON(l))
		x.labelIdx[key] = li
	}
	return li
}

// track is the index of an object's track, added when new.
func (x *replayIndex) track(o store.Object) int {
	tk := trackKey{o.UID, o.Type, o.Callsign}
	ti, ok := x.tracks[tk]
	if !ok {
		ti = len(x.trackList)
		x.trackList = append(x.trackList, tk)
		x.tracks[tk] = ti
	}
	return ti
}

// write ends the rows array and writes the tracks and labels tables.
func (x *replayIndex) write(bw *bufio.Writer) {
	bw.WriteString(`],"tracks":[`)
	for i, tk := range x.trackList {
		if i > 0 {
			bw.WriteByte(',')
		}
		b, _ := json.Marshal([4]string{tk.uid, tk.typ, symbol.SIDC(tk.typ), tk.callsign})
		bw.Write(b)
	}
	bw.WriteString(`],"labels":`)
	b, _ := json.Marshal(x.labels)
	bw.Write(b)
}

// appendRow encodes one replay row as a JSON array.
func appendRow(b []byte, track int, t, stale int64, lat, lon float64, lbl int) []byte {
	b = append(b, '[')
	b = strconv.AppendInt(b, int64(track), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, t, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, stale, 10)
	b = append(b, ',')
	b = strconv.AppendFloat(b, finite(lat), 'f', -1, 64)
	b = append(b, ',')
	b = strconv.AppendFloat(b, finite(lon), 'f', -1, 64)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(lbl), 10)
	return append(b, ']')
}

func finite(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}

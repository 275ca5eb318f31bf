package node

import (
	"context"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/label"
	"kizuna/internal/mapapi"
	"kizuna/internal/store"
)

// setupMapAPI mounts the staff map's tools (replay, drawings, export) on
// every HTTP listener. A drawing enters through ingestFrom as the request's
// principal, with the label and ownership checks of a TAK client's event;
// a refusal is counted and audited like one.
func (n *Node) setupMapAPI() {
	svc, err := mapapi.New(mapapi.Config{
		Picture: n.picture,
		History: func(ctx context.Context, p label.Principal, since, until time.Time, fn func(store.Object) error) error {
			return n.store.ExportPositions(ctx, p, since, until, fn)
		},
		Ingest: n.ingestHTTP,
		Refused: func(ctx context.Context, p label.Principal, uid string, err error) {
			n.metrics.Rejected.WithLabelValues("label_choice").Inc()
			n.auditf(ctx, p.String()+"@http", "event.label_choice", uid, "deny", err.Error())
		},
		Log: n.log.With("component", "mapapi"),
	})
	if err != nil {
		n.log.Error("map tools unavailable", "err", err)
		return
	}
	for pattern, h := range svc.Routes() {
		n.Handle(pattern, h)
	}
}

// ingestHTTP ingests an event submitted over HTTP by principal p.
func (n *Node) ingestHTTP(ctx context.Context, p label.Principal, ev *cot.Event) error {
	if rej := n.ingestFrom(p, ev, 0); rej != nil {
		n.metrics.Rejected.WithLabelValues(string(rej.Reason)).Inc()
		if rej.Reason.Security() {
			n.log.Warn("event rejected", append(rej.Reason.LogAttrs(), "principal", p.String(), "listener", "http", "uid", ev.UID, "err", rej.Err)...)
			n.auditf(ctx, p.String()+"@http", "event."+string(rej.Reason), ev.UID, "deny", rej.Err.Error())
		}
		return rej
	}
	n.metrics.EventsIn.WithLabelValues("http").Inc()
	n.observe(ev, p)
	return nil
}

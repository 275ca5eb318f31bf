// Package mapapi serves the staff map's server-side tools under /api/v1/:
// the replay of the picture's history over a time window, drawings
// (points, lines, areas, range rings) published as CoT through the node's
// ingest path as the HTTP principal, and exports of the current view as
// GeoJSON and KML. Every object it returns passes label.Releasable for the
// request's principal; every drawing passes the same label and ownership
// checks as an event from a TAK client.
//
// Endpoints:
//
//	GET  /api/v1/replay?since=RFC3339&until=RFC3339&step=1m   history rows in the window, oldest first
//	POST /api/v1/drawings                             JSON drawing → CoT object (201 with its uid)
//	POST /api/v1/export                               JSON {format, uids} → GeoJSON or KML file
package mapapi

import (
	"context"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"time"

	"kizuna/internal/cop"
	"kizuna/internal/cot"
	"kizuna/internal/label"
	"kizuna/internal/store"
	"kizuna/internal/web"
)

// HistoryFunc passes to fn, oldest first, every stored history row in
// [since, until) that p may receive (store.Backend.ExportPositions: the
// rows' XML may be empty, a replay does not need it).
type HistoryFunc func(ctx context.Context, p label.Principal, since, until time.Time, fn func(store.Object) error) error

// IngestFunc submits an event as principal p through the node's ingest
// path (label and ownership checks). It returns the refusal's error, which
// wraps label.ErrAboveClearance or cop.ErrNotOwner where they apply.
type IngestFunc func(ctx context.Context, p label.Principal, ev *cot.Event) error

// Config configures the service.
type Config struct {
	Picture *cop.Picture
	History HistoryFunc
	Ingest  IngestFunc
	// Refused, if set, is told of a drawing refused before ingest (its
	// label beyond the principal's clearance: a caveat not held, or not
	// releasable to the principal itself), to count and audit it as
	// ingest does its own refusals. A classification above the clearance
	// is left to ingest, which refuses, counts and audits it.
	Refused func(ctx context.Context, p label.Principal, uid string, err error)
	Log     *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxReplayRows caps one replay answer (default 500,000 rows).
	MaxReplayRows int
}

// Service is the map tools' HTTP surface.
type Service struct {
	cfg Config
	log *slog.Logger
}

// New checks cfg and returns the service.
func New(cfg Config) (*Service, error) {
	if cfg.Picture == nil || cfg.History == nil || cfg.Ingest == nil {
		return nil, errors.New("mapapi: picture, history and ingest are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxReplayRows <= 0 {
		cfg.MaxReplayRows = 500_000
	}
	return &Service{cfg: cfg, log: cfg.Log}, nil
}

// Start does nothing: the service holds no goroutines. It is here so the
// node can start every component the same way.
func (s *Service) Start(context.Context) error { return nil }

// Stop does nothing (see Start).
func (s *Service) Stop(context.Context) error { return nil }

// Routes returns the handlers by pattern, for mounting on every HTTP
// listener behind the web layer's principal resolution.
func (s *Service) Routes() map[string]http.Handler {
	return map[string]http.Handler{
		"GET /api/v1/replay":    http.HandlerFunc(s.replay),
		"POST /api/v1/drawings": sameOriginJSON(http.HandlerFunc(s.drawing)),
		"POST /api/v1/export":   sameOriginJSON(http.HandlerFunc(s.export)),
	}
}

func principal(r *http.Request) (label.Principal, bool) {
	p, ok := web.PrincipalFrom(r.Context())
	return p, ok && p.Valid()
}

// sameOriginJSON refuses a state-changing request that another site's page
// could make: a body that is not application/json (a form post needs no
// preflight), or an Origin (or Sec-Fetch-Site) naming another origin.
func sameOriginJSON(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "application/json" {
			http.Error(w, "request body must be application/json", http.StatusUnsupportedMediaType)
			return
		}
		if o := r.Header.Get("Origin"); o != "" {
			u, err := url.Parse(o)
			if err != nil || u.Host != r.Host {
				http.Error(w, "cross-origin request refused", http.StatusForbidden)
				return
			}
		}
		if sfs := r.Header.Get("Sec-Fetch-Site"); sfs != "" && sfs != "same-origin" && sfs != "none" {
			http.Error(w, "cross-origin request refused", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Package web owns the node's HTTP surface: /healthz, /metrics, the JSON
// REST API under /api/v1/, the label-filtered WebSocket stream and the
// embedded web map. Every response that carries objects passes each one
// through label.Releasable for the request's principal.
package web

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"kizuna/internal/cop"
	"kizuna/internal/hub"
	"kizuna/internal/label"
	"kizuna/internal/metrics"
	"kizuna/internal/store"
	"kizuna/internal/symbol"
	"kizuna/internal/webmap"
)

// PrincipalFunc returns the principal of a request: the listener's for a
// plain listener, the client certificate's over TLS.
type PrincipalFunc func(r *http.Request) (label.Principal, error)

// FixedPrincipal is the PrincipalFunc of a plain listener.
func FixedPrincipal(p label.Principal) PrincipalFunc {
	return func(*http.Request) (label.Principal, error) { return p, nil }
}

type ctxKey struct{}

// PrincipalFrom returns the principal the web layer resolved for r.
func PrincipalFrom(ctx context.Context) (label.Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(label.Principal)
	return p, ok
}

// WithPrincipal returns ctx carrying p as PrincipalFrom reads it: for
// handlers mounted behind the web layer, tested without it.
func WithPrincipal(ctx context.Context, p label.Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// History reads stored history of one uid.
type History func(ctx context.Context, uid string, since time.Time, limit int) ([]store.Object, error)

// Options configure the web server.
type Options struct {
	Picture  *cop.Picture
	Hub      *hub.Hub
	History  History
	Metrics  *metrics.Metrics
	Log      *slog.Logger
	NodeID   string
	Nation   string
	Encoders *hub.Encoders
	UI       fs.FS
	// Extra handlers mounted by extensions, by pattern.
	Extra map[string]http.Handler
	// MaxBody caps request bodies.
	MaxBody int64
	// Ready reports readiness for /healthz; nil means always ready.
	Ready func() bool
	// MetricsClearance is the clearance a principal of the node's own
	// nation needs to read /metrics (role admin needs none); partners
	// never may (metrics_access.go).
	MetricsClearance label.Classification
	// Health, when set, reports readiness with details: /healthz answers
	// 503 with the error while it returns one, and writes the details
	// (cluster membership, lag, store health) as JSON either way.
	Health func() (details any, err error)
}

// Server serves the HTTP API of one node.
type Server struct {
	o      Options
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu         sync.Mutex
	revalidate chan struct{} // closed (and replaced) by Revalidate
}

type principalFuncKey struct{}

// Revalidate makes every open WebSocket stream check its principal again
// (after a revocation list reload): a stream whose certificate no longer
// passes is closed.
func (s *Server) Revalidate() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.revalidate != nil {
		close(s.revalidate)
	}
	s.revalidate = make(chan struct{})
}

func (s *Server) revalidated() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.revalidate == nil {
		s.revalidate = make(chan struct{})
	}
	return s.revalidate
}

// New returns a web server.
func New(o Options) (*Server, error) {
	if o.Picture == nil || o.Hub == nil || o.Metrics == nil {
		return nil, errors.New("web: picture, hub and metrics are required")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.MaxBody <= 0 {
		o.MaxBody = 1 << 20
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{o: o, log: o.Log, ctx: ctx, cancel: cancel}, nil
}

// Close ends every WebSocket stream and waits for them.
func (s *Server) Close() {
	s.cancel()
	s.wg.Wait()
}

// Handler returns the HTTP handler for one listener.
func (s *Server) Handler(principal PrincipalFunc) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("GET /metrics", s.metricsHandler())
	mux.HandleFunc("GET /api/v1/whoami", s.whoami)
	mux.HandleFunc("GET /api/v1/objects", s.objects)
	mux.HandleFunc("GET /api/v1/objects/{uid}", s.object)
	mux.HandleFunc("GET /api/v1/objects/{uid}/history", s.history)
	mux.HandleFunc("GET /api/v1/stream", s.stream)
	for pattern, h := range s.o.Extra {
		mux.Handle(pattern, h)
	}
	if s.o.UI != nil {
		// Method-less, so that it does not conflict with the extensions'
		// method-less prefixes; only GET and HEAD are served.
		files := http.FileServerFS(s.o.UI)
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
				return
			}
			// The page loads nothing from anywhere but this node.
			w.Header().Set("Content-Security-Policy", contentSecurityPolicy)
			w.Header().Set("X-Frame-Options", "DENY")
			files.ServeHTTP(w, r)
		})
	} else {
		mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Write([]byte("Kizuna node " + s.o.NodeID + ": the API is under /api/v1/\n"))
		})
	}
	return s.withPrincipal(principal, mux)
}

func (s *Server) withPrincipal(principal PrincipalFunc, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			next.ServeHTTP(w, r)
			return
		}
		p, err := principal(r)
		if err != nil || !p.Valid() {
			http.Error(w, "no valid principal", http.StatusForbidden)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.maxBody(next, r))
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-store")
		ctx := context.WithValue(r.Context(), ctxKey{}, p)
		ctx = context.WithValue(ctx, principalFuncKey{}, principal)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if s.o.Ready != nil && !s.o.Ready() {
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	if s.o.Health != nil {
		details, err := s.o.Health()
		if err != nil {
			WriteJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "error": err.Error(), "details": details})
			return
		}
		WriteJSON(w, http.StatusOK, map[string]any{"ready": true, "details": details})
		return
	}
	w.Write([]byte("ok\n"))
}

func principalOf(r *http.Request) label.Principal {
	p, _ := PrincipalFrom(r.Context())
	return p
}

// WriteJSON writes v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	WriteJSON(w, http.StatusOK, map[string]any{
		"principal": map[string]any{"nation": p.Nation, "clearance": p.Clearance.String(), "name": p.Name, "role": p.Role, "caveats": caveatList(p.Caveats)},
		"node":      s.o.NodeID,
		"nation":    s.o.Nation,
	})
}

// caveatList is a principal's caveats as a JSON list ([] for none).
func caveatList(c string) []string {
	if c == "" {
		return []string{}
	}
	return strings.Split(c, "/")
}

// Object is the JSON form of one live object.
type Object struct {
	UID      string    `json:"uid"`
	Type     string    `json:"type"`
	How      string    `json:"how"`
	Time     time.Time `json:"time"`
	Stale    time.Time `json:"stale"`
	Lat      float64   `json:"lat"`
	Lon      float64   `json:"lon"`
	HAE      float64   `json:"hae"`
	Callsign string    `json:"callsign"`
	Course   *float64  `json:"course,omitempty"`
	Speed    *float64  `json:"speed,omitempty"`
	SIDC     string    `json:"sidc"`
	Marking  string    `json:"marking"`
	Label    Label     `json:"label"`
	Node     string    `json:"node,omitempty"`
	Remarks  string    `json:"remarks,omitempty"`
	// Missile is present for a missile track (cot.Event.IsMissile, or
	// an event carrying missile-warning data) and carries its launch
	// point, predicted impact and time to go where the event gives them.
	Missile *webmap.Missile `json:"missile,omitempty"`
	// Flash marks flash traffic (cot.Event.Flash), decided once by the
	// server for the hub, federation and the map.
	Flash bool `json:"flash,omitempty"`
	// Shape is a drawing's geometry (line, area, circle), drawn as such.
	Shape *webmap.Shape `json:"shape,omitempty"`
}

// Label is the JSON form of a label.
type Label struct {
	Classification string   `json:"classification"`
	ReleasableTo   []string `json:"releasableTo"`
	Originator     string   `json:"originator"`
	Caveat         string   `json:"caveat,omitempty"`
}

// LabelJSON converts a label.
func LabelJSON(l label.Label) Label {
	rel := l.ReleasableTo
	if rel == nil {
		rel = []string{}
	}
	return Label{Classification: l.Classification.String(), ReleasableTo: rel, Originator: l.Originator, Caveat: l.Caveat}
}

// ObjectOf converts a picture message.
func ObjectOf(m *hub.Message) Object {
	e := m.Event
	o := Object{
		UID: e.UID, Type: e.Type, How: e.How, Time: e.Time, Stale: e.Stale,
		Lat: e.Point.Lat, Lon: e.Point.Lon, HAE: finite(e.Point.HAE), Callsign: e.Callsign,
		SIDC: symbol.SIDC(e.Type), Marking: m.Label.Marking(), Label: LabelJSON(m.Label), Node: e.Origin.Node,
		Remarks: webmap.RemarksOf(e.Detail), Missile: webmap.MissileOf(e.Detail, e.Time), Flash: m.Flash,
		Shape: webmap.ShapeOf(e.Type, e.Detail),
	}
	if o.Missile == nil && e.IsMissile() {
		o.Missile = &webmap.Missile{}
	}
	if !math.IsNaN(e.Course) {
		c := e.Course
		o.Course = &c
	}
	if !math.IsNaN(e.Speed) {
		sp := e.Speed
		o.Speed = &sp
	}
	return o
}

func finite(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}

func (s *Server) visible(r *http.Request) []Object {
	ms := s.o.Picture.Visible(principalOf(r), time.Now())
	out := make([]Object, 0, len(ms))
	for _, m := range ms {
		out = append(out, ObjectOf(m))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UID < out[j].UID })
	return out
}

func (s *Server) objects(w http.ResponseWriter, r *http.Request) {
	objs := s.visible(r)
	switch r.URL.Query().Get("format") {
	case "", "json":
		WriteJSON(w, http.StatusOK, map[string]any{"objects": objs})
	case "geojson":
		type feature struct {
			Type       string         `json:"type"`
			ID         string         `json:"id"`
			Geometry   map[string]any `json:"geometry"`
			Properties Object         `json:"properties"`
		}
		fc := struct {
			Type     string    `json:"type"`
			Features []feature `json:"features"`
		}{Type: "FeatureCollection", Features: make([]feature, 0, len(objs))}
		for _, o := range objs {
			fc.Features = append(fc.Features, feature{
				Type: "Feature", ID: o.UID,
				Geometry:   map[string]any{"type": "Point", "coordinates": []float64{o.Lon, o.Lat, o.HAE}},
				Properties: o,
			})
		}
		w.Header().Set("Content-Type", "application/geo+json")
		json.NewEncoder(w).Encode(fc)
	default:
		http.Error(w, "unknown format", http.StatusBadRequest)
	}
}

func (s *Server) object(w http.ResponseWriter, r *http.Request) {
	m, ok := s.o.Picture.Get(r.PathValue("uid"))
	if !ok || m.Event.IsStale(time.Now()) || !label.Releasable(principalOf(r), m.Label) {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	WriteJSON(w, http.StatusOK, ObjectOf(m))
}

func (s *Server) history(w http.ResponseWriter, r *http.Request) {
	if s.o.History == nil {
		http.Error(w, "no history", http.StatusNotFound)
		return
	}
	uid := r.PathValue("uid")
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > 10000 {
			http.Error(w, "bad limit", http.StatusBadRequest)
			return
		}
		limit = n
	}
	var since time.Time
	if v := r.URL.Query().Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			http.Error(w, "bad since", http.StatusBadRequest)
			return
		}
		since = t
	}
	rows, err := s.o.History(r.Context(), uid, since, limit)
	if err != nil {
		s.log.Error("reading history", "err", err)
		http.Error(w, "history unavailable", http.StatusInternalServerError)
		return
	}
	p := principalOf(r)
	type point struct {
		Time time.Time `json:"time"`
		Lat  float64   `json:"lat"`
		Lon  float64   `json:"lon"`
		HAE  float64   `json:"hae"`
	}
	pts := make([]point, 0, len(rows))
	for _, o := range rows {
		if !label.Releasable(p, o.Label) {
			continue
		}
		pts = append(pts, point{Time: o.Time, Lat: o.Lat, Lon: o.Lon, HAE: finite(o.HAE)})
	}
	if len(pts) == 0 {
		// Not found and not releasable look the same: no uid leaks.
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{"uid": uid, "points": pts})
}

// EncodeFrame is the hub's JSON encoder: the WebSocket frame for one
// message, built once and shared by every web client.
func EncodeFrame(dst []byte, m *hub.Message) []byte {
	switch {
	case m.Kind == hub.KindExpire:
		b, _ := json.Marshal(map[string]string{"type": "delete", "uid": m.UID})
		return append(dst, b...)
	case m.Event == nil || m.Event.IsDelete() || !cop.Persistent(m.Event):
		return nil
	}
	b, err := json.Marshal(struct {
		Type   string `json:"type"`
		Object Object `json:"object"`
	}{"upsert", ObjectOf(m)})
	if err != nil {
		return nil
	}
	return append(dst, b...)
}

// contentSecurityPolicy is the policy the web map is tested under.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// maxFrame bounds one coalesced WebSocket frame.
const maxFrame = 1 << 20

// stream serves the label-filtered WebSocket stream: a snapshot, then
// upserts and deletes as they happen. Messages queued together travel in
// one frame, separated by newlines.
func (s *Server) stream(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	s.wg.Add(1)
	defer s.wg.Done()
	sub := s.o.Hub.Subscribe(p, hub.FormatJSON, hub.Options{Web: true})
	defer s.o.Hub.Unsubscribe(sub)
	base, cancel := context.WithCancel(s.ctx)
	defer cancel()
	go func() {
		select {
		case <-r.Context().Done():
		case <-base.Done():
		}
		cancel()
	}()
	// The client sends nothing; CloseRead handles its control frames and
	// ends ctx when it goes away.
	ctx := c.CloseRead(base)
	defer c.CloseNow()

	snap, _ := json.Marshal(map[string]any{"type": "snapshot", "objects": s.visible(r)})
	if err := s.write(ctx, c, snap); err != nil {
		return
	}
	s.o.Metrics.Connections.WithLabelValues("websocket").Inc()
	defer s.o.Metrics.Connections.WithLabelValues("websocket").Dec()
	// Keep the connection alive (the socket allows concurrent Ping and
	// Write), and drop it when its principal no longer passes (a client
	// certificate revoked after the stream opened).
	principal, _ := r.Context().Value(principalFuncKey{}).(PrincipalFunc)
	go s.watchStream(ctx, cancel, c, r, p, principal)
	var frame []byte
	for {
		batch, err := sub.Next(ctx)
		if err != nil {
			if errors.Is(err, hub.ErrSlowConsumer) {
				c.Close(websocket.StatusTryAgainLater, "too slow")
			} else {
				c.Close(websocket.StatusGoingAway, "closing")
			}
			return
		}
		var n int
		if frame, n, err = s.writeBatch(ctx, c, batch, frame[:0]); err != nil {
			return
		}
		s.o.Metrics.Deliveries.Add(float64(n))
	}
}

// watchStream pings a stream's socket every 20 s and, each time
// principals are revalidated, closes the stream when its principal no
// longer passes (a client certificate revoked after the stream opened). It
// cancels the stream when either fails, and returns when ctx ends.
func (s *Server) watchStream(ctx context.Context, cancel context.CancelFunc, c *websocket.Conn, r *http.Request, p label.Principal, principal PrincipalFunc) {
	t := time.NewTicker(20 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.revalidated():
			if principal == nil {
				continue
			}
			if q, err := principal(r); err != nil || q != p {
				s.log.Warn("closing stream: principal no longer valid", "principal", p.String(), "err", err)
				c.Close(websocket.StatusPolicyViolation, "credentials no longer valid")
				cancel()
				return
			}
		case <-t.C:
			pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
			err := c.Ping(pctx)
			pcancel()
			if err != nil {
				cancel()
				return
			}
		}
	}
}

// writeBatch writes a batch of messages to a stream. Coalesce: everything
// queued goes out in one frame (up to maxFrame), messages separated by
// newlines (JSON text holds no raw newline). frame is the empty buffer to
// reuse; it returns it with the number of messages written.
func (s *Server) writeBatch(ctx context.Context, c *websocket.Conn, batch []*hub.Message, frame []byte) ([]byte, int, error) {
	n := 0
	for _, m := range batch {
		b := m.JSON()
		if len(b) == 0 {
			continue
		}
		if len(frame) > 0 {
			if len(frame)+len(b) > maxFrame {
				if err := s.write(ctx, c, frame); err != nil {
					return frame, n, err
				}
				frame = frame[:0]
			} else {
				frame = append(frame, '\n')
			}
		}
		frame = append(frame, b...)
		n++
	}
	if len(frame) > 0 {
		if err := s.write(ctx, c, frame); err != nil {
			return frame, n, err
		}
	}
	return frame, n, nil
}

func (s *Server) write(ctx context.Context, c *websocket.Conn, b []byte) error {
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return c.Write(wctx, websocket.MessageText, b)
}

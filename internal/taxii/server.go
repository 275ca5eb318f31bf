package taxii

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"kizuna/internal/label"
	"kizuna/internal/stix"
)

// Media types.
const (
	MediaTAXII = "application/taxii+json;version=2.1"
	MediaSTIX  = "application/stix+json;version=2.1"
)

// MaxPage is the largest page the server returns, whatever limit asks.
const MaxPage = 1000

// Sentinel errors.
var (
	ErrConfig        = errors.New("taxii: bad configuration")
	ErrNoCollection  = errors.New("taxii: no such collection")
	ErrForbidden     = errors.New("taxii: not allowed")
	ErrBadEnvelope   = errors.New("taxii: bad envelope")
	ErrNotStarted    = errors.New("taxii: server not started")
	errAboveClearnce = errors.New("the object's marking is above the poster's clearance")
)

// Collection is one TAXII collection and who may use it.
type Collection struct {
	ID          string
	Title       string
	Description string
	// Read and Write list the nations whose principals may read or write;
	// "*" stands for every nation. Objects are label-filtered on top.
	Read  []string
	Write []string
}

func allowed(list []string, nation string) bool {
	return slices.Contains(list, "*") || slices.Contains(list, nation)
}

// Config configures a Server.
type Config struct {
	Title       string
	Description string
	Contact     string
	// APIRoot is the path segment of the one API root, under /taxii2/.
	APIRoot string
	// DBPath is the SQLite file.
	DBPath string
	// Shared, if set, is called by Start: a non-nil result is the
	// cluster's PostgreSQL (migrated by package pgstore), used instead of
	// DBPath and closed by Stop (see shared.go).
	Shared      func() *sql.DB
	Collections []Collection
	// MaxContentLength is the largest request body accepted.
	MaxContentLength int64
	// Principal resolves the requesting principal.
	Principal func(*http.Request) (label.Principal, bool)
	// OnAdd is told of every object version stored, after commit. It must
	// return quickly.
	OnAdd func(coll string, o *stix.Object, l label.Label)
	// OnDelete is told of the object versions a TAXII DELETE removed,
	// after commit. It must return quickly.
	OnDelete func(coll string, gone []Deleted)
	Log      *slog.Logger
}

// Server is a TAXII 2.1 server.
type Server struct {
	cfg   Config
	log   *slog.Logger
	colls map[string]*Collection

	mu sync.RWMutex
	db *db
}

// New checks cfg and returns a server; Start opens its store.
func New(cfg Config) (*Server, error) {
	if cfg.APIRoot == "" {
		cfg.APIRoot = "kizuna"
	}
	if strings.ContainsAny(cfg.APIRoot, "/?#") {
		return nil, fmt.Errorf("%w: API root %q", ErrConfig, cfg.APIRoot)
	}
	if (cfg.DBPath == "" && cfg.Shared == nil) || cfg.Principal == nil {
		return nil, fmt.Errorf("%w: DBPath and Principal are required", ErrConfig)
	}
	if cfg.MaxContentLength <= 0 {
		cfg.MaxContentLength = 1 << 20
	}
	if cfg.Title == "" {
		cfg.Title = "Kizuna TAXII 2.1"
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: cfg.Log, colls: map[string]*Collection{}}
	for i := range cfg.Collections {
		c := &cfg.Collections[i]
		if c.ID == "" || strings.ContainsAny(c.ID, "/?#") {
			return nil, fmt.Errorf("%w: collection id %q", ErrConfig, c.ID)
		}
		if _, dup := s.colls[c.ID]; dup {
			return nil, fmt.Errorf("%w: collection %s twice", ErrConfig, c.ID)
		}
		s.colls[c.ID] = c
	}
	return s, nil
}

// Start opens the store.
func (s *Server) Start(context.Context) error {
	var d *db
	var err error
	if shared := s.sharedDB(); shared != nil {
		d, err = openShared(shared)
		if err != nil {
			shared.Close()
		}
	} else {
		d, err = openDB(s.cfg.DBPath)
	}
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.db = d
	s.mu.Unlock()
	return nil
}

func (s *Server) sharedDB() *sql.DB {
	if s.cfg.Shared == nil {
		return nil
	}
	return s.cfg.Shared()
}

// Stop closes the store.
func (s *Server) Stop(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return nil
	}
	err := s.db.close()
	s.db = nil
	return err
}

func (s *Server) store() (*db, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return nil, ErrNotStarted
	}
	return s.db, nil
}

// --- HTTP ---

// taxiiError is a TAXII error message.
type taxiiError struct {
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	HTTPStatus  string `json:"http_status,omitempty"`
}

func writeError(w http.ResponseWriter, status int, title, desc string) {
	writeTAXII(w, status, taxiiError{Title: title, Description: desc, HTTPStatus: strconv.Itoa(status)})
}

func writeTAXII(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"title":"internal error"}`)
	}
	w.Header().Set("Content-Type", MediaTAXII)
	w.WriteHeader(status)
	w.Write(b)
}

// acceptable reports whether the Accept header admits TAXII 2.1 JSON.
func acceptable(h []string) bool {
	if len(h) == 0 {
		return true
	}
	for _, line := range h {
		for _, part := range strings.Split(line, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			if q, ok := params["q"]; ok {
				if v, err := strconv.ParseFloat(q, 64); err != nil || v == 0 {
					continue
				}
			}
			switch mt {
			case "*/*", "application/*":
				return true
			case "application/taxii+json":
				if v, ok := params["version"]; !ok || v == "2.1" {
					return true
				}
			}
		}
	}
	return false
}

// contentTypeOK reports whether a POST body is TAXII 2.1 JSON.
func contentTypeOK(h string) bool {
	mt, params, err := mime.ParseMediaType(h)
	if err != nil || mt != "application/taxii+json" {
		return false
	}
	v, ok := params["version"]
	return !ok || v == "2.1"
}

func (s *Server) baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/taxii2/"
}

// ServeHTTP serves everything under /taxii2/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, ok := s.cfg.Principal(r)
	if !ok || !p.Valid() {
		writeError(w, http.StatusUnauthorized, "no valid principal", "a client certificate (or the listener's principal) is required")
		return
	}
	if !acceptable(r.Header.Values("Accept")) {
		writeError(w, http.StatusNotAcceptable, "not acceptable", "this server speaks "+MediaTAXII)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/taxii2/")
	if !ok {
		writeError(w, http.StatusNotFound, "not found", "")
		return
	}
	rest = strings.TrimSuffix(rest, "/")
	var seg []string
	if rest != "" {
		seg = strings.Split(rest, "/")
	}
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	switch {
	case len(seg) == 0:
		if !s.getOnly(w, method) {
			return
		}
		s.discovery(w, r)
		return
	case seg[0] != s.cfg.APIRoot:
		writeError(w, http.StatusNotFound, "no such API root", "")
		return
	}
	seg = seg[1:]
	switch {
	case len(seg) == 0:
		if !s.getOnly(w, method) {
			return
		}
		writeTAXII(w, http.StatusOK, map[string]any{
			"title": s.cfg.Title, "description": s.cfg.Description,
			"versions": []string{MediaTAXII}, "max_content_length": s.cfg.MaxContentLength,
		})
	case len(seg) == 2 && seg[0] == "status":
		if !s.getOnly(w, method) {
			return
		}
		s.getStatus(w, r, p, seg[1])
	case seg[0] == "collections":
		s.collections(w, r, p, method, seg[1:])
	default:
		writeError(w, http.StatusNotFound, "not found", "")
	}
}

// getOnly answers 405 and returns false unless method is GET.
func (s *Server) getOnly(w http.ResponseWriter, method string) bool {
	if method != http.MethodGet {
		s.methodNotAllowed(w, "GET")
		return false
	}
	return true
}

func (s *Server) methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	writeError(w, http.StatusMethodNotAllowed, "method not allowed", "allowed: "+allow)
}

func (s *Server) discovery(w http.ResponseWriter, r *http.Request) {
	root := s.baseURL(r) + s.cfg.APIRoot + "/"
	doc := map[string]any{"title": s.cfg.Title, "default": root, "api_roots": []string{root}}
	if s.cfg.Description != "" {
		doc["description"] = s.cfg.Description
	}
	if s.cfg.Contact != "" {
		doc["contact"] = s.cfg.Contact
	}
	writeTAXII(w, http.StatusOK, doc)
}

type collectionResource struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	CanRead     bool     `json:"can_read"`
	CanWrite    bool     `json:"can_write"`
	MediaTypes  []string `json:"media_types"`
}

func (s *Server) resource(c *Collection, p label.Principal) (collectionResource, bool) {
	cr := collectionResource{ID: c.ID, Title: c.Title, Description: c.Description,
		CanRead: allowed(c.Read, p.Nation), CanWrite: allowed(c.Write, p.Nation), MediaTypes: []string{MediaSTIX}}
	return cr, cr.CanRead || cr.CanWrite
}

func (s *Server) collections(w http.ResponseWriter, r *http.Request, p label.Principal, method string, seg []string) {
	if len(seg) == 0 {
		if !s.getOnly(w, method) {
			return
		}
		s.listCollections(w, p)
		return
	}
	c, ok := s.colls[seg[0]]
	var cr collectionResource
	if ok {
		cr, ok = s.resource(c, p)
	}
	if !ok {
		// A collection this principal may neither read nor write is not
		// there for it.
		writeError(w, http.StatusNotFound, "no such collection", "")
		return
	}
	s.collection(w, r, p, method, c, cr, seg[1:])
}

// listCollections answers the collections this principal may read or
// write.
func (s *Server) listCollections(w http.ResponseWriter, p label.Principal) {
	var out []collectionResource
	for _, c := range s.cfg.Collections {
		if cr, ok := s.resource(&c, p); ok {
			out = append(out, cr)
		}
	}
	if len(out) == 0 {
		writeTAXII(w, http.StatusOK, struct{}{})
		return
	}
	writeTAXII(w, http.StatusOK, map[string]any{"collections": out})
}

// collection routes a request under one collection (seg is the path after
// its id), checking the method and the principal's access for each route.
func (s *Server) collection(w http.ResponseWriter, r *http.Request, p label.Principal, method string, c *Collection, cr collectionResource, seg []string) {
	switch {
	case len(seg) == 0:
		if !s.getOnly(w, method) {
			return
		}
		writeTAXII(w, http.StatusOK, cr)
	case seg[0] == "manifest" && len(seg) == 1:
		if !s.getOnly(w, method) {
			return
		}
		if !cr.CanRead {
			writeError(w, http.StatusForbidden, "collection not readable", "")
			return
		}
		s.list(w, r, p, c, nil, listManifest)
	case seg[0] == "objects" && len(seg) == 1:
		switch method {
		case http.MethodGet:
			if !cr.CanRead {
				writeError(w, http.StatusForbidden, "collection not readable", "")
				return
			}
			s.list(w, r, p, c, nil, listObjects)
		case http.MethodPost:
			if !cr.CanWrite {
				writeError(w, http.StatusForbidden, "collection not writable", "")
				return
			}
			s.post(w, r, p, c)
		default:
			s.methodNotAllowed(w, "GET, POST")
		}
	case seg[0] == "objects" && len(seg) == 2:
		if !stix.ValidID(seg[1]) {
			writeError(w, http.StatusNotFound, "no such object", "")
			return
		}
		switch method {
		case http.MethodGet:
			if !cr.CanRead {
				writeError(w, http.StatusForbidden, "collection not readable", "")
				return
			}
			s.list(w, r, p, c, []string{seg[1]}, listObject)
		case http.MethodDelete:
			if !cr.CanRead || !cr.CanWrite {
				writeError(w, http.StatusForbidden, "collection not writable", "deleting needs can_read and can_write")
				return
			}
			s.delete(w, r, p, c, seg[1])
		default:
			s.methodNotAllowed(w, "GET, DELETE")
		}
	case seg[0] == "objects" && len(seg) == 3 && seg[2] == "versions":
		if !s.getOnly(w, method) {
			return
		}
		if !cr.CanRead {
			writeError(w, http.StatusForbidden, "collection not readable", "")
			return
		}
		if !stix.ValidID(seg[1]) {
			writeError(w, http.StatusNotFound, "no such object", "")
			return
		}
		s.list(w, r, p, c, []string{seg[1]}, listVersions)
	default:
		writeError(w, http.StatusNotFound, "not found", "")
	}
}

type listKind int

const (
	listObjects listKind = iota
	listManifest
	listObject
	listVersions
)

// FormatDateAdded renders a date_added (Unix microseconds).
func FormatDateAdded(us int64) string {
	return time.UnixMicro(us).UTC().Format("2006-01-02T15:04:05.000000Z")
}

func encodeNext(added int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("a" + strconv.FormatInt(added, 10)))
}

func decodeNext(s string) (int64, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 2 || b[0] != 'a' {
		return 0, false
	}
	v, err := strconv.ParseInt(string(b[1:]), 10, 64)
	return v, err == nil && v >= 0
}

func splitParam(v []string) []string {
	var out []string
	for _, x := range v {
		for _, y := range strings.Split(x, ",") {
			if y = strings.TrimSpace(y); y != "" {
				out = append(out, y)
			}
		}
	}
	return out
}

// parseQuery reads the filter parameters a listing endpoint accepts.
func parseQuery(r *http.Request, kind listKind, coll string, ids []string) (query, error) {
	v := r.URL.Query()
	q := query{coll: coll, ids: ids, limit: MaxPage}
	for k := range v {
		switch k {
		case "added_after", "limit", "next", "match[spec_version]":
		case "match[id]", "match[type]", "match[version]":
			if kind == listVersions {
				return q, fmt.Errorf("filter %s is not supported on versions", k)
			}
			if kind == listObject && k != "match[version]" {
				return q, fmt.Errorf("filter %s is not supported on one object", k)
			}
		default:
			if strings.HasPrefix(k, "match[") {
				return q, fmt.Errorf("filter %s is not supported", k)
			}
		}
	}
	if s := v.Get("added_after"); s != "" {
		t, err := stix.ParseTimestamp(s)
		if err != nil {
			return q, fmt.Errorf("added_after: %v", err)
		}
		q.after = t.UnixMicro()
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return q, fmt.Errorf("limit %q: want a positive integer", s)
		}
		q.limit = min(n, MaxPage)
	}
	if s := v.Get("next"); s != "" {
		a, ok := decodeNext(s)
		if !ok {
			return q, fmt.Errorf("next %q is not a token this server issued", s)
		}
		q.after = max(q.after, a)
	}
	if len(ids) == 0 {
		q.ids = splitParam(v["match[id]"])
		for _, id := range q.ids {
			if !stix.ValidID(id) {
				return q, fmt.Errorf("match[id] %q is not a STIX identifier", id)
			}
		}
	}
	q.types = splitParam(v["match[type]"])
	q.specs = splitParam(v["match[spec_version]"])
	if len(q.specs) == 0 {
		q.specs = []string{stix.SpecVersion}
	}
	vers := splitParam(v["match[version]"])
	if kind == listVersions {
		vers = []string{"all"}
	}
	if len(vers) == 0 {
		vers = []string{"last"}
	}
	for _, ver := range vers {
		switch ver {
		case "first", "last", "all":
			q.versions = append(q.versions, ver)
		default:
			n := stix.NormVersion(ver)
			if n == "" {
				return q, fmt.Errorf("match[version] %q: want first, last, all or a timestamp", ver)
			}
			q.versions = append(q.versions, n)
		}
	}
	return q, nil
}

type manifestEntry struct {
	ID        string `json:"id"`
	DateAdded string `json:"date_added"`
	Version   string `json:"version"`
	MediaType string `json:"media_type"`
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, p label.Principal, c *Collection, ids []string, kind listKind) {
	q, err := parseQuery(r, kind, c.ID, ids)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad filter", err.Error())
		return
	}
	d, err := s.store()
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "not ready", "")
		return
	}
	recs, more, err := d.find(r.Context(), p, q)
	if err != nil {
		s.log.Error("taxii: query failed", "err", err)
		writeError(w, http.StatusInternalServerError, "internal error", "")
		return
	}
	if kind == listObject && len(recs) == 0 && q.after == 0 {
		writeError(w, http.StatusNotFound, "no such object", "")
		return
	}
	if len(recs) > 0 {
		w.Header().Set("X-TAXII-Date-Added-First", FormatDateAdded(recs[0].added))
		w.Header().Set("X-TAXII-Date-Added-Last", FormatDateAdded(recs[len(recs)-1].added))
	}
	body := listBody(recs, more, kind)
	w.Header().Set("Content-Type", MediaTAXII)
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, body)
}

// listBody is the JSON envelope of a listing: objects, manifest entries or
// versions, with the more/next pagination fields.
func listBody(recs []record, more bool, kind listKind) string {
	var buf strings.Builder
	size := 64
	for _, rec := range recs {
		size += len(rec.body) + 128
	}
	buf.Grow(size)
	buf.WriteString(`{"more":`)
	buf.WriteString(strconv.FormatBool(more))
	if more {
		buf.WriteString(`,"next":`)
		nb, _ := json.Marshal(encodeNext(recs[len(recs)-1].added))
		buf.Write(nb)
	}
	switch kind {
	case listObjects, listObject:
		if len(recs) > 0 {
			buf.WriteString(`,"objects":[`)
			for i, rec := range recs {
				if i > 0 {
					buf.WriteByte(',')
				}
				buf.Write(rec.body)
			}
			buf.WriteByte(']')
		}
	case listManifest:
		if len(recs) > 0 {
			entries := make([]manifestEntry, len(recs))
			for i, rec := range recs {
				ver := rec.version
				if ver == "" {
					ver = FormatDateAdded(rec.added)
				}
				entries[i] = manifestEntry{ID: rec.id, DateAdded: FormatDateAdded(rec.added), Version: ver, MediaType: MediaSTIX}
			}
			b, _ := json.Marshal(entries)
			buf.WriteString(`,"objects":`)
			buf.Write(b)
		}
	case listVersions:
		if len(recs) > 0 {
			vs := make([]string, len(recs))
			for i, rec := range recs {
				vs[i] = rec.version
				if vs[i] == "" {
					vs[i] = FormatDateAdded(rec.added)
				}
			}
			b, _ := json.Marshal(vs)
			buf.WriteString(`,"versions":`)
			buf.Write(b)
		}
	}
	buf.WriteByte('}')
	return buf.String()
}

func (s *Server) delete(w http.ResponseWriter, r *http.Request, p label.Principal, c *Collection, id string) {
	q, err := parseQuery(r, listObject, c.ID, []string{id})
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad filter", err.Error())
		return
	}
	if r.URL.Query().Get("match[version]") == "" {
		q.versions = []string{"all"}
	}
	q.limit = MaxPage
	d, err := s.store()
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "not ready", "")
		return
	}
	recs, _, err := d.find(r.Context(), p, q)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal error", "")
		return
	}
	if len(recs) == 0 {
		writeError(w, http.StatusNotFound, "no such object", "")
		return
	}
	// Only the principal's own nation's versions (its namespaces), at or
	// below its clearance (visible ones already are): another nation's
	// object with the same id is another object.
	var seqs []int64
	for _, rec := range recs {
		if rec.lbl.Originator == p.Nation {
			seqs = append(seqs, rec.seq)
		}
	}
	if len(seqs) == 0 {
		writeError(w, http.StatusForbidden, "not yours", "an object can be deleted only by its originating nation")
		return
	}
	gone, err := d.deleteVersions(r.Context(), seqs)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal error", "")
		return
	}
	s.log.Info("taxii: object deleted", "collection", c.ID, "id", id, "versions", len(gone), "principal", p.String())
	if s.cfg.OnDelete != nil {
		s.cfg.OnDelete(c.ID, gone)
	}
	w.Header().Set("Content-Type", MediaTAXII)
	w.WriteHeader(http.StatusOK)
}

func (s *Server) getStatus(w http.ResponseWriter, r *http.Request, p label.Principal, id string) {
	d, err := s.store()
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "not ready", "")
		return
	}
	b, ok, err := d.status(r.Context(), id, p.String())
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal error", "")
		return
	}
	if !ok {
		writeError(w, http.StatusNotFound, "no such status", "")
		return
	}
	w.Header().Set("Content-Type", MediaTAXII)
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

func (s *Server) post(w http.ResponseWriter, r *http.Request, p label.Principal, c *Collection) {
	if !contentTypeOK(r.Header.Get("Content-Type")) {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported media type", "POST a TAXII envelope as "+MediaTAXII)
		return
	}
	if r.ContentLength > s.cfg.MaxContentLength {
		writeError(w, http.StatusRequestEntityTooLarge, "too large", fmt.Sprintf("max_content_length is %d", s.cfg.MaxContentLength))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, s.cfg.MaxContentLength+1))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) || int64(len(body)) > s.cfg.MaxContentLength {
		writeError(w, http.StatusRequestEntityTooLarge, "too large", fmt.Sprintf("max_content_length is %d", s.cfg.MaxContentLength))
		return
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "unreadable body", "")
		return
	}
	objs, err := DecodeEnvelope(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad envelope", err.Error())
		return
	}
	st, err := s.Add(r.Context(), c.ID, p, objs, nil)
	if err != nil {
		s.log.Error("taxii: add failed", "err", err)
		writeError(w, http.StatusInternalServerError, "internal error", "")
		return
	}
	writeTAXII(w, http.StatusAccepted, st)
}

// DecodeEnvelope decodes a TAXII envelope and returns its objects, each
// as raw JSON.
func DecodeEnvelope(b []byte) ([]json.RawMessage, error) {
	var env struct {
		Objects *[]json.RawMessage `json:"objects"`
		More    *bool              `json:"more"`
		Next    *string            `json:"next"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadEnvelope, err)
	}
	if env.Objects == nil {
		return nil, fmt.Errorf("%w: no objects property", ErrBadEnvelope)
	}
	return *env.Objects, nil
}

// StatusDetail is one entry of a status resource.
type StatusDetail struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	Message string `json:"message,omitempty"`
}

// Status is a TAXII status resource.
type Status struct {
	ID               string         `json:"id"`
	Status           string         `json:"status"`
	RequestTimestamp string         `json:"request_timestamp"`
	TotalCount       int            `json:"total_count"`
	SuccessCount     int            `json:"success_count"`
	Successes        []StatusDetail `json:"successes,omitempty"`
	FailureCount     int            `json:"failure_count"`
	Failures         []StatusDetail `json:"failures,omitempty"`
	PendingCount     int            `json:"pending_count"`
}

func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// NewID returns a fresh STIX identifier of the given type.
func NewID(typ string) string { return typ + "--" + newUUID() }

// rawIDVersion reads what it can of an object that failed validation, for
// its status entry.
func rawIDVersion(b []byte) (string, string) {
	var m struct {
		ID       any `json:"id"`
		Modified any `json:"modified"`
		Created  any `json:"created"`
	}
	json.Unmarshal(b, &m)
	id, _ := m.ID.(string)
	if len(id) > 200 {
		id = id[:200]
	}
	v, _ := m.Modified.(string)
	if v == "" {
		v, _ = m.Created.(string)
	}
	if len(v) > 64 {
		v = v[:64]
	}
	return id, v
}

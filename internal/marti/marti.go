// Package marti serves the part of TAK Server's Marti REST API that
// fielded TAK clients (ATAK, iTAK, WinTAK, TAK tools such as CloudTAK)
// call on connect and to share files, under Kizuna's labels:
//
//	GET    /Marti/api/version                     plain text server version
//	GET    /Marti/api/version/config              {"version":"3","type":"ServerConfig","data":{…},"nodeId":…}
//	GET    /Marti/api/clientEndPoints             clients seen, label-filtered
//	GET    /Marti/api/device/profile/connection   the operator's connection profile for the caller (zip), or 204
//	GET    /Marti/api/tls/profile/enrollment      the operator's enrollment profile for the caller (zip), or 204
//	POST   /Marti/sync/missionupload?hash=&filename=&creatorUid=   multipart, part "assetfile"; reply: the content URL
//	POST   /Marti/sync/upload?name=&keywords=&creatorUid=          raw body; reply: the file's metadata (JSON)
//	GET    /Marti/sync/missionquery?hash=         the content URL, or 404
//	GET    /Marti/sync/content?hash=              the content, or 404
//	GET    /Marti/sync/{hash}/metadata            the file's metadata (JSON), or 404
//	DELETE /Marti/api/files/{hash}                the caller's own upload (also /Marti/sync/delete?hash=)
//
// The principal is the one package web put in the request context (the
// listener's or the client certificate's). Every answer about a client or
// a file goes through label.Releasable (in Clients.Visible and in package
// files); a file the caller may not see answers exactly as one that does
// not exist. Uploads may carry access= and releasableTo= (CoT's marking
// attribute names) to narrow or widen the default label within what the
// uploader may release.
package marti

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"kizuna/internal/files"
	"kizuna/internal/label"
	"kizuna/internal/web"
)

// APIVersion is the Marti API version Kizuna answers to (TAK Server 4.x
// and 5.x report "3").
const APIVersion = "3"

// Auditor records a security-relevant act; the node passes its audit log.
type Auditor func(ctx context.Context, actor, action, object, decision, reason string)

// Config configures the handler.
type Config struct {
	NodeID string
	// Version is Kizuna's version string (default "kizuna").
	Version string
	Files   *files.Store // nil: the sync endpoints answer 404
	Clients *Clients     // nil: clientEndPoints is empty
	// ProfileDir holds connection/ and enrollment/ device profiles.
	ProfileDir string
	Audit      Auditor
	Log        *slog.Logger
}

// Handler serves the Marti endpoints.
type Handler struct {
	cfg Config
	log *slog.Logger
}

// New checks cfg and returns the handler.
func New(cfg Config) (*Handler, error) {
	if cfg.NodeID == "" {
		return nil, errors.New("marti: no node id")
	}
	if cfg.Version == "" {
		cfg.Version = "kizuna"
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Audit == nil {
		cfg.Audit = func(context.Context, string, string, string, string, string) {}
	}
	return &Handler{cfg: cfg, log: cfg.Log}, nil
}

// Routes returns the handlers by ServeMux pattern, for the node to mount.
func (h *Handler) Routes() map[string]http.Handler {
	upload := &bigBody{h: http.HandlerFunc(h.missionUpload), max: h.maxUpload()}
	rawUpload := &bigBody{h: http.HandlerFunc(h.syncUpload), max: h.maxUpload()}
	return map[string]http.Handler{
		"GET /Marti/api/version":                   http.HandlerFunc(h.version),
		"GET /Marti/api/version/config":            http.HandlerFunc(h.versionConfig),
		"GET /Marti/api/clientEndPoints":           http.HandlerFunc(h.clientEndPoints),
		"GET /Marti/api/device/profile/connection": h.profile(ProfileConnection),
		"GET /Marti/api/tls/profile/enrollment":    h.profile(ProfileEnrollment),
		"POST /Marti/sync/missionupload":           upload,
		"POST /Marti/sync/upload":                  rawUpload,
		"GET /Marti/sync/missionquery":             http.HandlerFunc(h.missionQuery),
		"GET /Marti/sync/content":                  http.HandlerFunc(h.content),
		"DELETE /Marti/api/files/{hash}":           http.HandlerFunc(h.deleteFile),
		"DELETE /Marti/sync/delete":                http.HandlerFunc(h.deleteFile),
		"GET /Marti/sync/{hash}/metadata":          http.HandlerFunc(h.metadata),
	}
}

func (h *Handler) maxUpload() int64 {
	if h.cfg.Files == nil {
		return 0
	}
	return h.cfg.Files.MaxSize() + 1<<20 // multipart framing
}

// bigBody marks a handler whose requests may exceed the HTTP listener's
// general body limit; package web asks for MaxRequestBody.
type bigBody struct {
	h   http.Handler
	max int64
}

func (b *bigBody) ServeHTTP(w http.ResponseWriter, r *http.Request) { b.h.ServeHTTP(w, r) }

// MaxRequestBody is the body limit of this route.
func (b *bigBody) MaxRequestBody() int64 { return b.max }

func principal(r *http.Request) label.Principal {
	p, _ := web.PrincipalFrom(r.Context())
	return p
}

func actor(p label.Principal) string { return p.String() + "@marti" }

func (h *Handler) version(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "Kizuna %s (TAK Server API %s)", h.cfg.Version, APIVersion)
}

func (h *Handler) versionConfig(w http.ResponseWriter, r *http.Request) {
	web.WriteJSON(w, http.StatusOK, map[string]any{
		"version": APIVersion,
		"type":    "ServerConfig",
		"data": map[string]string{
			"version":  "Kizuna " + h.cfg.Version,
			"api":      APIVersion,
			"hostname": h.cfg.NodeID,
		},
		"nodeId": h.cfg.NodeID,
	})
}

func (h *Handler) clientEndPoints(w http.ResponseWriter, r *http.Request) {
	var since time.Duration
	if s := r.URL.Query().Get("secAgo"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 || n > 10*365*24*3600 {
			http.Error(w, "bad secAgo", http.StatusBadRequest)
			return
		}
		since = time.Duration(n) * time.Second
	}
	data := []Endpoint{}
	if h.cfg.Clients != nil {
		data = h.cfg.Clients.Visible(principal(r), since)
	}
	if r.URL.Query().Get("showCurrentlyConnectedClients") == "true" {
		data = slices.DeleteFunc(data, func(e Endpoint) bool { return e.LastStatus != "Connected" })
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{
		"version": APIVersion,
		"type":    "com.bbn.marti.remote.ClientEndpoint",
		"data":    data,
		"nodeId":  h.cfg.NodeID,
	})
}

func (h *Handler) profile(kind string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ServeProfile(w, r, h.cfg.ProfileDir, kind, principal(r))
	})
}

// ServeProfile answers a device profile request for p: the zip FindProfile
// picks, or 204 No Content when the operator provided none (what TAK
// Server answers when there is no profile).
func ServeProfile(w http.ResponseWriter, r *http.Request, dir, kind string, p label.Principal) {
	path := FindProfile(dir, kind, p)
	if path == "" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	f, err := os.Open(path)
	if err != nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": kind + "-profile.zip"}))
	http.ServeContent(w, r, "", fi.ModTime(), f)
}

// contentURL is the URL a client fetches the file from, on the listener
// the request came in on.
func contentURL(r *http.Request, hash string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/Marti/sync/content?hash=" + url.QueryEscape(hash)
}

// requestedLabel reads the optional access= and releasableTo= of an
// upload. nil means the default label.
func requestedLabel(q url.Values) (*label.Label, error) {
	c, marked, err := label.ParseAccess(q.Get("access"))
	rel := q.Get("releasableTo")
	if !marked {
		if rel != "" {
			return nil, fmt.Errorf("%w: releasableTo without access", files.ErrLabel)
		}
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", files.ErrLabel, err)
	}
	nations, err := label.ParseReleasableTo(rel)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", files.ErrLabel, err)
	}
	return &label.Label{Classification: c, ReleasableTo: nations}, nil
}

func (h *Handler) missionUpload(w http.ResponseWriter, r *http.Request) {
	if h.cfg.Files == nil {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	mr, err := r.MultipartReader()
	if err != nil {
		http.Error(w, "expected multipart/form-data with a part named assetfile", http.StatusBadRequest)
		return
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			http.Error(w, "no part named assetfile", http.StatusBadRequest)
			return
		}
		if err != nil {
			h.uploadError(w, r, err)
			return
		}
		if part.FormName() != "assetfile" {
			part.Close()
			continue
		}
		name := q.Get("filename")
		if name == "" {
			name = part.FileName()
		}
		m, ok := h.put(w, r, name, part.Header.Get("Content-Type"), q, part)
		part.Close()
		if !ok {
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, contentURL(r, m.Hash))
		return
	}
}

func (h *Handler) syncUpload(w http.ResponseWriter, r *http.Request) {
	if h.cfg.Files == nil {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	m, ok := h.put(w, r, q.Get("name"), r.Header.Get("Content-Type"), q, r.Body)
	if !ok {
		return
	}
	web.WriteJSON(w, http.StatusOK, fileJSON(r, m))
}

// fileJSON is a file's metadata in TAK Server's sync shape.
func fileJSON(r *http.Request, m files.Meta) map[string]any {
	return map[string]any{
		"UID": m.Hash, "SubmissionDateTime": m.Created.Format(time.RFC3339Nano), "Keywords": nonNil(m.Keywords),
		"MIMEType": m.ContentType, "SubmissionUser": m.Owner, "PrimaryKey": m.Hash, "Hash": m.Hash,
		"CreatorUid": m.CreatorUID, "Name": m.Name, "Size": m.Size, "URL": contentURL(r, m.Hash),
		"label": web.LabelJSON(m.Label),
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (h *Handler) put(w http.ResponseWriter, r *http.Request, name, ct string, q url.Values, body io.Reader) (files.Meta, bool) {
	p := principal(r)
	l, err := requestedLabel(q)
	if err != nil {
		h.cfg.Audit(r.Context(), actor(p), "file.upload", q.Get("hash"), "deny", err.Error())
		http.Error(w, err.Error(), http.StatusForbidden)
		return files.Meta{}, false
	}
	var kw []string
	for _, k := range q["keywords"] {
		for _, x := range strings.Split(k, ",") {
			if x = strings.TrimSpace(x); x != "" && len(kw) < 32 {
				kw = append(kw, x)
			}
		}
	}
	m, err := h.cfg.Files.Put(r.Context(), p, files.PutRequest{
		Name: name, ContentType: ct, Hash: q.Get("hash"), CreatorUID: q.Get("creatorUid"), Keywords: kw, Label: l,
	}, body)
	if err != nil {
		if errors.Is(err, files.ErrLabel) {
			h.cfg.Audit(r.Context(), actor(p), "file.upload", q.Get("hash"), "deny", err.Error())
		}
		h.uploadError(w, r, err)
		return files.Meta{}, false
	}
	h.cfg.Audit(r.Context(), actor(p), "file.upload", "sha256="+m.Hash, "allow",
		fmt.Sprintf("%q, %d bytes, label %s", m.Name, m.Size, m.Label.Marking()))
	h.log.Info("file uploaded", "principal", p.String(), "hash", m.Hash, "size", m.Size, "label", m.Label.Marking())
	return m, true
}

func (h *Handler) uploadError(w http.ResponseWriter, r *http.Request, err error) {
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, files.ErrTooLarge), errors.As(err, &mbe):
		http.Error(w, "file too large", http.StatusRequestEntityTooLarge)
	case errors.Is(err, files.ErrContentType):
		http.Error(w, err.Error(), http.StatusUnsupportedMediaType)
	case errors.Is(err, files.ErrHashMismatch), errors.Is(err, files.ErrBadHash), errors.Is(err, files.ErrBadName):
		http.Error(w, err.Error(), http.StatusBadRequest)
	case errors.Is(err, files.ErrLabel):
		http.Error(w, err.Error(), http.StatusForbidden)
	default:
		h.log.Error("file upload failed", "err", err)
		http.Error(w, "upload failed", http.StatusBadRequest)
	}
}

func (h *Handler) missionQuery(w http.ResponseWriter, r *http.Request) {
	if h.cfg.Files == nil {
		http.NotFound(w, r)
		return
	}
	m, err := h.cfg.Files.Stat(principal(r), r.URL.Query().Get("hash"))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, contentURL(r, m.Hash))
}

// safeInline are stored content types served as such; anything else goes
// out as application/octet-stream. Every download is an attachment.
var safeInline = []string{"application/zip", "application/x-zip-compressed", "image/png", "image/jpeg", "image/gif",
	"application/pdf", "text/plain", "application/vnd.google-earth.kml+xml", "application/vnd.google-earth.kmz"}

func (h *Handler) content(w http.ResponseWriter, r *http.Request) {
	if h.cfg.Files == nil {
		http.NotFound(w, r)
		return
	}
	f, m, err := h.cfg.Files.Open(principal(r), r.URL.Query().Get("hash"))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	ct := "application/octet-stream"
	if mt, _, err := mime.ParseMediaType(m.ContentType); err == nil && slices.Contains(safeInline, mt) {
		ct = m.ContentType
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": m.Name}))
	http.ServeContent(w, r, "", m.Created, f)
}

func (h *Handler) deleteFile(w http.ResponseWriter, r *http.Request) {
	if h.cfg.Files == nil {
		http.NotFound(w, r)
		return
	}
	p := principal(r)
	hash := r.PathValue("hash")
	if hash == "" {
		hash = r.URL.Query().Get("hash")
	}
	err := h.cfg.Files.Delete(p, hash)
	switch {
	case err == nil:
		h.cfg.Audit(r.Context(), actor(p), "file.delete", "sha256="+hash, "allow", "")
		w.WriteHeader(http.StatusOK)
	case errors.Is(err, files.ErrNotFound):
		http.NotFound(w, r)
	case errors.Is(err, files.ErrNotOwner):
		h.cfg.Audit(r.Context(), actor(p), "file.delete", "sha256="+hash, "deny", "not the owner")
		http.Error(w, "only the uploader may delete this file", http.StatusForbidden)
	default:
		h.log.Error("file delete failed", "err", err)
		http.Error(w, "delete failed", http.StatusInternalServerError)
	}
}

func (h *Handler) metadata(w http.ResponseWriter, r *http.Request) {
	if h.cfg.Files == nil {
		http.NotFound(w, r)
		return
	}
	m, err := h.cfg.Files.Stat(principal(r), r.PathValue("hash"))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	web.WriteJSON(w, http.StatusOK, fileJSON(r, m))
}

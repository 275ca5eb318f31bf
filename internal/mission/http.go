package mission

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"kizuna/internal/files"
	"kizuna/internal/label"
)

// Prefix is where the Mission API lives.
const Prefix = "/Marti/api/missions"

// maxBody bounds every request body of this API.
const maxBody = 1 << 20

// maxItems bounds the uids and hashes of one request.
const maxItems = 1000

// PrincipalFunc returns the authenticated principal of a request.
type PrincipalFunc func(r *http.Request) label.Principal

// Routes returns the handlers by ServeMux pattern, for the node to mount:
// the whole API under Prefix. The /missions/guid/{guid}/… forms are the
// by-name routes with the mission named by GUIDRef(guid): a by-guid path
// is rewritten to the by-name one before routing (registering both
// families in one ServeMux is ambiguous: /missions/guid/log could be the
// mission "guid"'s log).
func (s *Service) Routes(principal PrincipalFunc) map[string]http.Handler {
	mux := http.NewServeMux()
	for pat, h := range s.routes(principal) {
		mux.Handle(pat, h)
	}
	guided := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rest, ok := strings.CutPrefix(r.URL.Path, Prefix+"/guid/"); ok {
			guid, tail, _ := strings.Cut(rest, "/")
			if guid == "" || len(guid) > 64 {
				http.Error(w, "not found", http.StatusNotFound)
				return
			}
			if tail != "" {
				tail = "/" + tail
			}
			r2 := r.Clone(r.Context())
			ref := GUIDRef(guid)
			r2.URL.Path = Prefix + "/" + ref + tail
			r2.URL.RawPath = Prefix + "/" + url.PathEscape(ref) + escapeTail(tail)
			r = r2
		}
		mux.ServeHTTP(w, r)
	})
	return map[string]http.Handler{Prefix: guided, Prefix + "/": guided}
}

func escapeTail(t string) string {
	parts := strings.Split(t, "/")
	for i := range parts {
		parts[i] = url.PathEscape(parts[i])
	}
	return strings.Join(parts, "/")
}

func (s *Service) routes(principal PrincipalFunc) map[string]http.Handler {
	h := &handler{s: s, p: principal}
	f := func(fn func(http.ResponseWriter, *http.Request, label.Principal)) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			limit := int64(maxBody)
			if strings.HasSuffix(r.URL.Path, "/contents/missionpackage") {
				limit = maxPackage
			}
			r.Body = http.MaxBytesReader(w, r.Body, limit)
			p := principal(r)
			if !p.Valid() {
				http.Error(w, "no principal", http.StatusForbidden)
				return
			}
			if r.Method == http.MethodGet {
				fn(w, r, p)
				return
			}
			rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
			fn(rec, r, p)
			decision := "allow"
			if rec.status >= 400 {
				decision = "deny"
			}
			if rec.status == http.StatusNotFound || rec.status >= 500 {
				decision = "error"
			}
			s.cfg.Audit(r.Context(), p.String()+"@missions", "mission."+strings.ToLower(r.Method), r.URL.Path, decision, http.StatusText(rec.status))
		})
	}
	return map[string]http.Handler{
		"GET " + Prefix:                                        f(h.list),
		"PUT " + Prefix + "/{name}":                            f(h.create),
		"POST " + Prefix + "/{name}":                           f(h.create),
		"GET " + Prefix + "/{name}":                            f(h.get),
		"DELETE " + Prefix + "/{name}":                         f(h.delete),
		"PUT " + Prefix + "/{name}/contents":                   f(h.addContents),
		"DELETE " + Prefix + "/{name}/contents":                f(h.removeContents),
		"GET " + Prefix + "/{name}/changes":                    f(h.changes),
		"GET " + Prefix + "/{name}/cot":                        f(h.cot),
		"GET " + Prefix + "/{name}/subscription":               f(h.subscription),
		"PUT " + Prefix + "/{name}/subscription":               f(h.subscribe),
		"DELETE " + Prefix + "/{name}/subscription":            f(h.unsubscribe),
		"GET " + Prefix + "/{name}/subscriptions":              f(h.subscriptions),
		"GET " + Prefix + "/{name}/subscriptions/roles":        f(h.roles),
		"GET " + Prefix + "/{name}/role":                       f(h.role),
		"PUT " + Prefix + "/{name}/role":                       f(h.setRole),
		"PUT " + Prefix + "/{name}/keywords":                   f(h.setKeywords),
		"DELETE " + Prefix + "/{name}/keywords/{kw}":           f(h.deleteKeyword),
		"GET " + Prefix + "/{name}/log":                        f(h.logs),
		"POST " + Prefix + "/logs/entries":                     f(h.addLog),
		"GET " + Prefix + "/logs/entries/{id}":                 f(h.getLog),
		"DELETE " + Prefix + "/logs/entries/{id}":              f(h.deleteLog),
		"PUT " + Prefix + "/{name}/invite/{type}/{invitee}":    f(h.invite),
		"GET " + Prefix + "/invitations":                       f(h.invitations),
		"GET " + Prefix + "/{name}/invitations":                f(h.missionInvitations),
		"DELETE " + Prefix + "/{name}/invite/{type}/{invitee}": f(h.uninvite),
		"DELETE " + Prefix:                                     f(h.deleteByGUID),
		"PUT " + Prefix + "/{name}/password":                   f(h.setPassword),
		"DELETE " + Prefix + "/{name}/password":                f(h.setPassword),
		"GET " + Prefix + "/{name}/layers":                     f(h.layers),
		"GET " + Prefix + "/{name}/layers/{layer}":             f(h.layer),
		"PUT " + Prefix + "/{name}/layers":                     f(h.addLayer),
		"PUT " + Prefix + "/{name}/layers/{layer}/name":        f(h.renameLayer),
		"DELETE " + Prefix + "/{name}/layers":                  f(h.deleteLayers),
		"GET " + Prefix + "/{name}/archive":                    f(h.archive),
		"PUT " + Prefix + "/{name}/contents/missionpackage":    f(h.importPackage),
	}
}

type handler struct {
	s *Service
	p PrincipalFunc
}

type envelope struct {
	Version string `json:"version"`
	Type    string `json:"type"`
	Data    any    `json:"data"`
	NodeID  string `json:"nodeId"`
}

func (h *handler) reply(w http.ResponseWriter, status int, typ string, data any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(envelope{Version: "3", Type: typ, Data: data, NodeID: h.s.cfg.NodeID})
}

// fail answers an error; a mission the caller may not see is a plain 404,
// the same as one that does not exist.
func (h *handler) fail(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		http.Error(w, "not found", http.StatusNotFound)
	case errors.Is(err, ErrForbidden):
		http.Error(w, err.Error(), http.StatusForbidden)
	case errors.Is(err, ErrExists), errors.Is(err, ErrConflict):
		http.Error(w, err.Error(), http.StatusConflict)
	case errors.Is(err, ErrInvalid):
		http.Error(w, err.Error(), http.StatusBadRequest)
	default:
		h.s.log.Error("mission API", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
}

func (h *handler) list(w http.ResponseWriter, r *http.Request, p label.Principal) {
	h.reply(w, http.StatusOK, "Mission", h.s.List(p))
}

// createBody is the optional JSON body of a create.
type createBody struct {
	Description string       `json:"description"`
	Tool        string       `json:"tool"`
	CreatorUID  string       `json:"creatorUid"`
	Keywords    []string     `json:"keywords"`
	Label       *label.Label `json:"label"`
}

// QueryLabel reads a label from CoT's marking parameter names (access,
// releasableTo, caveat); nil when none is given.
func QueryLabel(q url.Values) (*label.Label, error) {
	acc, rel, cav := q.Get("access"), q.Get("releasableTo"), q.Get("caveat")
	if acc == "" && rel == "" && cav == "" {
		return nil, nil
	}
	c, marked, err := label.ParseAccess(acc)
	if err != nil || !marked {
		return nil, fmt.Errorf("%w: access %q", ErrInvalid, acc)
	}
	rs, err := label.ParseReleasableTo(rel)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	cv, err := label.ParseCaveat(cav)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return &label.Label{Classification: c, ReleasableTo: rs, Caveat: cv}, nil
}

func hasJSON(r *http.Request) bool {
	return strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "application/json")
}

func (h *handler) create(w http.ResponseWriter, r *http.Request, p label.Principal) {
	q := r.URL.Query()
	req := CreateRequest{Name: r.PathValue("name"), Description: q.Get("description"), Tool: q.Get("tool"),
		CreatorUID: q.Get("creatorUid"), Keywords: q["keywords"], Password: q.Get("password")}
	l, err := QueryLabel(q)
	if err != nil {
		h.fail(w, err)
		return
	}
	req.Label = l
	if hasJSON(r) {
		var b createBody
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil && !errors.Is(err, io.EOF) {
			h.fail(w, fmt.Errorf("%w: body: %v", ErrInvalid, err))
			return
		}
		if b.Description != "" {
			req.Description = b.Description
		}
		if b.Tool != "" {
			req.Tool = b.Tool
		}
		if b.CreatorUID != "" {
			req.CreatorUID = b.CreatorUID
		}
		req.Keywords = append(req.Keywords, b.Keywords...)
		if b.Label != nil {
			req.Label = b.Label
		}
	}
	v, created, err := h.s.Create(r.Context(), p, req)
	if err != nil {
		h.fail(w, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	h.reply(w, status, "Mission", []*View{v})
}

// window reads secago, start and end.
func window(q url.Values, now time.Time) (Window, error) {
	var w Window
	if s := q.Get("secago"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return w, fmt.Errorf("%w: secago %q", ErrInvalid, s)
		}
		w.Start = now.Add(-time.Duration(min(n, 1<<32)) * time.Second)
	}
	for _, f := range []struct {
		name string
		t    *time.Time
	}{{"start", &w.Start}, {"end", &w.End}} {
		s := q.Get(f.name)
		if s == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return w, fmt.Errorf("%w: %s %q", ErrInvalid, f.name, s)
		}
		*f.t = t
	}
	return w, nil
}

func (h *handler) get(w http.ResponseWriter, r *http.Request, p label.Principal) {
	q := r.URL.Query()
	win, err := window(q, h.s.cfg.Now())
	if err != nil {
		h.fail(w, err)
		return
	}
	v, err := h.s.Get(p, r.PathValue("name"), ViewOptions{Changes: q.Get("changes") == "true", Logs: q.Get("logs") == "true", Window: win})
	if err != nil {
		h.fail(w, err)
		return
	}
	h.reply(w, http.StatusOK, "Mission", []*View{v})
}

func (h *handler) delete(w http.ResponseWriter, r *http.Request, p label.Principal) {
	name := r.PathValue("name")
	v, err := h.s.Get(p, name, ViewOptions{})
	if err != nil {
		h.fail(w, err)
		return
	}
	if err := h.s.Delete(r.Context(), p, name); err != nil {
		h.fail(w, err)
		return
	}
	h.reply(w, http.StatusOK, "Mission", []*View{v})
}

// Contents is the body of PUT …/contents.
type Contents struct {
	UIDs   []string `json:"uids"`
	Hashes []string `json:"hashes"`
}

// ParseContents reads a contents body, bounded to maxItems entries.
func ParseContents(r io.Reader) (Contents, error) {
	var c Contents
	dec := json.NewDecoder(io.LimitReader(r, maxBody))
	if err := dec.Decode(&c); err != nil {
		return Contents{}, fmt.Errorf("%w: body: %v", ErrInvalid, err)
	}
	if len(c.UIDs)+len(c.Hashes) > maxItems {
		return Contents{}, fmt.Errorf("%w: more than %d items", ErrInvalid, maxItems)
	}
	for _, u := range c.UIDs {
		if u == "" || len(u) > 256 || strings.ContainsFunc(u, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return Contents{}, fmt.Errorf("%w: uid %q", ErrInvalid, u)
		}
	}
	return c, nil
}

func (h *handler) addContents(w http.ResponseWriter, r *http.Request, p label.Principal) {
	c, err := ParseContents(r.Body)
	if err != nil {
		h.fail(w, err)
		return
	}
	v, err := h.s.AddContents(r.Context(), p, r.PathValue("name"), r.URL.Query().Get("creatorUid"), c.UIDs, c.Hashes)
	if err != nil {
		h.fail(w, err)
		return
	}
	h.reply(w, http.StatusOK, "Mission", []*View{v})
}

func (h *handler) removeContents(w http.ResponseWriter, r *http.Request, p label.Principal) {
	q := r.URL.Query()
	if len(q["uid"])+len(q["hash"]) > maxItems {
		h.fail(w, fmt.Errorf("%w: too many items", ErrInvalid))
		return
	}
	v, err := h.s.RemoveContents(r.Context(), p, r.PathValue("name"), q.Get("creatorUid"), q["uid"], q["hash"])
	if err != nil {
		h.fail(w, err)
		return
	}
	h.reply(w, http.StatusOK, "Mission", []*View{v})
}

func (h *handler) changes(w http.ResponseWriter, r *http.Request, p label.Principal) {
	win, err := window(r.URL.Query(), h.s.cfg.Now())
	if err != nil {
		h.fail(w, err)
		return
	}
	cs, err := h.s.Changes(p, r.PathValue("name"), win)
	h.answer(w, "MissionChange", cs, err)
}

func (h *handler) cot(w http.ResponseWriter, r *http.Request, p label.Principal) {
	evs, err := h.s.Latest(p, r.PathValue("name"))
	if err != nil {
		h.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n<events>")
	for _, e := range evs {
		w.Write(e)
	}
	io.WriteString(w, "</events>\n")
}

func (h *handler) subscribe(w http.ResponseWriter, r *http.Request, p label.Principal) {
	sub, err := h.s.Subscribe(r.Context(), p, r.PathValue("name"), r.URL.Query().Get("uid"), r.URL.Query().Get("password"))
	if err != nil {
		h.fail(w, err)
		return
	}
	h.reply(w, http.StatusCreated, "com.bbn.marti.sync.model.MissionSubscription", ViewOf(sub, true))
}

func (h *handler) unsubscribe(w http.ResponseWriter, r *http.Request, p label.Principal) {
	if err := h.s.Unsubscribe(r.Context(), p, r.PathValue("name"), r.URL.Query().Get("uid")); err != nil {
		h.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (h *handler) subscription(w http.ResponseWriter, r *http.Request, p label.Principal) {
	subs, _, err := h.s.Subscriptions(p, r.PathValue("name"))
	if err != nil {
		h.fail(w, err)
		return
	}
	uid := r.URL.Query().Get("uid")
	for _, sub := range subs {
		if sub.ClientUID == uid {
			h.reply(w, http.StatusOK, "com.bbn.marti.sync.model.MissionSubscription", ViewOf(sub, sub.Owner == files.OwnerOf(p)))
			return
		}
	}
	http.Error(w, "not found", http.StatusNotFound)
}

func (h *handler) subscriptions(w http.ResponseWriter, r *http.Request, p label.Principal) {
	subs, _, err := h.s.Subscriptions(p, r.PathValue("name"))
	if err != nil {
		h.fail(w, err)
		return
	}
	uids := []string{}
	for _, sub := range subs {
		uids = append(uids, sub.ClientUID)
	}
	h.reply(w, http.StatusOK, "MissionSubscription", uids)
}

func (h *handler) roles(w http.ResponseWriter, r *http.Request, p label.Principal) {
	subs, _, err := h.s.Subscriptions(p, r.PathValue("name"))
	if err != nil {
		h.fail(w, err)
		return
	}
	out := []SubscriptionView{}
	for _, sub := range subs {
		out = append(out, ViewOf(sub, false))
	}
	h.reply(w, http.StatusOK, "MissionSubscription", out)
}

func (h *handler) role(w http.ResponseWriter, r *http.Request, p label.Principal) {
	_, role, err := h.s.Subscriptions(p, r.PathValue("name"))
	if err != nil {
		h.fail(w, err)
		return
	}
	if role == "" {
		role = RoleReadOnly
	}
	h.reply(w, http.StatusOK, "MissionRole", roleView(role))
}

func (h *handler) setRole(w http.ResponseWriter, r *http.Request, p label.Principal) {
	q := r.URL.Query()
	role, err := ParseRole(q.Get("role"))
	if err != nil {
		h.fail(w, err)
		return
	}
	if err := h.s.SetRole(r.Context(), p, r.PathValue("name"), q.Get("clientUid"), role); err != nil {
		h.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (h *handler) setKeywords(w http.ResponseWriter, r *http.Request, p label.Principal) {
	var kws []string
	if err := json.NewDecoder(r.Body).Decode(&kws); err != nil || len(kws) > maxItems {
		h.fail(w, fmt.Errorf("%w: keywords: want a JSON array of strings", ErrInvalid))
		return
	}
	v, err := h.s.SetKeywords(r.Context(), p, r.PathValue("name"), kws, "")
	if err != nil {
		h.fail(w, err)
		return
	}
	h.reply(w, http.StatusOK, "Mission", []*View{v})
}

func (h *handler) deleteKeyword(w http.ResponseWriter, r *http.Request, p label.Principal) {
	v, err := h.s.SetKeywords(r.Context(), p, r.PathValue("name"), nil, r.PathValue("kw"))
	if err != nil {
		h.fail(w, err)
		return
	}
	h.reply(w, http.StatusOK, "Mission", []*View{v})
}

func (h *handler) logs(w http.ResponseWriter, r *http.Request, p label.Principal) {
	ls, err := h.s.Logs(p, r.PathValue("name"))
	h.answer(w, "com.bbn.marti.sync.model.LogEntry", ls, err)
}

type logBody struct {
	DTG          string       `json:"dtg"`
	Content      string       `json:"content"`
	CreatorUID   string       `json:"creatorUid"`
	MissionNames []string     `json:"missionNames"`
	Keywords     []string     `json:"keywords"`
	Hashes       []string     `json:"contentHashes"`
	Label        *label.Label `json:"label"`
}

func (h *handler) addLog(w http.ResponseWriter, r *http.Request, p label.Principal) {
	var b logBody
	if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
		h.fail(w, fmt.Errorf("%w: body: %v", ErrInvalid, err))
		return
	}
	if len(b.MissionNames) > 64 || len(b.Keywords) > maxItems || len(b.Hashes) > maxItems {
		h.fail(w, fmt.Errorf("%w: too many names", ErrInvalid))
		return
	}
	req := LogRequest{Missions: b.MissionNames, Content: b.Content, CreatorUID: b.CreatorUID, Keywords: b.Keywords, Hashes: b.Hashes, Label: b.Label}
	if b.DTG != "" {
		t, err := time.Parse(time.RFC3339Nano, b.DTG)
		if err != nil {
			h.fail(w, fmt.Errorf("%w: dtg %q", ErrInvalid, b.DTG))
			return
		}
		req.DTG = t
	}
	e, err := h.s.AddLog(r.Context(), p, req)
	if err != nil {
		h.fail(w, err)
		return
	}
	h.reply(w, http.StatusCreated, "com.bbn.marti.sync.model.LogEntry", logEntryView(*e))
}

func (h *handler) getLog(w http.ResponseWriter, r *http.Request, p label.Principal) {
	e, err := h.s.Log(p, r.PathValue("id"))
	if err != nil {
		h.fail(w, err)
		return
	}
	h.reply(w, http.StatusOK, "com.bbn.marti.sync.model.LogEntry", logEntryView(e))
}

func (h *handler) deleteLog(w http.ResponseWriter, r *http.Request, p label.Principal) {
	if err := h.s.DeleteLog(r.Context(), p, r.PathValue("id")); err != nil {
		h.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (h *handler) invite(w http.ResponseWriter, r *http.Request, p label.Principal) {
	var role Role
	if s := r.URL.Query().Get("role"); s != "" {
		var err error
		if role, err = ParseRole(s); err != nil {
			h.fail(w, err)
			return
		}
	}
	if err := h.s.Invite(r.Context(), p, r.PathValue("name"), r.PathValue("type"), r.PathValue("invitee"), role); err != nil {
		h.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (h *handler) uninvite(w http.ResponseWriter, r *http.Request, p label.Principal) {
	if err := h.s.Uninvite(r.Context(), p, r.PathValue("name"), r.PathValue("invitee")); err != nil {
		h.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (h *handler) invitations(w http.ResponseWriter, r *http.Request, p label.Principal) {
	names := h.s.Invitations(p, r.URL.Query().Get("clientUid"))
	if names == nil {
		names = []string{}
	}
	h.reply(w, http.StatusOK, "MissionInvitation", names)
}

func (h *handler) missionInvitations(w http.ResponseWriter, r *http.Request, p label.Principal) {
	invs, err := h.s.MissionInvitations(p, r.PathValue("name"))
	h.answer(w, "MissionInvitation", invs, err)
}

// answer replies 200 with v, or the error.
func (h *handler) answer(w http.ResponseWriter, typ string, v any, err error) {
	if err != nil {
		h.fail(w, err)
		return
	}
	h.reply(w, http.StatusOK, typ, v)
}

// statusRecorder keeps the status of a response, for the audit record.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// deleteByGUID is DELETE /missions?guid=.
func (h *handler) deleteByGUID(w http.ResponseWriter, r *http.Request, p label.Principal) {
	g := r.URL.Query().Get("guid")
	if g == "" {
		h.fail(w, fmt.Errorf("%w: no guid", ErrInvalid))
		return
	}
	r.SetPathValue("name", GUIDRef(g))
	h.delete(w, r, p)
}

func (h *handler) setPassword(w http.ResponseWriter, r *http.Request, p label.Principal) {
	pw := ""
	if r.Method == http.MethodPut {
		if pw = r.URL.Query().Get("password"); pw == "" {
			h.fail(w, fmt.Errorf("%w: no password", ErrInvalid))
			return
		}
	}
	if err := h.s.SetPassword(r.Context(), p, r.PathValue("name"), pw); err != nil {
		h.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (h *handler) layers(w http.ResponseWriter, r *http.Request, p label.Principal) {
	ls, err := h.s.Layers(p, r.PathValue("name"))
	if err != nil {
		h.fail(w, err)
		return
	}
	h.reply(w, http.StatusOK, "MissionLayer", ls)
}

// findLayer finds a layer in a tree.
func findLayer(ls []*LayerView, uid string) *LayerView {
	for _, l := range ls {
		if l.UID == uid {
			return l
		}
		if f := findLayer(l.MissionLayers, uid); f != nil {
			return f
		}
	}
	return nil
}

func (h *handler) layer(w http.ResponseWriter, r *http.Request, p label.Principal) {
	ls, err := h.s.Layers(p, r.PathValue("name"))
	if err != nil {
		h.fail(w, err)
		return
	}
	l := findLayer(ls, r.PathValue("layer"))
	if l == nil {
		h.fail(w, ErrNotFound)
		return
	}
	h.reply(w, http.StatusOK, "MissionLayer", l)
}

func (h *handler) addLayer(w http.ResponseWriter, r *http.Request, p label.Principal) {
	q := r.URL.Query()
	l, err := h.s.AddLayer(r.Context(), p, r.PathValue("name"), LayerRequest{Name: q.Get("name"), Type: q.Get("type"), UID: q.Get("uid"),
		ParentUID: q.Get("parentUid"), AfterUID: q.Get("afterUid"), CreatorUID: q.Get("creatorUid")})
	if err != nil {
		h.fail(w, err)
		return
	}
	h.reply(w, http.StatusOK, "MissionLayer", l)
}

func (h *handler) renameLayer(w http.ResponseWriter, r *http.Request, p label.Principal) {
	if err := h.s.RenameLayer(r.Context(), p, r.PathValue("name"), r.PathValue("layer"), r.URL.Query().Get("name")); err != nil {
		h.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (h *handler) deleteLayers(w http.ResponseWriter, r *http.Request, p label.Principal) {
	uids := r.URL.Query()["uid"]
	if len(uids) == 0 || len(uids) > maxItems {
		h.fail(w, fmt.Errorf("%w: uid", ErrInvalid))
		return
	}
	if err := h.s.DeleteLayers(r.Context(), p, r.PathValue("name"), uids); err != nil {
		h.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (h *handler) archive(w http.ResponseWriter, r *http.Request, p label.Principal) {
	var b bytes.Buffer
	if err := h.s.Archive(p, r.PathValue("name"), &b); err != nil {
		h.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="mission.zip"`)
	w.Write(b.Bytes())
}

func (h *handler) importPackage(w http.ResponseWriter, r *http.Request, p label.Principal) {
	q := r.URL.Query()
	l, err := QueryLabel(q)
	if err != nil {
		h.fail(w, err)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPackage))
	if err != nil {
		h.fail(w, fmt.Errorf("%w: package over %d bytes", ErrInvalid, maxPackage))
		return
	}
	v, err := h.s.ImportPackage(r.Context(), p, r.PathValue("name"), q.Get("creatorUid"), l, body)
	if err != nil {
		h.fail(w, err)
		return
	}
	h.reply(w, http.StatusOK, "Mission", []*View{v})
}

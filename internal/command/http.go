package command

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"kizuna/internal/label"
)

// maxBody bounds a request body.
const maxBody = 1 << 20

// Handler serves the REST API:
//
//	GET    /api/v1/units                     units the caller may see
//	POST   /api/v1/units?as=UNIT             create a unit (body: a unit)
//	GET    /api/v1/units/{id}
//	PUT    /api/v1/units/{id}?as=UNIT        replace a unit
//	DELETE /api/v1/units/{id}?as=UNIT
//	GET    /api/v1/grants[?unit=ID]          grants the caller may see
//	POST   /api/v1/grants                    make a grant (body: GrantRequest)
//	GET    /api/v1/grants/{id}
//	POST   /api/v1/grants/{id}/revoke        body {"as","national","reason"}
//	GET    /api/v1/authority?unit=ID[&at=RFC3339]   who may order unit ID, and why
//	GET    /api/v1/authority/me              the caller's positions
//	GET    /api/v1/authority/check?as=&type=&unit=  would an order be allowed
//	GET    /api/v1/orders[?unit=&state=]     orders the caller may see, newest first
//	POST   /api/v1/orders                    issue (body: IssueRequest)
//	GET    /api/v1/orders/stream             server-sent events, one per order change
//	GET    /api/v1/orders/{id}               one order with its full history
//	POST   /api/v1/orders/{id}/ack           body {"as","state","reason"}; state defaults to ACKNOWLEDGED
//	POST   /api/v1/orders/{id}/cancel        body {"as","reason"}
//
// principal returns the caller's principal for a request.
func (s *Service) Handler(principal func(*http.Request) label.Principal) http.Handler {
	h := &api{s: s, principal: principal}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/units", h.listUnits)
	mux.HandleFunc("POST /api/v1/units", h.createUnit)
	mux.HandleFunc("GET /api/v1/units/{id}", h.getUnit)
	mux.HandleFunc("PUT /api/v1/units/{id}", h.putUnit)
	mux.HandleFunc("DELETE /api/v1/units/{id}", h.deleteUnit)
	mux.HandleFunc("GET /api/v1/grants", h.listGrants)
	mux.HandleFunc("POST /api/v1/grants", h.createGrant)
	mux.HandleFunc("GET /api/v1/grants/{id}", h.getGrant)
	mux.HandleFunc("POST /api/v1/grants/{id}/revoke", h.revokeGrant)
	mux.HandleFunc("GET /api/v1/authority", h.authority)
	mux.HandleFunc("GET /api/v1/authority/me", h.me)
	mux.HandleFunc("GET /api/v1/authority/check", h.check)
	mux.HandleFunc("GET /api/v1/orders", h.listOrders)
	mux.HandleFunc("POST /api/v1/orders", h.issue)
	mux.HandleFunc("GET /api/v1/orders/stream", h.stream)
	mux.HandleFunc("GET /api/v1/orders/{id}", h.getOrder)
	mux.HandleFunc("POST /api/v1/orders/{id}/ack", h.ack)
	mux.HandleFunc("POST /api/v1/orders/{id}/cancel", h.cancel)
	mux.HandleFunc("POST /api/v1/orders/{id}/decide", h.decide)
	mux.HandleFunc("POST /api/v1/orders/{id}/report", h.report)
	return h.guard(mux)
}

type api struct {
	s         *Service
	principal func(*http.Request) label.Principal
}

// guard refuses callers without a valid principal.
func (h *api) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !h.principal(r).Valid() {
			writeErr(w, http.StatusForbidden, errors.New("unidentified principal"), nil)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// errorBody is every error response.
type errorBody struct {
	Error    string    `json:"error"`
	Rule     string    `json:"rule,omitempty"`
	Decision *Decision `json:"decision,omitempty"`
}

func writeErr(w http.ResponseWriter, code int, err error, d *Decision) {
	writeJSON(w, code, errorBody{Error: err.Error(), Rule: RuleOf(err), Decision: d})
}

// fail maps an error to a status.
func (h *api) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ae *AuthorityError
	switch {
	case errors.As(err, &ae):
		d := h.redact(h.principal(r), ae.Decision)
		writeJSON(w, http.StatusForbidden, errorBody{Error: err.Error(), Rule: RuleOrderAuthority, Decision: &d})
	case errors.Is(err, ErrRule):
		writeErr(w, http.StatusUnprocessableEntity, err, nil)
	case errors.Is(err, ErrInvalid):
		writeErr(w, http.StatusBadRequest, err, nil)
	case errors.Is(err, ErrNoPosition):
		writeJSON(w, http.StatusForbidden, errorBody{Error: err.Error(), Rule: RuleNoPosition})
	case errors.Is(err, ErrNotFound):
		writeErr(w, http.StatusNotFound, err, nil)
	case errors.Is(err, ErrIllegalTransition), errors.Is(err, ErrConflict):
		writeErr(w, http.StatusConflict, err, nil)
	case errors.Is(err, ErrClosed):
		writeErr(w, http.StatusServiceUnavailable, err, nil)
	default:
		h.s.log.Error("command: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeErr(w, http.StatusInternalServerError, errors.New("internal error"), nil)
	}
}

func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalid("decoding request body: %v", err)
	}
	return nil
}

// redact removes from a decision the grants p may not see.
func (h *api) redact(p label.Principal, d Decision) Decision {
	var chain []Grant
	for _, g := range d.Chain {
		if label.Releasable(p, g.Label) {
			chain = append(chain, g)
		}
	}
	d.Chain = chain
	return d
}

// orderView is an order as shown to p.
func (h *api) orderView(p label.Principal, o *Order) *Order {
	o.Authority = h.redact(p, o.Authority)
	return o
}

func (h *api) listUnits(w http.ResponseWriter, r *http.Request) {
	units := h.s.Units(h.principal(r))
	if units == nil {
		units = []Unit{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"units": units})
}

func (h *api) getUnit(w http.ResponseWriter, r *http.Request) {
	u, err := h.s.Unit(h.principal(r), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

func (h *api) createUnit(w http.ResponseWriter, r *http.Request) {
	var u Unit
	if err := decode(r, &u); err != nil {
		h.fail(w, r, err)
		return
	}
	p := h.principal(r)
	if _, err := h.s.Unit(p, u.ID); err == nil {
		h.fail(w, r, fmt.Errorf("%w: unit %s exists", ErrConflict, u.ID))
		return
	}
	out, err := h.s.PutUnit(r.Context(), p, r.URL.Query().Get("as"), u)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

func (h *api) putUnit(w http.ResponseWriter, r *http.Request) {
	var u Unit
	if err := decode(r, &u); err != nil {
		h.fail(w, r, err)
		return
	}
	if u.ID == "" {
		u.ID = r.PathValue("id")
	}
	if u.ID != r.PathValue("id") {
		h.fail(w, r, invalid("unit id %q does not match the path", u.ID))
		return
	}
	out, err := h.s.PutUnit(r.Context(), h.principal(r), r.URL.Query().Get("as"), u)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *api) deleteUnit(w http.ResponseWriter, r *http.Request) {
	if err := h.s.DeleteUnit(r.Context(), h.principal(r), r.URL.Query().Get("as"), r.PathValue("id")); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *api) listGrants(w http.ResponseWriter, r *http.Request) {
	gs := h.s.Grants(h.principal(r), r.URL.Query().Get("unit"))
	if gs == nil {
		gs = []Grant{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"grants": gs})
}

func (h *api) getGrant(w http.ResponseWriter, r *http.Request) {
	g, err := h.s.GetGrant(h.principal(r), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, g)
}

func (h *api) createGrant(w http.ResponseWriter, r *http.Request) {
	var req GrantRequest
	if err := decode(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	g, err := h.s.Grant(r.Context(), h.principal(r), req)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, g)
}

type revokeBody struct {
	As       string `json:"as,omitempty"`
	National bool   `json:"national,omitempty"`
	Reason   string `json:"reason"`
}

func (h *api) revokeGrant(w http.ResponseWriter, r *http.Request) {
	var b revokeBody
	if err := decode(r, &b); err != nil {
		h.fail(w, r, err)
		return
	}
	g, err := h.s.Revoke(r.Context(), h.principal(r), b.As, b.National, r.PathValue("id"), b.Reason)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, g)
}

func (h *api) authority(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var at time.Time
	if v := q.Get("at"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			h.fail(w, r, invalid("bad at %q: want RFC 3339", v))
			return
		}
		at = t
	}
	if q.Get("unit") == "" {
		h.fail(w, r, invalid("name the unit: ?unit=ID"))
		return
	}
	ans, err := h.s.Authority(r.Context(), h.principal(r), q.Get("unit"), at)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ans)
}

func (h *api) me(w http.ResponseWriter, r *http.Request) {
	p := h.principal(r)
	pos := h.s.Positions(p)
	if pos == nil {
		pos = []HeldPosition{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"principal": p, "positions": pos})
}

func (h *api) check(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	t, err := ParseOrderType(q.Get("type"))
	if err != nil {
		h.fail(w, r, invalid("%v", err))
		return
	}
	d, err := h.s.Check(r.Context(), h.principal(r), q.Get("as"), t, q.Get("unit"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.redact(h.principal(r), d))
}

func (h *api) listOrders(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := OrderFilter{Unit: q.Get("unit")}
	if v := q.Get("state"); v != "" {
		st, err := ParseState(v)
		if err != nil {
			h.fail(w, r, invalid("%v", err))
			return
		}
		f.State = st
	}
	p := h.principal(r)
	orders := h.s.Orders(p, f)
	for _, o := range orders {
		h.orderView(p, o)
	}
	if orders == nil {
		orders = []*Order{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"orders": orders})
}

func (h *api) getOrder(w http.ResponseWriter, r *http.Request) {
	p := h.principal(r)
	o, err := h.s.Order(p, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.orderView(p, o))
}

func (h *api) issue(w http.ResponseWriter, r *http.Request) {
	var req IssueRequest
	if err := decode(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	p := h.principal(r)
	o, err := h.s.Issue(r.Context(), p, req)
	if err != nil && o == nil {
		h.fail(w, r, err)
		return
	}
	if err != nil {
		// Committed, but the audit record of the transition failed.
		h.s.log.Error("command: order issued but not fully audited", "order", o.ID, "err", err)
	}
	w.Header().Set("Location", "/api/v1/orders/"+o.ID)
	writeJSON(w, http.StatusCreated, h.orderView(p, o))
}

type ackBody struct {
	As     string `json:"as,omitempty"`
	State  string `json:"state,omitempty"`
	Reason string `json:"reason,omitempty"`
}

func (h *api) ack(w http.ResponseWriter, r *http.Request) {
	var b ackBody
	if err := decode(r, &b); err != nil {
		h.fail(w, r, err)
		return
	}
	st := Acknowledged
	if b.State != "" {
		v, err := ParseState(b.State)
		if err != nil {
			h.fail(w, r, invalid("%v", err))
			return
		}
		st = v
	}
	p := h.principal(r)
	o, err := h.s.Respond(r.Context(), p, b.As, strings.ToUpper(r.PathValue("id")), st, b.Reason)
	if err != nil && o == nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.orderView(p, o))
}

type cancelBody struct {
	As     string `json:"as,omitempty"`
	Reason string `json:"reason,omitempty"`
}

func (h *api) cancel(w http.ResponseWriter, r *http.Request) {
	var b cancelBody
	if err := decode(r, &b); err != nil {
		h.fail(w, r, err)
		return
	}
	p := h.principal(r)
	o, err := h.s.Cancel(r.Context(), p, b.As, strings.ToUpper(r.PathValue("id")), b.Reason)
	if err != nil && o == nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.orderView(p, o))
}

// decide records the other nation's decision on a routed support request:
// {"as":"jjoc","outcome":"APPROVED","reason":"…","order":{…}}. The answer
// is the request and, for an approval, the national order.
func (h *api) decide(w http.ResponseWriter, r *http.Request) {
	var b DecideRequest
	if err := decode(r, &b); err != nil {
		h.fail(w, r, err)
		return
	}
	p := h.principal(r)
	o, national, err := h.s.Decide(r.Context(), p, strings.ToUpper(r.PathValue("id")), b)
	if err != nil && o == nil {
		h.fail(w, r, err)
		return
	}
	out := map[string]any{"request": h.orderView(p, o)}
	if national != nil {
		out["order"] = h.orderView(p, national)
	}
	writeJSON(w, http.StatusOK, out)
}

type reportBody struct {
	As        string           `json:"as,omitempty"`
	Kind      string           `json:"kind,omitempty"`
	Text      string           `json:"text"`
	Readiness *ReadinessLevels `json:"readiness,omitempty"`
}

// report answers a report request with a report (SITREP or READINESS).
func (h *api) report(w http.ResponseWriter, r *http.Request) {
	var b reportBody
	if err := decode(r, &b); err != nil {
		h.fail(w, r, err)
		return
	}
	p := h.principal(r)
	o, err := h.s.ReportWith(r.Context(), p, b.As, strings.ToUpper(r.PathValue("id")), b.Kind, b.Text, b.Readiness)
	if err != nil && o == nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.orderView(p, o))
}

// stream serves server-sent events: first every order the caller may see
// ("snapshot" events), then each change ("order" events).
func (h *api) stream(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		writeErr(w, http.StatusInternalServerError, errors.New("streaming unsupported"), nil)
		return
	}
	p := h.principal(r)
	ch, cancel := h.s.Subscribe(p)
	defer cancel()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	send := func(event string, o *Order) error {
		b, err := json.Marshal(h.orderView(p, o))
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return err
		}
		fl.Flush()
		return nil
	}
	orders := h.s.Orders(p, OrderFilter{})
	for i := len(orders) - 1; i >= 0; i-- {
		if send("snapshot", orders[i]) != nil {
			return
		}
	}
	io.WriteString(w, ": live\n\n")
	fl.Flush()
	keep := time.NewTicker(15 * time.Second)
	defer keep.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-keep.C:
			if _, err := io.WriteString(w, ": keep-alive\n\n"); err != nil {
				return
			}
			fl.Flush()
		case o, ok := <-ch:
			if !ok {
				return
			}
			// The subscription already filtered; check again at egress.
			if !label.Releasable(p, o.Label) {
				continue
			}
			if send("order", o) != nil {
				return
			}
		}
	}
}

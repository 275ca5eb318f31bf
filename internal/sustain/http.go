package sustain

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"kizuna/internal/label"
)

// Prefix is where the REST API lives.
const Prefix = "/api/v1/sustainment/"

const maxBody = 1 << 20

// Handler serves the REST API (see the README for each endpoint). Every
// answer is filtered by label.Releasable for the caller; every request
// body is JSON (application/json). ?format=csv exports a list as CSV.
func (s *Service) Handler(principal func(*http.Request) label.Principal) http.Handler {
	h := &api{s: s, principal: principal}
	mux := http.NewServeMux()
	p := "/api/v1/sustainment"
	mux.HandleFunc("GET "+p+"/stocks", h.stocks)
	mux.HandleFunc("GET "+p+"/totals", h.totals)
	mux.HandleFunc("GET "+p+"/items", h.items)
	mux.HandleFunc("POST "+p+"/items", h.putItem)
	mux.HandleFunc("GET "+p+"/locations", h.locations)
	mux.HandleFunc("POST "+p+"/locations", h.putLocation)
	mux.HandleFunc("GET "+p+"/movements", h.movements)
	mux.HandleFunc("POST "+p+"/movements", h.record)
	mux.HandleFunc("GET "+p+"/serials", h.serials)
	mux.HandleFunc("GET "+p+"/verify", h.verify)
	mux.HandleFunc("GET "+p+"/transfers", h.transfers)
	mux.HandleFunc("POST "+p+"/transfers", h.requestTransfer)
	mux.HandleFunc("GET "+p+"/transfers/{id}", h.transfer)
	mux.HandleFunc("POST "+p+"/transfers/{id}/{action}", h.act)
	mux.HandleFunc("GET "+p+"/engagements", h.engagements)
	mux.HandleFunc("POST "+p+"/engagements", h.engage)
	mux.HandleFunc("GET "+p+"/schedule", h.schedules)
	mux.HandleFunc("POST "+p+"/schedule", h.schedule)
	mux.HandleFunc("GET "+p+"/workorders", h.workorders)
	mux.HandleFunc("POST "+p+"/workorders", h.openWork)
	mux.HandleFunc("POST "+p+"/workorders/{id}/status", h.workStatus)
	mux.HandleFunc("POST "+p+"/workorders/{id}/parts/{n}/issue", h.issue)
	mux.HandleFunc("GET "+p+"/units", h.unitsList)
	mux.HandleFunc("PUT "+p+"/units/{id}", h.putUnit)
	mux.HandleFunc("GET "+p+"/readiness", h.readiness)
	mux.HandleFunc("GET "+p+"/alerts", h.alerts)
	mux.HandleFunc("GET "+p+"/forecast", h.forecast)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !h.principal(r).Valid() {
			writeErr(w, fmt.Errorf("%w: unidentified principal", ErrRefused))
			return
		}
		if r.Method == http.MethodGet {
			// Cluster mode: answer with what any instance committed
			// before the request.
			if err := s.Refresh(r.Context()); err != nil {
				s.log.Warn("sustain: answering without the other instances' latest commits", "err", err)
			}
		}
		mux.ServeHTTP(w, r)
	})
}

type api struct {
	s         *Service
	principal func(*http.Request) label.Principal
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

func writeErr(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrInvalid):
		code = http.StatusBadRequest
	case errors.Is(err, ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, ErrRefused):
		code = http.StatusForbidden
	case errors.Is(err, ErrState), errors.Is(err, ErrInsufficent):
		code = http.StatusConflict
	}
	msg := err.Error()
	if code == http.StatusInternalServerError {
		msg = "internal error"
	}
	writeJSON(w, code, map[string]string{"error": msg})
}

// decode reads a JSON body of at most maxBody bytes, refusing other
// content types and unknown fields.
func decode(r *http.Request, v any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return invalid("request bodies are application/json")
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalid("body: %v", err)
	}
	if dec.More() {
		return invalid("body: trailing data")
	}
	return nil
}

func wantCSV(r *http.Request) bool { return r.URL.Query().Get("format") == "csv" }

// cell neutralises spreadsheet formulas in an exported cell.
func cell(s string) string {
	if s != "" && strings.ContainsAny(s[:1], "=+-@\t\r") {
		return "'" + s
	}
	return s
}

func writeCSV(w http.ResponseWriter, name string, header []string, rows [][]string) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
	cw := csv.NewWriter(w)
	cw.Write(header)
	for _, r := range rows {
		for i := range r {
			r[i] = cell(r[i])
		}
		cw.Write(r)
	}
	cw.Flush()
}

func marking(l label.Label) string { return l.Marking() }

func (h *api) stocks(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	st := h.s.Stocks(h.principal(r), q.Get("item"), q.Get("location"))
	if wantCSV(r) {
		rows := make([][]string, 0, len(st))
		for _, x := range st {
			rows = append(rows, []string{x.Item, x.Location, x.Owner, strconv.FormatInt(x.Quantity, 10), x.Node, marking(x.Label)})
		}
		writeCSV(w, "stocks", []string{"item", "location", "owner", "quantity", "node", "marking"}, rows)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"stocks": st})
}

func (h *api) totals(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"totals": h.s.Totals(h.principal(r))})
}

func (h *api) items(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"items": h.s.Items()})
}

func (h *api) putItem(w http.ResponseWriter, r *http.Request) {
	var it Item
	if err := decode(r, &it); err != nil {
		writeErr(w, err)
		return
	}
	if err := h.s.PutItem(r.Context(), h.principal(r), it); err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, it)
}

func (h *api) locations(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"locations": orEmpty(h.s.Locations(h.principal(r)))})
}

func (h *api) putLocation(w http.ResponseWriter, r *http.Request) {
	var l Location
	if err := decode(r, &l); err != nil {
		writeErr(w, err)
		return
	}
	out, err := h.s.PutLocation(r.Context(), h.principal(r), l)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

func (h *api) movements(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	ms, err := h.s.Movements(r.Context(), h.principal(r), q.Get("item"), q.Get("location"), limit)
	if err != nil {
		writeErr(w, err)
		return
	}
	if wantCSV(r) {
		rows := make([][]string, 0, len(ms))
		for _, m := range ms {
			rows = append(rows, []string{strconv.FormatInt(m.Seq, 10), m.Time.Format(time.RFC3339), m.Item, m.From, m.To,
				m.FromOwner, m.ToOwner, strconv.FormatInt(m.Quantity, 10), string(m.Reason), m.Lot, strings.Join(m.Serials, " "), m.Ref, marking(m.Label)})
		}
		writeCSV(w, "movements", []string{"seq", "time", "item", "from", "to", "fromOwner", "toOwner", "quantity", "reason", "lot", "serials", "ref", "marking"}, rows)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"movements": ms})
}

// record takes one movement or {"movements":[…]} (one transaction).
func (h *api) record(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Movement
		Movements []Movement `json:"movements"`
	}
	if err := decode(r, &body); err != nil {
		writeErr(w, err)
		return
	}
	ms := body.Movements
	if len(ms) == 0 {
		ms = []Movement{body.Movement}
	}
	if len(ms) > 10000 {
		writeErr(w, invalid("at most 10000 movements per request"))
		return
	}
	out, err := h.s.Record(r.Context(), h.principal(r), ms...)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"movements": out})
}

func (h *api) serials(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"serials": h.s.Serials(h.principal(r), r.URL.Query().Get("item"))})
}

// verify proves conservation and replay equality. It reveals no stock:
// only whether the ledger is consistent.
func (h *api) verify(w http.ResponseWriter, r *http.Request) {
	if err := h.s.Verify(); err != nil {
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

func (h *api) transfers(w http.ResponseWriter, r *http.Request) {
	ts := h.s.Transfers(h.principal(r))
	if wantCSV(r) {
		rows := make([][]string, 0, len(ts))
		for _, t := range ts {
			rows = append(rows, []string{t.ID, t.Item, strconv.FormatInt(t.Quantity, 10), t.From, t.To, t.FromNation, t.ToNation, string(t.State), marking(t.Label)})
		}
		writeCSV(w, "transfers", []string{"id", "item", "quantity", "from", "to", "fromNation", "toNation", "state", "marking"}, rows)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"transfers": ts})
}

func (h *api) requestTransfer(w http.ResponseWriter, r *http.Request) {
	var req TransferRequest
	if err := decode(r, &req); err != nil {
		writeErr(w, err)
		return
	}
	t, err := h.s.RequestTransfer(r.Context(), h.principal(r), req)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, t)
}

func (h *api) transfer(w http.ResponseWriter, r *http.Request) {
	t, err := h.s.Transfer(h.principal(r), r.PathValue("id"))
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (h *api) act(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Note string `json:"note"`
	}
	if r.ContentLength != 0 {
		if err := decode(r, &body); err != nil {
			writeErr(w, err)
			return
		}
	}
	t, err := h.s.Act(r.Context(), h.principal(r), r.PathValue("id"), TransferAction(r.PathValue("action")), body.Note)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (h *api) engagements(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"engagements": h.s.Engagements(h.principal(r))})
}

func (h *api) engage(w http.ResponseWriter, r *http.Request) {
	var e Engagement
	if err := decode(r, &e); err != nil {
		writeErr(w, err)
		return
	}
	e.ID, e.Seq, e.By = "", 0, ""
	out, err := h.s.Engage(r.Context(), h.principal(r), e)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

func (h *api) schedules(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"schedule": h.s.Schedules(h.principal(r))})
}

func (h *api) schedule(w http.ResponseWriter, r *http.Request) {
	var sc Scheduled
	if err := decode(r, &sc); err != nil {
		writeErr(w, err)
		return
	}
	out, err := h.s.Schedule(r.Context(), h.principal(r), sc)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

func (h *api) workorders(w http.ResponseWriter, r *http.Request) {
	ws := h.s.WorkOrders(h.principal(r))
	if wantCSV(r) {
		rows := make([][]string, 0, len(ws))
		for _, o := range ws {
			rows = append(rows, []string{o.ID, o.Asset, o.Unit, o.UID, o.Owner, o.Facility, o.Type, o.Inducted.Format(time.DateOnly),
				o.Planned.Format(time.DateOnly), string(o.Status), marking(o.Label)})
		}
		writeCSV(w, "workorders", []string{"id", "asset", "unit", "uid", "owner", "facility", "type", "induction", "plannedCompletion", "status", "marking"}, rows)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"workorders": ws})
}

func (h *api) openWork(w http.ResponseWriter, r *http.Request) {
	var o WorkOrder
	if err := decode(r, &o); err != nil {
		writeErr(w, err)
		return
	}
	out, err := h.s.OpenWorkOrder(r.Context(), h.principal(r), o)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

func (h *api) workStatus(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Status WorkStatus `json:"status"`
		Note   string     `json:"note"`
	}
	if err := decode(r, &body); err != nil {
		writeErr(w, err)
		return
	}
	out, err := h.s.SetWorkStatus(r.Context(), h.principal(r), r.PathValue("id"), body.Status, body.Note)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *api) issue(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil {
		writeErr(w, invalid("part demand number"))
		return
	}
	out, err := h.s.IssueParts(r.Context(), h.principal(r), r.PathValue("id"), n)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *api) unitsList(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"units": h.s.Units(h.principal(r))})
}

func (h *api) putUnit(w http.ResponseWriter, r *http.Request) {
	var u Unit
	if err := decode(r, &u); err != nil {
		writeErr(w, err)
		return
	}
	if u.ID == "" {
		u.ID = r.PathValue("id")
	}
	if u.ID != r.PathValue("id") {
		writeErr(w, invalid("unit id differs from the path"))
		return
	}
	out, err := h.s.PutUnit(r.Context(), h.principal(r), u)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *api) readiness(w http.ResponseWriter, r *http.Request) {
	rs := h.s.Readiness(h.principal(r))
	if wantCSV(r) {
		rows := make([][]string, 0, len(rs))
		for _, x := range rs {
			var mun []string
			for _, m := range x.Munitions {
				mun = append(mun, fmt.Sprintf("%s %d/%d", m.Item, m.OnHand, m.Required))
			}
			rows = append(rows, []string{x.Unit, x.Name, x.Nation, x.Parent, strconv.Itoa(x.Available), strconv.Itoa(x.Assigned),
				strings.Join(mun, "; "), string(x.Colour), string(x.Rollup), x.Node, marking(x.Label)})
		}
		writeCSV(w, "readiness", []string{"unit", "name", "nation", "parent", "available", "assigned", "munitions", "colour", "rollup", "node", "marking"}, rows)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"readiness": rs})
}

func (h *api) alerts(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"alerts": h.s.Alerts(h.principal(r))})
}

func (h *api) forecast(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	days := 30
	if v := q.Get("days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			writeErr(w, invalid("days"))
			return
		}
		days = n
	}
	safety := int64(-1)
	if v := q.Get("safety"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			writeErr(w, invalid("safety"))
			return
		}
		safety = n
	}
	p := h.principal(r)
	owner := q.Get("owner")
	if owner == "" {
		owner = p.Nation
	}
	f, err := h.s.Forecast(p, q.Get("item"), q.Get("location"), owner, days, safety)
	if err != nil {
		writeErr(w, err)
		return
	}
	if wantCSV(r) {
		rows := make([][]string, 0, len(f.Points))
		for _, pt := range f.Points {
			rows = append(rows, []string{strconv.Itoa(pt.Day), pt.Date.Format(time.DateOnly), strconv.FormatFloat(pt.Quantity, 'f', 1, 64),
				strconv.FormatInt(f.Safety, 10), marking(f.Label)})
		}
		writeCSV(w, "forecast", []string{"day", "date", "quantity", "safety", "marking"}, rows)
		return
	}
	writeJSON(w, http.StatusOK, f)
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

package command

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"kizuna/internal/label"
)

// apiServer serves the handler; the test principal comes from a header.
func apiServer(t *testing.T, h *harness) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h.s.Handler(func(r *http.Request) label.Principal {
		p, err := label.ParsePrincipal(r.Header.Get("X-Test-Principal"))
		if err != nil {
			return label.Principal{}
		}
		return p
	}))
	t.Cleanup(srv.Close)
	return srv
}

func call(t *testing.T, srv *httptest.Server, p, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if p != "" {
		req.Header.Set("X-Test-Principal", p)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

func TestHTTPAPI(t *testing.T) {
	h := newHarness(t, nil)
	srv := apiServer(t, h)
	const US, KR, JP = "USA:SECRET", "KOR:SECRET", "JPN:SECRET"

	if code := call(t, srv, "", "GET", "/api/v1/orders", nil, nil); code != http.StatusForbidden {
		t.Fatalf("no principal: %d", code)
	}
	var units struct{ Units []Unit }
	if code := call(t, srv, JP, "GET", "/api/v1/units", nil, &units); code != 200 || len(units.Units) < 20 {
		t.Fatalf("units: %d %d", code, len(units.Units))
	}
	var me struct{ Positions []HeldPosition }
	call(t, srv, KR, "GET", "/api/v1/authority/me", nil, &me)
	if len(me.Positions) == 0 || me.Positions[0].Unit == "" {
		t.Fatalf("KOR positions %+v", me)
	}

	var g Grant
	if code := call(t, srv, US, "POST", "/api/v1/grants", GrantRequest{Kind: OPCON, Grantor: "indopacom", Grantee: "usfj", Unit: "31meu", Duration: "2h", Reason: "window"}, &g); code != 201 || g.ID == "" {
		t.Fatalf("grant: %d %+v", code, g)
	}
	var eb errorBody
	if code := call(t, srv, US, "POST", "/api/v1/grants", GrantRequest{Kind: ADCON, Grantor: "indopacom", Grantee: "cfc-gcc", Unit: "31meu", Reason: "x"}, &eb); code != 422 || eb.Rule != RuleADCONCrossNation {
		t.Fatalf("ADCON across nations: %d %+v", code, eb)
	}
	if code := call(t, srv, US, "POST", "/api/v1/grants", map[string]any{"kind": "OPCON", "bogus": 1}, &eb); code != 400 {
		t.Fatalf("unknown field: %d", code)
	}

	var ans AuthorityAnswer
	if code := call(t, srv, US, "GET", "/api/v1/authority?unit=31meu", nil, &ans); code != 200 || len(ans.Holders) != 3 || ans.Holders[1].Holder != "usfj" || ans.Holders[2].Holder != "iiimef" || !ans.Holders[2].Standing {
		t.Fatalf("authority: %d %+v", code, ans)
	}

	var o Order
	task := IssueRequest{As: "usfj", Recipient: "31meu", Type: "TASK", Text: "Secure Kin Blue", DeadlineIn: "3h", Location: &Location{Point: &LatLon{Lat: 26.45, Lon: 127.92}}}
	if code := call(t, srv, US, "POST", "/api/v1/orders", task, &o); code != 201 || o.State != Issued {
		t.Fatalf("issue: %d %+v", code, o)
	}
	move := IssueRequest{As: "cfc-gcc", Recipient: "31meu", Type: "MOVEMENT", Text: "Move", DeadlineIn: "1h"}
	if code := call(t, srv, KR, "POST", "/api/v1/orders", move, &eb); code != 403 || eb.Rule != RuleOrderAuthority || eb.Decision == nil || !strings.Contains(eb.Decision.Reason, "cfc-gcc holds no") {
		t.Fatalf("CFC-GCC refused: %d %+v", code, eb)
	}
	var chk Decision
	if code := call(t, srv, KR, "GET", "/api/v1/authority/check?as=cfc-gcc&type=MOVEMENT&unit=12mlr", nil, &chk); code != 200 || !chk.Allowed || chk.Holds != TACON {
		t.Fatalf("check: %d %+v", code, chk)
	}
	// KOR sees the TACON grant's own link but not the USA-only COCOM one.
	for _, g := range chk.Chain {
		if g.ID == "cocom-usa" {
			t.Fatalf("USA-only grant shown to KOR: %+v", chk.Chain)
		}
	}
	var bilateral Order
	if code := call(t, srv, KR, "POST", "/api/v1/orders", IssueRequest{As: "cfc-gcc", Recipient: "12mlr", Type: "MOVEMENT", Text: "Move", DeadlineIn: "1h"}, &bilateral); code != 201 {
		t.Fatalf("bilateral: %d", code)
	}

	var list struct{ Orders []Order }
	call(t, srv, JP, "GET", "/api/v1/orders", nil, &list)
	if len(list.Orders) != 0 {
		t.Fatalf("JPN lists %+v", list.Orders)
	}
	call(t, srv, KR, "GET", "/api/v1/orders", nil, &list)
	if len(list.Orders) != 1 || list.Orders[0].ID != bilateral.ID {
		t.Fatalf("KOR lists %+v", list.Orders)
	}
	if code := call(t, srv, JP, "GET", "/api/v1/orders/"+bilateral.ID, nil, nil); code != 404 {
		t.Fatalf("JPN show: %d", code)
	}

	if code := call(t, srv, US, "POST", "/api/v1/orders/"+o.ID+"/ack", ackBody{As: "31meu"}, &o); code != 200 || o.State != Acknowledged {
		t.Fatalf("ack: %d %+v", code, o)
	}
	if code := call(t, srv, US, "POST", "/api/v1/orders/"+o.ID+"/ack", ackBody{As: "31meu", State: "WILCO"}, &o); code != 200 || o.State != Wilco {
		t.Fatalf("wilco: %d %+v", code, o)
	}
	if code := call(t, srv, US, "POST", "/api/v1/orders/"+o.ID+"/ack", ackBody{As: "31meu", State: "CANTCO", Reason: "x"}, &eb); code != 409 {
		t.Fatalf("CANTCO after WILCO: %d", code)
	}
	if code := call(t, srv, US, "POST", "/api/v1/orders/"+o.ID+"/cancel", cancelBody{As: "31meu"}, &eb); code != 422 || eb.Rule != RuleCancel {
		t.Fatalf("recipient cancel: %d %+v", code, eb)
	}
	if code := call(t, srv, US, "POST", "/api/v1/orders/"+o.ID+"/cancel", cancelBody{As: "usfj", Reason: "changed"}, &o); code != 200 || o.State != Cancelled {
		t.Fatalf("cancel: %d %+v", code, o)
	}
	var full Order
	call(t, srv, US, "GET", "/api/v1/orders/"+o.ID, nil, &full)
	var states []State
	for _, tr := range full.History {
		states = append(states, tr.To)
	}
	if want := []State{Issued, Acknowledged, Wilco, Cancelled}; !slices.Equal(states, want) {
		t.Fatalf("history %v, want %v", states, want)
	}

	// Revocation over REST.
	if code := call(t, srv, US, "POST", "/api/v1/grants/"+g.ID+"/revoke", revokeBody{As: "indopacom", Reason: "done"}, &g); code != 200 || g.RevokedAt.IsZero() {
		t.Fatalf("revoke: %d %+v", code, g)
	}
	if code := call(t, srv, JP, "GET", "/api/v1/grants/"+g.ID, nil, nil); code != 404 {
		t.Fatalf("JPN sees a USA grant: %d", code)
	}

	// Units are editable.
	nu := Unit{ID: "clr-3", Parent: "iiimef", Nation: "USA", Name: "Combat Logistics Regiment 3", Positions: []Position{{}}}
	if code := call(t, srv, US, "POST", "/api/v1/units?as=iiimef", nu, nil); code != 201 {
		t.Fatalf("create unit: %d", code)
	}
	if code := call(t, srv, US, "POST", "/api/v1/units?as=iiimef", nu, nil); code != 409 {
		t.Fatalf("create twice: %d", code)
	}
	nu.Name = "CLR-3"
	var gotU Unit
	if code := call(t, srv, US, "PUT", "/api/v1/units/clr-3?as=iiimef", nu, &gotU); code != 200 || gotU.Name != "CLR-3" {
		t.Fatalf("put unit: %d %+v", code, gotU)
	}
	if code := call(t, srv, US, "DELETE", "/api/v1/units/clr-3?as=iiimef", nil, nil); code != 204 {
		t.Fatalf("delete unit: %d", code)
	}
}

// TestHTTPStream: each principal's stream carries only what it may see.
func TestHTTPStream(t *testing.T) {
	h := newHarness(t, nil)
	srv := apiServer(t, h)
	open := func(p string) (<-chan string, func()) {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/v1/orders/stream", nil)
		req.Header.Set("X-Test-Principal", p)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		ch := make(chan string, 100)
		go func() {
			defer close(ch)
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				ch <- sc.Text()
			}
		}()
		// Wait until the stream is live.
		for line := range ch {
			if line == ": live" {
				break
			}
		}
		return ch, func() { cancel(); resp.Body.Close() }
	}
	jpnStream, stopK := open("JPN:SECRET")
	defer stopK()
	usaStream, stopU := open("USA:SECRET")
	defer stopU()

	bilateral := mustIssue(t, h.s, kor, IssueRequest{As: "cfc-gcc", Recipient: "12mlr", Type: "MOVEMENT", Text: "Move", DeadlineIn: "1h"})
	mustGrant(t, h.s, jpn, GrantRequest{Kind: TACON, Grantor: "jjoc", Grantee: "adc", Unit: "escort-force", Duration: "1h", Reason: "exercise"})
	jpnOrder := mustIssue(t, h.s, jpn, IssueRequest{As: "adc", Recipient: "escort-force", Type: "MOVEMENT", Text: "Sortie", DeadlineIn: "1h"})

	next := func(ch <-chan string) Order {
		t.Helper()
		timeout := time.After(5 * time.Second)
		for {
			select {
			case line, ok := <-ch:
				if !ok {
					t.Fatal("stream ended")
				}
				if data, found := strings.CutPrefix(line, "data: "); found {
					var o Order
					if err := json.Unmarshal([]byte(data), &o); err != nil {
						t.Fatal(err)
					}
					return o
				}
			case <-timeout:
				t.Fatal("no event")
			}
		}
	}
	if o := next(jpnStream); o.ID != jpnOrder.ID {
		t.Fatalf("JPN stream first saw %s (%s)", o.ID, o.Label.Marking())
	}
	if o := next(usaStream); o.ID != bilateral.ID {
		t.Fatalf("USA stream first saw %s", o.ID)
	}
	// A new JPN stream replays only what JPN may see.
	replay, stopR := func() (<-chan string, func()) {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/v1/orders/stream", nil)
		req.Header.Set("X-Test-Principal", "JPN:SECRET")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		ch := make(chan string, 100)
		go func() {
			defer close(ch)
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				ch <- sc.Text()
			}
		}()
		return ch, func() { cancel(); resp.Body.Close() }
	}()
	defer stopR()
	var snap []string
	for line := range replay {
		if line == ": live" {
			break
		}
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			var o Order
			json.Unmarshal([]byte(data), &o)
			snap = append(snap, o.ID)
		}
	}
	if len(snap) != 1 || snap[0] != jpnOrder.ID {
		t.Fatalf("JPN snapshot %v", snap)
	}
}

// TestHTTPReportAndDecide: a report request answered over REST with a
// SITREP; a routed request decided over REST, with a refusal for the
// wrong headquarters.
func TestHTTPReportAndDecide(t *testing.T) {
	h := newHarness(t, nil)
	srv := apiServer(t, h)
	const US, JP = "USA:SECRET", "JPN:SECRET"
	var o Order
	if code := call(t, srv, US, "POST", "/api/v1/orders", IssueRequest{As: "usfj", Recipient: "12mlr", Type: "REPORT", Text: "Report readiness", DeadlineIn: "1h"}, &o); code != 201 {
		t.Fatalf("issue: %d", code)
	}
	if code := call(t, srv, US, "POST", "/api/v1/orders/"+o.ID+"/report", map[string]string{"as": "12mlr", "kind": "SITREP", "text": "Ready"}, &o); code != 200 || o.State != Complete || len(o.Reports) != 1 {
		t.Fatalf("report: %d %+v", code, o)
	}
	var req Order
	if code := call(t, srv, US, "POST", "/api/v1/orders", IssueRequest{As: "usfj", Recipient: "adc", Type: "SUPPORT_REQUEST", Text: "BMD", DeadlineIn: "1h"}, &req); code != 201 || req.Via != "acm" {
		t.Fatalf("request: %d %+v", code, req)
	}
	var eb errorBody
	if code := call(t, srv, JP, "POST", "/api/v1/orders/"+req.ID+"/decide", DecideRequest{As: "adc", Outcome: Denied, Reason: "x"}, &eb); code != 422 || eb.Rule != RuleDecide {
		t.Fatalf("decide as ADC: %d %+v", code, eb)
	}
	var out struct{ Request Order }
	if code := call(t, srv, JP, "POST", "/api/v1/orders/"+req.ID+"/decide", DecideRequest{As: "jjoc", Outcome: Denied, Reason: "no capacity"}, &out); code != 200 || out.Request.Outcome != Denied {
		t.Fatalf("decide: %d %+v", code, out)
	}
}

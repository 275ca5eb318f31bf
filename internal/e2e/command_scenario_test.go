package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"kizuna/internal/taktest"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"kizuna/internal/command"
	"kizuna/internal/cot"
	"kizuna/internal/demo"
	"kizuna/internal/node"
)

// TestCommandScenario runs the chain-of-command scenario end to end: a real
// node on loopback, TAK devices connected over plain TCP as ATAK would be,
// and every command act over the REST API of the nation's HTTP listener.
//
//  1. INDOPACOM holds COCOM of US forces in Japan.
//  2. INDOPACOM grants USFJ OPCON of the 31st MEU for a window; USFJ's task
//     order is allowed and reaches the MEU's TAK device, whose delivery and
//     read receipts move it to DELIVERED and ACKNOWLEDGED.
//  3. After the window ends, the same order is refused, with the reason.
//  4. JJOC cannot order the MEU until USFJ grants it TACON; then its
//     movement order is allowed and its task order refused.
//  5. The US revokes the TACON: JJOC's next order is refused, and the
//     device's "WILCO <id>" for the order already issued is refused.
//  6. ADCON across nations is refused; KOR never sees a USA–JPN order in a
//     list, a show, the order stream or its TAK connection.
func TestCommandScenario(t *testing.T) {
	n := cmdStartNode(t)
	api := map[string]*cmdAPI{}
	for _, nat := range []string{"USA", "JPN", "KOR"} {
		api[nat] = &cmdAPI{t: t, base: "http://" + cmdAddr(t, n, node.KindHTTP, nat+":SECRET")}
	}
	us, jp, kr := api["USA"], api["JPN"], api["KOR"]

	// TAK devices: the MEU's on the US listener, a ROK device on the KOR one.
	meu := cmdDial(t, cmdAddr(t, n, node.KindCoTTCP, "USA:SECRET"), "ANDROID-31MEU-1", "31MEU-1")
	rok := cmdDial(t, cmdAddr(t, n, node.KindCoTTCP, "KOR:SECRET"), "ANDROID-ROKJCS-1", "ROKJCS-1")
	us.waitObject("ANDROID-31MEU-1")
	kr.waitObject("ANDROID-ROKJCS-1")

	// KOR's order stream, open for the whole scenario.
	korStream := kr.stream()

	// 1.
	var ans command.AuthorityAnswer
	us.do("GET", "/api/v1/authority?unit=31meu", nil, 200, &ans)
	if len(ans.Holders) == 0 || ans.Holders[0].Holder != "indopacom" || ans.Holders[0].Kind != command.COCOM ||
		len(ans.Holders[0].Chain) != 1 || ans.Holders[0].Chain[0].Grantor != "" {
		t.Fatalf("step 1: holders of 31meu: %+v", ans.Holders)
	}

	// 2.
	var opcon command.Grant
	us.do("POST", "/api/v1/grants", command.GrantRequest{Kind: command.OPCON, Grantor: "indopacom", Grantee: "usfj", Unit: "31meu",
		Duration: "6s", Reason: "USFJ as joint force headquarters, first window"}, 201, &opcon)
	task := command.IssueRequest{As: "usfj", Recipient: "31meu", Type: "TASK", Text: "Secure the landing beach at Kin Blue", DeadlineIn: "2h",
		Location: &command.Location{Name: "Kin Blue", Point: &command.LatLon{Lat: 26.4518, Lon: 127.9221}}}
	var o1 command.Order
	o1Marker := false
	us.do("POST", "/api/v1/orders", task, 201, &o1)
	if o1.Authority.Holds != command.OPCON || len(o1.Deliveries) != 2 {
		t.Fatalf("step 2: order %+v", o1)
	}
	var chat *cot.Event
	meu.expect("the task order as GeoChat and its marker", func(e *cot.Event) bool {
		if e.Type == "b-t-f" && bytes.Contains(e.Detail, []byte(o1.ID)) {
			chat = e
		}
		if e.UID == "KIZUNA.order."+o1.ID && e.Type == "b-m-p-s-p-i" {
			o1Marker = true
		}
		return chat != nil && o1Marker
	})
	if len(chat.Dests) != 1 || chat.Dests[0].Callsign != "31MEU-1" || chat.Access != "SECRET" || chat.ReleasableTo != "USA" {
		t.Fatalf("step 2: GeoChat %s", chat.XML())
	}
	msgID := cmdAttr(t, chat.Detail, "messageId")
	meu.send(cmdReceipt("b-t-f-d", msgID, "ANDROID-31MEU-1", "31MEU-1", "USFJ", "KIZUNA.usfj"))
	us.waitState(o1.ID, command.Delivered)
	meu.send(cmdReceipt("b-t-f-r", msgID, "ANDROID-31MEU-1", "31MEU-1", "USFJ", "KIZUNA.usfj"))
	us.waitState(o1.ID, command.Acknowledged)

	// 3.
	cmdPoll(t, "the OPCON window to end", 15*time.Second, func() bool {
		var a command.AuthorityAnswer
		us.do("GET", "/api/v1/authority?unit=31meu", nil, 200, &a)
		for _, h := range a.Holders {
			if h.Holder == "usfj" {
				return false
			}
		}
		return true
	})
	refused := us.refused("POST", "/api/v1/orders", task)
	if !strings.Contains(refused, opcon.ID) || !strings.Contains(refused, "ended at") {
		t.Fatalf("step 3: refusal %q", refused)
	}

	// 4.
	move := command.IssueRequest{As: "jjoc", Recipient: "31meu", Type: "MOVEMENT", Text: "Move to assembly area Camp Hansen", DeadlineIn: "1h",
		Location: &command.Location{Route: []command.LatLon{{Lat: 26.40, Lon: 127.80}, {Lat: 26.46, Lon: 127.88}}}}
	if r := jp.refused("POST", "/api/v1/orders", move); !strings.Contains(r, "jjoc holds no COCOM, OPCON or TACON over 31meu") {
		t.Fatalf("step 4: JJOC before TACON: %q", r)
	}
	us.do("POST", "/api/v1/grants", command.GrantRequest{Kind: command.OPCON, Grantor: "indopacom", Grantee: "usfj", Unit: "31meu",
		Duration: "1h", Reason: "USFJ as joint force headquarters, second window"}, 201, nil)
	var tacon command.Grant
	us.do("POST", "/api/v1/grants", command.GrantRequest{Kind: command.TACON, Grantor: "usfj", Grantee: "jjoc", Unit: "31meu",
		Duration: "30m", Reason: "bilateral manoeuvre"}, 201, &tacon)
	var o2 command.Order
	jp.do("POST", "/api/v1/orders", move, 201, &o2)
	if o2.Authority.Holds != command.TACON || strings.Join(o2.Label.ReleasableTo, " ") != "JPN USA" {
		t.Fatalf("step 4: JJOC order %+v", o2)
	}
	chat2 := meu.expect("JJOC's movement order", func(e *cot.Event) bool {
		return e.Type == "b-t-f" && bytes.Contains(e.Detail, []byte(o2.ID))
	})
	if chat2.ReleasableTo != "JPN USA" || !bytes.Contains(chat2.Detail, []byte(`senderCallsign="JJOC"`)) {
		t.Fatalf("step 4: GeoChat %s", chat2.XML())
	}
	if r := jp.refused("POST", "/api/v1/orders", command.IssueRequest{As: "jjoc", Recipient: "31meu", Type: "TASK", Text: "Seize Ie Shima airfield", DeadlineIn: "1h"}); !strings.Contains(r, "needs COCOM or OPCON") {
		t.Fatalf("step 4: JJOC task: %q", r)
	}

	// 5.
	us.do("POST", "/api/v1/grants/"+tacon.ID+"/revoke", map[string]any{"as": "usfj", "reason": "bilateral phase over"}, 200, nil)
	if r := jp.refused("POST", "/api/v1/orders", move); !strings.Contains(r, "revoked") {
		t.Fatalf("step 5: JJOC after revocation: %q", r)
	}
	meu.send(cmdChat("ANDROID-31MEU-1", "31MEU-1", "KIZUNA.jjoc", "JJOC", "WILCO "+o2.ID))
	meu.expect("the refusal of the WILCO", func(e *cot.Event) bool {
		return e.Type == "b-t-f" && bytes.Contains(e.Detail, []byte("WILCO "+o2.ID+" not accepted"))
	})
	var got command.Order
	us.do("GET", "/api/v1/orders/"+o2.ID, nil, 200, &got)
	last := got.History[len(got.History)-1]
	if got.State != command.Issued || !last.Refused || last.To != command.Wilco || !strings.Contains(last.Reason, "revoked") {
		t.Fatalf("step 5: order after the refused WILCO: state %s, last %+v", got.State, last)
	}
	if r := us.refused("POST", "/api/v1/orders/"+o2.ID+"/ack", map[string]any{"as": "31meu", "state": "WILCO"}); !strings.Contains(r, "revoked") {
		t.Fatalf("step 5: WILCO over REST: %q", r)
	}

	// 6.
	var eb struct{ Error, Rule string }
	us.do("POST", "/api/v1/grants", command.GrantRequest{Kind: command.ADCON, Grantor: "indopacom", Grantee: "jjoc", Unit: "31meu", Reason: "try"}, 422, &eb)
	if eb.Rule != command.RuleADCONCrossNation {
		t.Fatalf("step 6: ADCON across nations: %+v", eb)
	}
	var list struct{ Orders []command.Order }
	jp.do("GET", "/api/v1/orders", nil, 200, &list)
	if len(list.Orders) != 1 || list.Orders[0].ID != o2.ID {
		t.Fatalf("step 6: JPN lists %+v", list.Orders)
	}
	kr.do("GET", "/api/v1/orders", nil, 200, &list)
	if len(list.Orders) != 0 {
		t.Fatalf("step 6: KOR lists %+v", list.Orders)
	}
	for _, id := range []string{o1.ID, o2.ID} {
		kr.do("GET", "/api/v1/orders/"+id, nil, 404, nil)
	}
	// A KOR order last: once KOR's stream shows it, anything before it
	// would have shown too.
	kr.do("POST", "/api/v1/grants", command.GrantRequest{Kind: command.TACON, Grantor: "rok-jcs", Grantee: "rok-goc", Unit: "rok-noc", Duration: "1h", Reason: "exercise"}, 201, nil)
	var o3 command.Order
	kr.do("POST", "/api/v1/orders", command.IssueRequest{As: "rok-goc", Recipient: "rok-noc", Type: "MOVEMENT", Text: "Sortie to the picket line", DeadlineIn: "1h"}, 201, &o3)
	seen := korStream.until(t, o3.ID)
	for _, id := range seen {
		if id != o3.ID {
			t.Fatalf("step 6: KOR stream carried order %s", id)
		}
	}
	for _, ev := range rok.drain() {
		for _, id := range []string{o1.ID, o2.ID} {
			if strings.Contains(string(ev.XML()), id) {
				t.Fatalf("step 6: KOR TAK device received %s", ev.XML())
			}
		}
	}
	// A KOR device connecting now gets no order marker or route in its
	// replay either.
	late := cmdDial(t, cmdAddr(t, n, node.KindCoTTCP, "KOR:SECRET"), "ANDROID-ROKJCS-2", "ROKJCS-2")
	for _, ev := range late.collect(500 * time.Millisecond) {
		if strings.HasPrefix(ev.UID, "KIZUNA.order.") || strings.HasPrefix(ev.UID, "GeoChat.") {
			t.Fatalf("step 6: KOR replay has %s", ev.XML())
		}
	}
}

// ---- helpers (prefixed cmd: other end-to-end files share the package) ----

func cmdStartNode(t *testing.T) *node.Node {
	t.Helper()
	cfg := node.Default()
	cfg.DataDir = t.TempDir()
	cfg.Nation = "USA"
	cfg.NodeID = "usa-hub"
	cfg.OrbatData = demo.Orbat()
	for _, p := range []string{"USA:SECRET", "JPN:SECRET", "KOR:SECRET"} {
		cfg.Listeners = append(cfg.Listeners, node.ListenerConfig{Kind: node.KindCoTTCP, Addr: "127.0.0.1:0", Principal: p})
	}
	for _, p := range []string{"USA:SECRET", "JPN:SECRET", "KOR:SECRET"} {
		cfg.Listeners = append(cfg.Listeners, node.ListenerConfig{Kind: node.KindHTTP, Addr: "127.0.0.1:0", Principal: p})
	}
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	n, err := node.New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	if n.Command() == nil {
		t.Fatal("the node runs no chain-of-command service")
	}
	return n
}

func cmdAddr(t *testing.T, n *node.Node, kind, principal string) string {
	t.Helper()
	for _, l := range n.Listeners() {
		if l.Kind == kind && l.Principal == principal {
			return l.Addr
		}
	}
	t.Fatalf("no %s listener for %s", kind, principal)
	return ""
}

func cmdPoll(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cmdAPI is a REST client acting as one HTTP listener's principal.
type cmdAPI struct {
	t    *testing.T
	base string
}

func (a *cmdAPI) raw(method, path string, body any) (int, []byte) {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// do calls the API and fails unless the status is want.
func (a *cmdAPI) do(method, path string, body any, want int, out any) {
	a.t.Helper()
	code, b := a.raw(method, path, body)
	if code != want {
		a.t.Fatalf("%s %s: status %d, want %d: %s", method, path, code, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			a.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
}

// refused calls the API, expects 403 for missing authority and returns
// the explanation.
func (a *cmdAPI) refused(method, path string, body any) string {
	a.t.Helper()
	var eb struct {
		Error    string
		Rule     string
		Decision *command.Decision
	}
	a.do(method, path, body, http.StatusForbidden, &eb)
	if eb.Rule != command.RuleOrderAuthority || eb.Decision == nil || eb.Decision.Allowed {
		a.t.Fatalf("%s %s: refusal %+v", method, path, eb)
	}
	return eb.Decision.Reason
}

func (a *cmdAPI) waitState(id string, st command.State) {
	a.t.Helper()
	cmdPoll(a.t, fmt.Sprintf("order %s %s", id, st), 10*time.Second, func() bool {
		var o command.Order
		a.do("GET", "/api/v1/orders/"+id, nil, 200, &o)
		return o.State == st
	})
}

// waitObject waits until the node's picture has uid (a device's position
// report), so that directed delivery knows the device.
func (a *cmdAPI) waitObject(uid string) {
	a.t.Helper()
	cmdPoll(a.t, "object "+uid, 10*time.Second, func() bool {
		_, b := a.raw("GET", "/api/v1/objects", nil)
		return bytes.Contains(b, []byte(`"`+uid+`"`))
	})
}

// cmdStream reads /api/v1/orders/stream.
type cmdStream struct {
	ids  chan string
	stop func()
}

func (a *cmdAPI) stream() *cmdStream {
	a.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", a.base+"/api/v1/orders/stream", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		a.t.Fatalf("order stream: %d", resp.StatusCode)
	}
	s := &cmdStream{ids: make(chan string, 1000), stop: func() { cancel(); resp.Body.Close() }}
	live := make(chan struct{})
	go func() {
		defer close(s.ids)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<16), 1<<22)
		for sc.Scan() {
			line := sc.Text()
			if line == ": live" {
				close(live)
			}
			if data, ok := strings.CutPrefix(line, "data: "); ok {
				var o command.Order
				if json.Unmarshal([]byte(data), &o) == nil {
					s.ids <- o.ID
				}
			}
		}
	}()
	select {
	case <-live:
	case <-time.After(5 * time.Second):
		a.t.Fatal("order stream never went live")
	}
	a.t.Cleanup(s.stop)
	return s
}

// until returns every order id the stream carried up to and including id.
func (s *cmdStream) until(t *testing.T, id string) []string {
	t.Helper()
	var out []string
	timeout := time.After(10 * time.Second)
	for {
		select {
		case got, ok := <-s.ids:
			if !ok {
				t.Fatal("order stream ended")
			}
			out = append(out, got)
			if got == id {
				return out
			}
		case <-timeout:
			t.Fatalf("order stream never carried %s (saw %v)", id, out)
		}
	}
}

// cmdDevice is a TAK client speaking CoT XML over TCP, as ATAK does.
// cmdDevice is a unit's TAK device.
type cmdDevice struct{ *taktest.Client }

func cmdDial(t *testing.T, addr, uid, callsign string) *cmdDevice {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	d := &cmdDevice{taktest.Wrap(t, conn)}
	now := time.Now().UTC()
	d.send(fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?><event version="2.0" uid="%s" type="a-f-G-U-C" how="m-g" time="%s" start="%s" stale="%s"><point lat="26.3344" lon="127.8011" hae="12.0" ce="9.9" le="9999999.0"/><detail><contact endpoint="*:-1:stcp" callsign="%s"/><__group name="Cyan" role="Team Member"/><takv device="SM-G991U" platform="ATAK-CIV" os="33" version="5.2.0"/></detail></event>`,
		uid, cmdTime(now), cmdTime(now), cmdTime(now.Add(10*time.Minute)), callsign))
	return d
}

func cmdTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func (d *cmdDevice) send(doc string) { d.SendString(doc) }

func (d *cmdDevice) expect(what string, pred func(*cot.Event) bool) *cot.Event {
	return d.Expect(what, pred, 10*time.Second)
}

func (d *cmdDevice) collect(dur time.Duration) []*cot.Event { return d.Collect(dur) }

func (d *cmdDevice) drain() []*cot.Event {
	var out []*cot.Event
	for {
		select {
		case ev := <-d.Events():
			out = append(out, ev)
		default:
			return out
		}
	}
}

// cmdAttr returns the first value of attribute name in an XML fragment.
func cmdAttr(t *testing.T, b []byte, name string) string {
	t.Helper()
	_, rest, ok := strings.Cut(string(b), " "+name+`="`)
	if !ok {
		t.Fatalf("no %s in %s", name, b)
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

// cmdReceipt is an ATAK delivery (b-t-f-d) or read (b-t-f-r) receipt.
func cmdReceipt(typ, messageID, uid, callsign, toCallsign, toUID string) string {
	now := time.Now().UTC()
	return fmt.Sprintf(`<event version="2.0" uid="%s" type="%s" how="h-g-i-g-o" time="%s" start="%s" stale="%s"><point lat="26.3344" lon="127.8011" hae="9999999.0" ce="9999999.0" le="9999999.0"/><detail><__chatreceipt parent="RootContactGroup" groupOwner="false" messageId="%s" chatroom="%s" id="%s" senderCallsign="%s"><chatgrp uid0="%s" uid1="%s" id="%s"/></__chatreceipt><link uid="%s" type="a-f-G-U-C" relation="p-p"/><marti><dest callsign="%s"/></marti></detail></event>`,
		messageID, typ, cmdTime(now), cmdTime(now), cmdTime(now.Add(time.Hour)), messageID, toCallsign, toUID, callsign, uid, toUID, toUID, uid, toCallsign)
}

// cmdChat is an ATAK GeoChat direct message.
func cmdChat(uid, callsign, toUID, toCallsign, text string) string {
	now := time.Now().UTC()
	mid := fmt.Sprintf("%08x-0000-4000-8000-%012x", now.UnixNano()&0xffffffff, now.UnixNano()&0xffffffffffff)
	return fmt.Sprintf(`<event version="2.0" uid="GeoChat.%s.%s.%s" type="b-t-f" how="h-g-i-g-o" time="%s" start="%s" stale="%s"><point lat="26.3344" lon="127.8011" hae="9999999.0" ce="9999999.0" le="9999999.0"/><detail><__chat parent="RootContactGroup" groupOwner="false" messageId="%s" chatroom="%s" id="%s" senderCallsign="%s"><chatgrp uid0="%s" uid1="%s" id="%s"/></__chat><link uid="%s" type="a-f-G-U-C" relation="p-p"/><remarks source="BAO.F.ATAK.%s" to="%s" time="%s">%s</remarks><marti><dest callsign="%s"/></marti></detail></event>`,
		uid, toCallsign, mid, cmdTime(now), cmdTime(now), cmdTime(now.Add(24*time.Hour)), mid, toCallsign, toUID, callsign, uid, toUID, toUID, uid, uid, toUID, cmdTime(now), cot.Escape(text), toCallsign)
}

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

// TestCommandScenario runs the chain-of-command scenario end to end on the
// demo order of battle: a real node on loopback, TAK devices connected over
// plain TCP as ATAK would be, and every command act over the REST API of
// the nation's HTTP listener.
//
//  1. INDOPACOM holds COCOM of US forces; USFJ, the joint force
//     headquarters, holds OPCON of III MEF; MARFORPAC keeps ADCON.
//  2. INDOPACOM grants USFJ OPCON of Task Force 70 for a window; USFJ's
//     OPORD reaches the task force's device. A read receipt forged from
//     another device's connection is refused; the addressee's own
//     receipts move the order to DELIVERED and ACKNOWLEDGED.
//  3. After the window ends, the same order is refused, with the reason.
//  4. USFJ cannot place US forces under JJOC (the USA–JPN pair policy),
//     and JJOC cannot order US Marines.
//  5. USFJ asks for JSDF missile-defence support: the request goes through
//     the ACM/BOCC to JJOC, which approves it with its own order to Air
//     Defense Command; the US sees the outcome, not the Japanese order.
//  6. USFJ's OPORD to the 12th MLR (III MEF and 3rd Marine Division as info
//     addressees) is executing when a FRAGORD changes it.
//  7. The CFC, holding OPCON of ROK ground forces by national decision,
//     tasks them; JPN never sees that order, nor KOR the Japanese one.
func TestCommandScenario(t *testing.T) {
	t.Parallel()
	n := cmdStartNode(t)
	api := map[string]*cmdAPI{}
	for _, nat := range []string{"USA", "JPN", "KOR"} {
		api[nat] = &cmdAPI{t: t, base: "http://" + cmdAddr(t, n, node.KindHTTP, nat+":SECRET")}
	}
	us, jp, kr := api["USA"], api["JPN"], api["KOR"]

	ctf := cmdDial(t, cmdAddr(t, n, node.KindCoTTCP, "USA:SECRET"), "ANDROID-CTF70-1", "CTF70-1")
	mlr := cmdDial(t, cmdAddr(t, n, node.KindCoTTCP, "USA:SECRET"), "ANDROID-12MLR-1", "12MLR-1")
	adc := cmdDial(t, cmdAddr(t, n, node.KindCoTTCP, "JPN:SECRET"), "ANDROID-ADC-1", "ADC-1")
	for _, uid := range []string{"ANDROID-CTF70-1", "ANDROID-12MLR-1"} {
		us.waitObject(uid)
	}
	jp.waitObject("ANDROID-ADC-1")
	jpnStream := jp.stream()

	// 1.
	var ans command.AuthorityAnswer
	us.do("GET", "/api/v1/authority?unit=31meu", nil, 200, &ans)
	holds := map[string]command.Kind{}
	for _, h := range ans.Holders {
		holds[h.Holder] = h.Kind
	}
	if len(ans.Holders) == 0 || ans.Holders[0].Holder != "indopacom" || ans.Holders[0].Kind != command.COCOM ||
		holds["usfj"] != command.OPCON || holds["marforpac"] != command.ADCON || holds["iiimef"] != command.OPCON {
		t.Fatalf("step 1: holders of 31meu: %+v", ans.Holders)
	}

	// 2.
	var opcon command.Grant
	us.do("POST", "/api/v1/grants", command.GrantRequest{Kind: command.OPCON, Grantor: "indopacom", Grantee: "usfj", Unit: "ctf70",
		Duration: "6s", Reason: "USFJ takes Task Force 70 for the first window"}, 201, &opcon)
	task := command.IssueRequest{As: "usfj", Recipient: "ctf70", Type: "TASK", Family: "OPORD", Text: "Station the BMD destroyer in the Sea of Japan", DeadlineIn: "2h",
		Location: &command.Location{Name: "BMD station", Point: &command.LatLon{Lat: 38.0, Lon: 134.0}}}
	var o1 command.Order
	us.do("POST", "/api/v1/orders", task, 201, &o1)
	if o1.Authority.Holds != command.OPCON || len(o1.Deliveries) != 1 || o1.Family != command.OPORD || o1.Serial == "" || o1.DTG == "" {
		t.Fatalf("step 2: order %+v", o1)
	}
	chat := ctf.expect("the OPORD as GeoChat", func(e *cot.Event) bool {
		return e.Type == "b-t-f" && bytes.Contains(e.Detail, []byte(o1.ID))
	})
	if len(chat.Dests) != 1 || chat.Dests[0].Callsign != "CTF70-1" || chat.Access != "SECRET" || chat.ReleasableTo != "USA" {
		t.Fatalf("step 2: GeoChat %s", chat.XML())
	}
	msgID := cmdAttr(t, chat.Detail, "messageId")
	// Issue 11: a read receipt for CTF 70's message, with no sender uid,
	// from the 12th MLR's connection. The 12th MLR's next position report
	// (a new callsign in the picture) shows it has been taken in first.
	mlr.send(cmdReceipt("b-t-f-r", msgID, "", "CTF70-1", "USFJ", "KIZUNA.usfj"))
	now := time.Now().UTC()
	mlr.send(fmt.Sprintf(`<event version="2.0" uid="ANDROID-12MLR-1" type="a-f-G-U-C" how="m-g" time="%s" start="%s" stale="%s"><point lat="24.40" lon="124.20" hae="12.0" ce="9.9" le="9999999.0"/><detail><contact endpoint="*:-1:stcp" callsign="12MLR-1 ISHIGAKI"/></detail></event>`,
		cmdTime(now), cmdTime(now), cmdTime(now.Add(10*time.Minute))))
	us.waitObject("12MLR-1 ISHIGAKI")
	ctf.send(cmdReceipt("b-t-f-d", msgID, "ANDROID-CTF70-1", "CTF70-1", "USFJ", "KIZUNA.usfj"))
	us.waitState(o1.ID, command.Delivered)
	var got command.Order
	us.do("GET", "/api/v1/orders/"+o1.ID, nil, 200, &got)
	if !got.Deliveries[0].ReadAt.IsZero() {
		t.Fatalf("step 2: the forged read receipt was applied: %+v", got.Deliveries)
	}
	ctf.send(cmdReceipt("b-t-f-r", msgID, "ANDROID-CTF70-1", "CTF70-1", "USFJ", "KIZUNA.usfj"))
	us.waitState(o1.ID, command.Acknowledged)

	// 3.
	cmdPoll(t, "the OPCON window to end", 15*time.Second, func() bool {
		var a command.AuthorityAnswer
		us.do("GET", "/api/v1/authority?unit=ctf70", nil, 200, &a)
		for _, h := range a.Holders {
			if h.Holder == "usfj" && h.Kind == command.OPCON {
				return false
			}
		}
		return true
	})
	if r := us.refused("POST", "/api/v1/orders", task); !strings.Contains(r, opcon.ID) || !strings.Contains(r, "ended at") {
		t.Fatalf("step 3: refusal %q", r)
	}

	// 4.
	var eb struct{ Error, Rule string }
	us.do("POST", "/api/v1/grants", command.GrantRequest{Kind: command.OPCON, Grantor: "usfj", Grantee: "jjoc", Unit: "12mlr", Duration: "24h", Reason: "try",
		Decision: &command.NationalDecision{Authority: "Secretary of Defense", Reference: "none", Caveats: command.Caveats{Mission: "try"}}}, 422, &eb)
	if eb.Rule != command.RuleNationPair {
		t.Fatalf("step 4: US→JPN grant: %+v", eb)
	}
	if r := jp.refused("POST", "/api/v1/orders", command.IssueRequest{As: "jjoc", Recipient: "31meu", Type: "MOVEMENT", Text: "Move to Camp Hansen", DeadlineIn: "1h"}); !strings.Contains(r, "jjoc holds no COCOM, OPCON or TACON over 31meu") {
		t.Fatalf("step 4: JJOC to US Marines: %q", r)
	}

	// 5.
	var req command.Order
	us.do("POST", "/api/v1/orders", command.IssueRequest{As: "usfj", Recipient: "adc", Type: "SUPPORT_REQUEST", DeadlineIn: "2h",
		Text: "Request Patriot coverage of Kadena for the missile defence of Japan"}, 201, &req)
	if req.Recipient != "jjoc" || req.Via != "acm" || req.Wanted != "adc" {
		t.Fatalf("step 5: request %+v", req)
	}
	var dec struct{ Request, Order command.Order }
	jp.do("POST", "/api/v1/orders/"+req.ID+"/decide", command.DecideRequest{As: "jjoc", Outcome: command.Approved, Reason: "Kadena covered",
		Order: &command.IssueRequest{Recipient: "adc", Text: "Deploy PAC-3 fire units to cover Kadena", DeadlineIn: "2h"}}, 200, &dec)
	if dec.Request.Outcome != command.Approved || dec.Order.Request != req.ID || dec.Order.IssuerUnit != "jjoc" || strings.Join(dec.Order.Label.ReleasableTo, " ") != "JPN" {
		t.Fatalf("step 5: decision %+v", dec)
	}
	adc.expect("the Japanese order", func(e *cot.Event) bool {
		return e.Type == "b-t-f" && bytes.Contains(e.Detail, []byte(dec.Order.ID)) && e.ReleasableTo == "JPN"
	})
	us.do("GET", "/api/v1/orders/"+dec.Order.ID, nil, 404, nil)
	us.do("GET", "/api/v1/orders/"+req.ID, nil, 200, &got)
	if got.Outcome != command.Approved || got.State != command.Wilco {
		t.Fatalf("step 5: the requester sees %+v", got)
	}

	// 6.
	var opord command.Order
	us.do("POST", "/api/v1/orders", command.IssueRequest{As: "usfj", Recipient: "12mlr", Type: "TASK", DeadlineIn: "1h",
		Paragraphs: &command.Paragraphs{Mission: "Establish an anti-ship missile battery on Ishigaki",
			Execution: command.Execution{Intent: "Deny the Miyako Strait", Tasks: []string{"Occupy the southern site"}}}}, 201, &opord)
	if strings.Join(opord.Info, " ") != "3mardiv iiimef" {
		t.Fatalf("step 6: info addressees %v", opord.Info)
	}
	mlr.expect("the OPORD", func(e *cot.Event) bool { return e.Type == "b-t-f" && bytes.Contains(e.Detail, []byte(opord.ID)) })
	mlr.send(cmdChat("ANDROID-12MLR-1", "12MLR-1", "KIZUNA.usfj", "USFJ", "WILCO "+opord.ID))
	us.waitState(opord.ID, command.Wilco)
	mlr.send(cmdChat("ANDROID-12MLR-1", "12MLR-1", "KIZUNA.usfj", "USFJ", "EXECUTING "+opord.ID))
	us.waitState(opord.ID, command.Executing)
	var frag command.Order
	us.do("POST", "/api/v1/orders", command.IssueRequest{As: "usfj", Recipient: "12mlr", Type: "MOVEMENT", Family: "FRAGORD", Changes: opord.ID,
		Text: "Shift the battery to the northern site", DeadlineIn: "30m"}, 201, &frag)
	if frag.Family != command.FRAGORD || frag.Changes != opord.ID {
		t.Fatalf("step 6: FRAGORD %+v", frag)
	}
	mlr.expect("the FRAGORD naming the OPORD", func(e *cot.Event) bool {
		return e.Type == "b-t-f" && bytes.Contains(e.Detail, []byte(frag.ID)) && bytes.Contains(e.Detail, []byte("changes "+opord.ID))
	})

	// 7.
	var cfcTask command.Order
	kr.do("POST", "/api/v1/orders", command.IssueRequest{As: "cfc", Recipient: "rok-goc", Type: "TASK", Text: "Conduct the combined defensive exercise", DeadlineIn: "1h"}, 201, &cfcTask)
	if cfcTask.Authority.Holds != command.OPCON || strings.Join(cfcTask.Label.ReleasableTo, " ") != "KOR USA" {
		t.Fatalf("step 7: CFC order %+v", cfcTask)
	}
	kr.do("GET", "/api/v1/orders/"+dec.Order.ID, nil, 404, nil)
	kr.do("GET", "/api/v1/orders/"+req.ID, nil, 404, nil)
	jp.do("GET", "/api/v1/orders/"+cfcTask.ID, nil, 404, nil)
	// A JPN order last: once JPN's stream shows it, anything before it
	// would have shown too.
	var last command.Order
	jp.do("POST", "/api/v1/orders", command.IssueRequest{As: "jjoc", Recipient: "15bde", Type: "TASK", Family: "WARNORD", Text: "Prepare to deploy to Miyako-jima", DeadlineIn: "1h"}, 201, &last)
	if strings.Join(last.Info, " ") != "western-army" {
		t.Fatalf("step 7: JJOC WARNORD info %v", last.Info)
	}
	for _, id := range jpnStream.until(t, last.ID) {
		if id == cfcTask.ID || id == o1.ID || id == opord.ID {
			t.Fatalf("step 7: JPN stream carried order %s", id)
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

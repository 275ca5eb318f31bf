package node

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/label"
	"kizuna/internal/takproto"
	"kizuna/internal/taktest"
)

// atak5SA is a position report as ATAK 5 writes it: access="Undefined",
// single-quoted attributes, takv, __group, precisionlocation, status and
// track, behind an <auth> message and an XML declaration.
func atak5SA(uid, callsign, how string) string {
	now := time.Now().UTC()
	ts := now.Format("2006-01-02T15:04:05.000Z")
	howAttr := ""
	if how != "" {
		howAttr = " how='" + how + "'"
	}
	return fmt.Sprintf(`<?xml version='1.0' encoding='UTF-8' standalone='yes'?>
<event version='2.0' uid='%s' type='a-f-G-U-C' time='%s' start='%s' stale='%s'%s access='Undefined'><point lat='35.6812' lon='139.7671' hae='40.1' ce='9.9' le='9999999.0'/><detail><takv os='34' version='5.2.0.4 (b7c6a0d2)[playstore].1718898360-CIV' device='GOOGLE PIXEL 8' platform='ATAK-CIV'/><contact endpoint='*:-1:stcp' callsign='%s'/><uid Droid='%s'/><precisionlocation altsrc='GPS' geopointsrc='GPS'/><__group role='Team Member' name='Cyan'/><status battery='88'/><track course='91.5' speed='0.0'/></detail></event>`,
		uid, ts, ts, now.Add(6*time.Minute).Format("2006-01-02T15:04:05.000Z"), howAttr, callsign, callsign)
}

const atakAuth = `<auth><cot username='sakura' password='not-used' uid='ANDROID-auth'/></auth>`

// TestATAK5DefaultsReachTheirNation: an out-of-the-box ATAK 5 SA
// (access="Undefined") from a JPN client reaches another JPN client with
// the default label, XML and protobuf, over TCP and TLS, and is withheld
// from KOR. The <auth> first message is not malformed input; an event
// without how gets the documented default.
func TestATAK5DefaultsReachTheirNation(t *testing.T) {
	tp := newTestPKI(t, "USA", "JPN", "KOR")
	cfg := tp.cfg
	for _, p := range []string{"JPN:SECRET", "KOR:SECRET"} {
		cfg.Listeners = append(cfg.Listeners, ListenerConfig{Kind: KindCoTTCP, Addr: "127.0.0.1:0", Principal: p})
	}
	n := startNode(t, cfg)
	httpAddr := addrOf(t, n, KindHTTP, "USA:SECRET")
	tlsAddr := addrOf(t, n, KindCoTTLS, "")
	jpnCert, _ := tp.client(t, "JPN", "SAKURA-1", label.Secret)
	jpn2Cert, _ := tp.client(t, "JPN", "SAKURA-2", label.Secret)
	korCert, _ := tp.client(t, "KOR", "TIGER-1", label.Secret)

	for _, transport := range []string{"tcp", "tls"} {
		for _, format := range []string{"xml", "protobuf"} {
			t.Run(transport+"/"+format, func(t *testing.T) {
				var src, dst, kor *takClient
				if transport == "tcp" {
					src = dial(t, addrOf(t, n, KindCoTTCP, "JPN:SECRET"))
					dst = dial(t, addrOf(t, n, KindCoTTCP, "JPN:SECRET"))
					kor = dial(t, addrOf(t, n, KindCoTTCP, "KOR:SECRET"))
				} else {
					src = dialTLS(t, tlsAddr, tp.clientTLS(jpnCert))
					dst = dialTLS(t, tlsAddr, tp.clientTLS(jpn2Cert))
					kor = dialTLS(t, tlsAddr, tp.clientTLS(korCert))
				}
				for _, c := range []*takClient{dst, kor} {
					if format == "protobuf" {
						c.Negotiate()
					} else {
						c.Offered()
					}
				}
				src.Offered()
				src.SendString(atakAuth)
				// ATAK's ping carries access="Undefined" too; it is answered.
				ts := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
				src.SendString(`<event version='2.0' uid='` + transport + format + `-ping' type='t-x-c-t' how='h-g-i-g-o' time='` + ts + `' start='` + ts + `' stale='` + ts + `' access='Undefined'><point lat='0.0' lon='0.0' hae='0.0' ce='9999999.0' le='9999999.0'/><detail/></event>`)
				src.Expect("pong", func(e *cot.Event) bool { return e.Type == "t-x-c-t-r" }, 5*time.Second)
				uid := "ANDROID-" + transport + "-" + format
				noHow := uid + "-nohow"
				if format == "protobuf" {
					// The sender speaks protobuf too: access "Undefined"
					// arrives in CotEvent field 2.
					src.Send(takproto.Request(time.Now()))
					src.Expect("protocol response", func(e *cot.Event) bool { return e.Type == "t-x-takp-r" }, 5*time.Second)
					for _, d := range []string{atak5SA(uid, "SAKURA", "h-e"), atak5SA(noHow, "SAKURA-NOHOW", "")} {
						ev, err := cot.Decode([]byte(d[strings.Index(d, "<event"):]))
						if err != nil {
							t.Fatal(err)
						}
						if ev.Access != "Undefined" {
							t.Fatalf("decoded access %q", ev.Access)
						}
						src.SendEvent(ev)
					}
				} else {
					src.SendString(atak5SA(uid, "SAKURA", "h-e"))
					src.SendString(atak5SA(noHow, "SAKURA-NOHOW", ""))
				}
				// A sentinel that KOR may see, sent after both.
				sentinel := uid + "-sentinel"
				src.SendEvent(event(sentinel, "a-f-G-U-C", `access="U" releasableTo="KOR"`))

				got := dst.Expect(uid, isUID(uid), 5*time.Second)
				if got.How != "h-e" || got.Access != "SECRET" || got.ReleasableTo != "JPN" || got.Origin.Nation != "JPN" {
					t.Errorf("JPN receiver got how=%q access=%q releasableTo=%q origin=%+v", got.How, got.Access, got.ReleasableTo, got.Origin)
				}
				for _, el := range []string{"takv", "__group", "precisionlocation", "status", "track"} {
					if !containsElement(got.Detail, el) {
						t.Errorf("detail lost <%s>: %s", el, got.Detail)
					}
				}
				nh := dst.Expect(noHow, isUID(noHow), 5*time.Second)
				if nh.How != cot.DefaultHow {
					t.Errorf("event without how went out with how=%q, want %q", nh.How, cot.DefaultHow)
				}
				for _, e := range kor.CollectUntil(sentinel, 5*time.Second) {
					if e.UID == uid || e.UID == noHow {
						t.Errorf("KOR received JPN's unmarked SA %s", e.UID)
					}
				}
			})
		}
	}
	for _, reason := range []string{"malformed", "label"} {
		if v := taktest.Metric(t, httpAddr, `kizuna_events_rejected_total{reason="`+reason+`"}`); v != 0 {
			t.Errorf("rejected{%s} = %v after ATAK 5 traffic", reason, v)
		}
	}
}

// TestATAKNATOMarkingRefused: a NATO marking is refused with the label
// reason; the connection stays open.
func TestATAKNATOMarkingRefused(t *testing.T) {
	n := startNode(t, baseConfig([]string{"JPN:SECRET"}, []string{"USA:SECRET"}))
	addr := addrOf(t, n, KindCoTTCP, "JPN:SECRET")
	src, dst := dial(t, addr), dial(t, addr)
	src.Offered()
	dst.Offered()
	src.SendEvent(event("nato-1", "a-f-G-U-C", `access="NATO Secret"`))
	src.SendEvent(event("after-nato", "a-f-G-U-C", `access="Secret"`))
	for _, e := range dst.CollectUntil("after-nato", 5*time.Second) {
		if e.UID == "nato-1" {
			t.Error("NATO-marked event delivered")
		}
	}
	// Metrics are the node's own nation's (a partner's scrape is refused).
	if v := taktest.Metric(t, addrOf(t, n, KindHTTP, "USA:SECRET"), `kizuna_events_rejected_total{reason="label"}`); v != 1 {
		t.Errorf("rejected{label} = %v, want 1", v)
	}
}

func containsElement(detail []byte, name string) bool {
	for i := 0; i+len(name)+1 <= len(detail); i++ {
		if detail[i] == '<' && string(detail[i+1:i+1+len(name)]) == name {
			return true
		}
	}
	return false
}

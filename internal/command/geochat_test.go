package command

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"kizuna/internal/cot"
	"kizuna/internal/label"
)

// Real-looking inbound events, shaped like those ATAK and other TAK clients
// send (uids and callsigns are made up).
var (
	atakReceiptDelivered = `<?xml version='1.0' encoding='UTF-8' standalone='yes'?>
<event version='2.0' uid='0b6d3a1e-5f0c-4f7a-9d5e-1c2b3a4d5e6f' type='b-t-f-d' time='2026-11-27T09:00:01.120Z' start='2026-11-27T09:00:01.120Z' stale='2026-11-28T09:00:01.120Z' how='h-g-i-g-o'>
<point lat='26.3344' lon='127.8011' hae='9999999.0' ce='9999999.0' le='9999999.0' />
<detail><__chatreceipt parent='RootContactGroup' groupOwner='false' messageId='0b6d3a1e-5f0c-4f7a-9d5e-1c2b3a4d5e6f' chatroom='USFJ' id='KIZUNA.usfj' senderCallsign='31MEU-1'><chatgrp uid0='ANDROID-31MEU-1' uid1='KIZUNA.usfj' id='KIZUNA.usfj'/></__chatreceipt><link uid='ANDROID-31MEU-1' type='a-f-G-U-C' relation='p-p'/><marti><dest callsign='USFJ'/></marti></detail>
</event>`
	// An older shape: the receipt carries __chat rather than __chatreceipt.
	olderReceiptRead = `<event version="2.0" uid="7c1f9a2b-0d3e-4b5a-8c6d-9e0f1a2b3c4d" type="b-t-f-r" time="2026-11-27T09:00:05Z" start="2026-11-27T09:00:05Z" stale="2026-11-28T09:00:05Z" how="h-g-i-g-o">
<point lat="0" lon="0" hae="0" ce="9999999" le="9999999"/>
<detail><__chat parent="RootContactGroup" groupOwner="false" messageId="7c1f9a2b-0d3e-4b5a-8c6d-9e0f1a2b3c4d" chatroom="USFJ" id="KIZUNA.usfj" senderCallsign="31MEU-2"><chatgrp uid0="ANDROID-31MEU-2" uid1="KIZUNA.usfj" id="KIZUNA.usfj"/></__chat></detail>
</event>`
	// A bare receipt: only the uid (with a suffix) names the message.
	bareReceipt = `<event version="2.0" uid="7c1f9a2b-0d3e-4b5a-8c6d-9e0f1a2b3c4d.d" type="b-t-f-d" time="2026-11-27T09:00:05Z" start="2026-11-27T09:00:05Z" stale="2026-11-28T09:00:05Z" how="m-g">
<point lat="0" lon="0" hae="0" ce="9999999" le="9999999"/>
<detail><link uid="ANDROID-31MEU-2" type="a-f-G-U-C" relation="p-p"/></detail>
</event>`
	atakChatWilco = `<event version="2.0" uid="GeoChat.ANDROID-31MEU-1.USFJ.5a6b7c8d-1e2f-4a3b-9c4d-5e6f7a8b9c0d" type="b-t-f" time="2026-11-27T09:01:00.000Z" start="2026-11-27T09:01:00.000Z" stale="2026-11-28T09:01:00.000Z" how="h-g-i-g-o">
<point lat="26.3344" lon="127.8011" hae="9999999.0" ce="9999999.0" le="9999999.0"/>
<detail>
<__chat parent="RootContactGroup" groupOwner="false" messageId="5a6b7c8d-1e2f-4a3b-9c4d-5e6f7a8b9c0d" chatroom="USFJ" id="KIZUNA.usfj" senderCallsign="31MEU-1"><chatgrp uid0="ANDROID-31MEU-1" uid1="KIZUNA.usfj" id="KIZUNA.usfj"/></__chat>
<link uid="ANDROID-31MEU-1" type="a-f-G-U-C" relation="p-p"/>
<__serverdestination destinations="192.0.2.10:4242:tcp:ANDROID-31MEU-1"/>
<remarks source="BAO.F.ATAK.ANDROID-31MEU-1" to="KIZUNA.usfj" time="2026-11-27T09:01:00.000Z">CANTCO OAB12CD landing craft &amp; LCAC down for maintenance</remarks>
<marti><dest callsign="USFJ"/></marti>
</detail>
</event>`
)

func TestParseChat(t *testing.T) {
	tests := []struct {
		name string
		xml  string
		want chatIn
	}{
		{"ATAK delivery receipt", atakReceiptDelivered, chatIn{Type: "b-t-f-d", MessageID: "0b6d3a1e-5f0c-4f7a-9d5e-1c2b3a4d5e6f", SenderUID: "ANDROID-31MEU-1", SenderCallsign: "31MEU-1"}},
		{"older read receipt", olderReceiptRead, chatIn{Type: "b-t-f-r", MessageID: "7c1f9a2b-0d3e-4b5a-8c6d-9e0f1a2b3c4d", SenderUID: "ANDROID-31MEU-2", SenderCallsign: "31MEU-2"}},
		{"bare receipt", bareReceipt, chatIn{Type: "b-t-f-d", MessageID: "7c1f9a2b-0d3e-4b5a-8c6d-9e0f1a2b3c4d", SenderUID: "ANDROID-31MEU-2"}},
		{"ATAK chat", atakChatWilco, chatIn{Type: "b-t-f", MessageID: "5a6b7c8d-1e2f-4a3b-9c4d-5e6f7a8b9c0d", SenderUID: "ANDROID-31MEU-1", SenderCallsign: "31MEU-1",
			Text: "CANTCO OAB12CD landing craft & LCAC down for maintenance"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := cot.Decode([]byte(tc.xml))
			if err != nil {
				t.Fatal(err)
			}
			got, ok := parseChat(ev)
			if !ok {
				t.Fatal("not parsed")
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("(-want +got)\n%s", diff)
			}
		})
	}
	sa := &cot.Event{Type: "a-f-G-U-C", Detail: []byte(`<contact callsign="X"/>`)}
	if _, ok := parseChat(sa); ok {
		t.Error("SA parsed as chat")
	}
	noRemarks := &cot.Event{Type: "b-t-f", Detail: []byte(`<__chat messageId="x"/>`)}
	if _, ok := parseChat(noRemarks); ok {
		t.Error("chat without remarks parsed")
	}
}

func TestParseReply(t *testing.T) {
	tests := []struct {
		in   string
		want reply
		ok   bool
	}{
		{"WILCO OAB12CD", reply{To: Wilco, OrderID: "OAB12CD"}, true},
		{"wilco oab12cd", reply{To: Wilco, OrderID: "OAB12CD"}, true},
		{"  WILCO   #OAB12CD. ", reply{To: Wilco, OrderID: "OAB12CD"}, true},
		{"CANTCO OAB12CD no fuel", reply{To: Cantco, OrderID: "OAB12CD", Reason: "no fuel"}, true},
		{"CANTCO OAB12CD: weather below minimums", reply{To: Cantco, OrderID: "OAB12CD", Reason: "weather below minimums"}, true},
		{"Cantco\tOAB12CD\tno crew", reply{To: Cantco, OrderID: "OAB12CD", Reason: "no crew"}, true},
		{"ACK OAB12CD", reply{To: Acknowledged, OrderID: "OAB12CD"}, true},
		{"EXECUTING OAB12CD", reply{To: Executing, OrderID: "OAB12CD"}, true},
		{"COMPLETE OAB12CD", reply{To: Complete, OrderID: "OAB12CD"}, true},
		{"FAILED OAB12CD lost comms", reply{To: Failed, OrderID: "OAB12CD", Reason: "lost comms"}, true},
		{"WILCO", reply{}, false},
		{"WILCO <id>", reply{}, false},
		{"roger, moving out", reply{}, false},
		{"", reply{}, false},
		{"I will comply OAB12CD", reply{}, false},
	}
	for _, tc := range tests {
		got, ok := parseReply(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("parseReply(%q) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestBuildChatRoundTrip: what we send decodes as the GeoChat ATAK expects,
// and a receipt or reply built on it parses back.
func TestBuildChatRoundTrip(t *testing.T) {
	l := label.Label{Classification: label.Secret, ReleasableTo: []string{"JPN", "USA"}, Originator: "USA"}
	ev, err := buildChat(chatMsg{SenderUID: "KIZUNA.usfj", SenderCallsign: "USFJ", To: Device{UID: "ANDROID-31MEU-1", Callsign: "31MEU-1"},
		MessageID: "m-1", Text: `Move to "Kin Blue" & hold <now>`, At: t0, Stale: t0.Add(time.Hour), Point: &LatLon{Lat: 26.45, Lon: 127.92}}, l, "usa-hub")
	if err != nil {
		t.Fatal(err)
	}
	back, err := cot.Decode(ev.XML())
	if err != nil {
		t.Fatalf("%v\n%s", err, ev.XML())
	}
	if back.Type != "b-t-f" || back.Access != "SECRET" || back.ReleasableTo != "JPN USA" || back.Origin.Nation != "USA" || back.Origin.Node != "usa-hub" {
		t.Fatalf("event %+v", back)
	}
	if len(back.Dests) != 1 || back.Dests[0].Callsign != "31MEU-1" {
		t.Fatalf("dests %+v", back.Dests)
	}
	if back.UID != "GeoChat.KIZUNA.usfj.31MEU-1.m-1" {
		t.Fatalf("uid %s", back.UID)
	}
	in, ok := parseChat(back)
	if !ok || in.Text != `Move to "Kin Blue" & hold <now>` || in.SenderUID != "KIZUNA.usfj" || in.MessageID != "m-1" || in.SenderCallsign != "USFJ" {
		t.Fatalf("parsed %+v", in)
	}
	for _, want := range []string{`<__chat parent="RootContactGroup" groupOwner="false" messageId="m-1" chatroom="31MEU-1" id="ANDROID-31MEU-1" senderCallsign="USFJ">`,
		`<chatgrp uid0="KIZUNA.usfj" uid1="ANDROID-31MEU-1" id="ANDROID-31MEU-1"/>`, `<link uid="KIZUNA.usfj" type="a-f-G-U-C" relation="p-p"/>`,
		`<remarks source="BAO.F.ATAK.KIZUNA.usfj" to="ANDROID-31MEU-1" time="2026-11-27T09:00:00.000Z">`, `<marti><dest callsign="31MEU-1"/></marti>`} {
		if !strings.Contains(string(back.Detail), want) {
			t.Errorf("detail lacks %s:\n%s", want, back.Detail)
		}
	}
	// A device without a callsign is addressed by uid.
	ev, err = buildChat(chatMsg{SenderUID: "KIZUNA.usfj", SenderCallsign: "USFJ", To: Device{UID: "ANDROID-X"}, MessageID: "m-2", Text: "t", At: t0, Stale: t0.Add(time.Hour)}, l, "")
	if err != nil || len(ev.Dests) != 1 || ev.Dests[0].UID != "ANDROID-X" {
		t.Fatalf("%v %+v", err, ev)
	}
}

func TestBuildLocation(t *testing.T) {
	l := label.Label{Classification: label.Secret, ReleasableTo: []string{"JPN", "USA"}, Originator: "JPN"}
	base := Order{ID: "OAB12CD", Type: Movement, Recipient: "31meu", Text: "Move", Deadline: t0.Add(time.Hour), Label: l}
	tests := []struct {
		name, typ string
		loc       Location
		links     int
	}{
		{"marker", "b-m-p-s-p-i", Location{Point: &LatLon{Lat: 26.4, Lon: 127.9}}, 1},
		{"route", "b-m-r", Location{Route: []LatLon{{Lat: 26.4, Lon: 127.8}, {Lat: 26.5, Lon: 127.9}, {Lat: 26.6, Lon: 128}}}, 4},
		{"area", "u-d-f", Location{Area: []LatLon{{Lat: 26.4, Lon: 127.8}, {Lat: 26.5, Lon: 127.9}, {Lat: 26.4, Lon: 128}}}, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			o.Location = &tc.loc
			ev, err := buildLocation(&o, "jjoc", t0, "jpn-hub")
			if err != nil {
				t.Fatal(err)
			}
			back, err := cot.Decode(ev.XML())
			if err != nil {
				t.Fatalf("%v\n%s", err, ev.XML())
			}
			if back.Type != tc.typ || back.ReleasableTo != "JPN USA" || back.Access != "SECRET" || !back.Stale.Equal(t0.Add(time.Hour)) {
				t.Fatalf("event %+v", back)
			}
			if len(back.Links) != tc.links {
				t.Fatalf("%d links, want %d: %s", len(back.Links), tc.links, back.Detail)
			}
		})
	}
}

func FuzzParseReply(f *testing.F) {
	for _, s := range []string{"WILCO OAB12CD", "CANTCO OAB12CD no fuel", "cantco\tX\treason", "FAILED", "ACK ", "DONE #O1.", "WILCO \xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, ok := parseReply(s)
		if !ok {
			return
		}
		if !isOrderID(r.OrderID) {
			t.Fatalf("bad id %q from %q", r.OrderID, s)
		}
		if _, known := transitions[r.To]; !known {
			t.Fatalf("bad state %q", r.To)
		}
	})
}

func FuzzParseChat(f *testing.F) {
	for _, s := range []string{atakReceiptDelivered, olderReceiptRead, bareReceipt, atakChatWilco} {
		f.Add([]byte(s))
	}
	f.Add([]byte(`<event version="2.0" uid="x" type="b-t-f" time="2026-11-27T09:00:05Z" start="2026-11-27T09:00:05Z" stale="2026-11-28T09:00:05Z"><point lat="0" lon="0"/><detail><remarks>&#x41;</remarks><link/></detail></event>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := cot.Decode(b)
		if err != nil {
			return
		}
		in, ok := parseChat(ev)
		if ok && in.Type != ev.Type {
			t.Fatalf("type %q from %q", in.Type, ev.Type)
		}
		// Observe must never block or panic on anything the decoder accepts.
		if parseReplyOK := func() bool { _, ok := parseReply(in.Text); return ok }(); parseReplyOK && in.Type != "b-t-f" && in.Text != "" {
			t.Fatalf("receipt with text %q", in.Text)
		}
	})
}

func FuzzParseOrbat(f *testing.F) {
	f.Add(testOrbat(f))
	f.Add([]byte(`{"units":[{"id":"a","nation":"USA","name":"A","label":{"classification":"S","releasableTo":["JPN"]}}]}`))
	f.Add([]byte(`{"units":[{"id":"a","parent":"a","nation":"USA","name":"A"}]}`))
	f.Add([]byte("units:\n  - {id: a, nation: USA, name: A}\ngrants: []\n"))
	f.Add([]byte("a: &a [*a, *a]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := ParseOrbat(strings.NewReader(string(b)))
		if err != nil {
			return
		}
		units := map[string]*Unit{}
		for i := range o.Units {
			u := &o.Units[i]
			if !validID(u.ID) || !label.ValidNation(u.Nation) || u.Name == "" {
				t.Fatalf("accepted bad unit %+v", u)
			}
			units[u.ID] = u
		}
		if err := checkTree(units); err != nil {
			t.Fatalf("accepted bad tree: %v", err)
		}
	})
}

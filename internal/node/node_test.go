package node

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/taktest"
)

func TestStreaming(t *testing.T) {
	n := startNode(t, baseConfig(
		[]string{"USA:SECRET", "JPN:SECRET", "KOR:SECRET", "JPN:UNCLASSIFIED"},
		[]string{"JPN:SECRET", "KOR:SECRET", "USA:SECRET"}))
	usaAddr := addrOf(t, n, KindCoTTCP, "USA:SECRET")
	jpnAddr := addrOf(t, n, KindCoTTCP, "JPN:SECRET")
	korAddr := addrOf(t, n, KindCoTTCP, "KOR:SECRET")
	jpnUAddr := addrOf(t, n, KindCoTTCP, "JPN:UNCLASSIFIED")
	jpnHTTP := addrOf(t, n, KindHTTP, "JPN:SECRET")
	korHTTP := addrOf(t, n, KindHTTP, "KOR:SECRET")
	usaHTTP := addrOf(t, n, KindHTTP, "USA:SECRET") // /metrics is the node's own nation's

	t.Run("offer on connect", func(t *testing.T) {
		c := dial(t, usaAddr)
		ev := c.Expect("offer", func(e *cot.Event) bool { return e.Type == "t-x-takp-v" }, 5*time.Second)
		if !bytes.Contains(ev.Detail, []byte(`TakProtocolSupport version="1"`)) {
			t.Errorf("offer detail %s", ev.Detail)
		}
	})

	t.Run("label rules on delivery", func(t *testing.T) {
		usa, jpn, kor, jpnU := dial(t, usaAddr), dial(t, jpnAddr), dial(t, korAddr), dial(t, jpnUAddr)
		for _, c := range []*takClient{usa, jpn, kor, jpnU} {
			c.Expect("offer", func(e *cot.Event) bool { return e.Type == "t-x-takp-v" }, 5*time.Second)
		}
		cases := []struct {
			uid, attrs        string
			jpn, kor, jpnUncl bool
		}{
			{"rel-jpn", `access="SECRET" releasableTo="JPN"`, true, false, false},
			{"rel-all-u", `access="U" releasableTo="JPN,KOR"`, true, true, true},
			{"rel-kor-c", `access="CONFIDENTIAL" releasableTo="KOR"`, false, true, false},
			{"unlabelled", ``, false, false, false},
			{"rel-both-s", `access="S" releasableTo="JPN KOR"`, true, true, false},
		}
		for _, tc := range cases {
			usa.SendEvent(event(tc.uid, "a-f-G-U-C", tc.attrs))
		}
		// A final marker that everyone may see bounds the wait.
		usa.SendEvent(event("marker-all", "a-f-G-U-C", `access="U" releasableTo="JPN KOR"`))
		got := map[string]map[string]bool{}
		for name, c := range map[string]*takClient{"jpn": jpn, "kor": kor, "jpnU": jpnU} {
			got[name] = map[string]bool{}
			for {
				ev := c.Expect("events", func(*cot.Event) bool { return true }, 5*time.Second)
				if ev.UID == "marker-all" {
					break
				}
				got[name][ev.UID] = true
			}
		}
		for _, tc := range cases {
			if got["jpn"][tc.uid] != tc.jpn || got["kor"][tc.uid] != tc.kor || got["jpnU"][tc.uid] != tc.jpnUncl {
				t.Errorf("%s: jpn=%v kor=%v jpnU=%v, want %v %v %v", tc.uid,
					got["jpn"][tc.uid], got["kor"][tc.uid], got["jpnU"][tc.uid], tc.jpn, tc.kor, tc.jpnUncl)
			}
		}
		// The sender never gets its own event back.
		for _, ev := range usa.Collect(200 * time.Millisecond) {
			if strings.HasPrefix(ev.UID, "rel-") || ev.UID == "marker-all" {
				t.Errorf("sender got its own event %s back", ev.UID)
			}
		}
		// REST follows the same rule.
		var jo, ko objectsResp
		getJSON(t, "http://"+jpnHTTP+"/api/v1/objects", &jo)
		getJSON(t, "http://"+korHTTP+"/api/v1/objects", &ko)
		for _, tc := range cases {
			if jo.has(tc.uid) != tc.jpn || ko.has(tc.uid) != tc.kor {
				t.Errorf("REST %s: jpn=%v kor=%v, want %v %v", tc.uid, jo.has(tc.uid), ko.has(tc.uid), tc.jpn, tc.kor)
			}
		}
	})

	t.Run("server stamps origin and replaces a forged one", func(t *testing.T) {
		jpn, kor := dial(t, jpnAddr), dial(t, korAddr)
		jpn.Expect("offer", func(e *cot.Event) bool { return e.Type == "t-x-takp-v" }, 5*time.Second)
		ev := event("forged-origin", "a-f-G-U-C", `access="U" releasableTo="KOR"`)
		ev.Detail = append(ev.Detail, `<__origin nation="KOR" node="evil"/>`...)
		kor.Send([]byte(strings.Replace(string(ev.XML()), "", "", 1)))
		// Sent by KOR with a KOR origin: fine. Now JPN forges USA.
		ev2 := event("forged-origin-2", "a-f-G-U-C", `access="U" releasableTo="KOR"`)
		ev2.Origin = cot.Origin{Nation: "USA", Node: "elsewhere"}
		jpn.Send(ev2.XML())
		got := kor.Expect("forged-origin-2", isUID("forged-origin-2"), 5*time.Second)
		if got.Origin.Nation != "JPN" || got.Origin.Node != "test-node" {
			t.Errorf("origin = %+v, want JPN/test-node", got.Origin)
		}
	})

	t.Run("above clearance rejected and connection stays open", func(t *testing.T) {
		jpnU, jpn := dial(t, jpnUAddr), dial(t, jpnAddr)
		jpn.Expect("offer", func(e *cot.Event) bool { return e.Type == "t-x-takp-v" }, 5*time.Second)
		before := taktest.Metric(t, usaHTTP, `kizuna_events_rejected_total{reason="above_clearance"}`)
		jpnU.SendEvent(event("too-high", "a-f-G-U-C", `access="SECRET"`))
		jpnU.SendEvent(event("fine-after", "a-f-G-U-C", `access="U"`))
		jpn.Expect("fine-after", isUID("fine-after"), 5*time.Second)
		if after := taktest.Metric(t, usaHTTP, `kizuna_events_rejected_total{reason="above_clearance"}`); after != before+1 {
			t.Errorf("above_clearance rejections %v → %v", before, after)
		}
		var jo objectsResp
		getJSON(t, "http://"+jpnHTTP+"/api/v1/objects", &jo)
		if jo.has("too-high") {
			t.Error("rejected event entered the picture")
		}
	})

	t.Run("ownership", func(t *testing.T) {
		usa, jpn, kor := dial(t, usaAddr), dial(t, jpnAddr), dial(t, korAddr)
		kor.Expect("offer", func(e *cot.Event) bool { return e.Type == "t-x-takp-v" }, 5*time.Second)
		usa.SendEvent(event("owned-by-usa", "a-f-G-U-C", `access="U" releasableTo="JPN KOR"`))
		kor.Expect("owned", isUID("owned-by-usa"), 5*time.Second)
		hijack := event("owned-by-usa", "a-h-G", `access="U" releasableTo="JPN KOR"`)
		jpn.SendEvent(hijack)
		del := event("del-1", "t-x-d-d", `access="U" releasableTo="JPN KOR"`)
		del.Detail = []byte(`<link uid="owned-by-usa" relation="none" type="none"/>`)
		jpn.SendEvent(del)
		jpn.SendEvent(event("jpn-after-hijack", "a-f-G-U-C", `access="U" releasableTo="KOR"`))
		for _, ev := range kor.Collect(300 * time.Millisecond) {
			if ev.UID == "owned-by-usa" || ev.UID == "del-1" {
				t.Errorf("KOR received %s %s from a non-owner", ev.UID, ev.Type)
			}
		}
		var ko objectsResp
		getJSON(t, "http://"+korHTTP+"/api/v1/objects", &ko)
		if !ko.has("owned-by-usa") || !ko.has("jpn-after-hijack") {
			t.Errorf("objects after hijack attempt: %+v", ko)
		}
		// The owner may delete.
		del2 := event("del-2", "t-x-d-d", `access="U" releasableTo="JPN KOR"`)
		del2.Detail = []byte(`<link uid="owned-by-usa" relation="none" type="none"/>`)
		usa.SendEvent(del2)
		kor.Expect("delete", isUID("del-2"), 5*time.Second)
		taktest.WaitUntil(t, "object deleted", 2*time.Second, func() bool {
			var o objectsResp
			getJSON(t, "http://"+korHTTP+"/api/v1/objects", &o)
			return !o.has("owned-by-usa")
		})
	})

	t.Run("ping", func(t *testing.T) {
		c := dial(t, jpnAddr)
		c.SendEvent(event("ANDROID-x-ping", "t-x-c-t", ""))
		c.Expect("pong", func(e *cot.Event) bool { return e.Type == "t-x-c-t-r" }, 5*time.Second)
	})

	t.Run("replay on connect", func(t *testing.T) {
		usa := dial(t, usaAddr)
		usa.SendEvent(event("replay-me", "a-f-G-U-C", `access="U" releasableTo="KOR"`))
		usa.SendEvent(event("replay-not-jpn", "a-f-G-U-C", `access="U" releasableTo="KOR"`))
		usa.SendEvent(event("replay-jpn", "a-f-G-U-C", `access="U" releasableTo="JPN"`))
		taktest.WaitUntil(t, "objects", 2*time.Second, func() bool { _, ok := n.Picture().Get("replay-jpn"); return ok })
		late := dial(t, korAddr)
		got := map[string]bool{}
		for _, ev := range late.Collect(500 * time.Millisecond) {
			got[ev.UID] = true
		}
		if !got["replay-me"] || got["replay-jpn"] {
			t.Errorf("replay to KOR: %v", got)
		}
	})

	t.Run("directed delivery", func(t *testing.T) {
		usa, jpnA, jpnB, kor := dial(t, usaAddr), dial(t, jpnAddr), dial(t, jpnAddr), dial(t, korAddr)
		jpnA.SendEvent(event("JPN-A", "a-f-G-U-C", ``))
		jpnB.SendEvent(event("JPN-B", "a-f-G-U-C", ``))
		kor.SendEvent(event("KOR-A", "a-f-G-U-C", ``))
		taktest.WaitUntil(t, "identities", 2*time.Second, func() bool {
			_, a := n.Picture().Get("JPN-A")
			_, b := n.Picture().Get("JPN-B")
			_, k := n.Picture().Get("KOR-A")
			return a && b && k
		})
		chat := event("GeoChat.x", "b-t-f", `access="U" releasableTo="JPN KOR"`)
		chat.Detail = []byte(`<__chat chatroom="JPN-A" senderCallsign="EAGLE"/><remarks>hello</remarks><marti><dest callsign="JPN-A"/><dest callsign="KOR-A"/></marti>`)
		usa.SendEvent(chat)
		jpnA.Expect("chat", isUID("GeoChat.x"), 5*time.Second)
		kor.Expect("chat", isUID("GeoChat.x"), 5*time.Second)
		for _, ev := range jpnB.Collect(300 * time.Millisecond) {
			if ev.UID == "GeoChat.x" {
				t.Error("undirected recipient got a directed message")
			}
		}
		// A named recipient still needs the label to release it.
		chat2 := event("GeoChat.y", "b-t-f", `access="U" releasableTo="JPN"`)
		chat2.Detail = []byte(`<marti><dest uid="KOR-A"/><dest uid="JPN-B"/></marti>`)
		usa.SendEvent(chat2)
		jpnB.Expect("chat by uid", isUID("GeoChat.y"), 5*time.Second)
		for _, ev := range kor.Collect(300 * time.Millisecond) {
			if ev.UID == "GeoChat.y" {
				t.Error("named recipient of another nation got an unreleasable message")
			}
		}
	})

	t.Run("xml and protobuf clients see each other", func(t *testing.T) {
		px := dial(t, jpnAddr)
		px.Negotiate()
		xc := dial(t, korAddr)
		xc.Expect("offer", func(e *cot.Event) bool { return e.Type == "t-x-takp-v" }, 5*time.Second)
		fromXML := event("xml-sender", "a-f-G-U-C", `access="U" releasableTo="JPN"`)
		fromXML.Detail = append(fromXML.Detail, `<track course="45" speed="3"/><unknown a="b"><child/></unknown>`...)
		xc.SendEvent(fromXML)
		got := px.Expect("xml event over protobuf", isUID("xml-sender"), 5*time.Second)
		if got.Access != "SECRET" && got.Access != "UNCLASSIFIED" || got.ReleasableTo != "JPN" || got.Origin.Nation != "KOR" {
			t.Errorf("label over protobuf: access=%q rel=%q origin=%+v", got.Access, got.ReleasableTo, got.Origin)
		}
		if !bytes.Contains(got.Detail, []byte(`<unknown a="b"><child/></unknown>`)) || got.Course != 45 {
			t.Errorf("detail over protobuf lost data: %s", got.Detail)
		}
		px.SendEvent(event("proto-sender", "a-f-G-U-C", `access="U" releasableTo="KOR"`))
		got = xc.Expect("protobuf event over xml", isUID("proto-sender"), 5*time.Second)
		if got.Callsign != "proto-sender" || got.Origin.Nation != "JPN" {
			t.Errorf("protobuf→xml: %+v", got)
		}
		// Ping over protobuf.
		px.SendEvent(event("px-ping", "t-x-c-t", ""))
		px.Expect("pong over protobuf", func(e *cot.Event) bool { return e.Type == "t-x-c-t-r" }, 5*time.Second)
	})

	t.Run("stale objects leave the picture", func(t *testing.T) {
		usa := dial(t, usaAddr)
		ev := event("short-lived", "a-f-G-U-C", `access="U" releasableTo="JPN"`)
		ev.Stale = time.Now().Add(1200 * time.Millisecond)
		usa.SendEvent(ev)
		taktest.WaitUntil(t, "object visible", 2*time.Second, func() bool {
			var o objectsResp
			getJSON(t, "http://"+jpnHTTP+"/api/v1/objects", &o)
			return o.has("short-lived")
		})
		taktest.WaitUntil(t, "object expired", 4*time.Second, func() bool { _, ok := n.Picture().Get("short-lived"); return !ok })
		late := dial(t, jpnAddr)
		for _, e := range late.Collect(300 * time.Millisecond) {
			if e.UID == "short-lived" {
				t.Error("stale object replayed")
			}
		}
	})
}

func TestGeoJSON(t *testing.T) {
	n := startNode(t, baseConfig([]string{"USA:SECRET"}, []string{"JPN:SECRET"}))
	usa := dial(t, addrOf(t, n, KindCoTTCP, ""))
	usa.SendEvent(event("geo-1", "a-f-G-U-C", `access="S" releasableTo="JPN"`))
	usa.SendEvent(event("geo-usa", "a-f-G-U-C", `access="S"`))
	h := addrOf(t, n, KindHTTP, "")
	var fc struct {
		Type     string `json:"type"`
		Features []struct {
			Geometry struct {
				Coordinates []float64 `json:"coordinates"`
			} `json:"geometry"`
			Properties struct {
				UID   string `json:"uid"`
				Label struct {
					Classification string `json:"classification"`
				} `json:"label"`
			} `json:"properties"`
		} `json:"features"`
	}
	taktest.WaitUntil(t, "geojson feature", 3*time.Second, func() bool {
		getJSON(t, "http://"+h+"/api/v1/objects?format=geojson", &fc)
		return len(fc.Features) > 0
	})
	if fc.Type != "FeatureCollection" || len(fc.Features) != 1 || fc.Features[0].Properties.UID != "geo-1" ||
		fc.Features[0].Geometry.Coordinates[0] != 139.7 || fc.Features[0].Properties.Label.Classification != "SECRET" {
		t.Errorf("geojson = %+v", fc)
	}
}

func TestBadInput(t *testing.T) {
	n := startNode(t, baseConfig([]string{"USA:SECRET", "JPN:SECRET"}, []string{"USA:SECRET"}))
	usaAddr, jpnAddr := addrOf(t, n, KindCoTTCP, "USA:SECRET"), addrOf(t, n, KindCoTTCP, "JPN:SECRET")
	h := addrOf(t, n, KindHTTP, "")
	now := time.Now().UTC()
	ts := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	good := func(uid string) string {
		return fmt.Sprintf(`<event version="2.0" uid="%s" type="a-f-G" how="m-g" time="%s" start="%s" stale="%s" access="U" releasableTo="JPN"><point lat="1" lon="2" hae="0" ce="1" le="1"/></event>`, uid, ts(0), ts(0), ts(time.Minute))
	}
	cases := []struct {
		name, input, reason string
	}{
		{"malformed xml", `<event uid="x" type="a-f-G"><point lat="1" lon="2"/><detail><a></b></detail></event>`, "malformed"},
		{"dtd", fmt.Sprintf(`<?xml version="1.0"?><!DOCTYPE event [<!ENTITY x "boom">]><event version="2.0" uid="dtd" type="a-f-G" time="%s" start="%s" stale="%s"><point lat="1" lon="2"/><detail><remarks>&x;</remarks></detail></event>`, ts(0), ts(0), ts(time.Minute)), "dtd"},
		{"entity reference", fmt.Sprintf(`<event version="2.0" uid="e" type="a-f-G" time="%s" start="%s" stale="%s"><point lat="1" lon="2"/><detail><remarks>&xxe;</remarks></detail></event>`, ts(0), ts(0), ts(time.Minute)), "malformed"},
		{"missing uid", fmt.Sprintf(`<event version="2.0" type="a-f-G" time="%s" start="%s" stale="%s"><point lat="1" lon="2"/></event>`, ts(0), ts(0), ts(time.Minute)), "missing_uid"},
		{"missing type", fmt.Sprintf(`<event version="2.0" uid="t" time="%s" start="%s" stale="%s"><point lat="1" lon="2"/></event>`, ts(0), ts(0), ts(time.Minute)), "missing_type"},
		{"missing point", fmt.Sprintf(`<event version="2.0" uid="p" type="a-f-G" time="%s" start="%s" stale="%s"></event>`, ts(0), ts(0), ts(time.Minute)), "missing_point"},
		{"latitude out of range", fmt.Sprintf(`<event version="2.0" uid="l" type="a-f-G" time="%s" start="%s" stale="%s"><point lat="91" lon="2"/></event>`, ts(0), ts(0), ts(time.Minute)), "coordinates"},
		{"longitude out of range", fmt.Sprintf(`<event version="2.0" uid="l2" type="a-f-G" time="%s" start="%s" stale="%s"><point lat="1" lon="-181"/></event>`, ts(0), ts(0), ts(time.Minute)), "coordinates"},
		{"bad time", `<event version="2.0" uid="bt" type="a-f-G" time="yesterday" start="x" stale="y"><point lat="1" lon="2"/></event>`, "time"},
		{"bad label", fmt.Sprintf(`<event version="2.0" uid="bl" type="a-f-G" time="%s" start="%s" stale="%s" access="ULTRA"><point lat="1" lon="2"/></event>`, ts(0), ts(0), ts(time.Minute)), "label"},
	}
	usa := dial(t, usaAddr)
	jpn := dial(t, jpnAddr)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			metric := fmt.Sprintf(`kizuna_events_rejected_total{reason="%s"}`, tc.reason)
			before := taktest.Metric(t, h, metric)
			usa.Send([]byte(tc.input))
			uid := fmt.Sprintf("after-%d", i)
			usa.Send([]byte(good(uid)))
			jpn.Expect(uid, isUID(uid), 5*time.Second)
			if after := taktest.Metric(t, h, metric); after <= before {
				t.Errorf("%s not counted: %v → %v", metric, before, after)
			}
		})
	}

	t.Run("protobuf garbage", func(t *testing.T) {
		p := dial(t, usaAddr)
		p.Negotiate()
		// A frame whose payload is not a TakMessage, then a valid one.
		p.Send([]byte{0xbf, 0x04, 0xff, 0xff, 0xff, 0xff})
		p.SendEvent(event("after-garbage", "a-f-G", `access="U" releasableTo="JPN"`))
		jpn.Expect("after-garbage", isUID("after-garbage"), 5*time.Second)
	})

	t.Run("oversize event closes only that connection", func(t *testing.T) {
		big := dial(t, usaAddr)
		big.Send([]byte(`<event uid="big" type="a-f-G"><detail><remarks>`))
		chunk := bytes.Repeat([]byte("A"), 64<<10)
		for i := 0; i < 20 && !big.Closed(0); i++ {
			big.Conn.Write(chunk)
		}
		if !big.Closed(5 * time.Second) {
			t.Fatal("oversize connection left open")
		}
		usa.Send([]byte(good("after-oversize")))
		jpn.Expect("after-oversize", isUID("after-oversize"), 5*time.Second)
	})

	t.Run("varint length over the limit closes the connection", func(t *testing.T) {
		p := dial(t, usaAddr)
		p.Negotiate()
		p.Send([]byte{0xbf, 0xff, 0xff, 0xff, 0xff, 0x0f})
		if !p.Closed(5 * time.Second) {
			t.Fatal("connection with oversize frame left open")
		}
		usa.Send([]byte(good("after-varint")))
		jpn.Expect("after-varint", isUID("after-varint"), 5*time.Second)
	})
}

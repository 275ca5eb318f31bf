package takproto

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"kizuna/internal/cot"
	"kizuna/internal/takproto/pb"
	"kizuna/internal/taktest/testfiles"
)

// viaProto sends e through the protobuf wire format: one streaming frame,
// split and decoded as a receiving connection would.
func viaProto(t *testing.T, e *cot.Event) *cot.Event {
	t.Helper()
	frame, err := MarshalEvent(nil, e)
	if err != nil {
		t.Fatalf("MarshalEvent: %v", err)
	}
	sp := NewSplitter(0)
	sp.Feed(frame)
	payload, err := sp.Next()
	if err != nil || payload == nil {
		t.Fatalf("Next = %v, %v", payload, err)
	}
	if sp.Buffered() != 0 {
		t.Fatalf("%d bytes left after one frame", sp.Buffered())
	}
	got, err := ToEvent(payload)
	if err != nil {
		t.Fatalf("ToEvent: %v", err)
	}
	return got
}

func TestRoundTripRealEvents(t *testing.T) {
	for name, doc := range testfiles.ByName(t, "../cot/testdata/events/*.xml") {
		t.Run(name, func(t *testing.T) {
			orig := mustDecode(t, doc)
			// XML -> event -> protobuf -> event.
			back := viaProto(t, orig)
			if d := equivalent(t, orig, back); d != "" {
				t.Errorf("event after protobuf differs (-xml +proto):\n%s", d)
			}
			// ... -> XML -> event again.
			again := mustDecode(t, back.XML())
			if d := equivalent(t, orig, again); d != "" {
				t.Errorf("event after protobuf and XML differs (-xml +again):\n%s", d)
			}
			// The protobuf form is stable: converting the round-tripped event
			// gives the same message.
			if d := cmp.Diff(FromEvent(orig), FromEvent(back), protocmp.Transform()); d != "" {
				t.Errorf("second conversion differs:\n%s", d)
			}
		})
	}
}

// TestRealEventFacts pins what a protobuf receiver sees of each event.
func TestRealEventFacts(t *testing.T) {
	ev := testfiles.ByName(t, "../cot/testdata/events/*.xml")
	t.Run("sa", func(t *testing.T) {
		m := FromEvent(mustDecode(t, ev["sa"]))
		want := &pb.Detail{
			XmlDetail:         `<uid Droid="VIPER 1"/>`,
			Contact:           &pb.Contact{Endpoint: "*:-1:stcp", Callsign: "VIPER 1"},
			Group:             &pb.Group{Name: "Cyan", Role: "Team Lead"},
			PrecisionLocation: &pb.PrecisionLocation{Geopointsrc: "GPS", Altsrc: "GPS"},
			Status:            &pb.Status{Battery: 87},
			Takv:              &pb.Takv{Device: "SAMSUNG SM-G998U", Platform: "ATAK-CIV", Os: "34", Version: "4.10.0.5 (d2a8f3c1).1700000000-CIV"},
			Track:             &pb.Track{Speed: 1.3, Course: 142.7},
		}
		if d := cmp.Diff(want, m.CotEvent.Detail, protocmp.Transform()); d != "" {
			t.Errorf("detail (-want +got):\n%s", d)
		}
		ce := m.CotEvent
		if ce.Access != "SECRET" || ce.ReleaseableTo != "JPN KOR USA" || ce.SendTime != 1795766400123 || ce.StaleTime != 1795766760123 || ce.Lat != 35.681236 || ce.Le != cot.Unknown {
			t.Errorf("event fields: %v", ce)
		}
		back := viaProto(t, mustDecode(t, ev["sa"]))
		if back.Callsign != "VIPER 1" || back.Course != 142.7 || back.Speed != 1.3 {
			t.Errorf("facts after protobuf: callsign %q course %v speed %v", back.Callsign, back.Course, back.Speed)
		}
	})
	t.Run("chat", func(t *testing.T) {
		back := viaProto(t, mustDecode(t, ev["chat"]))
		if len(back.Dests) != 1 || back.Dests[0].Callsign != "EAGLE" {
			t.Errorf("dests after protobuf: %+v", back.Dests)
		}
		if len(back.Links) != 1 || back.Links[0].Relation != "p-p" {
			t.Errorf("links after protobuf: %+v", back.Links)
		}
		if !bytes.Contains(back.Detail, []byte("BRAVO &amp; hold &lt;until 0900&gt;")) {
			t.Errorf("remarks text changed: %s", back.Detail)
		}
	})
	t.Run("marker origin travels in xmlDetail", func(t *testing.T) {
		e := mustDecode(t, ev["marker"])
		e.Origin = cot.Origin{Nation: "JPN", Node: "jjoc-1"}
		m := FromEvent(e)
		if !strings.HasSuffix(m.CotEvent.Detail.XmlDetail, `<__origin nation="JPN" node="jjoc-1"/>`) {
			t.Errorf("xmlDetail %q lacks the origin", m.CotEvent.Detail.XmlDetail)
		}
		if m.CotEvent.Caveat != "FOUO" || m.CotEvent.ReleaseableTo != "USA,JPN" || m.CotEvent.Access != "CONFIDENTIAL" {
			t.Errorf("label fields: %v", m.CotEvent)
		}
		back := viaProto(t, e)
		if back.Origin != e.Origin {
			t.Errorf("origin after protobuf = %+v", back.Origin)
		}
		if bytes.Contains(back.Detail, []byte("__origin")) {
			t.Errorf("origin left in detail: %s", back.Detail)
		}
	})
	t.Run("route keeps link order", func(t *testing.T) {
		back := viaProto(t, mustDecode(t, ev["route"]))
		var uids []string
		for _, l := range back.Links {
			uids = append(uids, l.UID)
		}
		if d := cmp.Diff([]string{"wp-1", "wp-2", "wp-3", "wp-4"}, uids); d != "" {
			t.Errorf("links: %s", d)
		}
	})
	t.Run("unknown children stay intact", func(t *testing.T) {
		e := mustDecode(t, ev["unknown"])
		m := FromEvent(e)
		d := m.CotEvent.Detail
		if d.Contact != nil || d.Status != nil || d.Takv != nil || d.Track != nil {
			t.Errorf("partial elements converted: %v", d)
		}
		if d.XmlDetail != string(e.Detail) {
			t.Errorf("xmlDetail\n%s\nwant the detail verbatim\n%s", d.XmlDetail, e.Detail)
		}
		back := viaProto(t, e)
		if !bytes.Equal(back.Detail, e.Detail) {
			t.Errorf("detail after protobuf\n%s\nwant\n%s", back.Detail, e.Detail)
		}
	})
}

func TestTypedConversionRule(t *testing.T) {
	tests := []struct {
		name   string
		detail string
		want   *pb.Detail
	}{
		{"contact without endpoint", `<contact callsign="A"/>`, &pb.Detail{Contact: &pb.Contact{Callsign: "A"}}},
		{"contact with empty endpoint stays", `<contact callsign="A" endpoint=""/>`, &pb.Detail{XmlDetail: `<contact callsign="A" endpoint=""/>`}},
		{"contact with phone stays", `<contact callsign="A" phone="1"/>`, &pb.Detail{XmlDetail: `<contact callsign="A" phone="1"/>`}},
		{"contact without callsign stays", `<contact endpoint="x"/>`, &pb.Detail{XmlDetail: `<contact endpoint="x"/>`}},
		{"empty element with end tag", `<contact callsign="A"></contact>`, &pb.Detail{Contact: &pb.Contact{Callsign: "A"}}},
		{"element with content stays", `<contact callsign="A"> </contact>`, &pb.Detail{XmlDetail: `<contact callsign="A"> </contact>`}},
		{"duplicates stay", `<status battery="1"/><status battery="2"/>`, &pb.Detail{XmlDetail: `<status battery="1"/><status battery="2"/>`}},
		{"nested element stays", `<x><contact callsign="A"/></x>`, &pb.Detail{XmlDetail: `<x><contact callsign="A"/></x>`}},
		{"group needs both", `<__group name="Cyan"/>`, &pb.Detail{XmlDetail: `<__group name="Cyan"/>`}},
		{"precisionlocation needs both", `<precisionlocation altsrc="DTED0"/>`, &pb.Detail{XmlDetail: `<precisionlocation altsrc="DTED0"/>`}},
		{"takv needs all four", `<takv device="d" platform="p" os="o"/>`, &pb.Detail{XmlDetail: `<takv device="d" platform="p" os="o"/>`}},
		{"battery not a number stays", `<status battery="full"/>`, &pb.Detail{XmlDetail: `<status battery="full"/>`}},
		{"battery over uint32 stays", `<status battery="4294967296"/>`, &pb.Detail{XmlDetail: `<status battery="4294967296"/>`}},
		{"battery zero", `<status battery="0"/>`, &pb.Detail{Status: &pb.Status{}}},
		{"track NaN stays", `<track speed="NaN" course="0"/>`, &pb.Detail{XmlDetail: `<track speed="NaN" course="0"/>`}},
		{"track zero", `<track speed="0.0" course="-0"/>`, &pb.Detail{Track: &pb.Track{Speed: 0, Course: math.Copysign(0, -1)}}},
		{"references unescaped", `<contact callsign="A &amp; B &#x263A;"/>`, &pb.Detail{Contact: &pb.Contact{Callsign: "A & B ☺"}}},
		{"whitespace only rest is dropped", "\n  <contact callsign=\"A\"/>\n  <track speed=\"1\" course=\"2\"/>\n", &pb.Detail{Contact: &pb.Contact{Callsign: "A"}, Track: &pb.Track{Speed: 1, Course: 2}}},
		{"order of the rest kept", `<a/><contact callsign="A"/><b/>text<c/>`, &pb.Detail{XmlDetail: `<a/><b/>text<c/>`, Contact: &pb.Contact{Callsign: "A"}}},
		{"comment kept", `<!-- c --><contact callsign="A"/>`, &pb.Detail{XmlDetail: `<!-- c -->`, Contact: &pb.Contact{Callsign: "A"}}},
		{"cdata with markup kept", `<x><![CDATA[<contact callsign="B"/>]]></x><contact callsign="A"/>`, &pb.Detail{XmlDetail: `<x><![CDATA[<contact callsign="B"/>]]></x>`, Contact: &pb.Contact{Callsign: "A"}}},
		{"empty detail", ``, &pb.Detail{}},
	}
	base := mustDecode(t, []byte(`<event version="2.0" uid="u" type="a-f-G" time="2026-11-27T08:00:00Z" stale="2026-11-27T08:05:00Z"><point lat="1" lon="2"/><detail></detail></event>`))
	// A duplicated attribute is malformed, in xmlDetail as in XML.
	if e := *base; e.SetDetail([]byte(`<status battery="1" battery="2"/>`)) == nil {
		t.Error("SetDetail accepted a duplicated attribute")
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := *base
			if err := e.SetDetail([]byte(tc.detail)); err != nil {
				t.Fatalf("SetDetail: %v", err)
			}
			got := FromEvent(&e).CotEvent.Detail
			if d := cmp.Diff(tc.want, got, protocmp.Transform()); d != "" {
				t.Errorf("detail (-want +got):\n%s", d)
			}
			checkMarshalMatches(t, &e)
			back := viaProto(t, &e)
			if d := equivalent(t, &e, back); d != "" {
				t.Errorf("round trip differs:\n%s", d)
			}
		})
	}
}

// checkMarshalMatches verifies the hand-written encoder against the
// generated code: same bytes as a deterministic proto.Marshal of FromEvent.
func checkMarshalMatches(t *testing.T, e *cot.Event) {
	t.Helper()
	want, err := proto.MarshalOptions{Deterministic: true}.Marshal(FromEvent(e))
	if err != nil {
		t.Fatal(err)
	}
	got, err := MarshalPayload(nil, e)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("MarshalPayload differs from proto.Marshal(FromEvent):\n got %x\nwant %x", got, want)
	}
	frame, err := MarshalEvent([]byte("prefix"), e)
	if err != nil {
		t.Fatal(err)
	}
	if wantFrame := AppendFrame([]byte("prefix"), want); !bytes.Equal(frame, wantFrame) {
		t.Errorf("MarshalEvent frame\n got %x\nwant %x", frame, wantFrame)
	}
}

func TestMarshalMatchesGenerated(t *testing.T) {
	for name, doc := range testfiles.ByName(t, "../cot/testdata/events/*.xml") {
		t.Run(name, func(t *testing.T) {
			e := mustDecode(t, doc)
			e.Origin = cot.Origin{Nation: "KOR", Node: "kjcs&1"}
			checkMarshalMatches(t, e)
		})
	}
	t.Run("no detail", func(t *testing.T) {
		e := &cot.Event{UID: "u", Type: "t-x-c-t", Time: time.UnixMilli(1), Stale: time.UnixMilli(2), Point: cot.Point{Lat: math.NaN(), HAE: math.Inf(1)}}
		checkMarshalMatches(t, e)
		if m := FromEvent(e); m.CotEvent.Detail != nil || m.CotEvent.Lat != cot.Unknown || m.CotEvent.StartTime != 1 {
			t.Errorf("FromEvent = %v", m)
		}
	})
}

func TestXMLDetailWinsOverTyped(t *testing.T) {
	m := &pb.TakMessage{CotEvent: &pb.CotEvent{
		Type: "a-f-G", Uid: "u", SendTime: 1795766400000, StaleTime: 1795766460000,
		Detail: &pb.Detail{
			XmlDetail: `<contact callsign="FROM XML" phone="1"/>`,
			Contact:   &pb.Contact{Callsign: "FROM TYPED"},
			Group:     &pb.Group{Name: "Red", Role: "HQ"},
		},
	}}
	b, _ := proto.Marshal(m)
	e, err := ToEvent(b)
	if err != nil {
		t.Fatal(err)
	}
	if e.Callsign != "FROM XML" || bytes.Contains(e.Detail, []byte("FROM TYPED")) || !bytes.Contains(e.Detail, []byte(`<__group name="Red" role="HQ"/>`)) {
		t.Errorf("callsign %q detail %s", e.Callsign, e.Detail)
	}
	if e.Start != e.Time {
		t.Errorf("missing startTime: start %v, want the send time %v", e.Start, e.Time)
	}
}

func TestToEventIgnoresUnknownFields(t *testing.T) {
	e := mustDecode(t, testfiles.ByName(t, "../cot/testdata/events/*.xml")["sa"])
	payload, err := MarshalPayload(nil, e)
	if err != nil {
		t.Fatal(err)
	}
	// Add fields a newer peer might send: TakMessage field 99 (varint) and
	// field 100 (bytes).
	payload = protowire.AppendTag(payload, 99, protowire.VarintType)
	payload = protowire.AppendVarint(payload, 7)
	payload = protowire.AppendTag(payload, 100, protowire.BytesType)
	payload = protowire.AppendBytes(payload, []byte("future"))
	got, err := ToEvent(payload)
	if err != nil {
		t.Fatalf("ToEvent with unknown fields: %v", err)
	}
	if d := equivalent(t, e, got); d != "" {
		t.Error(d)
	}
}

func TestToEventRejects(t *testing.T) {
	const sec = 1795766400000
	valid := func() *pb.CotEvent {
		return &pb.CotEvent{Type: "a-f-G", Uid: "u1", SendTime: sec, StartTime: sec, StaleTime: sec + 60000, How: "m-g", Lat: 35, Lon: 139, Hae: 9999999, Ce: 9999999, Le: 9999999}
	}
	marshal := func(f func(*pb.CotEvent)) []byte {
		ev := valid()
		f(ev)
		b, err := proto.Marshal(&pb.TakMessage{CotEvent: ev})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	withDetail := func(x string) []byte {
		return marshal(func(e *pb.CotEvent) { e.Detail = &pb.Detail{XmlDetail: x} })
	}
	// A string field with invalid UTF-8: proto.Marshal refuses to write it,
	// so build the bytes by hand.
	badUTF8 := protowire.AppendTag(nil, 2, protowire.BytesType)
	inner := protowire.AppendTag(nil, 5, protowire.BytesType)
	inner = protowire.AppendBytes(inner, []byte{0xff, 0xfe})
	badUTF8 = protowire.AppendBytes(badUTF8, inner)

	tests := []struct {
		name    string
		payload []byte
		want    error
		reason  string
	}{
		{"garbage", []byte{0xff, 0xff, 0xff}, ErrProto, "malformed"},
		{"truncated", marshal(func(*pb.CotEvent) {})[:20], ErrProto, "malformed"},
		{"invalid utf-8", badUTF8, ErrProto, "malformed"},
		{"no event", func() []byte {
			b, _ := proto.Marshal(&pb.TakMessage{TakControl: &pb.TakControl{MinProtoVersion: 1}})
			return b
		}(), ErrNoEvent, "other"},
		{"empty", nil, ErrNoEvent, "other"},
		{"missing uid", marshal(func(e *pb.CotEvent) { e.Uid = "" }), cot.ErrMissingUID, "missing_uid"},
		{"missing type", marshal(func(e *pb.CotEvent) { e.Type = "" }), cot.ErrMissingType, "missing_type"},
		{"lat out of range", marshal(func(e *pb.CotEvent) { e.Lat = 91 }), cot.ErrCoordinates, "coordinates"},
		{"lon out of range", marshal(func(e *pb.CotEvent) { e.Lon = -180.5 }), cot.ErrCoordinates, "coordinates"},
		{"NaN lat", marshal(func(e *pb.CotEvent) { e.Lat = math.NaN() }), cot.ErrCoordinates, "coordinates"},
		{"infinite hae", marshal(func(e *pb.CotEvent) { e.Hae = math.Inf(1) }), cot.ErrCoordinates, "coordinates"},
		{"no send time", marshal(func(e *pb.CotEvent) { e.SendTime = 0 }), cot.ErrTime, "time"},
		{"no stale time", marshal(func(e *pb.CotEvent) { e.StaleTime = 0 }), cot.ErrTime, "time"},
		{"time after year 9999", marshal(func(e *pb.CotEvent) { e.StaleTime = math.MaxUint64 }), cot.ErrTime, "time"},
		{"control character in uid", marshal(func(e *pb.CotEvent) { e.Uid = "u\x01" }), cot.ErrMalformed, "malformed"},
		{"control character in callsign", marshal(func(e *pb.CotEvent) { e.Detail = &pb.Detail{Contact: &pb.Contact{Callsign: "A\x00"}} }), cot.ErrMalformed, "malformed"},
		{"control character in xmlDetail", withDetail("<remarks>\x1b[31m</remarks>"), cot.ErrMalformed, "malformed"},
		{"doctype in xmlDetail", withDetail(`<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>`), cot.ErrDTD, "dtd"},
		{"entity declaration in xmlDetail", withDetail(`<!ENTITY a "b">`), cot.ErrDTD, "dtd"},
		{"undefined entity in xmlDetail", withDetail(`<remarks>&xxe;</remarks>`), cot.ErrMalformed, "malformed"},
		{"unclosed element in xmlDetail", withDetail(`<remarks>`), cot.ErrMalformed, "malformed"},
		{"stray end tag in xmlDetail", withDetail(`</detail><x/>`), cot.ErrMalformed, "malformed"},
		{"too large", make([]byte, cot.MaxEventSize+1), cot.ErrTooLarge, "too_large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := ToEvent(tc.payload)
			if err == nil {
				t.Fatalf("accepted: %+v", e)
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
			if r := cot.Reason(err); r != tc.reason {
				t.Errorf("Reason = %q, want %q (error %v)", r, tc.reason, err)
			}
		})
	}
}

func TestTypedDetailFromProtoClient(t *testing.T) {
	// What a protobuf-only client sends: every detail child typed, no XML.
	m := &pb.TakMessage{CotEvent: &pb.CotEvent{
		Type: "a-f-G-U-C", Uid: "ANDROID-1", SendTime: 1795766400000, StaleTime: 1795766460000, How: "m-g",
		Lat: 35, Lon: 139, Hae: 10, Ce: 5, Le: 9999999, Access: "SECRET", ReleaseableTo: "JPN KOR", Caveat: "NOFORN",
		Detail: &pb.Detail{
			Contact: &pb.Contact{Callsign: `A<B>&"C'`, Endpoint: "192.0.2.1:4242:tcp"},
			Status:  &pb.Status{Battery: 100},
			Track:   &pb.Track{Speed: 2.5, Course: 359.9},
		},
	}}
	b, _ := proto.Marshal(m)
	e, err := ToEvent(b)
	if err != nil {
		t.Fatal(err)
	}
	if e.Callsign != `A<B>&"C'` || e.Speed != 2.5 || e.Course != 359.9 || e.Access != "SECRET" || e.ReleasableTo != "JPN KOR" || e.Caveat != "NOFORN" || e.Start != e.Time {
		t.Errorf("event %+v", e)
	}
	l, present, err := e.ParseLabel()
	if err != nil || !present || l.Classification.String() != "SECRET" {
		t.Errorf("label %+v %v %v", l, present, err)
	}
	// And back: the same message comes out, with the start time (absent,
	// so the send time) filled in as in XML.
	m.CotEvent.StartTime = m.CotEvent.SendTime
	if d := cmp.Diff(m, FromEvent(e), protocmp.Transform()); d != "" {
		t.Errorf("FromEvent(ToEvent(m)) (-want +got):\n%s", d)
	}
	// An XML client sees well-formed XML.
	if _, err := cot.Decode(e.XML()); err != nil {
		t.Errorf("XML of a protobuf event does not decode: %v\n%s", err, e.XML())
	}
}

func TestInvalidUTF8FromInsideTheNode(t *testing.T) {
	// Events built by the node itself (from other feeds) are not checked by
	// a decoder; protobuf receivers must still get valid UTF-8.
	e := &cot.Event{
		UID: "feed-\xff", Type: "a-u-S", Time: time.UnixMilli(1795766400000), Stale: time.UnixMilli(1795766460000),
		Point:  cot.Point{Lat: 1, Lon: 2},
		Detail: []byte("<contact callsign=\"SHIP\xc3\"/><remarks>\xe2\x82</remarks>"), HasDetail: true,
		Origin: cot.Origin{Nation: "JPN"},
	}
	checkMarshalMatches(t, e)
	got := viaProto(t, e)
	if got.UID != "feed-\uFFFD" || got.Callsign != "SHIP\uFFFD" || !bytes.Contains(got.Detail, []byte("<remarks>\uFFFD</remarks>")) {
		t.Errorf("event %+v detail %s", got, got.Detail)
	}
}

func TestControlMessages(t *testing.T) {
	// A TakControl next to an event is read and checked, then ignored.
	ev := &pb.CotEvent{Type: "a-f-G", Uid: "u", SendTime: 1795766400000, StaleTime: 1795766460000}
	m := &pb.TakMessage{TakControl: &pb.TakControl{MinProtoVersion: 1, MaxProtoVersion: 1, ContactUid: "u"}, CotEvent: ev, SubmissionTime: 5, CreationTime: 6}
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	e, err := ToEvent(b)
	if err != nil || e.UID != "u" {
		t.Fatalf("ToEvent = %+v, %v", e, err)
	}
	if e2, err := MessageToEvent(m); err != nil || e2.UID != "u" {
		t.Errorf("MessageToEvent = %+v, %v", e2, err)
	}
	// A control-only message.
	if _, err := MessageToEvent(&pb.TakMessage{TakControl: &pb.TakControl{}}); !errors.Is(err, ErrNoEvent) {
		t.Errorf("MessageToEvent(control only) error %v", err)
	}
	// A contact uid that is not UTF-8 spoils the message, as in the
	// generated code.
	ctl := protowire.AppendTag(nil, 3, protowire.BytesType)
	ctl = protowire.AppendBytes(ctl, []byte{0xc3})
	bad := protowire.AppendTag(nil, 1, protowire.BytesType)
	bad = protowire.AppendBytes(bad, ctl)
	bad = append(bad, b...)
	if _, err := ToEvent(bad); !errors.Is(err, ErrProto) {
		t.Errorf("ToEvent(bad control) error %v", err)
	}
	// Fields with another wire type than declared are unknown fields.
	odd := protowire.AppendTag(nil, 3, protowire.BytesType) // submissionTime as bytes
	odd = protowire.AppendBytes(odd, []byte("x"))
	odd = append(odd, b...)
	if _, err := ToEvent(odd); err != nil {
		t.Errorf("ToEvent(field of another wire type) error %v", err)
	}
	var ref pb.TakMessage
	if err := proto.Unmarshal(odd, &ref); err != nil {
		t.Errorf("generated code refuses it too: %v", err)
	}
}

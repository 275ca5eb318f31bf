package takproto

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"kizuna/internal/cot"
	"kizuna/internal/takproto/pb"
	"kizuna/internal/taktest/testfiles"
)

// FuzzTAKStream feeds arbitrary bytes through the stream splitter and every
// payload through ToEvent. Nothing may panic; every decoded event must
// marshal again and decode to an equal event, and the two protobuf forms
// must agree.
func FuzzTAKStream(f *testing.F) {
	for _, doc := range testfiles.ByName(f, "../cot/testdata/events/*.xml") {
		e, err := cot.Decode(doc)
		if err != nil {
			f.Fatal(err)
		}
		e.Origin = cot.Origin{Nation: "USA", Node: "n1"}
		frame, err := MarshalEvent(nil, e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(frame)
		f.Add(append(append(frame, 0x00), frame...)) // goatak padding
	}
	typed, _ := proto.Marshal(&pb.TakMessage{CotEvent: &pb.CotEvent{
		Type: "a-f-G", Uid: "u", SendTime: 1795766400000, StaleTime: 1795766460000, Lat: 1, Lon: 2,
		Detail: &pb.Detail{
			XmlDetail: `<contact callsign="x"/><remarks>r</remarks>`,
			Contact:   &pb.Contact{Callsign: "A&B"}, Group: &pb.Group{Name: "n", Role: "r"},
			Status: &pb.Status{Battery: 9}, Track: &pb.Track{Speed: 1, Course: 2},
			Takv: &pb.Takv{Os: "o"}, PrecisionLocation: &pb.PrecisionLocation{Altsrc: "a"},
		},
	}})
	f.Add(AppendFrame(nil, typed))
	ctrl, _ := proto.Marshal(&pb.TakMessage{TakControl: &pb.TakControl{MinProtoVersion: 1, MaxProtoVersion: 1}})
	f.Add(AppendFrame(nil, ctrl))
	f.Add([]byte{0xbf, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01})
	f.Add([]byte("garbage\xbf\x02\x12\x00"))

	f.Fuzz(func(t *testing.T, stream []byte) {
		whole := splitFrames(t, stream, len(stream))
		if pieces := splitFrames(t, stream, 1+len(stream)/3); !cmp.Equal(whole, pieces) {
			t.Fatalf("frames depend on read boundaries:\n%q\n%q", whole, pieces)
		}
		for _, p := range whole {
			checkPayload(t, []byte(p))
		}
		// The raw input is a payload too (a mesh packet body).
		checkPayload(t, stream)
		if v, p, err := DecodeMesh(stream); err == nil {
			// A packet re-encodes to itself, unless its version varint was
			// not minimal.
			if _, n, _ := uvarint(stream[1:]); n == protowire.SizeVarint(v) && !bytes.Equal(AppendMesh(nil, v, p), stream) {
				t.Fatalf("mesh packet %x does not re-encode", stream)
			}
		}
	})
}

// splitFrames feeds stream to a splitter n bytes at a time and returns the
// payloads found, up to a fatal error.
func splitFrames(t *testing.T, stream []byte, n int) []string {
	s := NewSplitter(1 << 16)
	var out []string
	for len(stream) > 0 {
		k := min(n, len(stream))
		s.Feed(stream[:k])
		stream = stream[k:]
		limit := s.Buffered() + 2
		for i := 0; ; i++ {
			p, err := s.Next()
			if errors.Is(err, ErrTooLarge) || errors.Is(err, ErrBadVarint) {
				return out
			}
			if p == nil && err == nil {
				break
			}
			if p != nil {
				out = append(out, string(p))
			}
			if i > limit {
				t.Fatal("splitter does not make progress")
			}
		}
	}
	return out
}

func checkPayload(t *testing.T, p []byte) {
	checkAgainstGenerated(t, p)
	e, err := ToEvent(p)
	if err != nil {
		if cot.Reason(err) == "" {
			t.Fatalf("error without reason")
		}
		return
	}
	frame, err := MarshalEvent(nil, e)
	if err != nil {
		t.Fatalf("re-marshal of a decoded event: %v", err)
	}
	s := NewSplitter(0)
	s.Feed(frame)
	p2, err := s.Next()
	if err != nil || p2 == nil {
		t.Fatalf("re-marshalled frame does not split: %v", err)
	}
	e2, err := ToEvent(p2)
	if err != nil {
		t.Fatalf("re-marshalled event does not decode: %v\nevent %+v\ndetail %q", err, e, e.Detail)
	}
	if d := cmp.Diff(e, e2, cmpEvent...); d != "" {
		// The detail may list typed children in another order; compare it
		// through the protobuf form, which has a fixed order.
		if d2 := cmp.Diff(FromEvent(e), FromEvent(e2), protocmp.Transform()); d2 != "" {
			t.Fatalf("event changed by a protobuf round trip:\n%s\n%s", d, d2)
		}
	}
	// The generated code reads what the hand-written encoder writes.
	var m pb.TakMessage
	if err := proto.Unmarshal(p2, &m); err != nil {
		t.Fatalf("generated code refuses the encoder's output: %v", err)
	}
	if d := cmp.Diff(FromEvent(e), &m, protocmp.Transform()); d != "" {
		t.Fatalf("encoder and FromEvent disagree:\n%s", d)
	}
	// An XML client gets a document that decodes, and reads the same
	// facts from it.
	x, err := cot.Decode(e.XML())
	if err != nil {
		t.Fatalf("XML of a protobuf event does not decode: %v\n%s", err, e.XML())
	}
	type facts struct {
		Callsign      string
		Course, Speed float64
		Dests         []cot.Dest
		Links         []cot.Link
		Origin        cot.Origin
		Detail        string
	}
	fx := facts{x.Callsign, x.Course, x.Speed, x.Dests, x.Links, x.Origin, string(x.Detail)}
	fe := facts{e.Callsign, e.Course, e.Speed, e.Dests, e.Links, e.Origin, string(e.Detail)}
	if d := cmp.Diff(fx, fe, cmpEvent...); d != "" {
		t.Fatalf("facts of the protobuf event differ from its XML (-xml +proto):\n%s", d)
	}
}

// referenceEvent converts a payload with the generated code, as the
// reference for the hand-written decoder.
func referenceEvent(p []byte) (*cot.Event, error, bool) {
	var m pb.TakMessage
	if err := proto.Unmarshal(p, &m); err != nil {
		return nil, err, false
	}
	ev := m.GetCotEvent()
	if ev == nil {
		return nil, ErrNoEvent, true
	}
	w := wireEvent{
		typ: []byte(ev.Type), access: []byte(ev.Access), qos: []byte(ev.Qos), opex: []byte(ev.Opex),
		uid: []byte(ev.Uid), how: []byte(ev.How), caveat: []byte(ev.Caveat), rel: []byte(ev.ReleaseableTo),
		send: ev.SendTime, start: ev.StartTime, stale: ev.StaleTime,
		lat: ev.Lat, lon: ev.Lon, hae: ev.Hae, ce: ev.Ce, le: ev.Le,
	}
	if d := ev.Detail; d != nil {
		w.hasDetail = true
		w.xml = []byte(d.XmlDetail)
		if c := d.Contact; c != nil {
			w.has[kContact], w.str[kContact] = true, [4][]byte{[]byte(c.Endpoint), []byte(c.Callsign)}
		}
		if g := d.Group; g != nil {
			w.has[kGroup], w.str[kGroup] = true, [4][]byte{[]byte(g.Name), []byte(g.Role)}
		}
		if l := d.PrecisionLocation; l != nil {
			w.has[kPrecisionLocation], w.str[kPrecisionLocation] = true, [4][]byte{[]byte(l.Geopointsrc), []byte(l.Altsrc)}
		}
		if s := d.Status; s != nil {
			w.has[kStatus], w.battery = true, s.Battery
		}
		if v := d.Takv; v != nil {
			w.has[kTakv], w.str[kTakv] = true, [4][]byte{[]byte(v.Device), []byte(v.Platform), []byte(v.Os), []byte(v.Version)}
		}
		if tr := d.Track; tr != nil {
			w.has[kTrack], w.speed, w.course = true, tr.Speed, tr.Course
		}
	}
	e, err := w.event()
	return e, err, true
}

// checkAgainstGenerated compares ToEvent with the generated code: the same
// payloads parse, and they give the same event or the same failure.
func checkAgainstGenerated(t *testing.T, p []byte) {
	if len(p) > cot.MaxEventSize {
		return
	}
	got, err := ToEvent(p)
	want, werr, parsed := referenceEvent(p)
	if !parsed {
		if !errors.Is(err, ErrProto) {
			t.Fatalf("generated code refuses the payload (%v), ToEvent gives %v", werr, err)
		}
		return
	}
	if errors.Is(err, ErrProto) {
		t.Fatalf("ToEvent refuses a payload the generated code parses: %v", err)
	}
	if (err == nil) != (werr == nil) || cot.Reason(err) != cot.Reason(werr) {
		t.Fatalf("ToEvent error %v, reference %v", err, werr)
	}
	if d := cmp.Diff(want, got, cmpEvent...); d != "" {
		t.Fatalf("ToEvent differs from the generated code (-want +got):\n%s", d)
	}
}

// FuzzXMLToProto sends every event the XML decoder accepts through the
// protobuf form: it must arrive, mean the same and convert back to the
// same protobuf message.
func FuzzXMLToProto(f *testing.F) {
	for _, doc := range testfiles.ByName(f, "../cot/testdata/events/*.xml") {
		f.Add(doc)
	}
	for _, d := range []string{
		`<contact callsign="A &amp; B" endpoint="x"/><__group name="n" role="r"/><status battery="007"/><track speed="1e3" course="-0.0"/>`,
		`<contact callsign='x"y'/><contact callsign="dup"/><takv device="" platform="" os="" version=""/>`,
		`<precisionlocation geopointsrc="a" altsrc="b"></precisionlocation><track speed="NaN" course="1"/>text<!-- c --><![CDATA[<contact/>]]>`,
		`<x><contact callsign="nested"/></x><status battery="1" extra=""/><__origin nation="KOR" node="k"/>`,
	} {
		f.Add([]byte(`<event version="2.0" uid="u" type="a-f-G" time="2026-11-27T08:00:00Z" stale="2026-11-27T08:05:00Z"><point lat="1" lon="2"/><detail>` + d + `</detail></event>`))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		e, err := cot.Decode(doc)
		if err != nil {
			return
		}
		frame, err := MarshalEvent(nil, e)
		if err != nil {
			t.Fatalf("MarshalEvent: %v", err)
		}
		s := NewSplitter(0)
		s.Feed(frame)
		p, err := s.Next()
		if err != nil || p == nil {
			t.Fatalf("frame does not split: %v", err)
		}
		got, err := ToEvent(p)
		if err != nil {
			t.Fatalf("an event the XML decoder accepts is refused in protobuf: %v\n%s", err, doc)
		}
		// Everything but the detail text is equal (times to the
		// millisecond, which is what protobuf carries).
		w, g := *e, *got
		for _, x := range []*cot.Event{&w, &g} {
			x.Detail = nil
			x.Time, x.Stale = x.Time.Truncate(1e6), x.Stale.Truncate(1e6)
			if x.Start.IsZero() {
				x.Start = x.Time
			}
			x.Start = x.Start.Truncate(1e6)
			x.Version = "" // protobuf has no version: every event is 2.0
		}
		if d := cmp.Diff(w, g, cmpEvent...); d != "" {
			t.Fatalf("event changed by protobuf (-xml +proto):\n%s", d)
		}
		// The detail converts to the same message again.
		if d := cmp.Diff(FromEvent(e).CotEvent.Detail, FromEvent(got).CotEvent.Detail, protocmp.Transform()); d != "" {
			t.Fatalf("detail changed by protobuf:\n%s\nxml detail %q\nproto detail %q", d, e.Detail, got.Detail)
		}
	})
}

// FuzzTAKMessage builds well-formed TakMessages from arbitrary field
// values, which random bytes rarely reach, and checks them like
// FuzzTAKStream.
func FuzzTAKMessage(f *testing.F) {
	f.Add("a-f-G-U-C", "ANDROID-1", "SECRET", "JPN KOR", "m-g", uint64(1795766400000), 35.0, 139.0, `<uid Droid="V"/>`, "VIPER 1", "*:-1:stcp", "Cyan", uint32(80), 1.5, true)
	f.Add("b-t-f", "GeoChat.1", "", "", "h-g-i-g-o", uint64(1), -90.0, 180.0, `<__chat id="x"><chatgrp uid0="a"/></__chat><marti><dest callsign="B"/></marti>`, `A<&>"'`, "", "", uint32(0), math.Copysign(0, -1), false)
	f.Add("t", "u", "S", "USA", "", uint64(253402300799999), 0.0, 0.0, `<contact callsign="wins"/>`, "loses", "e", "g", uint32(4294967295), 1e308, true)
	f.Fuzz(func(t *testing.T, typ, uid, access, rel, how string, ms uint64, lat, lon float64, xml, callsign, endpoint, group string, battery uint32, speed float64, typed bool) {
		ev := &pb.CotEvent{
			Type: typ, Uid: uid, Access: access, ReleaseableTo: rel, How: how,
			SendTime: ms, StartTime: ms / 2, StaleTime: ms + 60000,
			Lat: lat, Lon: lon, Hae: 9999999, Ce: 9999999, Le: 9999999,
			Detail: &pb.Detail{XmlDetail: xml},
		}
		if typed {
			ev.Detail.Contact = &pb.Contact{Callsign: callsign, Endpoint: endpoint}
			ev.Detail.Group = &pb.Group{Name: group, Role: callsign}
			ev.Detail.Status = &pb.Status{Battery: battery}
			ev.Detail.Track = &pb.Track{Speed: speed, Course: lat}
			ev.Detail.Takv = &pb.Takv{Device: endpoint, Platform: group, Os: typ, Version: how}
			ev.Detail.PrecisionLocation = &pb.PrecisionLocation{Geopointsrc: group, Altsrc: endpoint}
		}
		b, err := proto.Marshal(&pb.TakMessage{CotEvent: ev})
		if err != nil {
			return // invalid UTF-8 in a string: not a valid message
		}
		checkPayload(t, b)
	})
}

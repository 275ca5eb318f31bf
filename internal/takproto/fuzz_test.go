package takproto

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"kizuna/internal/cot"
	"kizuna/internal/takproto/pb"
)

// FuzzTAKStream feeds arbitrary bytes through the stream splitter and every
// payload through ToEvent. Nothing may panic; every decoded event must
// marshal again and decode to an equal event, and the two protobuf forms
// must agree.
func FuzzTAKStream(f *testing.F) {
	for _, doc := range eventFiles(f) {
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
		s := NewSplitter(1 << 16)
		// Feed in two pieces to exercise resumption.
		half := len(stream) / 2
		s.Feed(stream[:half])
		check := func() bool {
			for {
				p, err := s.Next()
				if errors.Is(err, ErrTooLarge) || errors.Is(err, ErrBadVarint) {
					return false
				}
				if err != nil {
					continue
				}
				if p == nil {
					return true
				}
				checkPayload(t, p)
			}
		}
		if check() {
			s.Feed(stream[half:])
			check()
		}
		// The raw input is a payload too (a mesh packet body).
		checkPayload(t, stream)
	})
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
	// An XML client gets a document that decodes.
	if _, err := cot.Decode(e.XML()); err != nil {
		t.Fatalf("XML of a protobuf event does not decode: %v\n%s", err, e.XML())
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

package federation

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"kizuna/internal/label"
)

func sampleEvent() *Event {
	return &Event{
		Lane: LaneFlash, Seq: 42, OriginNode: "jpn-node", OriginSeq: 7,
		Path:    []string{"jpn-node", "usa-hub"},
		Label:   label.Label{Classification: label.Secret, ReleasableTo: []string{"KOR", "USA"}, Originator: "JPN", Caveat: "NOFORN-X"},
		Auth:    Auth{CertFP: [32]byte{1, 2, 3}, Size: 3, Index: 2, Proof: [][32]byte{{4}, {5}}, Sig: []byte{6, 7, 8}},
		Payload: []byte(`<event version="2.0" uid="x" type="a-h-A-W-M-S-S"/>`),
	}
}

// ignoreSigned leaves out the raw signed record the decoder keeps.
var ignoreSigned = cmpopts.IgnoreFields(Event{}, "Signed")

func TestFrameRoundTrip(t *testing.T) {
	e := sampleEvent()
	tests := []struct {
		name string
		b    []byte
		want *Frame
	}{
		{"hello", AppendHello(nil, Hello{Version: 1, NodeID: "usa-hub", Nation: "USA", Resume: [2]uint64{3, 1 << 60}}),
			&Frame{Type: FrameHello, Hello: &Hello{Version: 1, NodeID: "usa-hub", Nation: "USA", Resume: [2]uint64{3, 1 << 60}}}},
		{"ack", AppendAck(nil, Ack{Lane: 1, Seq: 99}), &Frame{Type: FrameAck, Ack: &Ack{Lane: 1, Seq: 99}}},
		{"heartbeat", AppendHeartbeat(nil, Heartbeat{Time: -5}), &Frame{Type: FrameHeartbeat, Heartbeat: &Heartbeat{Time: -5}}},
		{"event", AppendEvent(nil, e.Lane, e.Seq, EncodeEventBody(nil, e)), &Frame{Type: FrameEvent, Event: e}},
		{"cert", AppendCert(nil, []byte{0x30, 1, 2}), &Frame{Type: FrameCert, Cert: &Cert{DER: []byte{0x30, 1, 2}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := ReadFrame(bytes.NewReader(tt.b), 1<<20, nil)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got, ignoreSigned); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

func TestFrameRefused(t *testing.T) {
	good := sampleEvent()
	mod := func(f func(e *Event)) []byte {
		e := sampleEvent()
		f(e)
		return AppendEvent(nil, e.Lane, e.Seq, EncodeEventBody(nil, e))
	}
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"too large", AppendEvent(nil, 0, 1, EncodeEventBody(nil, good)), ErrTooLarge},
		{"empty", []byte{0, 0, 0, 0}, ErrFrame},
		{"unknown type", []byte{0, 0, 0, 1, 99}, ErrFrame},
		{"bad lane", AppendAck(nil, Ack{Lane: 2, Seq: 1}), ErrFrame},
		{"trailing", []byte{0, 0, 0, 4, FrameAck, 1, 1, 0}, ErrFrame},
		{"path not from origin", mod(func(e *Event) { e.Path = []string{"usa-hub"} }), ErrFrame},
		{"no originator", mod(func(e *Event) { e.Label.Originator = "" }), ErrFrame},
		{"bad nation", mod(func(e *Event) { e.Label.ReleasableTo = []string{"kor"} }), ErrFrame},
		{"no classification", mod(func(e *Event) { e.Label.Classification = 0 }), ErrFrame},
		{"control char in node id", mod(func(e *Event) { e.OriginNode = "a\x00"; e.Path = []string{"a\x00"} }), ErrFrame},
		{"zero origin seq", mod(func(e *Event) { e.OriginSeq = 0 }), ErrFrame},
		{"no payload", mod(func(e *Event) { e.Payload = nil }), ErrFrame},
		{"proof too long", mod(func(e *Event) { e.Auth.Proof = make([][32]byte, maxProof+1) }), ErrFrame},
		{"signature too long", mod(func(e *Event) { e.Auth.Sig = make([]byte, maxSig+1) }), ErrFrame},
		{"empty cert", AppendCert(nil, nil), ErrFrame},
		{"hello bad nation", AppendHello(nil, Hello{Version: 1, NodeID: "x", Nation: "usa"}), ErrFrame},
		{"truncated", AppendHello(nil, Hello{Version: 1, NodeID: "x", Nation: "USA"})[:8], ErrFrame},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			max := 1 << 20
			if tt.want == ErrTooLarge {
				max = 16
			}
			b := tt.b
			if tt.name == "truncated" {
				// A complete frame whose body is cut short inside a field.
				body := b[4:]
				b = append([]byte{0, 0, 0, byte(len(body))}, body...)
			}
			_, _, err := ReadFrame(bytes.NewReader(b), max, nil)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

// FuzzFrame: the decoder never panics; whatever it accepts re-encodes to a
// frame that decodes to the same thing.
func FuzzFrame(f *testing.F) {
	e := sampleEvent()
	f.Add(AppendHello(nil, Hello{Version: 1, NodeID: "usa-hub", Nation: "USA", Resume: [2]uint64{1, 2}})[4:])
	f.Add(AppendAck(nil, Ack{Lane: 0, Seq: 1 << 40})[4:])
	f.Add(AppendHeartbeat(nil, Heartbeat{Time: 1700000000000000000})[4:])
	f.Add(AppendEvent(nil, e.Lane, e.Seq, EncodeEventBody(nil, e))[4:])
	f.Add(AppendCert(nil, []byte{0x30, 0x82, 1, 2})[4:])
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := DecodeFrame(b)
		if err != nil {
			if !errors.Is(err, ErrFrame) {
				t.Fatalf("error not ErrFrame: %v", err)
			}
			return
		}
		var again []byte
		switch {
		case fr.Hello != nil:
			again = AppendHello(nil, *fr.Hello)
		case fr.Ack != nil:
			again = AppendAck(nil, *fr.Ack)
		case fr.Heartbeat != nil:
			again = AppendHeartbeat(nil, *fr.Heartbeat)
		case fr.Cert != nil:
			again = AppendCert(nil, fr.Cert.DER)
		case fr.Event != nil:
			if !fr.Event.Label.Valid() || fr.Event.Path[0] != fr.Event.OriginNode {
				t.Fatalf("accepted an event with an invalid label or path: %+v", fr.Event)
			}
			again = AppendEvent(nil, fr.Event.Lane, fr.Event.Seq, EncodeEventBody(nil, fr.Event))
		default:
			t.Fatalf("decoded frame with nothing set: %+v", fr)
		}
		fr2, err := DecodeFrame(again[4:])
		if err != nil {
			t.Fatalf("re-encoded frame refused: %v", err)
		}
		if d := cmp.Diff(fr, fr2, ignoreSigned); d != "" {
			t.Fatalf("round trip differs:\n%s", d)
		}
	})
}

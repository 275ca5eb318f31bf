package load

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"kizuna/internal/cot"
)

func TestPositionXMLIsValidCoT(t *testing.T) {
	now := time.Date(2026, 11, 27, 8, 0, 0, 123456789, time.UTC)
	b := newPosition(testRun, 3, 30*time.Second).appendXML(nil, now, 7)
	ev, err := cot.Decode(b)
	if err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	if ev.UID != "load-"+testRun+"-3" || ev.Type != "a-f-G-U-C" || ev.Callsign != "LOAD-3" || ev.How != "m-g" {
		t.Errorf("uid %q type %q callsign %q how %q", ev.UID, ev.Type, ev.Callsign, ev.How)
	}
	if !ev.Time.Equal(now.Truncate(time.Millisecond)) || !ev.Stale.Equal(ev.Time.Add(30*time.Second)) {
		t.Errorf("time %v stale %v", ev.Time, ev.Stale)
	}
	for _, want := range []string{`<__group name="Cyan" role="Team Member"/>`, `<contact endpoint="*:-1:stcp" callsign="LOAD-3"/>`,
		`<__load r="` + testRun + `" ts="1795766400123456789" c="3" s="7"/>`} {
		if !bytes.Contains(ev.Detail, []byte(want)) {
			t.Errorf("detail %s lacks %s", ev.Detail, want)
		}
	}
}

// field returns the value of the first field num in a protobuf message.
func field(t *testing.T, msg []byte, num protowire.Number) (protowire.Type, []byte, uint64) {
	t.Helper()
	for len(msg) > 0 {
		n, typ, l := protowire.ConsumeTag(msg)
		if l < 0 {
			t.Fatalf("bad tag: %v", protowire.ParseError(l))
		}
		msg = msg[l:]
		var v []byte
		var u uint64
		switch typ {
		case protowire.BytesType:
			v, l = protowire.ConsumeBytes(msg)
		case protowire.VarintType:
			u, l = protowire.ConsumeVarint(msg)
		case protowire.Fixed64Type:
			u, l = protowire.ConsumeFixed64(msg)
		default:
			t.Fatalf("unexpected wire type %v", typ)
		}
		if l < 0 {
			t.Fatalf("bad field %d: %v", n, protowire.ParseError(l))
		}
		msg = msg[l:]
		if n == num {
			return typ, v, u
		}
	}
	t.Fatalf("no field %d", num)
	return 0, nil, 0
}

func TestPositionFrameIsTakMessage(t *testing.T) {
	now := time.Date(2026, 11, 27, 8, 0, 0, 123456789, time.UTC)
	p := newPosition(testRun, 3, 30*time.Second)
	b := p.appendFrame(nil, now, 7)
	b = p.appendFrame(b[:0], now, 7) // reused scratch buffers give the same frame
	if b[0] != 0xbf {
		t.Fatalf("frame starts with %#x", b[0])
	}
	size, w := binary.Uvarint(b[1:])
	if w <= 0 || int(size) != len(b)-1-w {
		t.Fatalf("frame length %d (%d bytes) for %d bytes", size, w, len(b))
	}
	_, ce, _ := field(t, b[1+w:], 2) // TakMessage.cotEvent
	ms := uint64(now.UnixMilli())
	for _, s := range []struct {
		num  protowire.Number
		want string
	}{{1, "a-f-G-U-C"}, {5, "load-" + testRun + "-3"}, {9, "m-g"}} {
		if _, v, _ := field(t, ce, s.num); string(v) != s.want {
			t.Errorf("CotEvent field %d = %q, want %q", s.num, v, s.want)
		}
	}
	for _, s := range []struct {
		num  protowire.Number
		want uint64
	}{{6, ms}, {7, ms}, {8, ms + 30000}} {
		if _, _, v := field(t, ce, s.num); v != s.want {
			t.Errorf("CotEvent field %d = %d, want %d", s.num, v, s.want)
		}
	}
	if _, _, v := field(t, ce, 10); math.Float64frombits(v) != p.lat {
		t.Errorf("lat = %v, want %v", math.Float64frombits(v), p.lat)
	}
	if _, _, v := field(t, ce, 14); math.Float64frombits(v) != unknown {
		t.Errorf("le = %v, want %v", math.Float64frombits(v), unknown)
	}
	_, detail, _ := field(t, ce, 15)
	if _, x, _ := field(t, detail, 1); !bytes.HasSuffix(x, []byte(`<__load r="`+testRun+`" ts="1795766400123456789" c="3" s="7"/>`)) {
		t.Errorf("xmlDetail = %s", x)
	}
	_, contact, _ := field(t, detail, 2)
	if _, cs, _ := field(t, contact, 2); string(cs) != "LOAD-3" {
		t.Errorf("contact callsign = %q", cs)
	}
	_, group, _ := field(t, detail, 3)
	if _, name, _ := field(t, group, 1); string(name) != "Cyan" {
		t.Errorf("group name = %q", name)
	}
}

func TestControlRequestIsValidCoT(t *testing.T) {
	b := controlRequest("load-x-1", time.Now())
	ev, err := cot.Decode(b)
	if err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	if ev.Type != "t-x-takp-q" || !bytes.Contains(ev.Detail, []byte(`<TakControl><TakRequest version="1"/></TakControl>`)) {
		t.Errorf("type %q detail %s", ev.Type, ev.Detail)
	}
}
